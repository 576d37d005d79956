"""The one denoising loop shared by every modality."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Protocol

import torch

from ..errors import Cancelled
from . import guidance

# model_fn(latent_model_input, t) -> prediction with the input's shape; the pipeline binds the conditioning.
ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# on_step(step_index, total_steps, latents) after each scheduler step.
StepCallback = Callable[[int, int, torch.Tensor], None]


class CancelFlag(Protocol):
    """Anything with is_set(): a threading.Event, or mediadiff's own flag."""

    def is_set(self) -> bool: ...


@dataclass
class SamplerSettings:
    """What the loop needs besides the model: steps, guidance, randomness."""

    steps: int
    guidance_scale: float
    generator: torch.Generator | None = None
    eta: float = 0.0

    @property
    def guided(self) -> bool:
        """Whether the unconditional branch runs (Ho & Salimans 2022): decided here, once, from the scale."""
        return guidance.uses_guidance(self.guidance_scale)


def step_kwargs(scheduler, generator: torch.Generator | None, eta: float) -> dict:
    """The extra arguments this scheduler's step() accepts (eta for DDIM, a generator for stochastic ones)."""
    params = inspect.signature(scheduler.step).parameters
    kwargs = {}
    if "eta" in params:
        kwargs["eta"] = eta
    if "generator" in params:
        kwargs["generator"] = generator
    return kwargs


def sample(
    model_fn: ModelFn,
    latents: torch.Tensor,
    scheduler,
    settings: SamplerSettings,
    on_step: StepCallback | None = None,
    cancel: CancelFlag | None = None,
) -> torch.Tensor:
    """Denoise `latents` (any layout) with `scheduler`, guided; the layout is never reshaped."""
    guided = settings.guided
    extra = step_kwargs(scheduler, settings.generator, settings.eta)
    timesteps = scheduler.timesteps
    for i, t in enumerate(timesteps):
        if cancel is not None and cancel.is_set():
            raise Cancelled(i)
        model_input = guidance.batch_for_guidance(latents, guided)  # (2B, ...) when guided
        model_input = scheduler.scale_model_input(model_input, t)
        prediction = guidance.combine(model_fn(model_input, t), settings.guidance_scale, guided)
        latents = scheduler.step(prediction, t, latents, **extra).prev_sample
        if on_step is not None:
            on_step(i, len(timesteps), latents)
    return latents
