"""Frozen denoisers: the UNet traced and frozen with TorchScript once per input shape, then reused.

The frozen graph runs the same kernels on the same weights (outputs equal the eager UNet's), without the
Python module calls and per-op dispatch of the eager forward, which on a CPU are a third of a small UNet's
step. Tracing costs a few forwards, so it pays off in processes that generate more than once (the app,
batch jobs, evaluation, benchmarks); a graph is specialised to its shapes, so each new size traces again.
"""

from __future__ import annotations

import warnings

import torch

from .denoisers import Conditioned

DEVICES = ("cpu",)  # on GPUs torch.compile (`--compile`) is the tool; TorchScript gains were measured on CPUs


def freeze(module: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> torch.jit.ScriptModule:
    """Trace `module` on `example` inputs and freeze it (weights folded in as constants)."""
    with warnings.catch_warnings(), torch.no_grad():
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
