"""Beyond one window on tiny models: long media on windows for every layout, given media kept or re-made."""

import numpy as np
import pytest
import soundfile as sf

from mediadiff import AudioPipeline, VideoPipeline
from mediadiff.codecs.frames import write_video


@pytest.fixture(scope="module")
def frames_folder(tmp_path_factory):
    frames = (np.random.default_rng(1).random((6, 32, 32, 3)) * 255).astype(np.uint8)
    return write_video(tmp_path_factory.mktemp("in") / "clip", frames, 8), frames


@pytest.mark.parametrize("layout,method", [("modelscope", "denoiser"), ("animatediff", "denoiser"),
                                           ("animatediff", "freenoise"), ("mediadiff-video", "freenoise")])
def test_long_video_runs_on_windows_for_every_layout(tiny_models, layout, method):
    pipe = VideoPipeline.from_pretrained(tiny_models[layout], device="cpu")
    request = pipe.request("a red circle", frames=pipe.limits.max_frames + 5, height=32, width=32, steps=2, seed=0,
                           window_method=method)
    assert request.context is not None and request.context.method == method
    out = pipe.generate(request)
    assert out.frames.shape[1] == pipe.limits.max_frames + 5 and np.isfinite(out.frames).all()
    assert out.settings["context"]["length"] == pipe.limits.window


@pytest.mark.parametrize("layout", ["mediadiff-audio", "audioldm"])
def test_long_audio_runs_on_windows(tiny_models, layout):
    pipe = AudioPipeline.from_pretrained(tiny_models[layout], device="cpu")
    seconds = pipe.limits.max_seconds + 1.5
    out = pipe("beeps", seconds=seconds, steps=2, seed=0)
    assert out.waveforms.shape[1] == int(seconds * out.sample_rate)
    assert out.settings["context"]["method"] == "denoiser"


def test_windows_with_a_window_as_long_as_the_clip_change_nothing(video_pipe):
    a = video_pipe("a red circle", frames=8, steps=2, seed=4)
    b = video_pipe("a red circle", frames=8, steps=2, seed=4, context_length=8)
    assert np.array_equal(a.frames, b.frames) and "context" not in b.settings


def test_video_inpaint_keeps_the_outside_as_the_reconstruction(tiny_models, frames_folder):
    folder, _ = frames_folder
    pipe = VideoPipeline.from_pretrained(tiny_models["animatediff"], device="cpu")
    common = dict(init=folder, height=32, width=32, steps=3, seed=5)
    reconstruction = pipe("a red circle", strength=0.01, **common)  # no step runs: the input's latents decoded
    out = pipe("a blue square", inpaint="2:4", **common)
    assert np.array_equal(out.frames[:, [0, 1, 4, 5]], reconstruction.frames[:, [0, 1, 4, 5]])
    assert not np.allclose(out.frames[:, 2:4], reconstruction.frames[:, 2:4], atol=1e-3)
    assert out.settings["inpaint"] == [2, 4]


def test_continued_clip_starts_with_the_given_frames(video_pipe, tiny_models, tmp_path):
    given = (np.random.default_rng(2).random((6, 32, 32, 3)) * 255).astype(np.uint8)
    folder = write_video(tmp_path / "given", given, 8)
    out = video_pipe("a red circle", continue_from=folder, frames=5, steps=2, seed=0)
    assert out.frames.shape[1] == 6 + 5
    assert np.abs(out.frames[0, :6] * 255 - given).max() <= 0.51  # the given frames, as they were
    assert out.settings["continuation"]["frames"] == 6 and out.settings.get("overlap") == min(6, video_pipe.limits.window // 2)


def test_image_is_the_given_frame(video_pipe, tmp_path):
    from PIL import Image

    image = (np.random.default_rng(3).random((48, 80, 3)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "first.png")
    a = video_pipe("a red circle", image=tmp_path / "first.png", image_at=2, frames=6, steps=2, seed=1)
    b = video_pipe("a blue square", image=tmp_path / "first.png", image_at=2, frames=6, steps=2, seed=1)
    assert np.array_equal(a.frames[:, 2], b.frames[:, 2])  # the given frame does not depend on the prompt
    assert not np.array_equal(a.frames[:, 3], b.frames[:, 3])
    assert a.settings["image"]["name"] == "first.png" and a.settings["image_at"] == 2


@pytest.fixture(scope="module")
def sound(audio_pipe, tmp_path_factory):
    path = tmp_path_factory.mktemp("snd") / "given.wav"
    audio_pipe("two beeps", seconds=1.0, steps=3, seed=7).save(path)
    return path


def test_audio_strength_one_is_text_to_audio_and_near_zero_the_reconstruction(audio_pipe, sound):
    plain = audio_pipe("two beeps", seconds=1.0, steps=3, seed=7)
    full = audio_pipe("two beeps", seconds=1.0, steps=3, seed=7, init=sound, strength=1.0)
    assert np.abs(full.waveforms - plain.waveforms).max() <= 1e-6
    tiny = audio_pipe("a hum", steps=3, seed=9, init=sound, strength=0.01)  # no step: VAE + vocoder round trip
    again = audio_pipe("two beeps", steps=3, seed=9, init=sound, strength=0.01)
    assert np.array_equal(tiny.waveforms, again.waveforms)  # the prompt plays no part
    assert tiny.waveforms.shape == (1, 16000)


def test_audio_inpaint_keeps_the_outside_as_the_reconstruction(audio_pipe, sound):
    common = dict(init=sound, steps=3, seed=2)
    reconstruction = audio_pipe("two beeps", strength=0.01, **common)
    out = audio_pipe("a high hum", inpaint="0.5:0.75", **common)
    outside = np.r_[0:8000, 12000:16000]
    assert np.abs(out.waveforms[:, outside] - reconstruction.waveforms[:, outside]).max() <= 1e-6
    t = out.mel.shape[1]  # the tiny vocoder is near silent: the span's change shows in the mel
    inside = slice(int(t * 0.55), int(t * 0.7))
    assert np.abs(out.mel[:, inside] - reconstruction.mel[:, inside]).max() > 1e-3
    assert out.settings["inpaint"] == [0.5, 0.75]


def test_audio_continuation_starts_with_the_given_sound(audio_pipe, sound):
    given, rate = sf.read(sound, dtype="float32")
    out = audio_pipe("two beeps", continue_from=sound, seconds=0.5, steps=2, seed=0)
    assert out.waveforms.shape[1] == len(given) + 8000
    head = out.waveforms[0, : len(given) - 320]
    assert np.abs(head - given[: len(given) - 320]).max() <= 1e-6
    assert out.settings["continuation"]["sha256"]
