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


@dataclass
class KnownRegion:
    """Latents given where `keep` is 1 (continuation, inpainting, a given frame): after every step they replace
    the sample there, noised to the next step's level by the scheduler's own add_noise, and clean after the last
    (the replacement of SD inpainting with a plain denoiser; Lugmayr et al. 2022 without resampling)."""

    latents: torch.Tensor  # clean latents in the sample's layout
    keep: torch.Tensor  # 1 where given, 0 where generated; broadcasts to the latents
    noise: torch.Tensor  # one fixed draw, as diffusers' inpainting uses

    def at(self, scheduler, t) -> torch.Tensor:
        """The given latents noised to timestep `t` (None: clean)."""
        if t is None:
            return self.latents
        return scheduler.add_noise(self.latents, self.noise, torch.as_tensor(t).reshape(1))

    def apply(self, scheduler, latents: torch.Tensor, t) -> torch.Tensor:
        """`latents` with the given region replaced by the given latents at timestep `t`."""
        return torch.lerp(latents, self.at(scheduler, t).to(latents.dtype), self.keep.to(latents.dtype))


def first_step(steps: int, strength: float) -> int:
    """SDEdit (Meng et al. 2022): strength S runs the last round(S * steps) steps, from the input noised to that
    level (diffusers' img2img rule: int(steps * S) steps, at least one unless S is 0)."""
    return steps - min(int(steps * strength), steps)


def schedule(scheduler, steps: int, strength: float = 1.0, device=None) -> torch.Tensor:
    """Set `steps` timesteps on the scheduler and return those that a run of `strength` goes through."""
    scheduler.set_timesteps(steps, device=device)
    return scheduler.timesteps[first_step(steps, strength) * scheduler.order:]


def start_latents(scheduler, timesteps: torch.Tensor, noise: torch.Tensor, init: torch.Tensor | None = None,
                  full: bool = True) -> torch.Tensor:
    """Pure noise at the scheduler's initial sigma (`full` strength, or no input), else the input noised to the
    first timestep of the run (SDEdit)."""
    if init is None or full:
        return noise * scheduler.init_noise_sigma
    if len(timesteps) == 0:
        return init  # a strength too small for one step leaves the input as it is
    return scheduler.add_noise(init, noise, timesteps[:1].repeat(init.shape[0]))


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
    timesteps: torch.Tensor | None = None,
    known: KnownRegion | None = None,
) -> torch.Tensor:
    """Denoise `latents` (any layout) with `scheduler`, guided; the layout is never reshaped.

    `timesteps`: the run's part of the schedule (SDEdit starts late, `schedule`); `known`: a region kept as given."""
    guided = settings.guided
    extra = step_kwargs(scheduler, settings.generator, settings.eta)
    timesteps = scheduler.timesteps if timesteps is None else timesteps
    if known is not None and len(timesteps):
        latents = known.apply(scheduler, latents, timesteps[0])
    for i, t in enumerate(timesteps):
        if cancel is not None and cancel.is_set():
            raise Cancelled(i)
        model_input = guidance.batch_for_guidance(latents, guided)  # (2B, ...) when guided
        model_input = scheduler.scale_model_input(model_input, t)
        prediction = guidance.combine(model_fn(model_input, t), settings.guidance_scale, guided)
        latents = scheduler.step(prediction, t, latents, **extra).prev_sample
        if known is not None:
            latents = known.apply(scheduler, latents, timesteps[i + 1] if i + 1 < len(timesteps) else None)
        if on_step is not None:
            on_step(i, len(timesteps), latents)
    return latents
