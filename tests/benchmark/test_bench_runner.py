"""The benchmark measures the right things: stages, the diffusers reference, FLOPs, decode memory."""

import pytest
import torch

from mediadiff import validation
from mediadiff.benchmark import flops, memory, runner
from mediadiff.benchmark.reference import reference_class
from mediadiff.checkpoints import resolve_limits
from mediadiff.errors import ValidationError


def video_spec(model, **kw):
    request = validation.video_request(resolve_limits(model).limits, "a red circle", "blurry", frames=3, fps=8,
                                       height=16, width=16, steps=2, guidance=7.5, scheduler="dpm++", seed=1)
    return runner.BenchSpec(modality="video", model=str(model), request=request, device="cpu", repeat=1, **kw)


@pytest.mark.parametrize("layout", ["modelscope", "animatediff"])
def test_bench_against_diffusers_reports_every_stage(tiny_models, layout):
    result = runner.bench(video_spec(tiny_models[layout], against="diffusers"))
    for side in ("mediadiff", "diffusers"):
        assert {"load", "text", "denoise", "step", "decode", "file", "total", "peak_mib"} <= set(result[side])
    assert result["max_abs_diff"] <= 1e-4  # the same weights, settings and seed give the same frames
    assert {"total", "denoise", "decode"} <= set(result["ratio"])
    assert result["compute"]["flops_per_forward"] > 0 and result["compute"]["matmul_flops_per_s"] > 0
    ours = result["mediadiff"]  # the share of our own end-to-end median spent outside the denoising loop
    assert result["outside_denoiser_share"] == pytest.approx(1 - ours["denoise"]["median"] / ours["total"]["median"])
    assert 0 < result["outside_denoiser_share"] < 1


def test_bench_audio_against_diffusers(tiny_models):
    model = tiny_models["audioldm"]
    request = validation.audio_request(resolve_limits(model).limits, "beeps", "", seconds=0.25, steps=2, guidance=2.5,
                                       scheduler="ddim", seed=2)
    spec = runner.BenchSpec(modality="audio", model=str(model), request=request, device="cpu", repeat=1,
                            against="diffusers", suffix=".wav")
    result = runner.bench(spec)
    assert "vocoder" in result["mediadiff"] and "vocoder" in result["diffusers"]
    assert result["max_abs_diff"] <= 1e-4 and result["decode_memory"] is None


def test_references_by_layout(tiny_models):
    """mediadiff's own video models run in AnimateDiffPipeline (their motion UNet); its audio models have none."""
    from diffusers import AnimateDiffPipeline

    from mediadiff.benchmark.reference import check_reference

    assert reference_class("mediadiff") is AnimateDiffPipeline
    assert check_reference(tiny_models["mediadiff-video"]) == "mediadiff"
    with pytest.raises(ValidationError, match="no pipeline for a mediadiff audio model"):
        check_reference(tiny_models["mediadiff-audio"])
    with pytest.raises(ValidationError, match="no pipeline for"):
        reference_class("wan")


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
    spec = runner.BenchSpec(modality="video", model="x", request=video_pipe.request("x", height=64, width=64))
    report = runner.decode_memory_report(video_pipe, spec)
    small, large = (r["extra_mib"] for r in report["rows"])
    assert report["rows"][1]["output_mib"] == 4 * report["rows"][0]["output_mib"]
    assert large <= 1.2 * small, report
