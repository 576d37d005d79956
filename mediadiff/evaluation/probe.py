"""Words vs noise at the noisiest step: how much a prompt moves a video model's prediction of the clean clip."""

from __future__ import annotations

import torch

from ..codecs.frames import decode_video, to_uint8
from ..core.denoisers import bind
from ..errors import ValidationError
from .video import motion_class

# From the same noise: the direction words alone differ between the first two, the colour word between 0 and 2.
PROMPTS = ("a red circle moving left", "a red circle moving right", "a blue circle moving left")


def predicted_clean(alphas_cumprod: torch.Tensor, t: int, noisy: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """x0 from a v-prediction (Salimans & Ho 2022, eq. 11): sqrt(a) * x_t - sqrt(1 - a) * v."""
    alpha = alphas_cumprod[t]
    return alpha.sqrt() * noisy - (1 - alpha).sqrt() * v


def check_probe(model: str, scheduler_config: dict, t) -> int:
    """The probe's rule, from the checkpoint's scheduler config alone: a v-prediction model and one of its
    training timesteps; returns the timestep."""
    from ..validation import check_int

    kind = scheduler_config.get("prediction_type", "epsilon")
    if kind != "v_prediction":
        raise ValidationError("model", model, f"predicts {kind}; the probe reads v-prediction models")
    return check_int("timestep", t, 0, int(scheduler_config.get("num_train_timesteps", 1000)) - 1)


@torch.no_grad()
def direction_probe(pipe, t: int = 999, seeds: int = 4) -> list[dict]:
    """Per seed: |x0(left) - x0(right)| and |x0(red) - x0(blue)| over |x0(left)| at timestep `t` (checked by
    check_probe), and the motion the analyser reads in each decoded prediction. Words that decide the direction
    move x0 as much as colour does."""
    model_fn = bind(pipe.unet, pipe.text.encode(list(PROMPTS)))
    d, factor = pipe.limits.defaults, pipe.limits.vae_factor
    shape = (1, pipe.unet.config.in_channels, int(d["frames"]), int(d["height"]) // factor, int(d["width"]) // factor)
    rows = []
    for seed in range(seeds):
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(pipe.device, pipe.dtype)
        noise = noise.expand(len(PROMPTS), -1, -1, -1, -1)  # (3, C, F, h, w): one noise for every prompt
        v = model_fn(noise, torch.full((len(PROMPTS),), t, device=pipe.device))  # (3, C, F, h, w)
        x0 = predicted_clean(pipe.scheduler.alphas_cumprod.to(pipe.device), t, noise, v).float()
        norm = x0[0].norm().item()
        rows.append({"seed": seed, "left_vs_right": (x0[0] - x0[1]).norm().item() / norm,
                     "red_vs_blue": (x0[0] - x0[2]).norm().item() / norm,
                     "read_as": [motion_class(to_uint8(clip)) for clip in decode_video(pipe.vae, x0.to(pipe.dtype))]})
    return rows
