"""`mediadiff video|audio` with given media and long outputs: replayable records, and one line for bad input."""

import json
import wave

import numpy as np
import pytest

from mediadiff.codecs.frames import read_video, write_video
from mediadiff.codecs.metadata import read_mp4_settings, read_wav_settings

from test_cli import run  # tests/cli is on sys.path (pytest prepend import mode, no packages)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = tmp_path_factory.mktemp("media")
    frames = (np.random.default_rng(0).random((6, 32, 32, 3)) * 255).astype(np.uint8)
    write_video(root / "clip.mp4", frames, 8)
    (root / "empty.wav").write_bytes(b"")
    (root / "text.mp4").write_text("not a video")
    (root / "text.wav").write_text("not a sound")
    with wave.open(str(root / "long.wav"), "wb") as w:  # 10 minutes of silence at 8 kHz: past the input limit
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * 600)
    from PIL import Image

    Image.new("RGB", (4096, 2160)).save(root / "4k.png")
    return root


def test_continue_records_the_input_and_replays(tiny_models, media, tmp_path):
    out = tmp_path / "more.mp4"
    args = ["video", "a red circle", "-o", out, "--model", tiny_models["mediadiff-video"], "--continue",
            media / "clip.mp4", "--frames", 4, "--steps", 2, "--seed", 3, "--json"]
    r = run(*args)
    assert r.returncode == 0, r.stderr
    frames, _ = read_video(out)
    assert len(frames) == 6 + 4
    record = read_mp4_settings(out)
    assert record["continuation"]["name"] == "clip.mp4" and len(record["continuation"]["sha256"]) == 64
    again = tmp_path / "again.mp4"
    assert run(*[again if a == out else a for a in args]).returncode == 0
    assert np.array_equal(read_video(again)[0], frames)


def test_long_audio_on_windows(tiny_models, tmp_path):
    out = tmp_path / "long.wav"
    r = run("audio", "0: beeps | 6: a hum", "-o", out, "--model", tiny_models["mediadiff-audio"], "--seconds", 12,
            "--steps", 2, "--seed", 1, "--json")
    assert r.returncode == 0, r.stderr
    record = read_wav_settings(out)
    assert record["context"]["method"] == "denoiser" and record["schedule"] == [[0.0, "beeps"], [6.0, "a hum"]]
    assert json.loads(r.stdout)["settings"]["seconds"] == 12


@pytest.mark.parametrize("modality,flags,param,rule", [
    ("audio", ["--init", "empty.wav"], "init", "empty file"),
    ("audio", ["--init", "text.wav"], "init", "not a readable sound"),
    ("audio", ["--continue", "long.wav"], "continue", "at most 120 s"),
    ("audio", ["--init", "missing.wav"], "init", "no such file"),
    ("video", ["--init", "text.mp4"], "init", "not a readable video"),
    ("video", ["--image", "4k.png"], "image", "8 to 2048 pixels"),
    ("video", ["--image", "text.mp4"], "image", "not a readable image"),
    ("video", ["--init", "clip.mp4", "--strength", "1.5"], "strength", "at most 1"),
    ("video", ["--init", "clip.mp4", "--frames", "7"], "frames", "the frames of --init"),
    ("video", ["--init", "clip.mp4", "--inpaint", "4:2"], "inpaint", "START < END"),
    ("video", ["--init", "clip.mp4", "--continue", "clip.mp4"], "continue", "give one input"),
    ("video", ["--image-at", "2"], "image_at", "needs --image"),
    ("video", ["--frames", "600"], "frames", "from 1 to 512"),
    ("video", ["--frames", "40", "--weighting", "cubic"], "weighting", "one of"),
    ("video", ["--frames", "40", "--cache-steps", "2", "--window-method", "denoiser"], "cache_steps", "windows"),
])
def test_bad_media_and_window_flags_one_line_exit_2_no_file(tiny_models, media, tmp_path, modality, flags, param,
                                                             rule):
    out = tmp_path / ("o.mp4" if modality == "video" else "o.wav")
    model = tiny_models["mediadiff-video" if modality == "video" else "mediadiff-audio"]
    flags = [str(media / f) if (media / f).exists() or f.endswith((".wav", ".mp4", ".png")) else f for f in flags]
    r = run(modality, "a red circle", "-o", out, "--model", model, "--steps", 1, *flags)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert f"invalid {param}=" in lines[0] and rule in lines[0], lines[0]
    assert list(tmp_path.iterdir()) == []
