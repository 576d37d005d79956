"""Opt-in step caching (DeepCache, Ma et al. 2024): reuse a UNet's deep features between adjacent steps.

Every `interval`-th forward runs the whole UNet and records the outputs of its deep blocks (every down block
but the first, the mid block, every up block but the last). The forwards in between replay those outputs and
compute only the shallow path (conv_in, the first down block, the last up block, conv_out), whose skip
connections stay fresh. The "layer" branch replays more: all but the last layer of the last up block. Works on any diffusers UNet with down_blocks / mid_block / up_blocks (UNet2D, UNet3D,
UNetMotionModel), without touching its forward.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from .sampling import ModelFn


def deep_blocks(unet, branch: str = "block") -> list[torch.nn.Module]:
    """The modules a cached step replays, for `branch` (validation.CACHE_BRANCHES).

    "block": down_blocks[1:], mid_block, up_blocks[:-1] (the first down and last up block stay fresh).
    "layer": everything but the last layer of the last up block, which sees only conv_in's fresh skip
    (DeepCache's finest branch: the cheapest cached step, the largest difference).
    """
    first = 0 if branch == "layer" else 1
    blocks = list(unet.down_blocks)[first:] + list(unet.up_blocks)[:-1]
    if getattr(unet, "mid_block", None) is not None:
        blocks.append(unet.mid_block)
    if branch == "layer":
        last = unet.up_blocks[-1]
        layers = len(last.resnets)
        for child in last.children():  # resnets, attentions, temp_convs, motion_modules: one per layer
            if isinstance(child, torch.nn.ModuleList) and len(child) == layers:
                blocks.extend(list(child)[:-1])
    return blocks


class StepCache:
    """Records deep-block outputs on full steps and replays them on cached steps."""

    def __init__(self, unet, interval: int, branch: str = "block"):
        self.unet, self.interval = unet, int(interval)
        self.blocks = deep_blocks(unet, branch)
        self.outputs: dict[int, object] = {}
        self.replaying = False
        self.calls = 0

    def _wrap(self, index: int, block: torch.nn.Module):
        """A forward for `block` that records (full step) or replays (cached step) its output."""
        original = block.forward

        def forward(*args, **kwargs):
            if self.replaying:
                return self.outputs[index]
            out = original(*args, **kwargs)
            self.outputs[index] = out
            return out

        return forward

    @contextmanager
    def installed(self) -> Iterator["StepCache"]:
        """Patch the deep blocks' forwards for the duration of one sampling run; always restored."""
        for i, block in enumerate(self.blocks):
            block.forward = self._wrap(i, block)
        try:
            yield self
        finally:
            for block in self.blocks:
                del block.forward  # the instance attribute; the class's forward is back
            self.outputs.clear()

    def model_fn(self, inner: ModelFn) -> ModelFn:
        """Wrap a bound model_fn: full forward every `interval` calls, cached forwards in between."""
        def model_fn(x: torch.Tensor, t) -> torch.Tensor:
            self.replaying = self.calls % self.interval != 0
            self.calls += 1
            return inner(x, t)

        return model_fn
