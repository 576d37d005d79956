"""A `mediadiff batch` stopped by SIGTERM part-way leaves only complete outputs; run again, it generates only what
is missing and leaves finished files untouched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import CHILD_ENV, mediadiff_cmd

from mediadiff.cli import COMMANDS

pytestmark = pytest.mark.skipif("batch" not in COMMANDS, reason="`mediadiff batch` is not built yet")

JOBS = 4


def test_batch_killed_then_resumed(rel_models, tmp_path, capsys):
    from mediadiff.cli import main

    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "out"
    lines = [json.dumps({"prompt": f"job {i}", "kind": "video", "name": f"job{i}",
                         "settings": {"frames": 2, "height": 8, "width": 8, "steps": 40, "seed": i}})
             for i in range(JOBS)]
    jobs.write_text("\n".join(lines) + "\n")
    args = ["batch", jobs, "--out", out, "--video-model", rel_models["mediadiff-video"], "--audio-model",
            rel_models["mediadiff-audio"], "--device", "cpu"]
    proc = subprocess.Popen(mediadiff_cmd(*args, "--quiet"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=CHILD_ENV)
    deadline = time.time() + 180
    try:
        while not (out.is_dir() and any(p.name == "job0.mp4" for p in out.iterdir())):
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.time() < deadline, "the first job never finished"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "mediadiff: terminated; no partial output was left"
    done = sorted(p.name for p in out.glob("*.mp4"))
    assert done and len(done) < JOBS, done  # stopped part-way
    assert not [p.name for p in out.iterdir() if ".partial" in p.name]
    before = {name: (out / name).stat().st_mtime_ns for name in done}
    capsys.readouterr()
    assert main([*map(str, args), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["processes"] == [{"rank": 0, "generated": JOBS - len(done), "skipped": len(done), "failed": 0}]
    assert sorted(p.name for p in out.glob("*.mp4")) == [f"job{i}.mp4" for i in range(JOBS)]
    assert {name: (out / name).stat().st_mtime_ns for name in done} == before  # finished work was not redone
