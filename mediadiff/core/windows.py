"""Context windows along the time axis (frames, or mel latent rows): long media from a model of one window.

FreeNoise (Qiu et al. 2023, arXiv:2310.15169): the denoiser sees overlapping windows of the length it was trained
on, the overlaps are fused with weights, and the initial noise of later windows is a reshuffle of earlier frames'
noise, so distant windows stay coherent. The window positions, weights and noise follow diffusers' FreeNoise
(`FreeNoiseTransformerBlock`, `AnimateDiffFreeNoiseMixin`) exactly, so either method gives the same windows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch

from .sampling import ModelFn

METHODS = ("denoiser", "freenoise")  # whole-denoiser windows (any layout) / temporal-attention windows (motion)
WEIGHTINGS = ("pyramid", "flat", "delayed_reverse_sawtooth")
NOISE_TYPES = ("shuffle_context", "repeat_context", "random")
TIME_AXIS = 2  # (B, C, F, h, w) for video, (B, C, t, m) for audio


@dataclass(frozen=True)
class WindowSettings:
    """Windows of `length` steps along the time axis, `stride` apart (both in latent frames / rows)."""

    length: int
    stride: int
    weighting: str = "pyramid"
    noise: str = "shuffle_context"
    method: str = "denoiser"

    def to_dict(self) -> dict:
        return asdict(self)


def window_starts(total: int, length: int, stride: int) -> list[int]:
    """Starts of the windows over `total` steps: every `stride` from 0, plus one that ends at `total` (FreeNoise)."""
    starts = list(range(0, total - length + 1, stride))
    if starts[-1] + length != total:
        starts.append(total - length)
    return starts


def window_weights(length: int, scheme: str) -> list[float]:
    """Fusion weights within one window (FreeNoise eq. 9): flat, pyramid ([1, 2, 3, 2, 1]) or the delayed
    reverse sawtooth ([0.01, 0.01, 3, 2, 1]) that favours each window's later frames."""
    mid = (length + 1) // 2
    if scheme == "flat":
        return [1.0] * length
    if scheme == "pyramid":
        rise = list(range(1, mid + 1)) if length % 2 == 0 else list(range(1, mid))
        return [float(w) for w in rise + ([] if length % 2 == 0 else [mid]) + rise[::-1]]
    if length % 2 == 0:
        return [0.01] * (mid - 1) + [float(mid)] + [float(w) for w in range(mid, 0, -1)]
    return [0.01] * (mid - 1) + [float(w) for w in range(mid, 0, -1)]  # diffusers' odd case is one too long


def windowed(model_fn_for: Callable[[slice], ModelFn], total: int, settings: WindowSettings) -> ModelFn:
    """model_fn(x, t) that runs `model_fn_for(window)` on each window of x's time axis and fuses the overlaps
    with the windows' weights; every time step is covered, so the result has x's shape."""
    starts = window_starts(total, settings.length, settings.stride)
    windows = [slice(s, s + settings.length) for s in starts]
    fns = [model_fn_for(w) for w in windows]
    base = torch.tensor(window_weights(settings.length, settings.weighting))

    def model_fn(x: torch.Tensor, t) -> torch.Tensor:
        shape = [1] * x.ndim
        shape[TIME_AXIS] = settings.length
        weights = base.to(x.device, x.dtype).view(shape)  # (1, 1, L, 1, ...)
        fused = torch.zeros_like(x)
        count = torch.zeros([total if i == TIME_AXIS else 1 for i in range(x.ndim)], device=x.device, dtype=x.dtype)
        for window, fn in zip(windows, fns):
            fused[:, :, window] += fn(x[:, :, window], t) * weights
            count[:, :, window] += weights
        return fused / count

    return model_fn


def window_noise(noise: torch.Tensor, settings: WindowSettings, generator: torch.Generator | None) -> torch.Tensor:
    """Initial noise for windows (FreeNoise sec. 3.2): each later stretch of `stride` steps reuses the steps one
    window back, shuffled ("shuffle_context"), the first window repeated ("repeat_context"), or as drawn ("random").
    `noise` is (B, C, T, ...) drawn for the whole length; the permutations come from `generator`, after it."""
    total, length, stride = noise.shape[TIME_AXIS], settings.length, settings.stride
    if settings.noise == "random" or total <= length:
        return noise
    if settings.noise == "repeat_context":
        repeats = -(-total // length)
        return torch.cat([noise[:, :, :length]] * repeats, dim=TIME_AXIS)[:, :, :total]
    noise = noise.clone()
    for i in range(length, total, stride):
        source = torch.arange(max(0, i - length), min(total, max(0, i - length) + stride))
        if len(source) == 0:
            break
        shuffled = source[torch.randperm(len(source), generator=generator)]
        end = min(total, i + len(source))
        noise[:, :, i:end] = noise[:, :, shuffled[: end - i]]
    return noise
