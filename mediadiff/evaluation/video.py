"""Analysers that measure decoded video clips of the `shapes` world.

They read pixels (uint8 (F, H, W, 3)), never latents, so the same code scores
ground-truth renders and generated clips. Every public function accepts the raw
frames; `analyse` computes the shared intermediate state once.

Thresholds (all documented next to their constants):
- object pixels: RGB distance from the background above max(48, half the object's
  typical distance), largest 4-connected component per frame;
- shape: from blur-invariant symmetry moments of the soft object mask (see
  `shape_class`); the bounding-box fill ratio (circle pi/4, square 1, triangle 1/2)
  is reported alongside as a readable raw measurement;
- motion: area ratio (last/first) beyond 1.5x either way, or centroid displacement
  beyond 12% of the frame side; whichever exceeds its threshold by more wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mediadiff.worlds.shapes import COLOURS, ShapeSpec

# Floor on the object/background RGB distance: Gaussian noise of sigma 10 gives
# background distances of ~16 on average and essentially never above 48, while the
# least contrasting palette pair (purple on gray) is ~120 apart.
_MIN_CONTRAST = 48.0
# Object pixels must be at least this fraction of the object's typical contrast,
# i.e. half covered for an antialiased edge.
_REL_CONTRAST = 0.5
# Normalised third-order moment |(c30, c21)| / r2^1.5: 0 for any centrally symmetric
# shape (circle, square), ~0.79 for the world's triangle, >= 0.55 after blur + noise.
_TRIANGLE_MIN_ODD = 0.35
# Normalised four-fold moment |c40| / r2^2: 0 for a circle, 0.6 for a square (at any
# rotation), <= 0.1 for circles and >= 0.45 for squares after blur + noise.
_SQUARE_MIN_FOURFOLD = 0.3
# Area ratio beyond which the object is growing (or below 1/x shrinking); renders
# change area by >= 2x, translations keep it at ~1.
_SCALE_THRESHOLD = 1.5
# Centroid displacement (fraction of frame side) beyond which the object moves;
# renders travel >= 28% of the frame, still objects 0%.
_MOVE_THRESHOLD = 0.12
# Components smaller than this are noise specks, not objects (the smallest rendered
# object, a small triangle at the end of a quick shrink, still covers ~20 pixels).
_MIN_OBJECT_PIXELS = 6
# Frames averaged (median) at each end of the clip for robust start/end values.
_END_FRAMES = 3
# Frames whose area is below this fraction of the clip maximum are too small to
# judge the shape reliably at 64x64.
_MIN_SHAPE_AREA_FRAC = 0.3

_NAMES = tuple(COLOURS)
_PALETTE = np.asarray([COLOURS[n] for n in _NAMES], dtype=np.float32)  # (K, 3)


@dataclass(frozen=True)
class _Scene:
    """Per-clip intermediate measurements shared by the analysers."""

    background: np.ndarray  # (3,) float32
    mask: np.ndarray  # (F, H, W) bool, largest component per frame
    rgb: np.ndarray  # (3,) float32 robust object colour, nan if no object
    alpha: np.ndarray  # (F, h, w) float32 soft coverage in [0, 1] of the object's crop
    origin: tuple[int, int]  # (row, col) of the crop's top-left pixel in the frame
    present: np.ndarray  # (F,) bool, object found in the frame


def background_colour(frames: np.ndarray) -> np.ndarray:
    """Background RGB (3,) as the median of all border pixels over all frames."""
    edges = (frames[:, 0], frames[:, -1], frames[:, :, 0], frames[:, :, -1])  # each (F, side, 3)
    border = np.concatenate([e.reshape(-1, 3) for e in edges]).astype(np.float32)  # (N, 3)
    return np.median(border, axis=0).astype(np.float32)


def _squared_distance(pixels: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Squared RGB distance of float pixels (F, H, W, 3) from bg, (F, H, W)."""
    # |p - b|^2 expanded into matmuls: broadcasting over a length-3 axis is ~20x slower.
    sq = (pixels * pixels) @ np.ones(3, np.float32)  # (F, H, W)
    return np.maximum(sq - 2.0 * (pixels @ bg) + float(bg @ bg), 0.0)  # (F, H, W)


def _threshold(dist2: np.ndarray) -> float:
    """Squared object threshold: half the object's typical contrast, never below the floor."""
    strong = dist2[dist2 > _MIN_CONTRAST**2]
    if strong.size == 0:
        return _MIN_CONTRAST**2
    typical = float(np.sqrt(np.percentile(strong, 90)))
    return max(_MIN_CONTRAST, _REL_CONTRAST * typical) ** 2


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """Keep the largest 4-connected component of each frame's mask, (F, H, W)."""
    rows = np.flatnonzero(mask.any(axis=(0, 2)))
    cols = np.flatnonzero(mask.any(axis=(0, 1)))
    if rows.size == 0:
        return mask.copy()
    # Labelling only the union bounding box is much cheaper for small objects.
    crop = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    out = np.zeros_like(mask)
    out[crop] = _largest_component_dense(np.ascontiguousarray(mask[crop]))
    out[out.sum(axis=(1, 2)) < _MIN_OBJECT_PIXELS] = False
    return out


def _largest_component_dense(mask: np.ndarray) -> np.ndarray:
    """Largest 4-connected component per frame of a (F, h, w) mask by label propagation."""
    n = mask.size
    labels = np.where(mask, np.arange(n, dtype=np.int32).reshape(mask.shape), n).astype(np.int32)  # (F, h, w)
    while True:
        low = labels.copy()
        np.minimum(low[:, 1:], labels[:, :-1], out=low[:, 1:])
        np.minimum(low[:, :-1], labels[:, 1:], out=low[:, :-1])
        np.minimum(low[:, :, 1:], labels[:, :, :-1], out=low[:, :, 1:])
        np.minimum(low[:, :, :-1], labels[:, :, 1:], out=low[:, :, :-1])
        low = np.where(mask, low, n)
        # Pointer jumping: a pixel adopts its label's label, so labels spread in
        # O(log diameter) rounds instead of one pixel per round.
        table = np.append(low.ravel(), np.int32(n))  # (n + 1,)
        low = table[table[low]]
        if np.array_equal(low, labels):
            break
        labels = low
    f = mask.shape[0]
    counts = np.bincount(labels[mask], minlength=n).reshape(f, -1)  # (F, H*W)
    best = counts.argmax(axis=1) + np.arange(f) * counts.shape[1]  # (F,)
    return mask & (labels == best[:, None, None])


def _dilate(mask: np.ndarray) -> np.ndarray:
    """One-pixel 8-neighbourhood dilation of a (F, H, W) mask."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    grown = out.copy()
    grown[:, :, 1:] |= out[:, :, :-1]
    grown[:, :, :-1] |= out[:, :, 1:]
    return grown


def _scene(frames: np.ndarray) -> _Scene:
    """Compute background, object mask, colour and soft coverage once per clip."""
    frames = _check_frames(frames)
    bg = background_colour(frames)
    pixels = frames.astype(np.float32)  # (F, H, W, 3)
    dist2 = _squared_distance(pixels, bg)  # (F, H, W)
    mask = _largest_component(dist2 > _threshold(dist2))  # (F, H, W)
    present = mask.any(axis=(1, 2))  # (F,)
    if not present.any():
        empty = np.zeros((mask.shape[0], 1, 1), np.float32)
        return _Scene(bg, mask, np.full(3, np.nan, np.float32), empty, (0, 0), present)
    # Core pixels (upper half of contrast) avoid edge pixels blended with the background.
    core = mask & (dist2 >= np.median(dist2[mask]))
    rgb = np.median(pixels[core], axis=0).astype(np.float32)  # (3,)
    region = _dilate(mask)  # (F, H, W)
    rows = np.flatnonzero(region.any(axis=(0, 2)))
    cols = np.flatnonzero(region.any(axis=(0, 1)))
    crop = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    axis = rgb - bg  # (3,)
    # Projection onto the background->object axis is unbiased under noise, unlike distance.
    proj = (pixels[crop] @ axis - float(bg @ axis)) / max(float(axis @ axis), 1e-6)  # (F, h, w)
    alpha = np.where(region[crop], np.clip(proj, 0.0, 1.0), 0.0).astype(np.float32)  # (F, h, w)
    return _Scene(bg, mask, rgb, alpha, (int(rows[0]), int(cols[0])), present)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    """Validate a (F, H, W, 3) clip; ValueError otherwise."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or min(frames.shape[:3]) < 1:
        raise ValueError(f"expected frames of shape (F, H, W, 3), got {frames.shape}")
    return frames


def object_mask(frames: np.ndarray) -> np.ndarray:
    """Boolean object mask per frame, (F, H, W): contrast threshold + largest component."""
    return _scene(frames).mask


def _nearest_colour(rgb: np.ndarray) -> str:
    """Name of the palette colour closest to rgb, or 'none' for nan."""
    if not np.isfinite(rgb).all():
        return "none"
    d = ((_PALETTE - rgb) ** 2).sum(axis=1)  # (K,)
    return _NAMES[int(d.argmin())]


def object_colour(frames: np.ndarray) -> str:
    """Nearest named colour of the object's core pixels over all frames ('none' if absent)."""
    return _nearest_colour(_scene(frames).rgb)


def _areas(scene: _Scene) -> np.ndarray:
    """Soft object area in pixels per frame, nan where no object, (F,)."""
    area = scene.alpha.sum(axis=(1, 2))  # (F,)
    return np.where(scene.present, area, np.nan)


def _usable_frames(scene: _Scene) -> np.ndarray:
    """Frames with the object well inside the image (else any present) and not tiny, (F,) bool."""
    m = scene.mask  # (F, H, W)
    touches = m[:, 0].any(1) | m[:, -1].any(1) | m[:, :, 0].any(1) | m[:, :, -1].any(1)  # (F,)
    area = _areas(scene)  # (F,)
    ok = np.isfinite(area) & ~touches
    if not ok.any():
        ok = np.isfinite(area)  # a cut-off shape is still a better guess than "none"
    if ok.any():
        ok &= area >= _MIN_SHAPE_AREA_FRAC * area[ok].max()
    return ok


def _fill_ratios(scene: _Scene) -> np.ndarray:
    """Area over soft bounding-box area per frame, (F,); nan without an object."""
    a = scene.alpha  # (F, h, w)
    # Summing per-column (per-row) peaks gives a sub-pixel extent for antialiased edges.
    width = a.max(axis=1).sum(axis=1)  # (F,)
    height = a.max(axis=2).sum(axis=1)  # (F,)
    return _areas(scene) / np.maximum(width * height, 1e-6)


def _symmetry_moments(scene: _Scene) -> np.ndarray:
    """Per-frame normalised odd (3rd-order) and four-fold (4th-order) moments, (F, 2).

    With z = (x - cx) + i (y - cy) weighted by coverage, odd = |(E z^3, E z^2 conj z)| /
    E|z|^2^1.5 and fourfold = |E z^4| / E|z|^2^2. Both are rotation invariant and, being
    built from cumulant-like terms of order > 2, nearly unchanged by isotropic blur,
    which is what generative decoders add; bounding-box fill ratios are not.
    """
    a = scene.alpha.astype(np.float64)  # (F, h, w)
    track = _centroids(scene)  # (F, 2)
    present = np.isfinite(track).all(axis=1)  # (F,)
    track = np.where(present[:, None], track, 0.0)
    h, w = a.shape[1:]
    row0, col0 = scene.origin
    zx = np.arange(w) + col0 + 0.5 - track[:, 0, None]  # (F, w)
    zy = np.arange(h) + row0 + 0.5 - track[:, 1, None]  # (F, h)
    z = zx[:, None, :] + 1j * zy[:, :, None]  # (F, h, w)
    total = np.maximum(a.sum(axis=(1, 2)), 1e-9)  # (F,)
    z2 = z * z  # (F, h, w)

    def mean(v: np.ndarray) -> np.ndarray:
        """Coverage-weighted mean over each frame, (F,)."""
        return (a * v).sum(axis=(1, 2)) / total

    r2 = np.maximum(mean((z * z.conj()).real), 1e-9)  # (F,)
    odd = np.hypot(np.abs(mean(z2 * z)), np.abs(mean(z2 * z.conj()))) / r2**1.5  # (F,)
    fourfold = np.abs(mean(z2 * z2)) / r2**2  # (F,)
    out = np.stack([odd, fourfold], axis=1)  # (F, 2)
    return np.where(present[:, None], out, np.nan)


def _shape_measures(scene: _Scene) -> tuple[float, float, float]:
    """Median (fill ratio, odd moment, four-fold moment) over usable frames; nan if none."""
    ok = _usable_frames(scene)
    if not ok.any():
        return float("nan"), float("nan"), float("nan")
    fill = float(np.median(_fill_ratios(scene)[ok]))
    odd, fourfold = np.median(_symmetry_moments(scene)[ok], axis=0)
    return fill, float(odd), float(fourfold)


def _shape_from(odd: float, fourfold: float) -> str:
    """Shape name from the symmetry moments (thresholds at the module top)."""
    if not (np.isfinite(odd) and np.isfinite(fourfold)):
        return "none"
    if odd >= _TRIANGLE_MIN_ODD:
        return "triangle"  # the only shape without central symmetry
    return "square" if fourfold >= _SQUARE_MIN_FOURFOLD else "circle"


def shape_class(frames: np.ndarray) -> str:
    """Circle/square/triangle from symmetry moments, median over frames well inside the image."""
    _, odd, fourfold = _shape_measures(_scene(frames))
    return _shape_from(odd, fourfold)


def _end_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of the first and last few valid entries along axis 0."""
    valid = np.isfinite(values).reshape(len(values), -1).all(axis=1)  # (F,)
    v = values[valid]
    if len(v) == 0:
        nan = np.full(values.shape[1:], np.nan)
        return nan, nan
    k = max(1, min(_END_FRAMES, len(v) // 2))
    return np.median(v[:k], axis=0), np.median(v[-k:], axis=0)


def _size_change(scene: _Scene) -> float:
    """Area ratio last/first from a few frames at each end, nan without an object."""
    first, last = _end_values(_areas(scene))
    return float(last / first) if np.isfinite(first) and first > 0 else float("nan")


def size_change(frames: np.ndarray) -> float:
    """Object area at the end over the start (medians of a few frames at each end)."""
    return _size_change(_scene(frames))


def _centroids(scene: _Scene) -> np.ndarray:
    """Coverage-weighted (x, y) centroid per frame in pixels, nan where absent, (F, 2)."""
    a = scene.alpha  # (F, h, w)
    total = a.sum(axis=(1, 2))  # (F,)
    h, w = a.shape[1:]
    row0, col0 = scene.origin
    cx = (a.sum(axis=1) * (np.arange(w) + col0 + 0.5)).sum(axis=1)  # (F,)
    cy = (a.sum(axis=2) * (np.arange(h) + row0 + 0.5)).sum(axis=1)  # (F,)
    present = scene.present & (total > 0)
    safe = np.where(present, total, 1.0)
    track = np.stack([cx / safe, cy / safe], axis=1)  # (F, 2)
    return np.where(present[:, None], track, np.nan)


def centroid_track(frames: np.ndarray) -> np.ndarray:
    """Object centroid (x, y) in pixels per frame, nan rows where absent, (F, 2)."""
    return _centroids(_scene(frames))


def _displacement(scene: _Scene) -> np.ndarray:
    """End-minus-start centroid as a fraction of the frame width/height, (2,)."""
    first, last = _end_values(_centroids(scene))
    h, w = scene.mask.shape[1:]
    return (last - first) / np.array([w, h], dtype=np.float64)


def _motion_from(ratio: float, disp: np.ndarray) -> str:
    """Motion label from area ratio and normalised displacement (see module thresholds)."""
    if not (np.isfinite(ratio) and np.isfinite(disp).all()) or ratio <= 0:
        return "none"
    # Each cue is scaled by its own threshold so the stronger one decides.
    scale = abs(np.log(ratio)) / np.log(_SCALE_THRESHOLD)
    move = float(np.abs(disp).max()) / _MOVE_THRESHOLD
    if max(scale, move) < 1.0:
        return "still"
    if scale >= move:
        return "growing" if ratio > 1 else "shrinking"
    dx, dy = disp
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"  # image rows grow downwards


def motion_class(frames: np.ndarray) -> str:
    """One of left/right/up/down/growing/shrinking/still, or 'none' without an object."""
    scene = _scene(frames)
    return _motion_from(_size_change(scene), _displacement(scene))


def analyse(frames: np.ndarray) -> dict:
    """Colour, shape and motion labels plus the raw measurements behind them."""
    scene = _scene(frames)
    fill, odd, fourfold = _shape_measures(scene)
    ratio = _size_change(scene)
    disp = _displacement(scene)
    present = scene.present  # (F,)
    return {
        "colour": _nearest_colour(scene.rgb),
        "shape": _shape_from(odd, fourfold),
        "motion": _motion_from(ratio, disp),
        "object_frames": int(present.sum()),
        "background_rgb": [float(v) for v in scene.background],
        "object_rgb": [float(v) for v in scene.rgb],
        "fill_ratio": fill,
        "odd_moment": odd,
        "fourfold_moment": fourfold,
        "size_change": ratio,
        "displacement": [float(v) for v in disp],
    }


LONG_WINDOW = 16  # frames per analysed window of a long clip (the shipped shapes model's clip)


def analyse_long(frames: np.ndarray, window: int = LONG_WINDOW) -> dict:
    """`analyse` of the whole clip; for a clip of more than two windows also each window's colour and shape
    (consecutive, non-overlapping) and the largest centroid jump between frames, against the median step and the
    largest step within the first window."""
    measured = analyse(frames)
    if len(frames) <= 2 * window:
        return measured
    chunks = [frames[s:s + window] for s in range(0, len(frames) - window + 1, window)]
    measured["windows"] = [{"colour": object_colour(c), "shape": shape_class(c)} for c in chunks]
    track = centroid_track(frames)  # (F, 2), NaN where no object
    steps = np.linalg.norm(np.diff(track, axis=0), axis=1)
    steps = steps[np.isfinite(steps)]
    measured["largest_step"] = float(steps.max()) if len(steps) else None
    measured["median_step"] = float(np.median(steps)) if len(steps) else None
    first = np.linalg.norm(np.diff(track[:window], axis=0), axis=1)  # one window: the model's own motion
    first = first[np.isfinite(first)]
    measured["first_window_step"] = float(first.max()) if len(first) else None
    return measured


JUMP_PX = 2.0  # a centroid step this small is never a jump (1/32 of the shipped 64-pixel frame)


def jump_free(measured: dict) -> bool:
    """No step of the centroid larger than twice the largest within the first window (and JUMP_PX): seams of
    context windows show as such jumps."""
    largest, first = measured.get("largest_step"), measured.get("first_window_step")
    if largest is None or first is None:
        return False
    return largest <= max(2 * first, JUMP_PX)


def score(measured: dict, target: ShapeSpec) -> dict[str, bool]:
    """Per-attribute match (colour, shape, motion) of an `analyse` result against its spec; for a long clip also
    whether every window keeps the first window's colour and shape."""
    out = {key: measured.get(key) == getattr(target, key) for key in ("colour", "shape", "motion")}
    windows = measured.get("windows")
    if windows:
        out["windows_colour"] = all(w["colour"] == windows[0]["colour"] for w in windows)
        out["windows_shape"] = all(w["shape"] == windows[0]["shape"] for w in windows)
        out["no_jump"] = jump_free(measured)
    return out
