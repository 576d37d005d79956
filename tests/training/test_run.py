"""`run`: stages in order, and the pipeline it assembles, also between sittings."""

from __future__ import annotations

import json

import torch

from mediadiff.training.tiny import write_tiny_config


def _unet_weights(folder) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v for f in sorted(folder.glob("*.safetensors")) for k, v in load_file(str(f)).items()}


def test_a_stopped_sitting_leaves_a_pipeline_of_its_last_checkpoint(tmp_path):
    """After `--stop-after` in the denoiser stage, RUN/pipeline holds the last checkpoint's EMA weights and says
    how far it trained; the finished run replaces it with the final weights."""
    from mediadiff.pipelines import VideoPipeline
    from mediadiff.training.config import load_config
    from mediadiff.training.run import run

    cfg = load_config(write_tiny_config(tmp_path / "v.yaml", "video", denoiser={"checkpoint_every": 2}), "video")
    run_dir = tmp_path / "run"
    quiet = dict(progress=False, log=lambda line: None)
    assert run(cfg, run_dir, "vae", **quiet)["pipeline"] is None
    summary = run(cfg, run_dir, "denoiser", stop_after=2, **quiet)
    assert summary["pipeline_training"] == {"denoiser_step": 2, "denoiser_steps": 4}
    snapshot = _unet_weights(run_dir / "pipeline" / "unet")
    ema = _unet_weights(run_dir / "denoiser" / "checkpoint" / "ema")
    assert snapshot.keys() == ema.keys() and all(torch.equal(snapshot[k], ema[k]) for k in ema)
    clip = VideoPipeline.from_pretrained(run_dir / "pipeline")("a red circle moving right", steps=2, seed=0)
    assert clip.frames.shape[:2] == (1, cfg["data"]["frames"]) and clip.frames.std() > 0

    summary = run(cfg, run_dir, "denoiser", resume=True, **quiet)
    index = json.loads((run_dir / "pipeline" / "model_index.json").read_text())
    assert index["_training"] == summary["pipeline_training"] == {"denoiser_step": 4, "denoiser_steps": 4}
    final = _unet_weights(run_dir / "denoiser" / "final")
    shipped = _unet_weights(run_dir / "pipeline" / "unet")
    assert all(torch.equal(shipped[k], final[k]) for k in final)
    assert any(not torch.equal(shipped[k], snapshot[k]) for k in final)

    cfg["denoiser"]["steps"] = 6  # a finished run continued for more steps: final/ is now the older weights
    summary = run(cfg, run_dir, "denoiser", resume=True, stop_after=1, **quiet)
    assert summary["pipeline_training"] == {"denoiser_step": 5, "denoiser_steps": 6}
    ema = _unet_weights(run_dir / "denoiser" / "checkpoint" / "ema")
    assert all(torch.equal(_unet_weights(run_dir / "pipeline" / "unet")[k], ema[k]) for k in ema)
