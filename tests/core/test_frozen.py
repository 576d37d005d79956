"""Frozen (TorchScript-traced) denoisers: the same predictions as the eager UNet, for every layout."""

from __future__ import annotations

import pytest
import torch

from mediadiff.core.denoisers import Conditioned
from mediadiff.core.frozen import FrozenDenoiser, temporal_convs_as_conv2d
from mediadiff.errors import ValidationError


def _pipeline(folder):
    from mediadiff import AudioPipeline, VideoPipeline
    from mediadiff.checkpoints import resolve_limits

    cls = VideoPipeline if resolve_limits(str(folder)).limits.modality == "video" else AudioPipeline
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
    assert len(pipe.frozen.graphs) == 1
    pipe.enable_jit(False)
    assert pipe.frozen is None
    # The reused graph took the new prompt and seed as inputs (nothing of the first call was traced in).
    assert abs(again - pipe("a blue square", seed=4, steps=4, frames=4).frames).max() < 1e-4


def test_jit_is_for_cpus(tiny_models):
    pipe = _pipeline(tiny_models["mediadiff-audio"])
    pipe.device = torch.device("cuda")  # only the device check runs: no GPU is touched
    with pytest.raises(ValidationError, match="jit"):
        pipe.enable_jit()


def test_frames_only_conv3d_layers_run_as_conv2d_with_the_same_sums_and_are_restored():
    torch.manual_seed(0)
    temporal = torch.nn.Conv3d(6, 5, (3, 1, 1), padding=(1, 0, 0))  # as in UNet3D's temporal convolutions
    spatial = torch.nn.Conv3d(5, 4, 3, padding=1)
    model = torch.nn.Sequential(temporal, spatial)
    x = torch.randn(2, 6, 7, 5, 3)  # (B, C, F, H, W)
    with torch.no_grad():
        expected = model(x)
        with temporal_convs_as_conv2d(model):
            assert "forward" in vars(temporal) and "forward" not in vars(spatial)  # only frames-only kernels
            swapped = model(x)
    torch.testing.assert_close(swapped, expected, rtol=1e-5, atol=1e-6)
    assert "forward" not in vars(temporal)  # the module is left as it was
    assert set(model.state_dict()) == {"0.weight", "0.bias", "1.weight", "1.bias"}


def test_frozen_modelscope_unet_traces_its_temporal_convs_as_conv2d(tiny_models):
    pipe = _pipeline(tiny_models["modelscope"])
    x, emb = _inputs(pipe)
    t = torch.tensor(500)
    frozen = FrozenDenoiser(pipe.unet)
    with torch.no_grad():
        out = frozen(x, t, emb)
        expected = Conditioned(pipe.unet)(x, t, emb)
    graph = next(iter(frozen.graphs.values())).graph
    weights = [n.inputsAt(1).toIValue() for n in graph.nodes() if n.kind() == "aten::_convolution"]
    assert sum(w.dim() == 4 for w in weights) >= 8  # the temporal convs among the 2-D kernels ...
    assert not any(w.dim() == 5 for w in weights)  # ... and no 3-D kernel left in the graph
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_short_attention_runs_as_matmuls_with_the_same_output_and_is_restored(tiny_models):
    """While tracing, attention over few keys (frames, text tokens) uses diffusers' matmul processor; long key
    sequences keep SDPA; the UNet's own processors come back afterwards."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    from mediadiff.core import frozen as fz

    pipe = _pipeline(tiny_models["modelscope"])
    x, emb = _inputs(pipe, batch=1)
    x = torch.randn(2, x.shape[1], 4, 16, 16)  # 256 and 64 spatial keys, 4 frames, the text tokens
    t = torch.tensor(500)
    before = dict(pipe.unet.attn_processors)
    assert {type(p) for p in before.values()} == {AttnProcessor2_0}
    used = []

    def counted(kind, processor):
        def call(attn, hidden_states, encoder_hidden_states, *rest):
            used.append((kind, fz.token_count(hidden_states if encoder_hidden_states is None else encoder_hidden_states)))
            return processor(attn, hidden_states, encoder_hidden_states, *rest)
        return call

    with torch.no_grad():
        expected = Conditioned(pipe.unet)(x, t, emb)
        with fz.short_attention_as_matmuls(pipe.unet):
            for p in pipe.unet.attn_processors.values():
                p.matmuls, p.fused = counted("matmuls", p.matmuls), counted("sdpa", p.fused)
            out = Conditioned(pipe.unet)(x, t, emb)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert pipe.unet.attn_processors == before
    assert {k for kind, k in used if kind == "matmuls"} == {4, emb.shape[1], 64}  # at most MATMUL_MAX_KEYS
    assert {k for kind, k in used if kind == "sdpa"} == {256}


def test_only_small_fp32_attention_runs_as_matmuls():
    from diffusers.models.attention_processor import Attention

    from mediadiff.core.frozen import matmuls_faster

    attn = Attention(query_dim=16, heads=2, dim_head=8)
    frames = torch.randn(512, 16, 16)  # temporal attention: 512 pixels x 16 frames, 0.26M scores
    assert matmuls_faster(attn, frames, None)
    assert not matmuls_faster(attn, frames.bfloat16(), None)  # the matmul processor rounds bf16 scores
    assert not matmuls_faster(attn, torch.randn(32, 256, 16), None)  # 256 keys: flash is faster
    text = torch.randn(2, 77, 16)
    assert matmuls_faster(attn, torch.randn(32, 64, 16), text.repeat(16, 1, 1))  # 0.3M scores
    assert not matmuls_faster(attn, torch.randn(128, 256, 16), text.repeat(64, 1, 1))  # 5M scores
    assert not matmuls_faster(Attention(query_dim=16, heads=2, dim_head=8, qk_norm="layer_norm"), frames, None)
    assert matmuls_faster(attn, torch.randn(4, 16, 8, 8), None)  # (B, C, H, W) maps: 64 keys
    assert not matmuls_faster(Attention(query_dim=16, heads=4, dim_head=4), frames, None)  # 4-dimensional heads
