"""`mediadiff bench`: warm-up, then interleaved runs of mediadiff (and diffusers' reference) with stage timings."""

from __future__ import annotations

import contextlib
import gc
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..core.freenoise import temporal_windows
from ..core.windows import windowed
from ..pipelines.base import windows_for
from . import flops, memory, reference, stats

# Stages in report order; "other" is whatever the call spent outside them (Python, scheduler, copies).
STAGES = ("load", "text", "denoise", "step", "decode", "vocoder", "file", "other", "total")


@dataclass
class BenchSpec:
    """What to benchmark: one model, one validated request, the options that change speed."""

    modality: str  # "video" | "audio"
    model: str
    request: object  # a validated VideoRequest / AudioRequest, with a fixed seed
    device: str = "auto"
    dtype: str = "fp32"
    allow_pickle: bool = False
    motion_adapter: str | None = None
    cache_steps: int = 1
    cache_branch: str = "block"
    compile: str | None = None  # None, "blocks" or "unet" (MediaPipeline.compile's scope)
    jit: bool = False
    repeat: int = 3
    against: str | None = None  # "diffusers" or None
    suffix: str = ".mp4"
    extras: dict = field(default_factory=dict)

    @property
    def settings(self) -> dict:
        """The request's settings (what diffusers' reference is called with, and what the report shows)."""
        return self.request.settings()


def _pipeline_class(modality: str):
    from ..pipelines import AudioPipeline, VideoPipeline

    return VideoPipeline if modality == "video" else AudioPipeline


def load_ours(spec: BenchSpec):
    """mediadiff's pipeline with the speed options applied; returns (pipeline, seconds)."""
    start = time.perf_counter()
    pipe = _pipeline_class(spec.modality).from_pretrained(
        spec.model, device=spec.device, dtype=spec.dtype, allow_pickle=spec.allow_pickle,
        motion_adapter=spec.motion_adapter)
    pipe.enable_step_cache(spec.cache_steps, spec.cache_branch)
    if spec.compile:
        pipe.compile(scope=spec.compile)
    pipe.enable_jit(spec.jit)
    return pipe, time.perf_counter() - start


def run_ours(pipe, spec: BenchSpec, path: Path) -> tuple[dict, np.ndarray]:
    """One timed generation plus file writing: stage seconds and the output array."""
    pipe.text.clear_cache()  # every run encodes its prompt, as diffusers does (the cache serves long-lived apps)
    start = time.perf_counter()
    out = pipe.generate(spec.request)
    call = time.perf_counter() - start
    file_start = time.perf_counter()
    out.save(path)
    stages = dict(out.timings) | {"file": time.perf_counter() - file_start}
    stages["total"] = call + stages["file"]
    array = out.frames[0] if spec.modality == "video" else out.waveforms[0]
    return stages, array


def _complete(stages: dict, steps: int) -> dict:
    """Add per-step time and the unaccounted rest ("other") to one run's stages."""
    known = sum(v for k, v in stages.items() if k in ("text", "denoise", "decode", "vocoder", "file"))
    return stages | {"step": stages.get("denoise", 0.0) / steps, "other": max(0.0, stages["total"] - known)}


def _output_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())


def weights_mib(components: dict) -> float:
    """Bytes of every parameter and buffer of a pipeline's modules."""
    modules = [m for m in components.values() if isinstance(m, torch.nn.Module)]
    return sum(t.numel() * t.element_size() for m in modules
               for t in (*m.parameters(), *m.buffers())) / memory.MIB


def timed_run(fn: Callable, device: torch.device, steps: int, path: Path, weights: float = 0.0):
    """Run `fn(path)` with a fresh memory peak; its stages, peak memory and output size.

    Both pipelines live in one process, so the peak is this pipeline's weights plus what the run added on top
    of the memory in use before it (not the other pipeline's weights).
    """
    gc.collect()
    memory.reset_peak(device)
    base = memory.in_use_mib(device)
    stages, array = fn(path)
    stages = _complete(stages, steps)
    peak = memory.peak_mib(device)
    stages["peak_mib"] = None if peak is None or base is None else weights + max(0.0, peak - base)
    stages["output_bytes"] = _output_bytes(path)
    return stages, array


def summarise(runs: list[dict]) -> dict:
    """{stage: summary} over the repeated runs."""
    return {k: stats.summary(v) for k, v in stats.by_stage(runs).items() if None not in v}


def compare(ours: list[dict], theirs: list[dict]) -> dict:
    """Per-stage ratios mediadiff/diffusers, run by run (each pair measured back to back)."""
    a, b = stats.by_stage(ours), stats.by_stage(theirs)
    keys = (*STAGES, "peak_mib", "output_bytes")
    return {k: stats.ratios(a[k], b[k]) for k in keys if k in a and k in b and None not in b[k] and sum(b[k]) > 0}


def _denoiser_input(pipe, spec: BenchSpec):
    """A model_fn and one step's input (guidance batch) for this request, to count one forward's FLOPs."""
    from ..core import denoisers
    from ..core.sampling import SamplerSettings

    r = spec.request
    guided = SamplerSettings(r.steps, r.guidance).guided
    n = r.num_outputs * (2 if guided else 1)
    emb = pipe.text.encode_for_guidance([r.prompt] * r.num_outputs, [r.negative_prompt] * r.num_outputs, guided)
    f, c = pipe.limits.vae_factor, pipe.unet.config.in_channels
    if spec.modality == "video":
        shape = (n, c, r.frames, r.height // f, r.width // f)  # (2B, C, F, h, w)
    else:
        mel = pipe.mel_config
        frames = -(-int(r.seconds * mel.sample_rate / mel.hop_length) // f) * f
        shape = (n, c, frames // f, mel.n_mels // f)  # (2B, C, t, m)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(pipe.device, pipe.dtype)
    windows = windows_for(r.context, 1.0 if spec.modality == "video" else
                          pipe.mel_config.sample_rate / pipe.mel_config.hop_length / f)
    model_fn = denoisers.bind(pipe.unet, emb)
    if windows is not None and windows.method == "denoiser":
        model_fn = windowed(lambda window: model_fn, shape[2], windows)  # one forward per window, as the run
    return model_fn, x, torch.tensor(500, device=pipe.device), windows


def compute_report(pipe, spec: BenchSpec, denoise_s: float) -> dict:
    """FLOPs of one denoiser forward (all its windows), the measured matmul rate, the ideal denoising time and the
    efficiency."""
    model_fn, x, t, windows = _denoiser_input(pipe, spec)
    freenoise = windows is not None and windows.method == "freenoise"
    with temporal_windows(pipe.unet, windows) if freenoise else contextlib.nullcontext():
        count = flops.forward_flops(model_fn, x, t)
    rate = flops.matmul_rate(pipe.device, pipe.dtype)
    return flops.compute_bound(count, spec.request.steps, rate, denoise_s)


@torch.no_grad()
def decode_memory(vae, frames: int, height: int, width: int, factor: int, device, dtype,
                  chunk_size: int = 8) -> dict:
    """Extra memory of decode_video for `frames` frames beyond its latents and its output array."""
    from ..codecs.frames import decode_video

    c = vae.config.latent_channels
    latents = torch.randn(1, c, frames, height // factor, width // factor).to(device, dtype)  # (1, C, F, h, w)
    gc.collect()
    if device.type == "cuda":  # the allocator's own peak; the output array lives on the host
        base = memory.in_use_mib(device)
        memory.reset_peak(device)
        out = decode_video(vae, latents, chunk_size)
        extra = memory.peak_mib(device) - base
    else:  # tensors created by the decode (the numpy output array is not a tensor)
        with memory.TensorPeak() as tracker:
            out = decode_video(vae, latents, chunk_size)
        extra = tracker.peak_mib
    return {"frames": frames, "extra_mib": extra, "output_mib": out.nbytes / memory.MIB}


def decode_memory_report(pipe, spec: BenchSpec, counts=(16, 64)) -> dict | None:
    """decode_video's extra memory at 16 and 64 frames (the issue's flat-memory target: within 1.2x)."""
    if spec.modality != "video":
        return None
    r = spec.request
    rows = [decode_memory(pipe.vae, n, r.height, r.width, pipe.limits.vae_factor, pipe.device, pipe.dtype)
            for n in counts]
    small, large = rows[0]["extra_mib"], rows[-1]["extra_mib"]
    return {"rows": rows, "ratio": large / small if small else None}


def load_both(spec: BenchSpec, on_run: Callable[[str], None]):
    """Interleaved loads (a first untimed one each warms imports and file caches); the last pipelines kept."""
    from ..checkpoints import load_checkpoint

    ckpt = load_checkpoint(spec.model, allow_pickle=spec.allow_pickle, motion_adapter=spec.motion_adapter) \
        if spec.against else None
    load_a, load_b, ours, ref = [], [], None, None
    for i in range(spec.repeat + 1):
        on_run("load")
        ours = ref = None  # the previous copies go before the next load
        gc.collect()
        ours, seconds = load_ours(spec)
        load_a.append(seconds)
        if ckpt is not None:
            start = time.perf_counter()
            # diffusers builds a mediadiff video model from its components: a fresh copy each time, as it reads one
            fresh = load_checkpoint(spec.model, allow_pickle=spec.allow_pickle, motion_adapter=spec.motion_adapter) \
                if ckpt.layout.name == "mediadiff" else ckpt
            ref = reference.load_reference(fresh, ours.device, ours.dtype, spec.request.scheduler,
                                           spec.settings.get("context"))
            load_b.append(time.perf_counter() - start)
    return ours, ref, load_a[1:], load_b[1:]


def bench(spec: BenchSpec, on_run: Callable[[str], None] | None = None) -> dict:
    """Load, warm up, then `repeat` interleaved runs (A B, B A, ...); summaries, ratios and the compute bound."""
    on_run = on_run or (lambda what: None)
    ours, ref, load_a, load_b = load_both(spec, on_run)
    device = ours.device
    steps = spec.request.steps
    with tempfile.TemporaryDirectory(prefix="mediadiff-bench-") as tmp:
        tmp = Path(tmp)
        run_a = lambda p: run_ours(ours, spec, p)  # noqa: E731
        run_b = lambda p: reference.run_reference(ref, spec.modality, spec.settings, p, device)  # noqa: E731
        target_a, target_b = tmp / f"ours{spec.suffix}", tmp / f"reference{spec.suffix}"
        w_a, w_b = weights_mib(ours.components), weights_mib(ref.components) if ref is not None else 0.0
        on_run("warm-up")  # includes --compile's compilation and --jit's tracing: reported apart, as the first call's time
        warmup = {"mediadiff": timed_run(run_a, device, steps, target_a, w_a)[0]["total"]}
        if ref is not None:
            warmup["diffusers"] = timed_run(run_b, device, steps, target_b, w_b)[0]["total"]
        a_runs, b_runs, diff, scale = [], [], None, 1.0
        for i in range(spec.repeat):
            order = [("mediadiff", run_a, target_a, a_runs, w_a), ("diffusers", run_b, target_b, b_runs, w_b)]
            if ref is None:
                order = order[:1]
            for name, fn, target, runs, weights in (order if i % 2 == 0 else order[::-1]):
                on_run(f"run {i + 1}/{spec.repeat} {name}")
                stages, array = timed_run(fn, device, steps, target, weights)
                runs.append(stages | {"_array": array})
        if ref is not None:
            a, b = a_runs[-1]["_array"], b_runs[-1]["_array"]
            diff = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.shape == b.shape else None
            scale = float(np.abs(b).max()) or 1.0  # relative: tiny random vocoders give near-silent waveforms
    for r in a_runs + b_runs:
        r.pop("_array")
    result = {"mediadiff": summarise(a_runs), "settings": spec.settings, "device": str(device),
              "dtype": spec.dtype, "repeat": spec.repeat, "cache_steps": spec.cache_steps,
              "cache_branch": spec.cache_branch, "compile": spec.compile, "jit": spec.jit,
              "first_call_s": warmup}
    result["mediadiff"]["load"] = stats.summary(load_a)
    med = result["mediadiff"]
    result["outside_denoiser_share"] = 1.0 - med["denoise"]["median"] / med["total"]["median"]
    on_run("compute bound")
    result["compute"] = compute_report(ours, spec, med["denoise"]["median"])
    result["decode_memory"] = decode_memory_report(ours, spec)
    if ref is not None:
        result["diffusers"] = summarise(b_runs)
        result["diffusers"]["load"] = stats.summary(load_b)
        result["ratio"] = compare(a_runs, b_runs) | {"load": stats.ratios(load_a, load_b)}
        result["max_abs_diff"] = diff
        result["max_rel_diff"] = None if diff is None else diff / scale
    return result
