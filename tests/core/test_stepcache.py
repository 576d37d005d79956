"""Step caching (DeepCache): cached steps replay the deep blocks, the UNet is restored afterwards."""

import numpy as np
import pytest

from mediadiff.core.stepcache import deep_blocks
from mediadiff.errors import ValidationError


def test_step_cache_reuses_deep_features_and_restores_the_unet(video_pipe):
    kw = dict(frames=4, height=32, width=32, steps=6, seed=3)
    plain = video_pipe("a circle", **kw).frames
    calls = []
    handle = video_pipe.unet.mid_block.resnets[0].register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        cached = video_pipe.enable_step_cache(3)("a circle", **kw)
    finally:
        video_pipe.enable_step_cache(1)
        handle.remove()
    assert len(calls) == 2  # full forwards at steps 0 and 3 only
    assert cached.settings["cache_steps"] == 3
    diff = np.abs(cached.frames - plain).max()
    assert 0 < diff < 0.2
    assert "forward" not in video_pipe.unet.mid_block.__dict__  # the patch is gone
    assert np.array_equal(video_pipe("a circle", **kw).frames, plain)


def test_layer_branch_replays_all_but_the_last_up_layer(video_pipe):
    unet = video_pipe.unet
    layer = deep_blocks(unet, "layer")
    assert unet.down_blocks[0] in layer and unet.up_blocks[-1].resnets[0] in layer
    assert unet.up_blocks[-1].resnets[-1] not in layer and unet.down_blocks[0] not in deep_blocks(unet, "block")
    kw = dict(frames=2, height=16, width=16, steps=4, seed=1)
    plain = video_pipe("x", **kw).frames
    try:
        cached = video_pipe.enable_step_cache(2, "layer")("x", **kw)
    finally:
        video_pipe.enable_step_cache(1)
    assert cached.settings["cache_branch"] == "layer" and 0 < np.abs(cached.frames - plain).max() < 0.2
    assert all("forward" not in m.__dict__ for m in layer)
    with pytest.raises(ValidationError, match="cache_branch"):
        video_pipe.enable_step_cache(2, "mid")
