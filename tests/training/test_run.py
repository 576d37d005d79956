"""`run`: stages in order, and the pipeline it assembles, also between sittings."""

from __future__ import annotations

import json

import pytest
import torch


def _unet_weights(folder) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v for f in sorted(folder.glob("*.safetensors")) for k, v in load_file(str(f)).items()}


def test_a_stopped_sitting_leaves_a_pipeline_of_its_last_checkpoint(tiny_config, tmp_path):
    """After `--stop-after` in the denoiser stage, RUN/pipeline holds the last checkpoint's EMA weights and says
    how far it trained; the finished run replaces it with the final weights."""
    from mediadiff.pipelines import VideoPipeline
    from mediadiff.training.config import load_config
    from mediadiff.training.run import run

    cfg = load_config(tiny_config(tmp_path / "v.yaml", "video", denoiser={"checkpoint_every": 2}), "video")
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


def test_the_shapes_recipe_keys_train_end_to_end_and_eval_reads_the_pipeline(tiny_config, tmp_path):
    """configs/train/shapes.yaml's keys at toy size through `mediadiff train video` (one caption per clip, t_min,
    lr_floor, batches on the device, the EMA without warm-up, snapshots as pipelines); `mediadiff eval` reads both
    the assembled pipeline and a snapshot."""
    import subprocess
    import sys

    config = tiny_config(tmp_path / "v.yaml", "video", data={"captions_per_clip": 1},
                         vae={"data_on_device": True, "ema_decay": 0},
                         denoiser={"clips": 6, "t_min": 500, "lr_floor": 0.1, "data_on_device": True,
                                   "ema_warmup": False, "snapshot_every": 2, "betas": [0.9, 0.99]})

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "mediadiff", *args], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    summary = cli("train", "video", "--config", str(config), "--out", str(tmp_path / "run"), "--json")
    assert [s["step"] for s in summary["stages"]] == [4, 4]
    snapshot = tmp_path / "run" / "denoiser" / "snapshots" / "step-000002"
    assert json.loads((snapshot / "model_index.json").read_text())["_training"] == {"denoiser_step": 2,
                                                                                     "denoiser_steps": 4}
    for model in (tmp_path / "run" / "pipeline", snapshot):
        report = cli("eval", "video", "--model", str(model), "--limit", "1", "--seeds", "1", "--splits", "grammar",
                     "--json")
        assert len(report["results"]) == 1 and report["results"][0]["prompt"]
        assert report["model_training"]["denoiser_step"] == (4 if model.name == "pipeline" else 2)


def test_init_takes_the_vae_as_it_is_and_starts_the_denoiser_from_the_pipeline(tiny_config, tmp_path):
    """`--init PIPELINE` (config: vae.init with 0 steps, denoiser.init): the VAE is the pipeline's, the denoiser
    starts from its UNet, and the stored set is never rendered (the denoiser streams its own clips)."""
    from mediadiff.training.config import load_config, with_sitting
    from mediadiff.training.run import run

    quiet = dict(progress=False, log=lambda line: None)
    cfg = load_config(tiny_config(tmp_path / "v.yaml", "video", denoiser={"clips": 6}), "video")
    run(cfg, tmp_path / "first", **quiet)
    later = with_sitting(cfg, init=str(tmp_path / "first" / "pipeline"), minutes=5)
    assert later["vae"]["steps"] == 0 and later["denoiser"]["minutes"] == 5.0
    later["denoiser"]["lr"] = 1e-6  # one step barely moves the weights: what they start from shows
    summary = run(later, tmp_path / "second", stop_after=1, **quiet)
    assert [(s["stage"], s["step"], s["of"]) for s in summary["stages"]] == [("vae", 0, 0), ("denoiser", 1, 4)]
    assert not (tmp_path / "second" / "data" / "media.safetensors").exists()
    vae_first, vae_second = (_unet_weights(tmp_path / d / "pipeline" / "vae") for d in ("first", "second"))
    assert all(torch.equal(vae_first[k], vae_second[k]) for k in vae_first)
    start, after = (_unet_weights(tmp_path / d / "pipeline" / "unet") for d in ("first", "second"))
    assert max(float((start[k] - after[k]).abs().max()) for k in start) < 1e-3
    from mediadiff.training.stages import build_unet

    new = build_unet(cfg, 4, [8, 8]).state_dict()
    assert max(float((start[k] - new[k]).abs().max()) for k in start) > 1e-2


def test_an_init_that_is_not_a_model_is_one_line_before_any_work(tiny_config, tmp_path):
    from mediadiff.errors import ValidationError
    from mediadiff.training.config import load_config, with_sitting
    from mediadiff.training.run import run

    cfg = load_config(tiny_config(tmp_path / "v.yaml", "video", denoiser={"init": str(tmp_path)}), "video")
    with pytest.raises(ValidationError, match=r"invalid denoiser.init='.*': must be a unet folder or a pipeline"):
        run(cfg, tmp_path / "run", progress=False, log=lambda line: None)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValidationError, match="invalid init='nowhere': must be a pipeline folder"):
        with_sitting(cfg, init="nowhere")
    with pytest.raises(ValidationError, match="invalid minutes=0: must be a positive number"):
        with_sitting(cfg, minutes=0)
