"""Tests for the procedural shapes world: specs, rendering, captions, eval prompts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mediadiff.worlds import shapes
from mediadiff.worlds.shapes import (
    BACKGROUNDS,
    COLOURS,
    HELD_OUT,
    MOTIONS,
    SHAPES,
    ShapeSpec,
    all_captions,
    caption,
    eval_prompts,
    is_held_out,
    parse_caption,
    render,
    sample_spec,
)


def _coverage(clip: np.ndarray, spec: ShapeSpec) -> np.ndarray:
    """Ground-truth object coverage in [0, 1] recovered from known colours, (F, H, W)."""
    bg = np.asarray(BACKGROUNDS[spec.background], np.float64)
    axis = np.asarray(COLOURS[spec.colour], np.float64) - bg
    return (clip.astype(np.float64) - bg) @ axis / (axis @ axis)  # (F, H, W)


def _centroid_and_area(clip: np.ndarray, spec: ShapeSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (x, y) centroid (F, 2) and area (F,) in pixels."""
    a = _coverage(clip, spec)  # (F, H, W)
    area = a.sum(axis=(1, 2))  # (F,)
    ys, xs = np.mgrid[: a.shape[1], : a.shape[2]] + 0.5
    cx = (a * xs).sum(axis=(1, 2)) / area
    cy = (a * ys).sum(axis=(1, 2)) / area
    return np.stack([cx, cy], axis=1), area


# --------------------------------------------------------------------------- specs


def test_spec_validation_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        ShapeSpec("pink", "circle", "left")
    with pytest.raises(ValueError):
        ShapeSpec("red", "hexagon", "left")
    with pytest.raises(ValueError):
        ShapeSpec("red", "circle", "spinning")
    with pytest.raises(ValueError):
        ShapeSpec("red", "circle", "left", size="medium")
    with pytest.raises(ValueError):
        ShapeSpec("red", "circle", "left", speed="fast")
    with pytest.raises(ValueError):
        ShapeSpec("red", "circle", "still", speed="slowly")


def test_background_rule_white_never_on_white() -> None:
    with pytest.raises(ValueError):
        ShapeSpec("white", "circle", "left", background="white")
    rng = np.random.default_rng(0)
    specs = [sample_spec(rng, include_held_out=True) for _ in range(3000)]
    assert all(s.colour != s.background for s in specs)
    counts = Counter(s.background for s in specs)
    assert set(counts) == set(BACKGROUNDS) and counts["black"] > counts["white"]


def test_held_out_never_sampled_when_excluded() -> None:
    rng = np.random.default_rng(1)
    assert not any(is_held_out(sample_spec(rng)) for _ in range(3000))
    included = {sample_spec(rng, include_held_out=True).triple for _ in range(3000)}
    assert HELD_OUT <= included


def test_sampler_covers_every_attribute() -> None:
    rng = np.random.default_rng(2)
    specs = [sample_spec(rng) for _ in range(2000)]
    assert {s.colour for s in specs} == set(COLOURS)
    assert {s.shape for s in specs} == set(SHAPES)
    assert {s.motion for s in specs} == set(MOTIONS)
    assert {s.size for s in specs} == {None, "small", "big"}
    assert {s.speed for s in specs} == {None, "slowly", "quickly"}
    assert all(s.speed is None for s in specs if s.motion == "still")


# --------------------------------------------------------------------------- rendering


def test_render_shape_dtype_and_parameters() -> None:
    spec = ShapeSpec("red", "circle", "right")
    clip = render(spec)
    assert clip.shape == (16, 64, 64, 3) and clip.dtype == np.uint8
    small = render(spec, frames=8, size=32)
    assert small.shape == (8, 32, 32, 3)
    # The same motion at half the frame size and half the frames: the same path and area, in frame units.
    (track, area), (small_track, small_area) = _centroid_and_area(clip, spec), _centroid_and_area(small, spec)
    np.testing.assert_allclose(2 * small_track[[0, -1]], track[[0, -1]], atol=0.1)
    assert 4 * small_area[0] == pytest.approx(area[0], rel=0.01)
    assert render(ShapeSpec("blue", "square", "up"), frames=1).shape == (1, 64, 64, 3)


def test_render_deterministic_with_seeded_rng() -> None:
    spec = ShapeSpec("green", "triangle", "down", size="big", speed="quickly", background="gray")
    a = render(spec, rng=np.random.default_rng(7))
    b = render(spec, rng=np.random.default_rng(7))
    c = render(spec, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Without an rng the clip is the nominal one: centred across the motion, at the nominal size.
    assert np.abs(_centroid_and_area(render(spec), spec)[0][:, 0] - 32).max() < 1e-6
    assert np.abs(_centroid_and_area(a, spec)[0][:, 0] - 32).min() > 1  # the seeded clip is placed elsewhere
    still = ShapeSpec("green", "circle", "still")
    (centre,), (area,) = _centroid_and_area(render(still, frames=1), still)
    np.testing.assert_allclose(centre, [32, 32], atol=1e-6)
    assert area == pytest.approx(np.pi * (0.26 * 64 / 2) ** 2, rel=0.01)  # default size: 26% of the frame


def test_render_is_antialiased_and_uses_exact_colours() -> None:
    spec = ShapeSpec("orange", "circle", "still")
    clip = render(spec)
    colours = {tuple(p) for p in clip[0].reshape(-1, 3)}
    assert BACKGROUNDS["black"] in colours and COLOURS["orange"] in colours
    assert len(colours) > 3  # partially covered edge pixels


def test_object_stays_inside_frame() -> None:
    rng = np.random.default_rng(3)
    for _ in range(120):
        spec = sample_spec(rng, include_held_out=True)
        clip = render(spec, rng=rng)
        bg = np.asarray(BACKGROUNDS[spec.background], np.uint8)
        for edge in (clip[:, 0], clip[:, -1], clip[:, :, 0], clip[:, :, -1]):
            assert (edge == bg).all(), spec
        assert (clip != bg).any(axis=-1).any(axis=(1, 2)).all(), spec  # visible in every frame


@pytest.mark.parametrize("speed, min_travel", [(None, 0.40), ("slowly", 0.25), ("quickly", 0.50)])
def test_translation_is_large_enough(speed: str | None, min_travel: float) -> None:
    rng = np.random.default_rng(4)
    for motion, axis, sign in (("left", 0, -1), ("right", 0, 1), ("up", 1, -1), ("down", 1, 1)):
        for shape in SHAPES:
            for size in (None, "small", "big"):
                spec = ShapeSpec("red", shape, motion, size=size, speed=speed)
                track, area = _centroid_and_area(render(spec, rng=rng), spec)
                move = (track[-1] - track[0]) / 64
                assert sign * move[axis] >= min_travel, (spec, move)
                assert abs(move[1 - axis]) < 0.02, (spec, move)
                assert area.max() / area.min() < 1.05, spec  # supersampling quantises edges


@pytest.mark.parametrize("speed", [None, "slowly", "quickly"])
def test_scaling_at_least_doubles_or_halves_area(speed: str | None) -> None:
    rng = np.random.default_rng(5)
    for shape in SHAPES:
        for size in (None, "small", "big"):
            grow = ShapeSpec("blue", shape, "growing", size=size, speed=speed)
            shrink = ShapeSpec("blue", shape, "shrinking", size=size, speed=speed)
            _, a = _centroid_and_area(render(grow, rng=rng), grow)
            _, b = _centroid_and_area(render(shrink, rng=rng), shrink)
            assert a[-1] / a[0] >= 2.0 and np.all(np.diff(a) > -0.5), grow
            assert b[-1] / b[0] <= 0.5 and np.all(np.diff(b) < 0.5), shrink


def test_still_object_does_not_move() -> None:
    clip = render(ShapeSpec("yellow", "triangle", "still", background="white"), rng=np.random.default_rng(6))
    assert (clip == clip[0]).all()


@pytest.mark.parametrize("motion", MOTIONS)
def test_time_reversed_spec_describes_the_clip_played_backwards(motion: str) -> None:
    from mediadiff.evaluation.video import motion_class

    spec = ShapeSpec("orange", "circle", motion, speed=None if motion == "still" else "quickly")
    backwards = shapes.time_reversed(spec)
    assert (backwards.colour, backwards.shape, backwards.speed) == (spec.colour, spec.shape, spec.speed)
    assert (backwards.motion == motion) == (motion == "still")
    clip = render(spec, rng=np.random.default_rng(3))
    assert motion_class(clip) == motion
    assert motion_class(clip[::-1].copy()) == backwards.motion


def test_render_is_fast_enough_for_data_loading() -> None:
    import time

    spec = ShapeSpec("purple", "circle", "growing")
    start = time.perf_counter()
    for _ in range(20):
        render(spec)
    assert (time.perf_counter() - start) / 20 < 0.05  # generous: ~2-3 ms on one core


# --------------------------------------------------------------------------- captions


def test_caption_round_trip_on_thousands_of_specs() -> None:
    rng = np.random.default_rng(10)
    for _ in range(4000):
        spec = sample_spec(rng, include_held_out=True)
        text = caption(spec, rng)
        assert parse_caption(text) == spec, text


def test_every_grammar_phrasing_parses_back() -> None:
    rng = np.random.default_rng(11)
    total = 0
    for _ in range(25):
        spec = sample_spec(rng, include_held_out=True)
        for text in all_captions(spec):
            assert parse_caption(text) == spec, text
            total += 1
    assert total > 1000


def test_caption_examples_and_synonyms() -> None:
    expected = {
        "a red circle moving to the right": ShapeSpec("red", "circle", "right"),
        "red ball sliding right": ShapeSpec("red", "circle", "right"),
        "a small red circle drifting right slowly": ShapeSpec("red", "circle", "right", "small", "slowly"),
        "a big blue square growing": ShapeSpec("blue", "square", "growing", "big"),
        "a yellow triangle standing still on a white background": ShapeSpec(
            "yellow", "triangle", "still", background="white"
        ),
        "green box moving up quickly": ShapeSpec("green", "square", "up", speed="quickly"),
    }
    for text, spec in expected.items():
        assert text in set(all_captions(spec)), text
        assert parse_caption(text) == spec
    rng = np.random.default_rng(12)
    words = Counter(
        w for _ in range(400) for w in caption(ShapeSpec("red", "circle", "growing"), rng).split()
    )
    assert {"ball", "disc", "circle", "growing", "expanding", "bigger"} <= set(words)


def test_captions_use_correct_article() -> None:
    rng = np.random.default_rng(13)
    for _ in range(300):
        text = caption(ShapeSpec("orange", "square", "left"), rng)
        assert not text.startswith("a orange"), text


def test_parse_caption_rejects_incomplete_text() -> None:
    for text in ("a red thing", "a circle moving left", "a red circle", ""):
        with pytest.raises(ValueError):
            parse_caption(text)


# --------------------------------------------------------------------------- eval prompts


def test_grammar_prompts_cover_everything() -> None:
    prompts = eval_prompts("grammar")
    assert 35 <= len(prompts) <= 50
    specs = [s for _, s in prompts]
    for attr, values in (("colour", COLOURS), ("shape", SHAPES), ("motion", MOTIONS)):
        counts = Counter(getattr(s, attr) for s in specs)
        assert set(counts) == set(values) and min(counts.values()) >= 3, (attr, counts)
    assert not any(is_held_out(s) for s in specs)
    for text, spec in prompts:
        assert text in set(all_captions(spec)) and parse_caption(text) == spec


def test_held_out_prompts() -> None:
    prompts = eval_prompts("held_out")
    by_triple: dict[tuple[str, str, str], set[str]] = {}
    for text, spec in prompts:
        assert is_held_out(spec) and parse_caption(text) == spec
        by_triple.setdefault(spec.triple, set()).add(text)
    assert set(by_triple) == HELD_OUT
    assert all(2 <= len(texts) <= 3 for texts in by_triple.values())
    assert eval_prompts("held_out") == prompts  # the extra phrasings come from seeded rngs: a fixed eval set


def test_paraphrase_prompts_are_outside_the_grammar() -> None:
    prompts = eval_prompts("paraphrase")
    assert 15 <= len(prompts) <= 20
    assert len({t for t, _ in prompts}) == len(prompts)
    for text, spec in prompts:
        assert not is_held_out(spec)
        assert text not in set(all_captions(spec)), text
        # Because the grammar round-trips, a grammar caption would parse to the spec it came from.
        try:
            parsed = parse_caption(text)
        except ValueError:
            continue
        assert text not in set(all_captions(parsed)), text
    assert {s.colour for _, s in prompts} == set(COLOURS)
    assert {s.motion for _, s in prompts} == set(MOTIONS)


def test_unknown_split_raises() -> None:
    with pytest.raises(ValueError):
        eval_prompts("test")
