"""FreeNoise's temporal windows in a motion UNet (Qiu et al. 2023), through diffusers' own block.

The spatial layers see every frame once; only the motion modules' temporal attention runs on windows, fused with
the windows' weights. diffusers' `FreeNoiseTransformerBlock` does the windowed attention; this module swaps it in
for the motion modules' `BasicTransformerBlock`s for one sampling run (same weights) and swaps them back after,
so the UNet is left as it was.

The spatial layers (ResNets, spatial attention, resamplers) and the motion modules also run through diffusers'
`SplitInferenceModule` for the run, a window's frames (or 256 pixel columns) at a time: the same sums, but the
activations held at once are one window's, so memory stays near one window's however long the clip
(diffusers' `enable_free_noise_split_inference`).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from .windows import WindowSettings


def motion_blocks(unet) -> list[torch.nn.Module]:
    """The UNetMotionModel blocks that carry motion modules (down, mid where it has them, up)."""
    blocks = [*unet.down_blocks, unet.mid_block, *unet.up_blocks]
    return [b for b in blocks if getattr(b, "motion_modules", None) is not None]


def free_noise_block(block: torch.nn.Module, settings: WindowSettings) -> torch.nn.Module:
    """A diffusers FreeNoiseTransformerBlock with `block`'s configuration and weights."""
    from diffusers.models.attention import FreeNoiseTransformerBlock

    free = FreeNoiseTransformerBlock(
        dim=block.dim, num_attention_heads=block.num_attention_heads, attention_head_dim=block.attention_head_dim,
        dropout=block.dropout, cross_attention_dim=block.cross_attention_dim, activation_fn=block.activation_fn,
        attention_bias=block.attention_bias, only_cross_attention=block.only_cross_attention,
        double_self_attention=block.double_self_attention, positional_embeddings=block.positional_embeddings,
        num_positional_embeddings=block.num_positional_embeddings, context_length=settings.length,
        context_stride=settings.stride, weighting_scheme=settings.weighting,
    )
    param = next(block.parameters())
    free.to(param.device, param.dtype).load_state_dict(block.state_dict(), strict=True)
    free.set_chunk_feed_forward(block._chunk_size, block._chunk_dim)  # noqa: SLF001 (diffusers' own attribute)
    return free.eval()


SPATIAL_SPLIT = 256  # pixel columns (batch x height x width rows) per motion-module call, diffusers' default


def split_targets(unet, settings: WindowSettings) -> Iterator[tuple[torch.nn.Module, str, int, int, list[str]]]:
    """(owner, name, split size, split dim, inputs to split) for every layer that runs split during windows."""
    for block in [*unet.down_blocks, unet.mid_block, *unet.up_blocks]:
        for module in getattr(block, "motion_modules", None) or []:  # rows are (B x H x W, F, C)
            yield module, "proj_in", SPATIAL_SPLIT, 0, ["input"]
            for i in range(len(module.transformer_blocks)):
                yield module.transformer_blocks, str(i), SPATIAL_SPLIT, 0, ["hidden_states", "encoder_hidden_states"]
            yield module, "proj_out", SPATIAL_SPLIT, 0, ["input"]
        for name, inputs in (("attentions", ["hidden_states", "encoder_hidden_states"]),
                             ("resnets", ["input_tensor", "temb"]), ("downsamplers", ["hidden_states"]),
                             ("upsamplers", ["hidden_states"])):  # rows are (B x F, C, H, W)
            for i in range(len(getattr(block, name, None) or [])):
                yield getattr(block, name), str(i), settings.length, 0, inputs


@contextlib.contextmanager
def temporal_windows(unet, settings: WindowSettings) -> Iterator[None]:
    """Within the block, the motion modules of `unet` attend over FreeNoise windows, a window at a time; restored
    after."""
    from diffusers.pipelines.free_noise_utils import SplitInferenceModule

    swapped = []

    def swap(owner, name, new):
        swapped.append((owner, name, getattr(owner, name)))
        setattr(owner, name, new)

    for block in motion_blocks(unet):
        for module in block.motion_modules:
            for i, original in enumerate(module.transformer_blocks):
                swap(module.transformer_blocks, str(i), free_noise_block(original, settings))
    for owner, name, size, dim, inputs in list(split_targets(unet, settings)):
        swap(owner, name, SplitInferenceModule(getattr(owner, name), size, dim, inputs))
    try:
        yield
    finally:
        for owner, name, original in reversed(swapped):
            setattr(owner, name, original)
