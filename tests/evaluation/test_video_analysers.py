"""Tests for the video analysers: they must read ground-truth shapes renders correctly."""

from __future__ import annotations

import numpy as np
import pytest

from mediadiff.evaluation.video import (
    analyse,
    background_colour,
    centroid_track,
    motion_class,
    object_colour,
    object_mask,
    score,
    shape_class,
    size_change,
)
from mediadiff.worlds.shapes import BACKGROUNDS, ShapeSpec, render, sample_spec

ATTRIBUTES = ("colour", "shape", "motion")
N_CLIPS = 300


@pytest.fixture(scope="module")
def clips() -> list[tuple[ShapeSpec, np.ndarray]]:
    """Seeded random specs (held-out combinations included) with their renders."""
    rng = np.random.default_rng(1234)
    out = []
    for _ in range(N_CLIPS):
        spec = sample_spec(rng, include_held_out=True)
        out.append((spec, render(spec, rng=rng)))
    return out


def _add_noise(clip: np.ndarray, rng: np.random.Generator, sigma: float = 10.0) -> np.ndarray:
    """Gaussian pixel noise of sigma (in 0-255 levels), (F, H, W, 3) uint8."""
    noise = rng.standard_normal(clip.shape, dtype=np.float32) * sigma
    return np.clip(np.rint(clip + noise), 0, 255).astype(np.uint8)


def _blur(clip: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 spatial blur (sigma ~0.7 px), (F, H, W, 3) uint8."""
    f = np.pad(clip.astype(np.float32), ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")  # (F, H+2, W+2, 3)
    f = 0.25 * f[:, :-2] + 0.5 * f[:, 1:-1] + 0.25 * f[:, 2:]  # (F, H, W+2, 3)
    f = 0.25 * f[:, :, :-2] + 0.5 * f[:, :, 1:-1] + 0.25 * f[:, :, 2:]  # (F, H, W, 3)
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def _accuracy(pairs: list[tuple[ShapeSpec, np.ndarray]]) -> dict[str, float]:
    """Per-attribute accuracy of analyse() against the specs."""
    hits = {a: 0 for a in ATTRIBUTES}
    for spec, clip in pairs:
        for attr, ok in score(analyse(clip), spec).items():
            hits[attr] += ok
    return {a: hits[a] / len(pairs) for a in ATTRIBUTES}


def test_accuracy_on_clean_renders(clips) -> None:
    acc = _accuracy(clips)
    print(f"clean accuracy over {len(clips)} clips: {acc}")
    assert all(v >= 0.98 for v in acc.values()), acc


def test_accuracy_with_mild_noise(clips) -> None:
    rng = np.random.default_rng(5)
    acc = _accuracy([(spec, _add_noise(clip, rng)) for spec, clip in clips])
    print(f"noisy (sigma 10/255) accuracy over {len(clips)} clips: {acc}")
    assert all(v >= 0.95 for v in acc.values()), acc


def test_accuracy_with_slight_blur(clips) -> None:
    acc = _accuracy([(spec, _blur(clip)) for spec, clip in clips])
    print(f"blurred (sigma ~0.7 px) accuracy over {len(clips)} clips: {acc}")
    assert all(v >= 0.95 for v in acc.values()), acc


def test_accuracy_with_blur_and_noise(clips) -> None:
    rng = np.random.default_rng(6)
    subset = clips[:100]
    acc = _accuracy([(spec, _add_noise(_blur(clip), rng)) for spec, clip in subset])
    print(f"blurred + noisy accuracy over {len(subset)} clips: {acc}")
    assert all(v >= 0.95 for v in acc.values()), acc


@pytest.mark.parametrize("background", list(BACKGROUNDS))
def test_empty_clip_reports_none(background: str) -> None:
    rng = np.random.default_rng(7)
    blank = np.broadcast_to(np.asarray(BACKGROUNDS[background], np.uint8), (16, 64, 64, 3)).copy()
    for clip in (blank, _add_noise(blank, rng)):
        result = analyse(clip)
        assert (result["colour"], result["shape"], result["motion"]) == ("none", "none", "none")
        assert result["object_frames"] == 0
        assert not any(score(result, ShapeSpec("red", "circle", "left")).values())
        assert not object_mask(clip).any()
        assert object_colour(clip) == shape_class(clip) == motion_class(clip) == "none"
        assert np.isnan(size_change(clip)) and np.isnan(centroid_track(clip)).all()


def test_single_functions_agree_with_ground_truth() -> None:
    spec = ShapeSpec("blue", "square", "right", background="gray")
    clip = render(spec)
    np.testing.assert_allclose(background_colour(clip), BACKGROUNDS["gray"])
    mask = object_mask(clip)
    assert mask.shape == clip.shape[:3] and mask.dtype == bool and mask.any(axis=(1, 2)).all()
    track = centroid_track(clip)
    assert track.shape == (16, 2) and np.all(np.diff(track[:, 0]) > 0)
    assert abs(track[:, 1] - 32).max() < 0.5  # centred vertically without rng
    assert abs(size_change(clip) - 1.0) < 0.05
    assert (object_colour(clip), shape_class(clip), motion_class(clip)) == ("blue", "square", "right")
    assert size_change(render(ShapeSpec("red", "circle", "growing"))) > 2.0
    assert size_change(render(ShapeSpec("red", "circle", "shrinking"))) < 0.5


def test_analyse_reports_raw_measurements() -> None:
    result = analyse(render(ShapeSpec("green", "triangle", "up", size="big")))
    assert result["motion"] == "up" and result["displacement"][1] < -0.3
    assert abs(result["fill_ratio"] - 0.5) < 0.1 and result["object_frames"] == 16
    assert result["odd_moment"] > 0.5 and abs(result["size_change"] - 1.0) < 0.05  # translating: no scaling
    assert score(result, ShapeSpec("green", "triangle", "up")) == {"colour": True, "shape": True, "motion": True}
    assert score(result, ShapeSpec("green", "square", "down")) == {"colour": True, "shape": False, "motion": False}


def test_object_missing_in_some_frames() -> None:
    spec = ShapeSpec("orange", "circle", "down")
    clip = render(spec)
    clip[:4] = 0  # object appears late, as a generated clip might
    result = analyse(clip)
    assert result["object_frames"] == 12
    assert score(result, spec) == {"colour": True, "shape": True, "motion": True}


def test_spurious_speck_is_ignored() -> None:
    spec = ShapeSpec("red", "square", "still", size="big")
    clip = render(spec)
    clip[:, 2:5, 2:5] = 250  # small white blob, as generation artefacts can leave
    assert score(analyse(clip), spec) == {"colour": True, "shape": True, "motion": True}


def test_rejects_malformed_frames() -> None:
    with pytest.raises(ValueError):
        analyse(np.zeros((16, 64, 64), np.uint8))
    with pytest.raises(ValueError):
        analyse(np.zeros((0, 64, 64, 3), np.uint8))


@pytest.mark.parametrize("shape", ["circle", "square", "triangle"])
def test_object_cut_by_the_border_still_gets_its_shape(shape: str) -> None:
    clip = render(ShapeSpec("white", shape, "still", size="big"), size=64)
    shifted = np.zeros_like(clip)
    shifted[:, :, :40] = clip[:, :, 24:]  # the object (columns 21-42) now sticks 3 px out of the left edge
    assert object_mask(shifted)[:, :, 0].any()  # really cut by the border
    assert shape_class(shifted) == shape


def test_long_clips_are_scored_window_by_window() -> None:
    from mediadiff.evaluation.video import analyse_long

    red = render(ShapeSpec("red", "circle", "still"), frames=16, size=64)
    blue = render(ShapeSpec("blue", "circle", "still"), frames=16, size=64)
    steady = analyse_long(np.concatenate([red] * 4))
    assert score(steady, ShapeSpec("red", "circle", "still"))["windows_colour"] is True
    switched = analyse_long(np.concatenate([red, red, blue, blue]))
    assert score(switched, ShapeSpec("red", "circle", "still"))["windows_colour"] is False
    assert "windows" not in analyse_long(red)  # one or two windows: the plain analysis


def test_a_jump_at_a_seam_is_caught() -> None:
    from mediadiff.evaluation.video import analyse_long

    spec = ShapeSpec("green", "square", "right", speed="slowly")
    clip = render(spec, frames=48, size=64)
    assert score(analyse_long(clip), spec)["no_jump"] is True
    jumped = clip.copy()
    jumped[32:] = np.roll(clip[32:], 12, axis=2)  # the object leaps 12 px at frame 32, as a bad seam would
    assert score(analyse_long(jumped), spec)["no_jump"] is False
