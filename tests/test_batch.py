"""`mediadiff batch`: every job once, resumable, split across two CPU processes by accelerate."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mediadiff.cli import main

ROOT = Path(__file__).resolve().parents[1]
VIDEO = {"frames": 2, "height": 16, "width": 16, "steps": 2}
AUDIO = {"seconds": 0.25, "steps": 2}


def write_jobs(path: Path, count: int = 6) -> Path:
    lines = []
    for i in range(count):
        kind = "video" if i % 2 == 0 else "audio"
        settings = {**(VIDEO if kind == "video" else AUDIO), "seed": i}
        lines.append(json.dumps({"prompt": f"job {i}", "kind": kind, "settings": settings, "name": f"job{i}"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def media(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.suffix in (".mp4", ".wav"))


def models_args(tiny_models) -> list[str]:
    return ["--video-model", str(tiny_models["mediadiff-video"]), "--audio-model", str(tiny_models["mediadiff-audio"])]


def test_two_processes_split_six_jobs(tiny_models, tmp_path):
    jobs, out = write_jobs(tmp_path / "jobs.jsonl"), tmp_path / "out"
    launcher = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    cmd = [launcher, "launch", "--config_file", str(ROOT / "configs/accelerate/cpu-2proc.yaml"),
           "--main_process_port", "29617", shutil.which("mediadiff", path=str(Path(sys.executable).parent)),
           "batch", str(jobs), "--out", str(out), *models_args(tiny_models), "--json"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert media(out) == [f"job{i}{'.mp4' if i % 2 == 0 else '.wav'}" for i in range(6)]
    assert not [p for p in out.iterdir() if ".partial" in p.name]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["jobs"] == 6 and manifest["done"] == 6 and len(manifest["entries"]) == 6
    assert [e["seed"] for e in manifest["entries"]] == list(range(6))
    ranks = manifest["processes"]
    assert [p["rank"] for p in ranks] == [0, 1] and [p["generated"] for p in ranks] == [3, 3]  # each job once


def test_rerun_skips_finished_jobs(tiny_models, tmp_path, capsys):
    jobs, out = write_jobs(tmp_path / "jobs.jsonl", 3), tmp_path / "out"
    args = ["batch", str(jobs), "--out", str(out), *models_args(tiny_models), "--json", "--device", "cpu"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["processes"] == [{"rank": 0, "generated": 3, "skipped": 0,
                                                                 "failed": 0}]
    (out / "job1.wav").unlink()  # as after a crash: one output missing
    before = (out / "job0.mp4").stat().st_mtime_ns
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["processes"][0]["generated"] == 1 and summary["processes"][0]["skipped"] == 2
    assert summary["done"] == 3 and (out / "job0.mp4").stat().st_mtime_ns == before


def test_jit_batch_writes_the_same_media(tiny_models, tmp_path, capsys):
    from mediadiff.codecs.frames import read_video

    jobs = write_jobs(tmp_path / "jobs.jsonl", 3)
    for name, extra in (("eager", []), ("jit", ["--jit"])):
        assert main(["batch", str(jobs), "--out", str(tmp_path / name), *models_args(tiny_models), "--device", "cpu",
                     "--quiet", *extra]) == 0
    assert media(tmp_path / "jit") == media(tmp_path / "eager")
    assert (read_video(tmp_path / "jit" / "job0.mp4")[0] == read_video(tmp_path / "eager" / "job0.mp4")[0]).all()
    capsys.readouterr()
    assert main(["batch", str(jobs), "--out", str(tmp_path / "x"), "--device", "cuda:0", "--jit"]) == 2
    assert "invalid jit=True: runs on the CPU" in capsys.readouterr().err


BAD_LINES = [
    ('{"prompt": "x", "kind": "movie"}', "line 2 kind='movie': must be video or audio"),
    ('{"prompt": "x", "kind": "video", "settings": {"steps": 0}}', "line 2 steps=0"),
    ('{"prompt": "", "kind": "audio"}', "line 2 prompt=''"),
    ('{"prompt": "x", "kind": "video", "settings": {"colour": 1}}', "line 2 settings.colour=1"),
    ('{"prompt": "x", "kind": "video", "sound": 1}', "line 2 sound=1: is not a job field"),
    ('{"prompt": "x", "kind": "video", "name": "../up"}', "line 2 name='../up'"),
    ('{"prompt": "x", "kind": "video", "name": "job0"}', "line 2 name='job0': is already used on line 1"),
    ('{"prompt": "x", "kind": video}', "line 2 json="),
]


@pytest.mark.parametrize("line,message", BAD_LINES)
def test_bad_job_line_one_message(tiny_models, tmp_path, capsys, line, message):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(json.dumps({"prompt": "ok", "kind": "video", "name": "job0"}) + "\n" + line + "\n")
    code = main(["batch", str(jobs), "--out", str(tmp_path / "out"), *models_args(tiny_models)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert list((tmp_path / "out").iterdir()) == []  # nothing generated before every line is valid
