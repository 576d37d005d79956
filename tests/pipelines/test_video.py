"""VideoPipeline through the Python API: outputs, saving, seeds, metadata."""

import json

import numpy as np
import pytest

from mediadiff import ValidationError
from mediadiff.codecs.frames import read_video
from mediadiff.codecs.metadata import read_mp4_settings


def test_output_shape_range_and_settings(video_pipe):
    out = video_pipe("a red circle moving right", "blurry", frames=5, height=16, width=24, steps=3, seed=9)
    assert out.frames.shape == (1, 5, 16, 24, 3) and out.frames.dtype == np.float32
    assert 0.0 <= out.frames.min() and out.frames.max() <= 1.0
    assert out.seed == 9 and out.settings["prompt"] == "a red circle moving right"
    assert out.settings["negative_prompt"] == "blurry" and out.settings["steps"] == 3
    assert set(out.timings) == {"text", "denoise", "decode"}


def test_seed_reproducible_and_different_seeds_differ(video_pipe):
    kw = dict(frames=3, steps=2)
    a, b, c = video_pipe("x", seed=1, **kw), video_pipe("x", seed=1, **kw), video_pipe("x", seed=2, **kw)
    assert np.array_equal(a.frames, b.frames) and not np.array_equal(a.frames, c.frames)
    rand, rand2 = video_pipe("x", **kw), video_pipe("x", **kw)
    assert isinstance(rand.seed, int) and rand.seed != rand2.seed  # a fresh seed is drawn each time and reported,
    assert np.array_equal(video_pipe("x", seed=rand.seed, **kw).frames, rand.frames)  # so it can be replayed


def test_prompt_changes_output(video_pipe):
    kw = dict(frames=3, steps=2, seed=1)
    assert not np.array_equal(video_pipe("a red circle", **kw).frames, video_pipe("a blue square", **kw).frames)


def test_each_of_several_outputs_replays_alone(video_pipe, tmp_path):
    out = video_pipe("x", frames=3, steps=2, seed=5, num_outputs=2)
    assert out.frames.shape[0] == 2 and not np.array_equal(out.frames[0], out.frames[1])
    second = video_pipe("x", frames=3, steps=2, seed=6)
    assert np.allclose(out.frames[1], second.frames[0], atol=1e-5)
    paths = out.save(tmp_path / "clip.mp4")
    assert [p.name for p in paths] == ["clip-1.mp4", "clip-2.mp4"]
    assert read_mp4_settings(paths[1])["seed"] == 6


def test_save_mp4_with_metadata_and_sidecar(video_pipe, tmp_path):
    out = video_pipe("a green square", frames=6, fps=6, steps=2, seed=3)
    (path,) = out.save(tmp_path / "o.mp4")
    frames, fps = read_video(path)
    assert frames.shape == (6, 32, 32, 3) and fps == 6
    meta = read_mp4_settings(path)
    sidecar = json.loads((tmp_path / "o.mp4.json").read_text())
    assert meta == sidecar
    for key in ("prompt", "negative_prompt", "seed", "steps", "guidance", "scheduler", "model", "mediadiff_version"):
        assert key in meta


def test_bad_input_is_rejected_before_model_work(video_pipe):
    calls = []
    hook = video_pipe.unet.register_forward_hook(lambda *a: calls.append(1))
    try:
        with pytest.raises(ValidationError, match="frames"):
            video_pipe("x", frames=513)
    finally:
        hook.remove()
    assert calls == []


def test_cancel_from_callback(video_pipe):
    import threading

    from mediadiff import Cancelled

    flag = threading.Event()
    with pytest.raises(Cancelled):
        video_pipe("x", frames=2, steps=5, callback=lambda i, n, x: flag.set(), cancel=flag)
