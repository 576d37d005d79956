"""FreeNoise's temporal windows in a motion UNet (Qiu et al. 2023), through diffusers' own block.

The spatial layers see every frame once; only the motion modules' temporal attention runs on windows, fused with
the windows' weights. diffusers' `FreeNoiseTransformerBlock` does the windowed attention; this module swaps it in
for the motion modules' `BasicTransformerBlock`s for one sampling run (same weights) and swaps them back after,
so the UNet is left as it was.
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


@contextlib.contextmanager
def temporal_windows(unet, settings: WindowSettings) -> Iterator[None]:
    """Within the block, the motion modules of `unet` attend over FreeNoise windows; restored after."""
    swapped = []
    for block in motion_blocks(unet):
        for module in block.motion_modules:
            for i, original in enumerate(module.transformer_blocks):
                module.transformer_blocks[i] = free_noise_block(original, settings)
                swapped.append((module.transformer_blocks, i, original))
    try:
        yield
    finally:
        for blocks, i, original in swapped:
            blocks[i] = original
