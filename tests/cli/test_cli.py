"""The `mediadiff` command as a user runs it: real subprocesses, real files."""

import json
import os
import subprocess
import sys

import pytest

from mediadiff.codecs.frames import read_video
from mediadiff.codecs.metadata import read_mp4_settings, read_wav_settings


def run(*args, timeout=300):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "mediadiff", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def models(tiny_models):
    return tiny_models


def test_video_and_audio_from_each_layout(models, tmp_path):
    for layout in ("modelscope", "animatediff", "mediadiff-video"):
        out = tmp_path / f"{layout}.mp4"
        r = run("video", "a red circle moving right", "-o", out, "--model", models[layout], "--frames", 4,
                "--height", 16, "--width", 16, "--steps", 2, "--seed", 1, "--json")
        assert r.returncode == 0, r.stderr
        result = json.loads(r.stdout)
        assert result["paths"] == [str(out)] and result["seed"] == 1 and "denoise" in result["timings"]
        frames, fps = read_video(out)
        assert frames.shape == (4, 16, 16, 3) and fps == 8
    for layout in ("audioldm", "mediadiff-audio"):
        out = tmp_path / f"{layout}.wav"
        r = run("audio", "three beeps", "-o", out, "--model", models[layout], "--seconds", 0.5, "--steps", 2,
                "--seed", 2, "--quiet")
        assert r.returncode == 0 and r.stdout == "", r.stderr
        assert read_wav_settings(out)["seconds"] == 0.5


def test_human_output_and_progress(models, tmp_path):
    r = run("video", "x", "-o", tmp_path / "o.gif", "--model", models["mediadiff-video"], "--steps", 3, "--seed", 4)
    assert r.returncode == 0 and r.stdout.startswith(f"wrote {tmp_path / 'o.gif'}") and "seed 4" in r.stdout
    assert "denoising" in r.stderr  # the progress bar
    assert json.loads((tmp_path / "o.gif.json").read_text())["seed"] == 4  # GIF has no tag for it: the sidecar


BAD = [
    (["video", "", "--steps", 2], "invalid prompt=''"),
    (["video", "x", "--steps", 0], "invalid steps=0"),
    (["video", "x", "--guidance", -1], "invalid guidance=-1.0"),
    (["video", "x", "--frames", 0], "invalid frames=0"),
    (["video", "x", "--frames", 999], "from 1 to 512"),
    (["video", "x", "--height", 17], "multiple of 2"),
    (["video", "x", "--scheduler", "magic"], "invalid scheduler='magic'"),
    (["audio", "x", "--seconds", 0], "invalid seconds=0.0"),
    (["audio", "x", "--seconds", 999], "at most 120"),
]


@pytest.mark.parametrize("args,message", BAD)
def test_bad_input_one_line_exit_2(models, tmp_path, capsys, args, message):
    from mediadiff.cli import main

    kind = args[0]
    model = models["mediadiff-video" if kind == "video" else "mediadiff-audio"]
    out = tmp_path / ("o.mp4" if kind == "video" else "o.wav")
    code = main([*map(str, args), "-o", str(out), "--model", str(model)])  # in-process: the same entry point
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_bad_input_exit_code_from_a_real_process(models, tmp_path):
    r = run("video", "x", "--steps", "0", "-o", tmp_path / "o.mp4", "--model", models["mediadiff-video"])
    assert r.returncode == 2 and r.stderr.strip() == "mediadiff: error: invalid steps=0: must be an integer from 1 to 1000"


def test_bad_paths_and_models(models, tmp_path, capsys):
    from mediadiff.cli import main

    cases = [
        (["video", "x", "-o", tmp_path / "o.wav", "--model", models["mediadiff-video"]], "must end in .mp4 or .gif"),
        (["audio", "x", "-o", tmp_path / "o.mp4", "--model", models["mediadiff-audio"]], "must end in .wav"),
        (["video", "x", "-o", tmp_path / "no" / "o.mp4", "--model", models["mediadiff-video"]], "does not exist"),
        (["video", "x", "-o", tmp_path / "o.mp4", "--model", tmp_path / "nothing"], "no such folder"),
        (["video", "x", "-o", tmp_path / "o.mp4", "--model", models["audioldm"]], "use `mediadiff audio`"),
        (["video", "x", "-o", tmp_path / "o.mp4", "--model", "zeroscope"], "hub could not be reached"),
        (["info", tmp_path], "no model_index.json"),
    ]
    for args, message in cases:
        code = main(list(map(str, args)))
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, (args, err)


def test_info(models):
    r = run("info", models["audioldm"], "--json")
    info = json.loads(r.stdout)
    assert info["layout"] == "audioldm" and info["components"]["vocoder"]["class"] == "SpeechT5HifiGan"
    r = run("info", models["mediadiff-video"])
    assert "UNetMotionModel" in r.stdout and "max frames 32" in r.stdout


def test_step_cache_option_is_recorded_and_checked(models, tmp_path, capsys):
    from mediadiff.cli import main

    out = tmp_path / "c.mp4"
    code = main(["video", "x", "-o", str(out), "--model", str(models["mediadiff-video"]), "--steps", "4",
                 "--seed", "1", "--cache-steps", "2", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["settings"]["cache_steps"] == 2 and read_mp4_settings(out)["cache_steps"] == 2
    code = main(["video", "x", "-o", str(tmp_path / "d.mp4"), "--model", str(models["mediadiff-video"]),
                 "--cache-branch", "deep"])
    assert code == 2 and "invalid cache_branch='deep'" in capsys.readouterr().err
