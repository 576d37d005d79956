"""Frozen denoisers: the UNet traced and frozen with TorchScript once per input shape, then reused.

The frozen graph runs the same kernels on the same weights (outputs equal the eager UNet's), without the
Python module calls and per-op dispatch of the eager forward, which on a CPU are a third of a small UNet's
step. Tracing costs a few forwards, so it pays off in processes that generate more than once (the app,
batch jobs, evaluation, benchmarks); a graph is specialised to its shapes, so each new size traces again.
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


def freeze(module: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule:
    """Trace `module` on `example` inputs and freeze it (weights folded in as constants)."""
    with warnings.catch_warnings(), torch.no_grad(), temporal_convs_as_conv2d(module):
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
