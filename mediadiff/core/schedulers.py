"""Schedulers by name: diffusers classes built from a checkpoint's scheduler config."""

from __future__ import annotations

from ..errors import ValidationError

# name -> (diffusers class, overrides). DPM-Solver++ is the default: good at 20-25 steps (Lu et al. 2022).
# Class names, not classes: validating a name must not import diffusers (CLI start-up time).
SCHEDULERS: dict[str, tuple[str, dict]] = {
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "ddim": ("DDIMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
}
DEFAULT_SCHEDULER = "dpm++"
ALIASES = {"dpmsolver++": "dpm++", "dpm": "dpm++", "euler_a": "euler-a", "euler-ancestral": "euler-a"}


def scheduler_name(name: str) -> str:
    """Canonical scheduler name, or a ValidationError listing the known ones."""
    key = ALIASES.get(str(name).lower(), str(name).lower())
    if key not in SCHEDULERS:
        raise ValidationError("scheduler", name, f"must be one of {', '.join(SCHEDULERS)}")
    return key


def make_scheduler(name: str, config: dict):
    """Build scheduler `name` from a checkpoint's scheduler config (its betas, prediction type, ...)."""
    import diffusers

    cls_name, overrides = SCHEDULERS[scheduler_name(name)]
    return getattr(diffusers, cls_name).from_config(config, **overrides)
