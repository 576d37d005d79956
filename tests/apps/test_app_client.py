"""The combined app driven by gradio_client on localhost: real MP4/WAV outputs, echoed settings, the CLI's errors."""

from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from apphelpers import AUDIO, VIDEO, audio_args, video_args
from PIL import Image

from mediadiff.errors import ValidationError
from mediadiff.validation import audio_request, video_request


def test_api_has_named_endpoints(server):
    api = server.client().view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/generate_video", "/generate_audio", "/stop_video", "/stop_audio"} <= set(api)
    assert "/video_model_defaults" not in api  # internal events are private
    params = [p["parameter_name"] for p in api["/generate_video"]["parameters"]]
    assert params[:3] == ["prompt", "negative_prompt", "model"] and "seed" in params


def test_video_endpoint_returns_playable_mp4_and_echoes_settings(server):
    from mediadiff.codecs.frames import read_video

    video, strip, settings, download, seed = server.client().predict(
        *video_args(server, "a red circle moving right", seed=7, frames=5, fps=10), api_name="/generate_video")
    frames, fps = read_video(video)
    assert frames.shape == (5, 32, 32, 3) and fps == 10
    expected = {"prompt": "a red circle moving right", "frames": 5, "fps": 10, "width": 32, "height": 32,
                "steps": VIDEO["steps"], "guidance": VIDEO["guidance"], "scheduler": "dpm++", "seed": 7}
    assert {k: settings[k] for k in expected} == expected and settings["model"].endswith("tiny-video")
    assert seed == 7 and Path(download).read_bytes() == Path(video).read_bytes()
    strip_image = np.asarray(Image.open(strip))
    assert strip_image.shape[1] == 5 * strip_image.shape[0]  # five square frames side by side
    # The original lives in the dedicated output folder, with its sidecar, under a unique name.
    saved = server.config.output_dir / Path(video).name
    assert saved.exists() and json.loads(saved.with_name(saved.name + ".json").read_text())["seed"] == 7


def test_audio_endpoint_returns_valid_wav_and_mel(server):
    audio, mel, settings, download, seed = server.client().predict(
        *audio_args(server, "three short high beeps", seed=11, seconds=0.75), api_name="/generate_audio")
    wave, rate = sf.read(audio)
    assert rate == 16000 and len(wave) == int(0.75 * 16000) and np.isfinite(wave).all()
    assert settings["seconds"] == 0.75 and settings["seed"] == 11 and settings["prompt"] == "three short high beeps"
    assert seed == 11 and Path(download).name == Path(audio).name
    assert np.asarray(Image.open(mel)).ndim == 3


def test_random_seed_is_reported_and_replays(server):
    client = server.client()
    first, _, settings, _, seed = client.predict(*audio_args(server, "a steady tone"), api_name="/generate_audio")
    assert isinstance(seed, int) and seed == settings["seed"]
    again = client.predict(*audio_args(server, "a steady tone", seed=seed), api_name="/generate_audio")
    assert again[4] == seed and np.array_equal(sf.read(again[0])[0], sf.read(first)[0])


VIDEO_BAD = [dict(width=33), dict(height=0), dict(frames=0), dict(frames=1000), dict(steps=0), dict(fps=61),
             dict(guidance=-1), dict(scheduler="bogus"), dict(prompt="  "), dict(seed=-1)]


@pytest.mark.parametrize("bad", VIDEO_BAD, ids=lambda d: ",".join(f"{k}={v}" for k, v in d.items()))
def test_bad_video_input_gets_the_cli_message(server, app_pipes, bad):
    from gradio_client.exceptions import AppError

    settings = VIDEO | {k: v for k, v in bad.items() if k not in ("prompt", "seed")}
    prompt, seed = bad.get("prompt", "a red circle"), bad.get("seed")
    with pytest.raises(ValidationError) as expected:  # the rule the CLI and the API apply
        video_request(app_pipes[0].limits, prompt, "", seed=seed, num_outputs=1, **settings)
    with pytest.raises(AppError) as got:
        server.client().predict(*video_args(server, prompt, seed=seed, **settings), api_name="/generate_video")
    assert str(got.value) == str(expected.value)  # one line, e.g. "invalid width=33: must be a multiple of 2 ..."
    assert "Traceback" not in str(got.value) and "\n" not in str(got.value)


@pytest.mark.parametrize("seconds", [0, 121, "long"])  # past MAX_LONG_SECONDS (120)
def test_bad_audio_input_gets_the_cli_message(server, app_pipes, seconds):
    from gradio_client.exceptions import AppError

    with pytest.raises(ValidationError) as expected:
        audio_request(app_pipes[1].limits, "beep", "", seconds=seconds, **{k: v for k, v in AUDIO.items()
                                                                          if k != "seconds"})
    with pytest.raises(AppError, match="^invalid seconds=") as got:
        server.client().predict(*audio_args(server, "beep", seconds=seconds), api_name="/generate_audio")
    assert str(got.value) == str(expected.value)


def test_unknown_model_is_refused_with_the_choices(server):
    from gradio_client.exceptions import AppError

    args = list(video_args(server, "a red circle"))
    args[2] = "../../etc"
    with pytest.raises(AppError, match=r"^invalid model='../../etc': must be one of tiny-video$"):
        server.client().predict(*args, api_name="/generate_video")


def test_stop_cancels_a_running_generation_and_frees_the_queue(server):
    from gradio_client.exceptions import AppError
    from gradio_client.utils import Status

    client = server.client()
    job = client.submit(*video_args(server, "a long one", steps=400), api_name="/generate_video")
    deadline = time.time() + 60
    while not (job.status().progress_data and job.status().code == Status.PROGRESS):  # denoising has started
        assert time.time() < deadline, job.status()
        time.sleep(0.1)
    assert job.status().progress_data[0].unit == "steps"
    client.predict(api_name="/stop_video")
    started = time.time()
    while not job.done():
        assert time.time() - started < 20
        time.sleep(0.1)
    if job.status().code != Status.CANCELLED:  # the loop saw the flag first: the CLI's one-line message
        with pytest.raises(AppError, match=r"^generation cancelled at step \d+$"):
            job.result()
    t = time.time()
    out = server.client().predict(*video_args(server, "after stop", seed=1), api_name="/generate_video")
    assert out[2]["prompt"] == "after stop" and time.time() - t < 30


def _tab(app_pipes, tmp_path, pipe=None):
    from apps import common
    from apps.video_app import VideoTab
    from mediadiff.pipelines import VideoPipeline

    config = common.AppConfig(output_dir=tmp_path)
    models = common.model_set(VideoPipeline, "video", pipe or app_pipes[0], None, config)
    return VideoTab(models, common.OutputStore(tmp_path, 60, 60), config), models.names[0]


def test_out_of_memory_frees_memory_and_says_what_to_lower(app_pipes, tmp_path, monkeypatch):
    import gradio as gr
    import torch

    from apps import common
    from mediadiff.pipelines import VideoPipeline

    class OOMPipe(VideoPipeline):
        def generate(self, *args, **kwargs):  # what the app calls with its one validated request
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    freed = []
    monkeypatch.setattr(common, "free_memory", lambda: freed.append(True))
    tab, name = _tab(app_pipes, tmp_path, OOMPipe(app_pipes[0].components, app_pipes[0].limits, source="oom"))
    with pytest.raises(gr.Error) as e:
        tab.generate("a red circle", "", name, 4, 8, 32, 32, 2, 4.0, "dpm++", True, 0)
    assert e.value.message == "out of memory; lower frames, width/height or steps" and freed == [True]
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_unexpected_failure_is_one_line(app_pipes, tmp_path):
    import gradio as gr

    from mediadiff.pipelines import VideoPipeline

    class Broken(VideoPipeline):
        def generate(self, *args, **kwargs):  # what the app calls with its one validated request
            raise RuntimeError("boom\nwith a second line")

    tab, name = _tab(app_pipes, tmp_path, Broken(app_pipes[0].components, app_pipes[0].limits, source="broken"))
    with pytest.raises(gr.Error) as e:
        tab.generate("a red circle", "", name, 4, 8, 32, 32, 2, 4.0, "dpm++", True, 0)
    assert e.value.message == "generation failed: RuntimeError: boom"


def test_gpu_wrapper_is_plain_without_spaces_and_wraps_with_it(monkeypatch):
    from apps import common

    def fn():
        return 1

    monkeypatch.setitem(sys.modules, "spaces", None)  # `import spaces` fails, as off ZeroGPU
    assert common.gpu(fn, 60) is fn
    calls = []
    fake = types.ModuleType("spaces")
    fake.GPU = lambda duration=None: (lambda f: calls.append(duration) or (lambda *a: ("gpu", f(*a))))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert common.gpu(fn, 60)() == ("gpu", 1) and calls == [60]


def test_tabs_run_generation_through_spaces_gpu_when_present(app_pipes, tmp_path, monkeypatch):
    from apps import common
    from apps.audio_app import AudioTab
    from mediadiff.pipelines import AudioPipeline

    monkeypatch.setitem(sys.modules, "spaces", None)
    config = common.AppConfig(output_dir=tmp_path)
    models = common.model_set(AudioPipeline, "audio", app_pipes[1], None, config)
    assert AudioTab(models, common.OutputStore(tmp_path, 60, 60), config).zero_gpu is False
    calls = []

    def gpu(duration=None):
        def wrap(f):
            def run(model, settings, progress, cancel):
                calls.append((duration, model, cancel))
                return f(model, settings, progress, cancel)
            return run
        return wrap

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    tab = AudioTab(models, common.OutputStore(tmp_path, 60, 60), config)
    assert tab.zero_gpu is True
    path, _, settings, _, seed = tab.generate("a beep", "", "tiny-audio", 0.25, 1, 2.5, "dpm++", False, 4)
    assert calls == [(config.gpu_duration, "tiny-audio", None)] and seed == 4 and Path(path).exists()


def test_output_folder_is_swept_by_age(tmp_path):
    from apps import common

    store = common.OutputStore(tmp_path, max_age_s=100, sweep_every_s=1)
    old, new = store.new_path("video", ".mp4"), store.new_path("video", ".mp4")
    assert old != new and old.parent == tmp_path
    for p in (old, new):
        p.write_bytes(b"x")
    os.utime(old, (time.time() - 500, time.time() - 500))
    assert store.sweep() == 1 and not old.exists() and new.exists()
    store.start()  # the timer thread sweeps on its own
    os.utime(new, (time.time() - 500, time.time() - 500))
    deadline = time.time() + 5
    while new.exists() and time.time() < deadline:
        time.sleep(0.1)
    store.stop()
    assert not new.exists()


def test_queue_settings(server):
    config = server.demo.config
    assert server.demo._queue.max_size == 8
    deps = [d for d in config["dependencies"] if d.get("api_name") in ("generate_video", "generate_audio")]
    assert len(deps) == 2
    fns = [f for f in server.demo.fns.values() if f.api_name in ("generate_video", "generate_audio")]
    assert {f.concurrency_id for f in fns} == {"generate"} and {f.concurrency_limit for f in fns} == {1}


def test_examples_are_cached_on_first_use(server):
    from apps.audio_app import EXAMPLES

    client = server.client()
    first = client.predict(0, api_name="/audio_example")  # example 0, generated at the model's defaults, seed 0
    assert first[2]["prompt"] == EXAMPLES[0] and first[4] == 0
    started = time.time()
    again = client.predict(0, api_name="/audio_example")
    assert again[2] == first[2] and np.array_equal(sf.read(again[0])[0], sf.read(first[0])[0])
    assert time.time() - started < 5
    cache = server.config.output_dir / "examples"
    if os.environ.get("GRADIO_EXAMPLES_CACHE") == str(cache):  # the first app built in this process set it
        assert any(p.suffix == ".wav" for p in cache.rglob("*"))


def test_model_menu_change_resets_the_sliders_to_that_models_rules(server, app_pipes, tmp_path):
    tab, name = _tab(app_pipes, tmp_path)
    frames, fps, width, height, steps, guidance, scheduler = tab.model_defaults(name)
    assert frames["maximum"] == app_pipes[0].limits.max_frames and width["step"] == height["step"] == 2
    assert (width["value"], height["value"], steps["value"]) == (32, 32, 4) and scheduler["value"] == "dpm++"


def test_video_with_sound_is_one_mp4_with_both_streams_and_both_settings(server):
    import subprocess

    import imageio_ffmpeg

    args = (*video_args(server, "a red circle", seed=4, frames=8), True, "three beeps", server.audio_model)
    path, _, settings, _, seed = server.client().predict(*args, api_name="/generate_video")
    assert seed == 4 and settings["sound"]["seed"] == 4 and settings["sound"]["prompt"] == "three beeps"
    assert settings["sound"]["seconds"] == 1.0  # 8 frames at 8 fps
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path], capture_output=True,
                          text=True).stderr
    assert "Video: h264" in info and "Audio: aac" in info, info
    random = server.client().predict(*video_args(server, "a red circle", frames=8), True, "", server.audio_model,
                                     api_name="/generate_video")
    assert random[2]["sound"]["seed"] == random[4] and random[2]["sound"]["prompt"] == "a red circle"
