"""Classifier-free guidance (Ho & Salimans 2022): both branches in one batched forward."""

from __future__ import annotations

import torch


def uses_guidance(scale: float) -> bool:
    """Guidance runs the unconditional branch only when it changes the result (scale > 1)."""
    return scale > 1.0


def batch_for_guidance(latents: torch.Tensor, guided: bool) -> torch.Tensor:
    """Stack latents twice (negative, positive) so one forward serves both branches."""
    return torch.cat([latents, latents]) if guided else latents


def combine(prediction: torch.Tensor, scale: float, guided: bool) -> torch.Tensor:
    """uncond + scale * (cond - uncond), from the (negative, positive) batch."""
    if not guided:
        return prediction
    uncond, cond = prediction.chunk(2)
    return uncond + scale * (cond - uncond)
