"""Procedural `shapes` video world: one coloured shape moving on a plain background.

Everything here is deterministic given a numpy Generator, cheap (a 16x64x64 clip
renders in a few ms) and labelled exactly, so generated clips can be scored by
the analysers in `mediadiff.evaluation.video` against the spec they were asked for.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from . import split_prompts

# Fixed palette; values chosen so every pair (and every colour vs. every background)
# is far apart in RGB, which keeps colour naming unambiguous after blur/noise.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 190, 40),
    "blue": (40, 70, 230),
    "yellow": (245, 225, 20),
    "purple": (130, 30, 200),
    "orange": (255, 130, 0),
    "white": (245, 245, 245),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
MOTIONS: tuple[str, ...] = ("left", "right", "up", "down", "growing", "shrinking", "still")
SIZES: tuple[str, ...] = ("small", "big")
SPEEDS: tuple[str, ...] = ("slowly", "quickly")

# (colour, shape, motion) combinations never shown in training captions.
HELD_OUT: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("purple", "triangle", "up"),
        ("orange", "square", "growing"),
        ("green", "circle", "left"),
        ("white", "triangle", "shrinking"),
        ("yellow", "square", "down"),
    }
)

# Prompts shown first (the apps' examples, `mediadiff examples video`): grammar captions the shipped model follows.
EXAMPLE_PROMPTS = ("a red circle moving right", "a big blue square growing", "a yellow triangle moving up quickly",
                   "a small white ball drifting left on a gray background")

# Object extent (bounding-box side) as a fraction of the frame side.
_SIZE_FRAC = {"small": 0.18, None: 0.26, "big": 0.34}
# Translation distance as a fraction of the frame side (normal speed >= 40%).
_TRAVEL_FRAC = {"slowly": 0.30, None: 0.44, "quickly": 0.56}
# Linear end/start scale ratio for growing (area ratio is its square, always >= 2).
_SCALE_RATIO = {"slowly": 1.6, None: 1.9, "quickly": 2.3}
_SUPERSAMPLE = 4
_MARGIN_PX = 1.0  # keeps antialiased edges off the outermost pixel row/column


@dataclass(frozen=True)
class ShapeSpec:
    """Attributes of one shapes clip; validated on construction."""

    colour: str
    shape: str
    motion: str
    size: str | None = None
    speed: str | None = None
    background: str = "black"

    def __post_init__(self) -> None:
        """Reject unknown attribute values and contradictory combinations."""
        _check(self.colour, COLOURS, "colour")
        _check(self.shape, SHAPES, "shape")
        _check(self.motion, MOTIONS, "motion")
        _check(self.background, BACKGROUNDS, "background")
        if self.size is not None:
            _check(self.size, SIZES, "size")
        if self.speed is not None:
            _check(self.speed, SPEEDS, "speed")
        if self.colour == self.background:
            raise ValueError(f"object colour {self.colour!r} equals the background")
        if self.motion == "still" and self.speed is not None:
            raise ValueError("a still object has no speed")

    @property
    def triple(self) -> tuple[str, str, str]:
        """The (colour, shape, motion) combination used for held-out splits."""
        return (self.colour, self.shape, self.motion)


def _check(value: str, allowed, name: str) -> None:
    """Raise ValueError unless value is one of allowed."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {sorted(allowed)}")


def is_held_out(spec: ShapeSpec) -> bool:
    """True when the spec's (colour, shape, motion) is a held-out combination."""
    return spec.triple in HELD_OUT


_REVERSED_MOTION = {"left": "right", "right": "left", "up": "down", "down": "up",
                    "growing": "shrinking", "shrinking": "growing", "still": "still"}


def time_reversed(spec: ShapeSpec) -> ShapeSpec:
    """The spec of `spec`'s clip played backwards (its frames reversed are a clip of this spec)."""
    return replace(spec, motion=_REVERSED_MOTION[spec.motion])


# --------------------------------------------------------------------------- sampling


def sample_spec(rng: np.random.Generator, include_held_out: bool = False) -> ShapeSpec:
    """Draw a random valid spec; held-out combinations only when include_held_out."""
    while True:
        colour = str(rng.choice(list(COLOURS)))
        shape = str(rng.choice(SHAPES))
        motion = str(rng.choice(MOTIONS))
        background = str(rng.choice(list(BACKGROUNDS), p=[0.6, 0.2, 0.2]))
        size = [None, None, "small", "big"][int(rng.integers(4))]
        speed = None if motion == "still" else [None, None, "slowly", "quickly"][int(rng.integers(4))]
        if colour == background:
            continue
        spec = ShapeSpec(colour, shape, motion, size, speed, background)
        if include_held_out or not is_held_out(spec):
            return spec


# --------------------------------------------------------------------------- rendering


def _uniform(rng: np.random.Generator | None, lo: float, hi: float, default: float) -> float:
    """A uniform draw in [lo, hi], or default when rendering without an rng."""
    return default if rng is None else float(rng.uniform(lo, hi))


def _extents(spec: ShapeSpec, t: np.ndarray, size: int, rng: np.random.Generator | None) -> np.ndarray:
    """Bounding-box side in pixels per frame, (F,)."""
    extent = _SIZE_FRAC[spec.size] * size * _uniform(rng, 0.94, 1.06, 1.0)
    if spec.motion not in ("growing", "shrinking"):
        return np.full(t.shape, extent)  # (F,)
    ratio = _SCALE_RATIO[spec.speed] * _uniform(rng, 0.95, 1.05, 1.0)
    sign = 1.0 if spec.motion == "growing" else -1.0
    # The size word names the mid-clip size, so small-shrinking and big-growing both stay visible and inside.
    return extent * ratio ** (sign * (t - 0.5))  # (F,)


def _trajectory(
    spec: ShapeSpec, frames: int, size: int, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame bbox centre x, y and extent s in pixels, each (F,)."""
    t = np.arange(frames, dtype=np.float64) / max(frames - 1, 1)  # (F,)
    s = _extents(spec, t, size, rng)  # (F,)
    lo = _MARGIN_PX + float(s.max()) / 2  # admissible centre range [lo, lo + free]
    free = max(size - 2 * lo, 0.0)
    if spec.motion not in ("left", "right", "up", "down"):
        x = lo + _uniform(rng, 0.0, free, free / 2)
        y = lo + _uniform(rng, 0.0, free, free / 2)
        return np.full(frames, x), np.full(frames, y), s
    travel = min(_TRAVEL_FRAC[spec.speed] * size * _uniform(rng, 0.95, 1.05, 1.0), free)
    start = lo + _uniform(rng, 0.0, free - travel, (free - travel) / 2)
    path = start + travel * (t if spec.motion in ("right", "down") else 1.0 - t)  # (F,)
    # The off-axis coordinate stays near the middle so a moving object never hugs an edge.
    off = np.clip(size / 2 + _uniform(rng, -0.15, 0.15, 0.0) * size, lo, lo + free)
    fixed = np.full(frames, off)  # (F,)
    return (path, fixed, s) if spec.motion in ("left", "right") else (fixed, path, s)


def _coverage(shape: str, x: np.ndarray, y: np.ndarray, s: np.ndarray, size: int) -> np.ndarray:
    """Covered sub-samples per pixel in [0, SUPERSAMPLE**2], uint8 (F, H, W)."""
    k = _SUPERSAMPLE
    grid = (np.arange(size * k, dtype=np.float32) + 0.5) / k  # sub-pixel centres (S,)
    gx = grid[None, None, :] - x[:, None, None].astype(np.float32)  # (F, 1, S)
    gy = grid[None, :, None] - y[:, None, None].astype(np.float32)  # (F, S, 1)
    h = (s / 2).astype(np.float32)[:, None, None]  # (F, 1, 1)
    if shape == "circle":
        inside = gx * gx + gy * gy <= h * h  # (F, S, S)
    elif shape == "square":
        inside = (np.abs(gx) <= h) & (np.abs(gy) <= h)  # (F, S, S)
    else:  # apex-up isosceles triangle filling half its bounding box
        inside = (gy <= h) & (np.abs(gx) <= (gy + h) / 2)  # (F, S, S)
    f = inside.shape[0]
    # Two small uint8 sums are several times faster than one float mean over (2, 4).
    rows = inside.view(np.uint8).reshape(f, size, k, size * k).sum(axis=2, dtype=np.uint8)  # (F, H, S)
    return rows.reshape(f, size, size, k).sum(axis=3, dtype=np.uint8)  # (F, H, W)


def render(
    spec: ShapeSpec, frames: int = 16, size: int = 64, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Render a clip as uint8 (frames, size, size, 3); rng varies placement/speed/scale."""
    if frames < 1 or size < 8:
        raise ValueError("need frames >= 1 and size >= 8")
    x, y, s = _trajectory(spec, frames, size, rng)
    hits = _coverage(spec.shape, x, y, s, size)  # (F, H, W)
    bg = np.asarray(BACKGROUNDS[spec.background], dtype=np.float64)  # (3,)
    fg = np.asarray(COLOURS[spec.colour], dtype=np.float64)  # (3,)
    # Coverage takes only k*k + 1 values, so blending is a table lookup (much faster
    # than broadcasting over the length-3 colour axis).
    levels = np.arange(_SUPERSAMPLE**2 + 1) / _SUPERSAMPLE**2  # (L,)
    table = np.rint(bg + levels[:, None] * (fg - bg)).astype(np.uint8)  # (L, 3)
    return np.take(table, hits, axis=0)  # (F, H, W, 3); ~4x faster than table[hits]


# --------------------------------------------------------------------------- captions

_ARTICLES = ("a", "")
_SIZE_WORDS = {None: ("",), "small": ("small", "little"), "big": ("big", "large")}
_SHAPE_WORDS = {
    "circle": ("circle", "ball", "disc"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle",),
}
_MOVE_VERBS = ("moving", "sliding", "drifting", "going", "heading")
_DIRECTION_WORDS = {
    "left": ("left", "to the left"),
    "right": ("right", "to the right"),
    "up": ("up", "upward"),
    "down": ("down", "downward"),
}
_CHANGE_PHRASES = {
    "growing": ("growing", "expanding", "getting bigger"),
    "shrinking": ("shrinking", "getting smaller"),
    "still": ("standing still", "not moving", "staying still"),
}
_BACKGROUND_PHRASES = {
    "black": ("", " on a black background"),
    "white": (" on a white background",),
    "gray": (" on a gray background", " on a grey background"),
}
_COPULAS = ("", "is ")
_SPEED_FIRST = (False, True)


def _motion_phrases(motion: str) -> tuple[str, ...]:
    """All grammar phrasings of a motion (without speed)."""
    if motion in _DIRECTION_WORDS:
        return tuple(f"{v} {d}" for v in _MOVE_VERBS for d in _DIRECTION_WORDS[motion])
    return _CHANGE_PHRASES[motion]


def _assemble(
    spec: ShapeSpec, article: str, size_w: str, shape_w: str, copula: str, motion_w: str,
    speed_first: bool, bg_w: str,
) -> str:
    """Join one set of grammar choices into a caption."""
    head = " ".join(w for w in (size_w, spec.colour, shape_w) if w)
    if article:
        article = "an" if head[0] in "aeiou" else "a"
        head = f"{article} {head}"
    if spec.speed is None:
        verb = motion_w
    else:
        verb = f"{spec.speed} {motion_w}" if speed_first else f"{motion_w} {spec.speed}"
    return f"{head} {copula}{verb}{bg_w}"


def _choices(spec: ShapeSpec) -> tuple[tuple, ...]:
    """Independent option lists for each grammar slot of this spec."""
    return (
        _ARTICLES,
        _SIZE_WORDS[spec.size],
        _SHAPE_WORDS[spec.shape],
        _COPULAS,
        _motion_phrases(spec.motion),
        _SPEED_FIRST if spec.speed is not None else (False,),
        _BACKGROUND_PHRASES[spec.background],
    )


def caption(spec: ShapeSpec, rng: np.random.Generator) -> str:
    """Sample one grammar caption for spec (each slot chosen uniformly)."""
    picks = [opts[int(rng.integers(len(opts)))] for opts in _choices(spec)]
    return _assemble(spec, *picks)


def all_captions(spec: ShapeSpec) -> Iterator[str]:
    """Every caption the grammar can produce for spec (a few hundred at most)."""
    for picks in itertools.product(*_choices(spec)):
        yield _assemble(spec, *picks)


_CANONICAL_MOTION = {
    "left": "moving to the left",
    "right": "moving to the right",
    "up": "moving up",
    "down": "moving down",
    **{m: ps[0] for m, ps in _CHANGE_PHRASES.items()},
}


def canonical_caption(spec: ShapeSpec) -> str:
    """The single plain phrasing used for deterministic evaluation prompts."""
    motion_w = _CANONICAL_MOTION[spec.motion]
    bg_w = _BACKGROUND_PHRASES[spec.background][0]
    return _assemble(spec, "a", _SIZE_WORDS[spec.size][0], spec.shape, "", motion_w, False, bg_w)


_BG_RE = re.compile(r"\bon an? (black|white|gray|grey) background\b")
_WORD_TO_SHAPE = {w: s for s, ws in _SHAPE_WORDS.items() for w in ws}
_WORD_TO_SIZE = {w: s for s, ws in _SIZE_WORDS.items() if s for w in ws}
_PHRASE_TO_MOTION = [(p, m) for m, ps in _CHANGE_PHRASES.items() for p in ps]
_DIRECTION_TO_MOTION = {"left": "left", "right": "right", "up": "up", "upward": "up",
                        "down": "down", "downward": "down"}


def parse_caption(text: str) -> ShapeSpec:
    """Recover the spec of a grammar caption; ValueError if an attribute is missing."""
    s = " ".join(re.sub(r"[^a-z ]", " ", text.lower()).split())
    background = "black"
    m = _BG_RE.search(s)
    if m:
        background = "gray" if m.group(1) == "grey" else m.group(1)
        s = (s[: m.start()] + s[m.end():]).strip()
    words = s.split()
    colour = _first(w for w in words if w in COLOURS)
    shape = _first(_WORD_TO_SHAPE[w] for w in words if w in _WORD_TO_SHAPE)
    size = next((_WORD_TO_SIZE[w] for w in words if w in _WORD_TO_SIZE), None)
    speed = next((w for w in words if w in SPEEDS), None)
    padded = f" {s} "
    motion = next((mo for p, mo in _PHRASE_TO_MOTION if f" {p} " in padded), None)
    if motion is None:
        motion = _first(_DIRECTION_TO_MOTION[w] for w in words if w in _DIRECTION_TO_MOTION)
    return ShapeSpec(colour, shape, motion, size, speed, background)


def _first(items) -> str:
    """First item of an iterable, or ValueError when there is none."""
    for item in items:
        return item
    raise ValueError("caption is missing an attribute")


# --------------------------------------------------------------------------- eval prompts

# Free-form prompts outside the grammar (synonyms, word order, clauses it never uses).
_PARAPHRASES: tuple[tuple[str, ShapeSpec], ...] = (
    ("a crimson disc travelling towards the right edge", ShapeSpec("red", "circle", "right")),
    ("a blue cube rising to the top", ShapeSpec("blue", "square", "up")),
    ("an orange triangle that keeps getting larger", ShapeSpec("orange", "triangle", "growing")),
    ("a round green dot falling towards the bottom", ShapeSpec("green", "circle", "down")),
    ("the violet circle glides from right to left", ShapeSpec("purple", "circle", "left")),
    ("a lemon-coloured triangle sinking down the screen", ShapeSpec("yellow", "triangle", "down")),
    ("a snow-white orb that does not move at all", ShapeSpec("white", "circle", "still")),
    ("a scarlet cube getting tinier and tinier", ShapeSpec("red", "square", "shrinking")),
    ("a tiny azure square inflating", ShapeSpec("blue", "square", "growing", size="small")),
    ("a huge tangerine ball floating upwards", ShapeSpec("orange", "circle", "up", size="big")),
    ("a purple pyramid shape shrinking away to almost nothing",
     ShapeSpec("purple", "triangle", "shrinking")),
    ("an emerald tile stays put in the middle", ShapeSpec("green", "square", "still")),
    ("a golden triangle zooming across to the right",
     ShapeSpec("yellow", "triangle", "right", speed="quickly")),
    ("a red wedge creeping leftwards", ShapeSpec("red", "triangle", "left", speed="slowly")),
    ("a pale white square descending against a dark backdrop", ShapeSpec("white", "square", "down")),
    ("a purple disc that swells to twice its size", ShapeSpec("purple", "circle", "growing")),
    ("one blue triangle, motionless, on a light grey canvas",
     ShapeSpec("blue", "triangle", "still", background="gray")),
    ("a dark green circle dropping down on white",
     ShapeSpec("green", "circle", "down", background="white")),
)


def _grammar_prompts() -> list[tuple[str, ShapeSpec]]:
    """Deterministic canonical set: every colour, shape and motion >= 6 times."""
    sizes = (None, None, "small", "big")
    speeds = (None, "slowly", None, "quickly")
    out: list[tuple[str, ShapeSpec]] = []
    for i in range(42):
        colour, shape = list(COLOURS)[i % 7], SHAPES[i % 3]
        motion = MOTIONS[(i + i // 7) % 7]
        if (colour, shape, motion) in HELD_OUT:
            shape = SHAPES[(i + 1) % 3]  # same colour/motion with a seen shape
        background = ("white", "black", "black", "gray", "black", "black")[i % 6]
        if background == colour:
            background = "gray"
        speed = None if motion == "still" else speeds[(i // 2) % 4]
        spec = ShapeSpec(colour, shape, motion, sizes[i % 4], speed, background)
        out.append((canonical_caption(spec), spec))
    return out


def _held_out_prompts() -> list[tuple[str, ShapeSpec]]:
    """Each held-out combination with three distinct grammar phrasings."""
    out: list[tuple[str, ShapeSpec]] = []
    for colour, shape, motion in sorted(HELD_OUT):
        spec = ShapeSpec(colour, shape, motion)
        texts = [canonical_caption(spec)]
        rng = np.random.default_rng(len(out))
        while len(texts) < 3:
            text = caption(spec, rng)
            if text not in texts:
                texts.append(text)
        out.extend((t, spec) for t in texts)
    return out


def eval_prompts(split: str) -> list[tuple[str, ShapeSpec]]:
    """Evaluation prompts with true specs, of one split of `worlds.SPLITS`."""
    return split_prompts(split, _grammar_prompts, _held_out_prompts, _PARAPHRASES)


def understood() -> dict[str, tuple[str, ...]]:
    """What a model trained on this world understands, by attribute: the caption parser's words and phrases."""
    return {"colours": tuple(COLOURS), "shapes": tuple(_WORD_TO_SHAPE),
            "motions": tuple(dict.fromkeys([*_DIRECTION_TO_MOTION, *(p for p, _ in _PHRASE_TO_MOTION)])),
            "sizes": tuple(_WORD_TO_SIZE), "speeds": SPEEDS, "backgrounds": tuple(BACKGROUNDS)}


SUMMARY = {"colours": tuple(COLOURS), "shapes": SHAPES, "motions": MOTIONS}  # what a notice lists
