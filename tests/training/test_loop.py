"""The training loop's settings: the learning-rate floor, a sitting's minutes, batches drawn on the device,
snapshots."""

from __future__ import annotations

import math

import pytest
import torch

from mediadiff.training import stages as st
from mediadiff.training.loop import lr_schedule, read_trainer_state, train


def _lrs(schedule, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(schedule.get_last_lr()[0])
        schedule.optimizer.step()
        schedule.step()
    return out


def test_floor_zero_is_diffusers_cosine_schedule_and_a_floor_is_where_it_ends():
    from diffusers.optimization import get_cosine_schedule_with_warmup

    def optimizer():
        return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)

    ours, theirs = _lrs(lr_schedule(optimizer(), 10, 100), 101), _lrs(
        get_cosine_schedule_with_warmup(optimizer(), 10, 100), 101)
    assert ours == pytest.approx(theirs, abs=1e-12)
    floored = _lrs(lr_schedule(optimizer(), 10, 100, floor=0.1), 101)
    assert floored[5] == pytest.approx(0.25) and floored[10] == pytest.approx(0.5)  # the same warm-up
    assert floored[100] == pytest.approx(0.05)  # 10% of lr at the end, not 0
    assert floored[55] == pytest.approx(0.05 + 0.45 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert _lrs(lr_schedule(optimizer(), 10, 100, floor=0.1), 160)[100:] == pytest.approx([0.05] * 60)  # no rise


def test_minutes_end_a_sitting_with_a_checkpoint_that_resumes(tiny_audio, tmp_path):
    cfg, data = tiny_audio
    stage = st.vae_stage(cfg, data)
    stage.settings = stage.settings | {"steps": 6, "checkpoint_every": 6, "minutes": 1e-6}  # up at once
    stage.sample = None
    lines = []
    train(stage, tmp_path, progress=False, log=lines.append)
    assert read_trainer_state(tmp_path / "vae")["step"] == 1 and not (tmp_path / "vae" / "final").exists()
    assert lines[-1] == "vae: stopped at step 1 of 6; continue with --resume"
    stage.settings["minutes"] = None
    train(stage, tmp_path, resume=True, progress=False, log=lines.append)
    assert read_trainer_state(tmp_path / "vae")["step"] == 6 and (tmp_path / "vae" / "final").exists()


def test_batches_gathered_on_the_device_are_the_items_of_the_loader():
    torch.manual_seed(0)
    latents = torch.randn(5, 2, 3, 4)  # (N, C, t, m)
    rows = [[1, 2], [3], [4, 5, 6], [], [7]]
    data = st.Captioned(latents, rows, p_uncond=0.25).to("cpu")
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(5, (4000,), generator=g)
    x, picked = data.gather(idx, g)
    assert torch.equal(x, latents[idx])
    allowed = [set(r or [0]) | {0} for r in rows]
    assert all(int(p) in allowed[int(i)] for i, p in zip(idx, picked))
    assert 0.2 < float((picked == 0)[idx != 3].float().mean()) < 0.3  # caption dropout at p_uncond
    three = picked[(idx == 2) & (picked != 0)]
    assert {int(v) for v in three} == {4, 5, 6}  # every caption of a clip is drawn

    backwards = -latents
    forward = [[1, 2], [3], [4, 5, 6], [5], [7]]
    pairs = st.PairedCaptioned(latents, backwards, forward, [[9], [], [8], [8], [9]], p_uncond=0.5).to("cpu")
    x, picked = pairs.gather(torch.arange(len(pairs)).repeat(200), g)  # (B, 2, C, t, m), (B, 2)
    assert torch.equal(x[:4, 0], latents[[0, 2, 3, 4]]) and torch.equal(x[:, 1], -x[:, 0])
    assert torch.equal(picked[:, 0] == 0, picked[:, 1] == 0)  # a dropped caption drops both
    assert 0.4 < float((picked[:, 0] == 0).float().mean()) < 0.6
    assert set(picked[picked[:, 1] != 0, 1].tolist()) == {8, 9}

    clips = torch.randint(0, 256, (3, 4, 6, 6, 3), dtype=torch.uint8)  # (N, F, H, W, 3)
    frames = st.Frames(clips)
    assert torch.equal(frames.gather(torch.tensor([0, 7, 11])), torch.stack([frames[i] for i in (0, 7, 11)]))
    assert torch.equal(frames[7], clips[1, 3].permute(2, 0, 1).float() / 127.5 - 1)


def test_data_on_device_trains_and_snapshots_keep_the_ema_weights(tiny_audio, tmp_path):
    from safetensors.torch import load_file

    cfg, data = tiny_audio
    vae = st.build_vae(cfg).eval()
    latents = st.encode_latents(vae, data, "audio")
    from mediadiff.training.data import caption_bank

    bank, rows = caption_bank(data.captions, int(cfg["text"]["max_length"]))
    stage = st.denoiser_stage(cfg, data.captions[0][0], latents / latents.std(), bank, rows, make_pipeline=None)
    stage.settings = stage.settings | {"steps": 4, "checkpoint_every": 4, "snapshot_every": 2,
                                       "data_on_device": True}
    stage.sample = None
    train(stage, tmp_path, progress=False, log=lambda line: None)
    snapshots = sorted(p.name for p in (tmp_path / "denoiser" / "snapshots").iterdir())
    assert snapshots == ["step-000002", "step-000004"]
    last = load_file(str(tmp_path / "denoiser" / "snapshots" / "step-000004" / "diffusion_pytorch_model.safetensors"))
    final = load_file(str(tmp_path / "denoiser" / "final" / "diffusion_pytorch_model.safetensors"))
    first = load_file(str(tmp_path / "denoiser" / "snapshots" / "step-000002" / "diffusion_pytorch_model.safetensors"))
    assert all(torch.equal(last[k], final[k]) for k in final)  # the EMA weights at that step
    assert any(not torch.equal(first[k], final[k]) for k in final)
    assert read_trainer_state(tmp_path / "denoiser")["samples"] == 4 * 8
