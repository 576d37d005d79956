"""Every bad input gets one line naming the parameter, the value and what is allowed."""

import os

import pytest

from mediadiff.errors import ValidationError
from mediadiff.validation import Limits, audio_request, check_dtype, check_output_path, video_request

VIDEO = Limits("video", vae_factor=8, max_frames=32, defaults={"height": 64, "width": 64})
AUDIO = Limits("audio", vae_factor=4, max_seconds=10.0)

BAD_VIDEO = [
    ({"prompt": ""}, "prompt", "non-empty"),
    ({"prompt": "   "}, "prompt", "non-empty"),
    ({"steps": 0}, "steps", "integer from 1"),
    ({"steps": 2.5}, "steps", "integer"),
    ({"steps": "many"}, "steps", "integer"),
    ({"guidance": -1}, "guidance", "from 0 to"),
    ({"guidance": float("nan")}, "guidance", "from 0 to"),
    ({"frames": 0}, "frames", "from 1 to 512"),
    ({"frames": 513}, "frames", "from 1 to 512"),
    ({"frames": 40, "context_length": 40}, "context_length", "this model's window"),
    ({"frames": 40, "context_stride": 0}, "context_stride", "from 1 to"),
    ({"frames": 40, "weighting": "cubic"}, "weighting", "pyramid"),
    ({"frames": 40, "noise_type": "pink"}, "noise_type", "shuffle_context"),
    ({"frames": 40, "window_method": "freenoise"}, "window_method", "motion-module"),
    ({"prompt": "3: a | 8: b"}, "prompt", "start at position 0"),
    ({"prompt": "0: a | 99: b"}, "prompt", "below 16"),
    ({"strength": 0.5}, "strength", "needs --init"),
    ({"image_at": 3}, "image_at", "needs --image"),
    ({"height": 60}, "height", "multiple of 8"),
    ({"width": 0}, "width", "multiple of 8"),
    ({"scheduler": "magic"}, "scheduler", "one of"),
    ({"seed": -1}, "seed", "integer"),
    ({"num_outputs": 0}, "num_outputs", "from 1"),
    ({"fps": 0}, "fps", "from 1 to 60"),
]


@pytest.mark.parametrize("change,param,rule", BAD_VIDEO)
def test_bad_video_parameters(change, param, rule):
    params = {"prompt": "a red circle", **change}
    with pytest.raises(ValidationError) as info:
        video_request(VIDEO, params.pop("prompt"), **params)
    msg = str(info.value)
    assert info.value.param == param and msg.startswith(f"invalid {param}=") and rule in msg and "\n" not in msg


@pytest.mark.parametrize("seconds", [0, -1, 120.5, "long"])
def test_bad_seconds(seconds):
    with pytest.raises(ValidationError, match="seconds"):
        audio_request(AUDIO, "beep", seconds=seconds)


def test_defaults_fill_and_types_normalise():
    r = video_request(VIDEO, "  a red circle ", steps="10", height=128.0, seed="random")
    assert (r.prompt, r.steps, r.height, r.width, r.seed, r.scheduler) == ("a red circle", 10, 128, 64, None, "dpm++")
    assert audio_request(AUDIO, "beep", seconds="2.5").seconds == 2.5


def test_modality_mismatch():
    with pytest.raises(ValidationError, match="audio model"):
        video_request(AUDIO, "x")


def test_output_paths(tmp_path):
    assert check_output_path(tmp_path / "a.mp4", "video").name == "a.mp4"
    assert check_output_path(tmp_path / "frames", "video").name == "frames"
    for path, modality, rule in [(tmp_path / "a.wav", "video", ".mp4 or .gif"), (tmp_path / "a.mp4", "audio", ".wav"),
                                 (tmp_path / "missing" / "a.wav", "audio", "does not exist")]:
        with pytest.raises(ValidationError, match=rule):
            check_output_path(path, modality)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ValidationError, match="not writable"):
        check_output_path(locked / "a.wav", "audio")


def test_dtype_rules():
    assert check_dtype("bf16", "cpu") == "bf16"
    with pytest.raises(ValidationError, match="fp16 needs a GPU"):
        check_dtype("fp16", "cpu")
    with pytest.raises(ValidationError, match="one of fp32, fp16, bf16"):
        check_dtype("int8", "cuda")


def test_speed_rules_are_checked_together():
    from mediadiff.validation import check_jit, speed_options

    assert speed_options("2", "layer") == {"cache_steps": 2, "cache_branch": "layer", "compile": None, "jit": False}
    bad = [((0,), "invalid cache_steps=0: must be an integer from 1 to 50"),
           ((2, "mid"), "invalid cache_branch='mid': must be one of block, layer"),
           ((1, "block", "everything"), "invalid compile='everything': must be one of blocks, unet"),
           ((2, "block", None, True), "invalid jit=True: cannot be combined with --cache-steps 2"),
           ((1, "block", "unet", True), "invalid jit=True: cannot be combined with --compile-unet"),
           ((2, "block", "unet"), "invalid compile_unet=True: cannot be combined with --cache-steps 2"),
           ((1, "block", None, True, "cuda:1"), "invalid jit=True: runs on the CPU; with device cuda leave it off")]
    for args, message in bad:
        with pytest.raises(ValidationError) as e:
            speed_options(*args)
        assert str(e.value).startswith(message), args
    assert check_jit(True, "auto") and check_jit(True, "cpu") and not check_jit(False, "cuda")
