"""`mediadiff video --sound`: one command, one seed, one MP4 with the clip and its soundtrack."""

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from mediadiff.codecs.frames import read_video
from mediadiff.codecs.metadata import read_mp4_settings

from test_cli import run  # tests/cli is on sys.path (pytest prepend import mode, no packages)

# The decoded AAC soundtrack against the WAV `mediadiff audio` writes alone with that seed: 16-bit PCM vs AAC at
# 128 kb/s. Measured on the shipped models' beeps, seed 3 (this test prints it with -s): 42.2 dB.
MIN_SHIPPED_SNR_DB = 25.0


def streams_and_audio(path, rate):
    import imageio_ffmpeg
    import subprocess

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    info = subprocess.run([exe, "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    kinds = [("video" if "Video:" in line else "audio") for line in info.splitlines() if "Stream #" in line]
    pcm = subprocess.run([exe, "-v", "error", "-i", str(path), "-map", "0:a", "-f", "f32le", "-ac", "1",
                          "-ar", str(rate), "-"], capture_output=True, check=True).stdout
    return kinds, np.frombuffer(pcm, dtype="<f4")


@pytest.mark.slow
def test_shipped_models_clip_with_sound_equals_the_sound_made_alone(tmp_path):
    clip, alone = tmp_path / "clip.mp4", tmp_path / "beeps.wav"
    r = run("video", "a red circle moving right", "--sound", "three short high beeps", "--seed", 3, "-o", clip,
            "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["seed"] == 3 and result["settings"]["sound"]["seed"] == 3
    assert result["settings"]["sound"]["model"] == "tones" and result["settings"]["sound"]["seconds"] == 2.0
    assert run("audio", "three short high beeps", "--seconds", 2, "--seed", 3, "-o", alone).returncode == 0
    wav, rate = sf.read(alone, dtype="float32")
    kinds, decoded = streams_and_audio(clip, rate)
    frames, fps = read_video(clip)
    assert kinds == ["video", "audio"] and len(frames) == 16
    assert abs(len(decoded) / rate - len(frames) / fps) <= 1024 / rate  # within one AAC frame
    n = min(len(wav), len(decoded))
    snr = 10 * np.log10(np.sum(wav[:n] ** 2) / np.sum((wav[:n] - decoded[:n]) ** 2))
    print(f"AAC soundtrack vs the WAV made alone: {snr:.1f} dB")
    assert snr >= MIN_SHIPPED_SNR_DB
    record = read_mp4_settings(clip)  # both settings in the file: --seed 3 replays both halves
    assert record["sound"]["prompt"] == "three short high beeps" and record["prompt"] == "a red circle moving right"


def test_bare_sound_uses_the_video_prompt_and_a_long_clip_gets_all_of_it(tiny_models, tmp_path):
    clip = tmp_path / "long.mp4"
    r = run("video", "a red circle", "--sound", "--audio-model", tiny_models["mediadiff-audio"], "--model",
            tiny_models["mediadiff-video"], "--frames", 40, "--steps", 2, "-o", clip, "--json")
    assert r.returncode == 0, r.stderr
    settings = json.loads(r.stdout)["settings"]
    assert settings["context"] is not None and settings["sound"]["prompt"] == "a red circle"
    assert settings["sound"]["seed"] == settings["seed"] is not None  # one drawn seed, recorded for both
    kinds, decoded = streams_and_audio(clip, 16000)
    assert kinds == ["video", "audio"] and abs(len(decoded) / 16000 - 40 / 8) <= 1024 / 16000


def test_a_failing_audio_half_leaves_no_file(tiny_models, tmp_path):
    broken = tmp_path / "broken-audio"
    shutil.copytree(tiny_models["mediadiff-audio"], broken)
    for weights in (broken / "unet").glob("*.safetensors"):
        weights.write_bytes(b"not safetensors")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = run("video", "a red circle", "--sound", "--audio-model", broken, "--model", tiny_models["mediadiff-video"],
            "--steps", 2, "-o", out_dir / "clip.mp4")
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("flags,param,rule", [
    (["--sound", "-o", "{tmp}/o.gif"], "sound", "needs an .mp4"),
    (["--audio-model", "tones", "-o", "{tmp}/o.mp4"], "audio_model", "needs --sound"),
    (["--sound", "--audio-model", "shapes", "-o", "{tmp}/o.mp4"], "audio_model", "needs an audio model"),
    (["--sound-file", "{tmp}/missing.wav", "-o", "{tmp}/o.mp4"], "sound_file", "no such file"),
    (["--sound-file", "{tmp}/text.wav", "-o", "{tmp}/o.mp4"], "sound_file", "not a readable sound"),
    (["--sound", "x", "--sound-file", "{tmp}/text.wav", "-o", "{tmp}/o.mp4"], "sound_file", "not both"),
])
def test_bad_sound_flags_one_line_exit_2_no_file(tiny_models, tmp_path, flags, param, rule):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (tmp_path / "text.wav").write_text("not a sound")
    flags = [f.format(tmp=out_dir) if f.startswith("{tmp}/o") else f.format(tmp=tmp_path) for f in flags]
    r = run("video", "a red circle", "--model", tiny_models["mediadiff-video"], "--steps", 1, *flags)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert f"invalid {param}=" in lines[0] and rule in lines[0], lines[0]
    assert list(out_dir.iterdir()) == []
