"""Context windows, their weights and noise, and prompt travel (core.windows, core.text.travel)."""

import pytest
import torch

from mediadiff.core.text import travel
from mediadiff.core.windows import WindowSettings, window_noise, window_starts, window_weights, windowed


@pytest.mark.parametrize("total,length,stride", [(16, 16, 4), (25, 16, 4), (64, 16, 4), (40, 16, 8), (17, 8, 3)])
def test_windows_cover_every_frame_and_end_at_the_last(total, length, stride):
    starts = window_starts(total, length, stride)
    covered = set()
    for s in starts:
        covered.update(range(s, s + length))
    assert covered == set(range(total)) and starts[0] == 0 and starts[-1] + length == total


@pytest.mark.parametrize("scheme", ["flat", "pyramid", "delayed_reverse_sawtooth"])
def test_weights_equal_diffusers_freenoise_block(scheme):
    from diffusers.models.attention import FreeNoiseTransformerBlock

    block = FreeNoiseTransformerBlock(dim=8, num_attention_heads=1, attention_head_dim=8)
    for length in (4, 16):  # diffusers' odd sawtooth has one weight too many; even lengths agree
        assert window_weights(length, scheme) == pytest.approx(block._get_frame_weights(length, scheme))
    assert len(window_weights(5, scheme)) == 5


def test_windowed_per_frame_function_is_unchanged_by_fusion():
    """A denoiser that acts frame by frame gives the same result on fused windows as on the whole clip."""
    x = torch.randn(2, 3, 37, 4, 4)
    fn = lambda w: (lambda x, t: x * 2 + t)  # noqa: E731
    out = windowed(fn, 37, WindowSettings(16, 4, "pyramid"))(x, 1.0)
    assert torch.allclose(out, x * 2 + 1, atol=1e-6)


def test_windowed_fuses_overlaps_with_weights():
    """Each window adds its index: frames seen by several windows get their weighted mean."""
    seen = []

    def fn(window):
        seen.append(window)
        return lambda x, t: torch.full_like(x, float(window.start))

    out = windowed(fn, 8, WindowSettings(4, 4, "flat"))(torch.zeros(1, 1, 8), 0)
    assert [w.start for w in seen] == [0, 4] and out[0, 0].tolist() == [0] * 4 + [4] * 4
    out = windowed(fn, 6, WindowSettings(4, 2, "flat"))(torch.zeros(1, 1, 6), 0)
    assert out[0, 0].tolist() == [0, 0, 1, 1, 2, 2]  # windows at 0 and 2: frames 2-3 average 0 and 2


def test_shuffled_noise_reuses_earlier_frames_and_random_keeps_them():
    noise = torch.randn(1, 2, 24, 3, 3)
    g = torch.Generator().manual_seed(0)
    shuffled = window_noise(noise, WindowSettings(8, 4, noise="shuffle_context"), g)
    assert torch.equal(shuffled[:, :, :8], noise[:, :, :8])
    first = {tuple(noise[0, :, i].flatten().tolist()) for i in range(8)}
    assert all(tuple(shuffled[0, :, i].flatten().tolist()) in first for i in range(8, 24))
    repeated = window_noise(noise, WindowSettings(8, 4, noise="repeat_context"), g)
    assert torch.equal(repeated[:, :, 16:], noise[:, :, :8])
    assert torch.equal(window_noise(noise, WindowSettings(8, 4, noise="random"), g), noise)


def test_travel_interpolates_between_keys_and_holds_the_last():
    e = torch.tensor([[0.0], [10.0]])
    out = travel([0, 5], e, 8)[:, 0].tolist()
    assert out == pytest.approx([0, 2, 4, 6, 8, 10, 10, 10])
