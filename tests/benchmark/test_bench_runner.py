"""The benchmark measures the right things: stages, the diffusers reference, FLOPs, decode memory, step cache."""

import numpy as np
import pytest
import torch

from mediadiff.benchmark import flops, memory, runner
from mediadiff.benchmark.reference import reference_class
from mediadiff.errors import ValidationError


def video_spec(model, **kw):
    settings = dict(prompt="a red circle", negative_prompt="blurry", frames=3, fps=8, height=16, width=16, steps=2,
                    guidance=7.5, scheduler="dpm++", seed=1, num_outputs=1)
    return runner.BenchSpec(modality="video", model=str(model), settings=settings, device="cpu", repeat=1, **kw)


@pytest.mark.parametrize("layout", ["modelscope", "animatediff"])
def test_bench_against_diffusers_reports_every_stage(tiny_models, layout):
    result = runner.bench(video_spec(tiny_models[layout], against="diffusers"))
    for side in ("mediadiff", "diffusers"):
        assert {"load", "text", "denoise", "step", "decode", "file", "total", "peak_mib"} <= set(result[side])
    assert result["max_abs_diff"] <= 1e-4  # the same weights, settings and seed give the same frames
    assert {"total", "denoise", "decode"} <= set(result["ratio"])
    assert result["compute"]["flops_per_forward"] > 0 and result["compute"]["matmul_flops_per_s"] > 0
    assert 0 < result["outside_denoiser_share"] < 1


def test_bench_audio_against_diffusers(tiny_models):
    settings = dict(prompt="beeps", negative_prompt="", seconds=0.25, steps=2, guidance=2.5, scheduler="ddim",
                    seed=2, num_outputs=1)
    spec = runner.BenchSpec(modality="audio", model=str(tiny_models["audioldm"]), settings=settings, device="cpu",
                            repeat=1, against="diffusers", suffix=".wav")
    result = runner.bench(spec)
    assert "vocoder" in result["mediadiff"] and "vocoder" in result["diffusers"]
    assert result["max_abs_diff"] <= 1e-4 and result["decode_memory"] is None


def test_no_reference_for_mediadiff_layout():
    with pytest.raises(ValidationError, match="no pipeline for"):
        reference_class("mediadiff")


def test_flop_count_of_a_matmul():
    layer = torch.nn.Linear(64, 32, bias=False)
    assert flops.forward_flops(lambda x, t: layer(x), torch.randn(8, 64), None) == 2 * 8 * 64 * 32


def test_tensor_peak_counts_live_tensors_only():
    with memory.TensorPeak() as tracker:
        a = torch.ones(1024, 256)  # 1 MiB
        b = a * 2  # 2 MiB live
        del a, b
        c = torch.ones(256, 256)  # 0.25 MiB
    assert tracker.peak_mib == pytest.approx(2.0) and tracker.current == c.nbytes


def test_video_decode_memory_is_flat_in_frames(video_pipe):
    spec = runner.BenchSpec(modality="video", model="x", settings={"height": 64, "width": 64})
    report = runner.decode_memory_report(video_pipe, spec)
    small, large = (r["extra_mib"] for r in report["rows"])
    assert report["rows"][1]["output_mib"] == 4 * report["rows"][0]["output_mib"]
    assert large <= 1.2 * small, report


def test_step_cache_reuses_deep_features_and_restores_the_unet(video_pipe):
    kw = dict(frames=4, height=32, width=32, steps=6, seed=3)
    plain = video_pipe("a circle", **kw).frames
    calls = []
    handle = video_pipe.unet.mid_block.resnets[0].register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        cached = video_pipe.enable_step_cache(3)("a circle", **kw)
    finally:
        video_pipe.enable_step_cache(1)
        handle.remove()
    assert len(calls) == 2  # full forwards at steps 0 and 3 only
    assert cached.settings["cache_steps"] == 3
    diff = np.abs(cached.frames - plain).max()
    assert 0 < diff < 0.2
    assert "forward" not in video_pipe.unet.mid_block.__dict__  # the patch is gone
    assert np.array_equal(video_pipe("a circle", **kw).frames, plain)


def test_layer_branch_replays_all_but_the_last_up_layer(video_pipe):
    from mediadiff.core.stepcache import deep_blocks

    unet = video_pipe.unet
    layer = deep_blocks(unet, "layer")
    assert unet.down_blocks[0] in layer and unet.up_blocks[-1].resnets[0] in layer
    assert unet.up_blocks[-1].resnets[-1] not in layer and unet.down_blocks[0] not in deep_blocks(unet, "block")
    kw = dict(frames=2, height=16, width=16, steps=4, seed=1)
    plain = video_pipe("x", **kw).frames
    try:
        cached = video_pipe.enable_step_cache(2, "layer")("x", **kw)
    finally:
        video_pipe.enable_step_cache(1)
    assert cached.settings["cache_branch"] == "layer" and 0 < np.abs(cached.frames - plain).max() < 0.2
    assert all("forward" not in m.__dict__ for m in layer)
    with pytest.raises(ValidationError, match="cache_branch"):
        video_pipe.enable_step_cache(2, "mid")
