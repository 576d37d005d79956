"""Frozen denoisers: the UNet traced and frozen with TorchScript once per input shape, then reused.

The frozen graph computes the same sums on the same weights (outputs equal the eager UNet's up to float
rounding), without the Python module calls and per-op dispatch of the eager forward, which on a CPU are a third of
a small UNet's step; where a CPU kernel measured faster for the same sums, the graph uses it (frames-only Conv3d
as Conv2d, attention over few keys as plain matmuls). Tracing costs a few forwards, so it pays off in processes
that generate more than once (the app, batch jobs, evaluation, benchmarks); a graph is specialised to its shapes,
so each new size traces again.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import torch
import torch.nn.functional as F

from .denoisers import Conditioned


def _frames_only(conv: torch.nn.Module) -> bool:
    """A plain Conv3d whose kernel spans frames only, (k, 1, 1), as in UNet3D's temporal convolutions."""
    return (type(conv) is torch.nn.Conv3d and conv.kernel_size[1:] == (1, 1) and conv.stride == (1, 1, 1)
            and conv.dilation == (1, 1, 1) and conv.groups == 1 and conv.padding_mode == "zeros"
            and isinstance(conv.padding, tuple) and conv.padding[1:] == (0, 0))


def _conv3d_as_conv2d(conv: torch.nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """`conv(x)` for a frames-only Conv3d, computed as a Conv2d over (frames, height * width)."""
    b, c, f, h, w = x.shape  # (B, C, F, H, W)
    y = F.conv2d(x.reshape(b, c, f, h * w), conv.weight.flatten(3), conv.bias, padding=(conv.padding[0], 0))
    return y.unflatten(3, (h, w))  # (B, O, F, H, W)


@contextlib.contextmanager
def temporal_convs_as_conv2d(module: torch.nn.Module):
    """Within the block, frames-only Conv3d layers of `module` run as Conv2d: the same sums, about twice as fast
    on CPUs, where PyTorch runs such a Conv3d with its slow reference kernel rather than oneDNN."""
    convs = [m for m in module.modules() if _frames_only(m)]
    for conv in convs:
        conv.forward = functools.partial(_conv3d_as_conv2d, conv)
    try:
        yield
    finally:
        for conv in convs:
            del conv.forward  # back to the class's forward: the module itself is left as it was


# Attention runs as two batched matmuls and a softmax where that measured faster than PyTorch's CPU flash kernel
# (2 CPU cores, fp32): few keys, a small score tensor, heads of 8 or more dimensions. The matmuls took 0.54-0.83x
# flash's time for 16 keys (temporal attention) and 77 (text) with up to 1.3M scores and heads of 8-16
# dimensions, 0.9-1.0x at 2-5M scores or 4-dimensional heads, and 3x at 128 keys with 4M scores, where the score
# tensor no longer fits in cache; flash is faster from 256 keys.
MATMUL_MAX_KEYS = 128
MATMUL_MAX_SCORES = 1_500_000  # batch x heads x queries x keys
MATMUL_MIN_HEAD_DIM = 8


def token_count(x: torch.Tensor) -> int:
    """Sequence length of (B, L, D) tokens or (B, C, H, W) maps (H * W positions)."""
    return x.shape[1] if x.ndim == 3 else x.shape[-2] * x.shape[-1]


def matmuls_faster(attn, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None) -> bool:
    """Whether this call should run as plain matmuls: fp32 (diffusers' matmul processor rounds the scores of
    lower precisions before the softmax, flash does not), no q/k norms (it skips them), a small problem."""
    if hidden_states.dtype != torch.float32 or attn.norm_q is not None or attn.norm_k is not None:
        return False
    keys = token_count(hidden_states if encoder_hidden_states is None else encoder_hidden_states)
    scores = hidden_states.shape[0] * attn.heads * token_count(hidden_states) * keys
    head_dim = attn.inner_dim // attn.heads
    return keys <= MATMUL_MAX_KEYS and scores <= MATMUL_MAX_SCORES and head_dim >= MATMUL_MIN_HEAD_DIM


class _ShortKeysAsMatmuls:
    """Attention processor used while tracing: diffusers' plain matmul-softmax processor where that is faster,
    the module's own SDPA processor otherwise (the choice is fixed per call site in the traced graph)."""

    def __init__(self, fused):
        from diffusers.models.attention_processor import AttnProcessor

        self.fused, self.matmuls = fused, AttnProcessor()

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        faster = matmuls_faster(attn, hidden_states, encoder_hidden_states)
        return (self.matmuls if faster else self.fused)(attn, hidden_states, encoder_hidden_states, attention_mask,
                                                        temb)


@contextlib.contextmanager
def short_attention_as_matmuls(module: torch.nn.Module):
    """Within the block, attention layers of `module` that use diffusers' SDPA processor run small fp32 problems
    as plain matmuls (the same sums up to float rounding); their processors are restored after."""
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    layers = [(m, m.processor) for m in module.modules()
              if isinstance(m, Attention) and type(m.processor) is AttnProcessor2_0]
    for layer, fused in layers:
        layer.processor = _ShortKeysAsMatmuls(fused)
    try:
        yield
    finally:
        for layer, fused in layers:
            layer.processor = fused


def freeze(module: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule:
    """Trace `module` on `example` inputs and freeze it (weights folded in as constants)."""
    with (warnings.catch_warnings(), torch.no_grad(), temporal_convs_as_conv2d(module),
          short_attention_as_matmuls(module)):
        # The tracer warns about Python branches on shapes: they are fixed per graph, which is the point.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(module.eval(), example, check_trace=False)
        return torch.jit.freeze(traced)


class FrozenDenoiser:
    """forward(x, t, embeddings) through a frozen graph of `unet`, one graph per shape / dtype / device."""

    def __init__(self, unet: torch.nn.Module):
        self.module = Conditioned(unet)
        self.graphs: dict[tuple, torch.jit.ScriptModule] = {}
        self.variant = None  # what else the graph depends on (FreeNoise's windows swap the motion blocks)

    def key(self, x: torch.Tensor, t: torch.Tensor, embeddings: torch.Tensor) -> tuple:
        return (tuple(x.shape), tuple(t.shape), t.dtype, tuple(embeddings.shape), x.dtype, x.device, self.variant)

    def __call__(self, x: torch.Tensor, t, embeddings: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device)
        key = self.key(x, t, embeddings)
        graph = self.graphs.get(key)
        if graph is None:
            graph = self.graphs[key] = freeze(self.module, (x, t, embeddings))
        return graph(x, t, embeddings)
