"""The compute bound: FLOPs of one denoiser forward, the device's matmul rate, and the ideal denoising time."""

from __future__ import annotations

import contextlib
import time

import torch
from torch.utils.flop_counter import FlopCounterMode


def _attention_counted(device: torch.device):
    """The flop counter knows the CUDA attention kernels; on the CPU count attention through the math path."""
    if device.type == "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(SDPBackend.MATH)


@torch.no_grad()
def forward_flops(model_fn, x: torch.Tensor, t) -> int:
    """FLOPs (2 per multiply-add) of one model_fn(x, t) call: matmuls, convolutions and attention."""
    counter = FlopCounterMode(display=False)
    with _attention_counted(x.device), counter:
        model_fn(x, t)
    return int(counter.get_total_flops())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def matmul_rate(device: torch.device, dtype: torch.dtype, size: int | None = None, seconds: float = 1.0) -> float:
    """Achievable dense matmul throughput in FLOP/s: square products of `size` for about `seconds`."""
    size = size or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):  # warm-up: kernel selection, clocks
        a @ b
    _sync(device)
    runs, start = 0, time.perf_counter()
    while True:
        a @ b
        runs += 1
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and runs >= 3:
            return 2.0 * size**3 * runs / elapsed


def compute_bound(flops_per_forward: int, forwards: int, rate: float, measured_denoise_s: float) -> dict:
    """Ideal denoising time at the matmul rate, and the measured run's efficiency against it."""
    ideal = flops_per_forward * forwards / rate if rate else float("nan")
    return {"flops_per_forward": flops_per_forward, "forwards": forwards, "matmul_flops_per_s": rate,
            "ideal_denoise_s": ideal, "efficiency": ideal / measured_denoise_s if measured_denoise_s else None}
