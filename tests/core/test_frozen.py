"""Frozen (TorchScript-traced) denoisers: the same predictions as the eager UNet, for every layout."""

from __future__ import annotations

import pytest
import torch

from mediadiff.core.denoisers import Conditioned
from mediadiff.core.frozen import FrozenDenoiser
from mediadiff.errors import ValidationError


def _pipeline(folder):
    from mediadiff import AudioPipeline, VideoPipeline
    from mediadiff.checkpoints.loading import inspect_limits, resolve

    cls = VideoPipeline if inspect_limits(*resolve(str(folder))).modality == "video" else AudioPipeline
    return cls.from_pretrained(str(folder), device="cpu")


def _inputs(pipe, batch: int = 2):
    """A guidance-sized latent batch of the pipeline's layout and matching text embeddings."""
    g = torch.Generator().manual_seed(0)
    c = pipe.unet.config.in_channels
    x = torch.randn((batch, c, 4, 8, 8) if pipe.modality == "video" else (batch, c, 16, 8), generator=g)
    emb = pipe.text.encode_for_guidance(["a red circle"], [""], True)  # (2, ...)
    return x, emb


@pytest.mark.parametrize("layout", ["modelscope", "animatediff", "audioldm", "mediadiff-video", "mediadiff-audio"])
def test_frozen_equals_eager_at_other_timesteps(tiny_models, layout):
    pipe = _pipeline(tiny_models[layout])
    x, emb = _inputs(pipe)
    eager, frozen = Conditioned(pipe.unet), FrozenDenoiser(pipe.unet)
    with torch.no_grad():
        for t in (900, 500, 1):  # traced at 900: the timestep must stay an input, not a constant
            t = torch.tensor(t)
            assert torch.allclose(frozen(x, t, emb), eager(x, t, emb), atol=1e-5)
            assert torch.allclose(frozen(x + 1, t, emb), eager(x + 1, t, emb), atol=1e-5)
    assert len(frozen.graphs) == 1
    with torch.no_grad():
        frozen(x[:, :, :2] if pipe.modality == "video" else x[:, :, :8], torch.tensor(3), emb)
    assert len(frozen.graphs) == 2  # a new size is traced once more, not run through the wrong graph


def test_jit_pipeline_output_equals_eager(tiny_models):
    pipe = _pipeline(tiny_models["mediadiff-video"])
    eager = pipe("a red circle moving right", seed=3, steps=4, frames=4).frames
    pipe.enable_jit()
    frozen = pipe("a red circle moving right", seed=3, steps=4, frames=4).frames
    again = pipe("a blue square", seed=4, steps=4, frames=4).frames  # the same shape reuses its graph
    assert abs(frozen - eager).max() < 1e-4
    assert len(pipe._frozen.graphs) == 1 and again.shape == frozen.shape
    pipe.enable_jit(False)
    assert pipe._frozen is None


def test_jit_is_for_cpus(tiny_models):
    pipe = _pipeline(tiny_models["mediadiff-audio"])
    pipe.device = torch.device("cuda")  # only the device check runs: no GPU is touched
    with pytest.raises(ValidationError, match="jit"):
        pipe.enable_jit()
