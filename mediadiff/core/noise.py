"""Seeds and initial latents: drawn on the CPU so one seed gives one output on any device."""

from __future__ import annotations


import torch
from diffusers.utils.torch_utils import randn_tensor

from . import draw_seed


def make_generator(seed: int | None) -> tuple[torch.Generator, int]:
    """A CPU generator from an int seed (a fresh random seed when None), and the seed used."""
    if seed is None:
        seed = draw_seed()
    return torch.Generator("cpu").manual_seed(int(seed)), int(seed)


def initial_latents(shape: tuple[int, ...], generator: torch.Generator, device, dtype, init_sigma: float) -> torch.Tensor:
    """Gaussian latents scaled by the scheduler's initial sigma (Ho et al. 2020, eq. 4)."""
    latents = randn_tensor(shape, generator=generator, device=torch.device(device), dtype=dtype)
    return latents * init_sigma
