"""`MediaPipeline.compile`: its two scopes, their validation, and that compiling changes no output."""

import os
import shutil

import numpy as np
import pytest
import torch

from mediadiff import ValidationError, VideoPipeline


def _pipe(tiny_models, layout="modelscope"):
    return VideoPipeline.from_pretrained(tiny_models[layout], device="cpu")


def test_unknown_scope_is_one_clear_error(tiny_models):
    with pytest.raises(ValidationError, match="invalid compile='everything': must be one of blocks, unet"):
        _pipe(tiny_models).compile(scope="everything")


def test_blocks_scope_compiles_only_the_repeated_blocks(tiny_models):
    config = torch._dynamo.config
    limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    saved = getattr(config, limit)
    setattr(config, limit, 8)  # dynamo's default (not monkeypatch: its undo deletes config entries)
    try:
        pipe = _pipe(tiny_models).compile(scope="blocks")
        raised = getattr(config, limit)
    finally:
        setattr(config, limit, saved)
    compiled = {type(m).__name__ for m in pipe.unet.modules() if getattr(m, "_compiled_call_impl", None)}
    assert "ResnetBlock2D" in compiled and "Transformer2DModel" in compiled
    assert pipe.unet._compiled_call_impl is None
    assert raised >= 64  # a graph per block width, not a silent fall back to eager


def test_unet_scope_compiles_the_whole_unet(tiny_models):
    pipe = _pipe(tiny_models).compile(scope="unet")
    assert pipe.unet._compiled_call_impl is not None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="inductor on CPU needs a C++ compiler")
@pytest.mark.parametrize("scope", ["unet", "blocks"])
def test_compiled_output_equals_eager(tiny_models, scope):
    settings = dict(prompt="a red circle", frames=4, height=32, width=32, steps=3, seed=1)
    eager = _pipe(tiny_models)(**settings).frames[0]
    torch._dynamo.reset()
    compiled = _pipe(tiny_models).compile(scope=scope)(**settings).frames[0]
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # it compiled, not fell back to eager
    assert np.abs(eager - compiled).max() < 1e-4
