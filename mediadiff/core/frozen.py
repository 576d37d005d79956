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

DEVICES = ("cpu",)  # on GPUs torch.compile (`--compile`) is the tool; TorchScript gains were measured on CPUs


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


# At or below this many keys an attention call runs as two batched matmuls and a softmax. On 2 CPU cores the
# matmuls took 0.6x the time of PyTorch's flash kernel for 16 keys (temporal attention), 0.87x for 77 (text) and
# 1.3x for 256 (spatial attention on 16x16 latents).
MATMUL_MAX_KEYS = 128


def _keys(hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None) -> int:
    """Key sequence length of one attention call: (B, L, D) tokens, or (B, C, H, W) maps (H * W keys)."""
    source = hidden_states if encoder_hidden_states is None else encoder_hidden_states
    return source.shape[1] if source.ndim == 3 else source.shape[-2] * source.shape[-1]


class _ShortKeysAsMatmuls:
    """Attention processor used while tracing: diffusers' plain matmul-softmax processor for short key sequences,
    the module's own SDPA processor otherwise (the choice is fixed per call site in the traced graph)."""

    def __init__(self, fused):
        from diffusers.models.attention_processor import AttnProcessor

        self.fused, self.matmuls = fused, AttnProcessor()

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        short = _keys(hidden_states, encoder_hidden_states) <= MATMUL_MAX_KEYS
        return (self.matmuls if short else self.fused)(attn, hidden_states, encoder_hidden_states, attention_mask,
                                                       temb)


@contextlib.contextmanager
def short_attention_as_matmuls(module: torch.nn.Module):
    """Within the block, attention layers of `module` that use diffusers' SDPA processor run short key
    sequences as plain matmuls (the same sums up to float rounding); their processors are restored after."""
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

    @staticmethod
    def key(x: torch.Tensor, t: torch.Tensor, embeddings: torch.Tensor) -> tuple:
        return (tuple(x.shape), tuple(t.shape), t.dtype, tuple(embeddings.shape), x.dtype, x.device)

    def __call__(self, x: torch.Tensor, t, embeddings: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device)
        key = self.key(x, t, embeddings)
        graph = self.graphs.get(key)
        if graph is None:
            graph = self.graphs[key] = freeze(self.module, (x, t, embeddings))
        return graph(x, t, embeddings)
