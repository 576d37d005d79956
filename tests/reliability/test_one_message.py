"""Guarantee 1 across surfaces: the same bad value gets the same one-line message from the Python API, the CLI and
the Gradio HTTP API (the endpoint the UI's Generate button calls), before any model work."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

pytest.importorskip("gradio", reason="the apps need the `apps` extra (gradio)")

from apphelpers import video_args  # noqa: E402

from mediadiff import ValidationError  # noqa: E402

OK = dict(frames=2, height=8, width=8, steps=1, fps=8, guidance=4.0, scheduler="dpm++", seed=1)
BAD = [("steps", 0), ("steps", 1001), ("frames", 0), ("frames", 999), ("height", 33), ("width", 4096),
       ("fps", 61), ("guidance", -1), ("guidance", 101), ("scheduler", "magic"), ("seed", -5), ("seed", 2**40),
       ("prompt", ""), ("prompt", "   "), ("negative_prompt", "n" * 2001), ("prompt", "p" * 2001)]


def test_same_message_from_api_cli_and_http(rel_pipes, rel_models, app, tmp_path):
    from gradio_client.exceptions import AppError

    from mediadiff.cli import main

    video, _ = rel_pipes
    client = app.client()
    for param, bad in BAD:
        kwargs = {**OK, "prompt": "a circle", "negative_prompt": "", param: bad}
        steps_run = []
        with pytest.raises(ValidationError) as info:
            video(**kwargs, callback=lambda *a: steps_run.append(1))
        expected = str(info.value)
        assert steps_run == [] and expected.startswith(f"invalid {param}=") and "\n" not in expected

        out = tmp_path / f"{param}.mp4"
        argv = ["video", "-o", str(out), "--model", str(rel_models["mediadiff-video"]), "--quiet"]
        argv += [f"--{k.replace('_', '-')}={v}" for k, v in kwargs.items() if k != "prompt"]
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main([*argv, "--", kwargs["prompt"]])
        assert (code, err.getvalue()) == (2, f"mediadiff: error: {expected}\n"), param
        assert not out.exists()

        http = {k: v for k, v in kwargs.items() if k not in ("prompt", "seed")}
        with pytest.raises(AppError) as got:
            client.predict(*video_args(app, kwargs["prompt"], seed=kwargs["seed"], **http),
                           api_name="/generate_video")
        assert str(got.value) == expected, param


@pytest.fixture
def validation_calls(monkeypatch):
    """Counts of the real validation.video_request / audio_request, wherever a caller looks them up: every module
    attribute bound to either function is wrapped by a spy that counts and calls through."""
    import sys

    from mediadiff import validation

    calls = {"video": 0, "audio": 0}
    for kind in calls:
        real = getattr(validation, f"{kind}_request")

        def spy(*args, _real=real, _kind=kind, **kwargs):
            calls[_kind] += 1
            return _real(*args, **kwargs)

        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").split(".")[0] in ("mediadiff", "apps"):
                for name, value in list(vars(module).items()):
                    if value is real:
                        monkeypatch.setattr(module, name, spy)
    return calls


def test_each_generation_is_validated_once(rel_pipes, rel_models, validation_calls, tmp_path, monkeypatch):
    """The CLI, batch, the Python API and the app build one request per generation and generate exactly it."""
    import json

    from apps import common
    from apps.video_app import VideoTab
    from mediadiff.cli import main
    from mediadiff.pipelines import VideoPipeline

    video, audio = rel_pipes
    small = ["--frames", "2", "--height", "8", "--width", "8", "--steps", "1", "--seed", "3", "--quiet"]
    assert main(["video", "a circle", "-o", str(tmp_path / "cli.mp4"), "--model", str(rel_models["mediadiff-video"]),
                 "--device", "cpu", *small]) == 0
    assert (tmp_path / "cli.mp4").exists() and validation_calls == {"video": 1, "audio": 0}

    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text("\n".join(json.dumps(job) for job in (
        {"prompt": "a square", "kind": "video", "settings": {"frames": 2, "height": 8, "width": 8, "steps": 1}},
        {"prompt": "a beep", "kind": "audio", "settings": {"seconds": 0.25, "steps": 1}})) + "\n")
    assert main(["batch", str(jobs), "--out", str(tmp_path / "batch"), "--video-model",
                 str(rel_models["mediadiff-video"]), "--audio-model", str(rel_models["mediadiff-audio"]),
                 "--device", "cpu", "--quiet"]) == 0
    assert len(list((tmp_path / "batch").glob("*.mp4"))) == len(list((tmp_path / "batch").glob("*.wav"))) == 1
    assert validation_calls == {"video": 2, "audio": 1}

    out = video("a triangle", frames=2, height=8, width=8, steps=1, seed=4)
    assert out.frames.shape == (1, 2, 8, 8, 3) and validation_calls == {"video": 3, "audio": 1}
    sound = audio("a hum", seconds=0.25, steps=1, seed=4)
    assert sound.seed == 4 and validation_calls == {"video": 3, "audio": 2}

    config = common.AppConfig(output_dir=tmp_path / "app", device="cpu")
    models = common.model_set(VideoPipeline, "video", video, None, config)
    tab = VideoTab(models, common.OutputStore(config.output_dir, 60, 60), config)
    path, _, settings, _, seed = tab.generate("a ball", "", models.names[0], 2, 8, 8, 8, 1, 4.0, "dpm++", False, 5)
    assert seed == 5 and settings["frames"] == 2 and validation_calls == {"video": 4, "audio": 2}


def test_generate_takes_only_its_own_kind_of_request(rel_pipes):
    video, audio = rel_pipes
    sound = audio.request("a hum", seconds=0.25, steps=1, seed=1)
    with pytest.raises(ValidationError, match=r"request='AudioRequest': must be a request for video \(VideoRequest"):
        video.generate(sound)
    with pytest.raises(ValidationError, match=r"request='dict': must be a request for audio \(AudioRequest"):
        audio.generate(sound.settings())
    assert np.array_equal(audio.generate(sound).waveforms, audio(**sound.settings()).waveforms)  # one generation


def test_each_model_is_resolved_once(rel_models, tmp_path, monkeypatch):
    """The CLI and batch resolve a model name once: the request is checked against it and the same resolution
    is loaded (a second resolution could read another folder or preset than the one validated)."""
    import json

    from mediadiff.checkpoints import loading
    from mediadiff.cli import main

    seen = []
    real = loading.resolve

    def counting(model):
        seen.append(str(model))
        return real(model)

    monkeypatch.setattr(loading, "resolve", counting)
    video = str(rel_models["mediadiff-video"])
    small = ["--frames", "2", "--height", "8", "--width", "8", "--steps", "1", "--seed", "3", "--quiet"]
    assert main(["video", "a circle", "-o", str(tmp_path / "cli.mp4"), "--model", video, "--device", "cpu",
                 *small]) == 0
    assert seen == [video]
    jobs = tmp_path / "jobs.jsonl"
    job = {"prompt": "a square", "kind": "video", "settings": {"frames": 2, "height": 8, "width": 8, "steps": 1}}
    jobs.write_text(json.dumps(job) + "\n" + json.dumps(job | {"prompt": "a ball"}) + "\n")
    assert main(["batch", str(jobs), "--out", str(tmp_path / "batch"), "--video-model", video, "--device", "cpu",
                 "--quiet"]) == 0
    assert seen == [video, video]  # two jobs of one model: one resolution
