"""A stopped or killed run resumes from its last checkpoint: step counter, weights and EMA carry on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mediadiff.training import stages as st
from mediadiff.training.loop import RunExists, read_trainer_state, train

QUIET = dict(progress=False, log=lambda line: None)


def _vae_stage(cfg, data, steps: int, every: int):
    stage = st.vae_stage(cfg, data)
    stage.settings = stage.settings | {"steps": steps, "checkpoint_every": every}
    return stage


def test_stopped_run_resumes_with_its_weights_and_step(tiny_audio, tmp_path):
    cfg, data = tiny_audio
    torch.manual_seed(0)
    train(_vae_stage(cfg, data, 6, 2), tmp_path, stop_after=4, **QUIET)
    state = read_trainer_state(tmp_path / "vae")
    assert state["step"] == 4 and not (tmp_path / "vae" / "final").exists()
    saved = {k.removeprefix("model."): v  # accelerate saves the stage model inside its loss wrapper
             for k, v in load_file(str(tmp_path / "vae" / "checkpoint" / "state" / "model.safetensors")).items()}

    with pytest.raises(RunExists, match="--resume"):
        train(_vae_stage(cfg, data, 6, 2), tmp_path, **QUIET)

    lines = []
    resumed = _vae_stage(cfg, data, 6, 2)  # fresh random weights: resume must replace them
    fresh = {k: v.clone() for k, v in resumed.model.state_dict().items()}
    calls = []
    original_loss = resumed.loss

    def spy(model, batch):
        if not calls:  # the first step after resuming sees the checkpoint's weights, not the fresh ones
            weights = model.state_dict()
            calls.append(all(torch.equal(weights[k].cpu(), saved[k]) for k in saved))
            calls.append(any(not torch.equal(weights[k].cpu(), fresh[k]) for k in saved))
        return original_loss(model, batch)

    resumed.loss = spy
    train(resumed, tmp_path, resume=True, progress=False, log=lines.append)
    assert calls == [True, True]
    assert any("resumed at step 4 of 6" in line for line in lines)
    assert read_trainer_state(tmp_path / "vae")["step"] == 6
    assert (tmp_path / "vae" / "final" / "config.json").exists()
    log = [json.loads(l) for l in (tmp_path / "vae" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 4, 6]
    assert log[-1]["samples"] == 6 * 8 and log[-1]["wall_s"] >= log[1]["wall_s"]


def test_killed_process_resumes_from_its_checkpoint(tiny_config, tmp_path):
    """SIGKILL a real `mediadiff train` mid-stage, then --resume: it continues from the last checkpoint."""

    config = tiny_config(tmp_path / "kill.yaml", "audio", vae={"steps": 400, "checkpoint_every": 3})
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "mediadiff", "train", "audio", "--config", str(config), "--out", str(run_dir),
           "--stage", "vae", "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    trainer = run_dir / "vae" / "checkpoint" / "trainer.json"
    deadline = time.time() + 240
    while time.time() < deadline and not (trainer.exists() and json.loads(trainer.read_text())["step"] >= 6):
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(trainer.read_text())["step"]
    assert 6 <= killed_at < 400 and killed_at % 3 == 0
    leftovers = [p.name for p in (run_dir / "vae").iterdir() if ".partial" in p.name]
    done = subprocess.run(cmd[:-1] + ["--resume", "--stop-after", "3", "--json"], env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["stages"][0]["step"] == killed_at + 3
    assert summary["pipeline"] is None
    assert all(".partial" not in p.name for p in (run_dir / "vae").iterdir()), leftovers
