"""Procedural `tones` audio world: one short synthetic sound per 16 kHz mono clip.

A clip is a steady tone, 1-4 beeps, a rising or falling sweep (all pitched: a
pitch class and a timbre), a burst of white noise or a drum hit (unpitched).
Rendering is cheap and exactly labelled, so generated audio can be scored by
`mediadiff.evaluation.audio` against the spec it was asked for.

Conventions the analysers (and any model trained on this world) rely on:
- "pitch" of a clip is its fundamental's geometric-mean frequency over the
  sounding part; for sweeps that is the log-frequency midpoint (the sweep goes
  from base/2 to base*2 exponentially, i.e. two octaves centred on the base).
- levels are *peak* amplitudes: quiet ~0.1 (-20 dBFS), normal ~0.35, loud ~0.8.
- harmonics are synthesised additively and faded out between 6 and 7 kHz, so
  nothing aliases and mel spectrograms stay clean.
"""

from __future__ import annotations

import itertools
import random
import re
import string
import zlib
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from . import split_prompts

# Prompts shown first (the apps' examples, `mediadiff examples audio`); the sweep is a held-out combination.
EXAMPLE_PROMPTS = ("three short high beeps", "a low bright sweep rising", "a steady medium pure tone", "a loud drum hit")

SAMPLE_RATE = 16000
MIN_SECONDS, MAX_SECONDS = 2.0, 4.0

PITCH_HZ: dict[str, float] = {"low": 220.0, "medium": 440.0, "high": 880.0}
PITCHES: tuple[str, ...] = tuple(PITCH_HZ)
TIMBRES: tuple[str, ...] = ("pure", "buzzy", "bright")
PITCHED_PATTERNS: tuple[str, ...] = ("steady", "beeps", "rising", "falling")
UNPITCHED_PATTERNS: tuple[str, ...] = ("noise", "drum")
PATTERNS: tuple[str, ...] = PITCHED_PATTERNS + UNPITCHED_PATTERNS
LOUDNESS: tuple[str, ...] = ("quiet", "loud")
MAX_BEEPS = 4

# Target peak amplitude per loudness word (None = no word = normal level).
PEAK_LEVEL: dict[str | None, float] = {"quiet": 0.1, None: 0.35, "loud": 0.8}

# (pitch, timbre, pattern) combinations never shown in training captions.
HELD_OUT: frozenset[tuple[str, str, str]] = frozenset(
    {("high", "buzzy", "beeps"), ("low", "bright", "rising"), ("medium", "pure", "falling")}
)

SWEEP_OCTAVES = 2.0  # total sweep range; half below and half above the base pitch
_HARMONIC_TOP_HZ = 7000.0  # harmonics fade to zero here ...
_HARMONIC_TAPER_HZ = 1000.0  # ... starting this far below
_FADE_S = 0.012  # raised-cosine fades: long enough to avoid clicks, short enough to keep beeps crisp


@dataclass(frozen=True)
class ToneSpec:
    """Attributes of one tones clip; pitch/timbre/beeps may be None in partial (eval) specs."""

    pattern: str
    pitch: str | None = None
    timbre: str | None = None
    beeps: int | None = None
    loudness: str | None = None

    def __post_init__(self) -> None:
        """Reject unknown values and attributes that do not apply to the pattern."""
        _check(self.pattern, PATTERNS, "pattern")
        if self.pitch is not None:
            _check(self.pitch, PITCHES, "pitch")
        if self.timbre is not None:
            _check(self.timbre, TIMBRES, "timbre")
        if self.loudness is not None:
            _check(self.loudness, LOUDNESS, "loudness")
        if self.pattern in UNPITCHED_PATTERNS and (self.pitch or self.timbre):
            raise ValueError(f"{self.pattern} has no pitch or timbre")
        if self.beeps is not None:
            if self.pattern != "beeps":
                raise ValueError("beeps count only applies to the beeps pattern")
            if isinstance(self.beeps, bool) or not isinstance(self.beeps, int) or not 1 <= self.beeps <= MAX_BEEPS:
                raise ValueError(f"beeps must be an int in 1..{MAX_BEEPS}, got {self.beeps!r}")

    @property
    def triple(self) -> tuple[str | None, str | None, str]:
        """The (pitch, timbre, pattern) combination used for held-out splits."""
        return (self.pitch, self.timbre, self.pattern)

    @property
    def complete(self) -> bool:
        """True when every attribute needed to render (and caption) the spec is set."""
        if self.pattern in UNPITCHED_PATTERNS:
            return True
        return self.pitch is not None and self.timbre is not None and (
            self.pattern != "beeps" or self.beeps is not None
        )


def _check(value, allowed, name: str) -> None:
    """Raise ValueError unless value is one of allowed."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {list(allowed)}")


def is_held_out(spec: ToneSpec) -> bool:
    """True when the spec's (pitch, timbre, pattern) is a held-out combination."""
    return spec.triple in HELD_OUT


_REVERSED_PATTERN = {"rising": "falling", "falling": "rising", "steady": "steady", "beeps": "beeps",
                     "noise": "noise", "drum": None}  # a drum hit played backwards swells: not in the world


def time_reversed(spec: ToneSpec) -> ToneSpec | None:
    """The spec of `spec`'s sound played backwards, or None when the world has no such sound."""
    pattern = _REVERSED_PATTERN[spec.pattern]
    return None if pattern is None else replace(spec, pattern=pattern)


def all_specs(include_held_out: bool = True) -> list[ToneSpec]:
    """Every complete spec of the world (loudness included), in a fixed order."""
    out = []
    for loud in (None, *LOUDNESS):
        for pattern in PITCHED_PATTERNS:
            counts = range(1, MAX_BEEPS + 1) if pattern == "beeps" else (None,)
            for pitch, timbre, n in itertools.product(PITCHES, TIMBRES, counts):
                out.append(ToneSpec(pattern, pitch, timbre, n, loud))
        out.extend(ToneSpec(p, loudness=loud) for p in UNPITCHED_PATTERNS)
    return [s for s in out if include_held_out or not is_held_out(s)]


# --------------------------------------------------------------------------- rng helpers

Rng = random.Random | np.random.Generator


def _pick(rng: Rng, options):
    """Uniform choice from a sequence for either rng flavour."""
    if isinstance(rng, random.Random):
        return rng.choice(options)
    return options[int(rng.integers(len(options)))]


def _weighted_pick(rng: Rng, options: tuple[str, ...], weights: list[float]) -> str:
    """Choice from options with the given (unnormalised) weights, for either rng flavour."""
    if isinstance(rng, random.Random):
        return rng.choices(options, weights)[0]
    p = np.asarray(weights, dtype=float)
    return options[int(rng.choice(len(options), p=p / p.sum()))]


def _uniform(rng: Rng, lo: float, hi: float) -> float:
    """Uniform float in [lo, hi] for either rng flavour."""
    return float(rng.uniform(lo, hi))


def _as_generator(rng: Rng | int | None, spec: ToneSpec) -> np.random.Generator:
    """numpy Generator from a Generator, random.Random, int seed, or None (seeded by the spec)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, random.Random):
        return np.random.default_rng(rng.getrandbits(64))
    if rng is None:
        # A stable hash (not hash()) so render(spec) is reproducible across processes.
        return np.random.default_rng(zlib.crc32(repr(spec).encode()))
    return np.random.default_rng(int(rng))


# --------------------------------------------------------------------------- sampling


# Each pitched pattern gets 1/5 of the mass, noise and drum 1/10 each: drawn uniformly from this tuple (its order
# fixes which clips a seed renders), and the same mix as weights for reweighted draws.
_UNWEIGHTED_DRAW = PITCHED_PATTERNS + PITCHED_PATTERNS + UNPITCHED_PATTERNS
PATTERN_MASS: dict[str, float] = {p: float(_UNWEIGHTED_DRAW.count(p)) for p in PATTERNS}


def sample_spec(rng: Rng, include_held_out: bool = False, pattern_weights: dict[str, float] | None = None
                ) -> ToneSpec:
    """Draw a random complete spec; held-out combinations only when include_held_out; `pattern_weights`
    multiplies the default mass of the patterns it names (e.g. {"beeps": 2.0})."""
    while True:
        if pattern_weights:
            mass = [PATTERN_MASS[p] * float(pattern_weights.get(p, 1.0)) for p in PATTERNS]
            pattern = _weighted_pick(rng, PATTERNS, mass)
        else:  # the original draw, kept so recipes without weights render the same clips
            pattern = _pick(rng, _UNWEIGHTED_DRAW)
        loudness = _pick(rng, (None, None, "quiet", "loud"))
        if pattern in UNPITCHED_PATTERNS:
            return ToneSpec(pattern, loudness=loudness)
        beeps = _pick(rng, range(1, MAX_BEEPS + 1)) if pattern == "beeps" else None
        spec = ToneSpec(pattern, _pick(rng, PITCHES), _pick(rng, TIMBRES), beeps, loudness)
        if include_held_out or not is_held_out(spec):
            return spec


# --------------------------------------------------------------------------- rendering


def _fade(n: int, sr: int) -> np.ndarray:
    """Gain curve of n samples with raised-cosine fade-in and fade-out."""
    g = np.ones(n)
    k = min(int(_FADE_S * sr), n // 2)
    if k > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
        g[:k] *= ramp
        g[n - k:] *= ramp[::-1]
    return g


def _oscillator(freq: np.ndarray, timbre: str, sr: int, phase0: float) -> np.ndarray:
    """Band-limited sine/square/saw for a per-sample frequency track (Hz)."""
    phase = phase0 + 2 * np.pi * np.cumsum(freq) / sr
    top = min(_HARMONIC_TOP_HZ, 0.45 * sr)
    out = np.zeros_like(freq)
    h_max = 1 if timbre == "pure" else int(top // float(freq.min()))
    step = 2 if timbre == "buzzy" else 1  # square: odd harmonics only
    for h in range(1, h_max + 1, step):
        # Fade each harmonic out as it nears the top so sweeps never alias or click.
        gain = np.clip((top - h * freq) / _HARMONIC_TAPER_HZ, 0.0, 1.0)
        if h > 1 and not gain.any():
            break
        out += gain * np.sin(h * phase) / h
    return out


def _sounding_span(seconds: float, rng: np.random.Generator) -> tuple[float, float]:
    """Start and end (s) of a long sound that fills most of the clip."""
    return _uniform(rng, 0.05, 0.3), seconds - _uniform(rng, 0.05, 0.3)


@dataclass(frozen=True)
class BeepLayout:
    """Where a group of beeps goes: anywhere it fits with 0.2-0.6 s gaps by default; `from_start` puts it
    0.05-0.2 s into the clip and a narrow `gap_s` keeps a steady rhythm, so each count ends at its own time."""

    from_start: bool = False
    gap_s: tuple[float, float] = (0.2, 0.6)  # >= 0.2 s: the +-0.02 s jitter keeps every silence >= 0.16 s

    def __post_init__(self):
        lo, hi = self.gap_s
        if not 0.2 <= lo <= hi <= 1.0:
            raise ValueError(f"gap_s must be (shortest, longest) with 0.2 <= shortest <= longest <= 1.0, "
                             f"got {self.gap_s}")

    @classmethod
    def from_dict(cls, d: dict | None) -> BeepLayout:
        """The layout a training config's data.beep_layout mapping names (None: the default)."""
        d = d or {}
        return cls(d.get("from_start", False), tuple(d.get("gap_s", cls.gap_s)))


def _base_frequency(spec: ToneSpec, rng: np.random.Generator) -> float:
    """Nominal pitch with +-3% variation."""
    return PITCH_HZ[spec.pitch] * _uniform(rng, 0.97, 1.03)


def _pitched(spec: ToneSpec, n: int, sr: int, rng: np.random.Generator, layout: BeepLayout) -> np.ndarray:
    """Steady tone, sweep or beeps (pitch and timbre from spec)."""
    seconds = n / sr
    base = _base_frequency(spec, rng)
    freq = np.full(n, base)
    gate = np.zeros(n)
    if spec.pattern == "beeps":
        for start, dur in _beep_layout(spec.beeps, seconds, rng, layout):
            a, b = int(start * sr), int((start + dur) * sr)
            gate[a:b] = _fade(b - a, sr) * _uniform(rng, 0.85, 1.0)
    else:
        t0, t1 = _sounding_span(seconds, rng)
        a, b = int(t0 * sr), int(t1 * sr)
        gate[a:b] = _fade(b - a, sr)
        if spec.pattern in ("rising", "falling"):
            # Exponential glide centred (in log-frequency) on the base pitch.
            u = np.clip((np.arange(n) - a) / (b - a), 0.0, 1.0)
            u = u if spec.pattern == "rising" else 1.0 - u
            freq = base * 2.0 ** (SWEEP_OCTAVES * (u - 0.5))
    return gate * _oscillator(freq, spec.timbre, sr, _uniform(rng, 0, 2 * np.pi))


def _beep_layout(count: int, seconds: float, rng: np.random.Generator, layout: BeepLayout
                 ) -> list[tuple[float, float]]:
    """(start, duration) of each beep: 0.15-0.25 s long, silences >= 0.15 s, gaps and start as `layout` says."""
    lead, tail = _uniform(rng, 0.05, 0.2), _uniform(rng, 0.05, 0.15)
    span = seconds - lead - tail  # >= 1.65 s, enough for 4 x 0.25 s + 3 x 0.2 s
    dur = _uniform(rng, 0.15, 0.25)
    if count == 1:
        return [(lead if layout.from_start else lead + _uniform(rng, 0.0, span - dur), dur)]
    room = (span - count * dur) / (count - 1)
    if room < 0.2:
        dur = min(dur, (span - 0.2 * (count - 1)) / count)
        room = 0.2
    shortest, longest = layout.gap_s
    gap = _uniform(rng, shortest, max(shortest, min(longest, room)))
    first = lead if layout.from_start else lead + _uniform(rng, 0.0, max(0.0, span - count * dur - (count - 1) * gap))
    out = []
    for i in range(count):
        jitter = _uniform(rng, -0.02, 0.02) if 0 < i < count - 1 else 0.0
        out.append((first + i * (dur + gap) + jitter, dur))
    return out


def _noise(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A 0.5-1.5 s burst of white noise somewhere in the clip."""
    seconds = n / sr
    dur = _uniform(rng, 0.5, min(1.5, seconds - 0.2))
    a = int(_uniform(rng, 0.05, seconds - dur - 0.05) * sr)
    b = a + int(dur * sr)
    out = np.zeros(n)
    out[a:b] = rng.standard_normal(b - a) * _fade(b - a, sr)
    return out


def _drum(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A kick-like thump: sine gliding down from ~150 Hz to ~50 Hz, exponential decay, tiny click."""
    seconds = n / sr
    a = int(_uniform(rng, 0.05, min(1.0, seconds - 0.9)) * sr)
    m = min(int(0.8 * sr), n - a)
    t = np.arange(m) / sr
    f_hi, f_lo = _uniform(rng, 130.0, 170.0), _uniform(rng, 45.0, 60.0)
    freq = f_lo + (f_hi - f_lo) * np.exp(-t / 0.04)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / _uniform(rng, 0.07, 0.13))
    click = 0.15 * rng.standard_normal(m) * np.exp(-t / 0.003)
    # 2 ms attack (a hard edge would alias) and a 50 ms release to silence at 0.8 s.
    gain = np.minimum(1.0, t / 0.002) * np.clip((t[-1] - t) / 0.05, 0.0, 1.0)
    out = np.zeros(n)
    out[a:a + m] = (body + click) * gain
    return out


def render(
    spec: ToneSpec, seconds: float | None = None, sample_rate: int = SAMPLE_RATE, rng: Rng | int | None = None,
    layout: BeepLayout = BeepLayout(),
) -> np.ndarray:
    """Render a clip as float32 (samples,) in [-1, 1]; rng varies timing, pitch, phase and level; `layout`
    places the beeps."""
    if not spec.complete:
        raise ValueError(f"cannot render an incomplete spec: {spec}")
    g = _as_generator(rng, spec)
    if seconds is None:
        seconds = _uniform(g, MIN_SECONDS, MAX_SECONDS)
    if not MIN_SECONDS <= seconds <= MAX_SECONDS + 1e-9:
        raise ValueError(f"seconds must be in [{MIN_SECONDS}, {MAX_SECONDS}], got {seconds}")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be >= 8000, got {sample_rate}")
    n = int(round(seconds * sample_rate))
    if spec.pattern == "noise":
        wave = _noise(n, sample_rate, g)
    elif spec.pattern == "drum":
        wave = _drum(n, sample_rate, g)
    else:
        wave = _pitched(spec, n, sample_rate, g, layout)
    peak = PEAK_LEVEL[spec.loudness] * _uniform(g, 0.87, 1.15)
    wave *= peak / max(float(np.abs(wave).max()), 1e-12)
    return np.clip(wave, -1.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------- captions

_PITCH_WORDS = {"low": ("low", "deep", "low-pitched"), "medium": ("medium", "mid", "mid-pitched"),
                "high": ("high", "high-pitched")}
_PITCH_NOUNS = {"low": ("low",), "medium": ("medium", "mid"), "high": ("high",)}
_TIMBRE_WORDS = {"pure": ("pure", "sine", "clean"), "buzzy": ("buzzy", "square", "square-wave"),
                 "bright": ("bright", "sawtooth", "saw")}
_TIMBRE_ADJ = {"pure": ("pure", "clean"), "buzzy": ("buzzy",), "bright": ("bright",)}  # predicative use
_LOUD_WORDS = {None: ("",), "quiet": ("quiet ", "soft "), "loud": ("loud ",)}
_COUNT_WORDS = {1: ("one", "a single"), 2: ("two", "a pair of"), 3: ("three",), 4: ("four",)}
_TIMES_WORDS = {1: ("once", "one time"), 2: ("twice", "two times"), 3: ("three times",), 4: ("four times",)}
_DIRECTION_ADJ = {"rising": ("rising", "ascending", "upward"), "falling": ("falling", "descending", "downward")}
_DIRECTION_ADV = {"rising": ("up", "upwards"), "falling": ("down", "downwards")}

# Slots: L loudness adjective (with its space, or empty), P pitch adjective, Pn pitch
# noun, T timbre, Ta timbre adjective, N count, X repetitions, B beep noun, D direction adjective, V direction adverb.
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "steady": (
        "a {L}{P} {T} tone",
        "a {L}steady {P} {T} tone",
        "a {L}{T} tone, {P} and steady",
        "a {L}sustained {P} {T} note",
        "{L}{T} tone at {Pn} pitch, held steady",
    ),
    "beeps": (
        "{N} short {L}{P} {T} {B}",
        "{L}{P} {T} beeping, {X}",
        "{N} {L}{T} {B} at {Pn} pitch",
        "a {L}{P} {T} tone beeping {X}",
    ),
    "sweep": (
        "a {L}{D} {P} {T} sweep",
        "a {L}{D} sweep, {P} and {Ta}",
        "a {L}{P} {T} tone sliding {V}",
        "a {L}{P} {T} glide going {V}",
    ),
    "noise": (
        "a {L}burst of white noise",
        "{L}white noise",
        "a {L}noise burst",
        "a short {L}burst of noise",
    ),
    "drum": (
        "a {L}drum hit",
        "a {L}drum thump",
        "the {L}thump of a drum",
        "a {L}percussive drum hit",
    ),
}


GRAMMARS: tuple[str, ...] = ("base", "wide")

# The wide grammar (`grammar="wide"`): more nouns and phrasings per pattern, and captions that leave the pitch
# and/or the timbre unnamed, as people write them ("three short high beeps"). Its words were chosen without
# reading the free-paraphrase eval set, and it uses no word of that set that the base grammar lacks
# (tests/worlds/test_tones.py checks), so the paraphrases stay unseen in training.
# Keys name what a template names besides the pattern: P the pitch, T the timbre.
_WIDE_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "steady": {
        "PT": ("a {L}{P} {T} drone", "a {L}constant {P} {T} {S}", "a long, steady {L}{P} {T} {S}",
               "a continuous {L}{T} {S} at {Pn} pitch"),
        "P": ("a {L}steady {P} {S}", "a {L}constant {P} {S}", "a long, continuous {L}{P} {S}",
              "a {L}{P} {S}, held steady"),
        "T": ("a {L}steady {T} {S}", "a {L}constant {T} {S}", "a continuous {L}{T} {S}"),
        "": ("a {L}steady {S}", "a {L}constant {S}", "a long, continuous {L}{S}"),
    },
    "beeps": {
        "PT": ("{N} brief {L}{P} {T} {B}", "{L}{T} {B} at {Pn} pitch, {X}"),
        "P": ("{N} short {L}{P} {B}", "{N} {L}{B} at {Pn} pitch", "{L}{P} {B}, {X}"),
        "T": ("{N} short {L}{T} {B}", "{N} brief {L}{T} {B}"),
        "": ("{N} short {L}{B}", "{N} brief {L}{B}", "{L}{B}, {X}"),
    },
    "sweep": {
        "PT": ("a {L}{D} {P} {T} glissando", "a {L}{P} {T} note bending {V}", "a {L}{P} {T} tone gliding {V}"),
        "P": ("a {L}{D} {P} sweep", "a {L}{P} note gliding {V}", "a {L}{D} {P} glissando"),
        "T": ("a {L}{D} {T} sweep", "a {L}{T} note sweeping {V}", "a {L}{T} tone bending {V}"),
        "": ("a {L}{D} sweep", "a {L}{D} glissando", "a {L}note bending {V}", "a {L}tone gliding {V}"),
    },
    "noise": {"": ("a {L}rush of noise", "{L}crackling noise", "a {L}blast of random noise", "{L}sizzling noise",
                   "a {L}fizz of noise")},
    "drum": {"": ("a {L}bang on a drum", "a {L}booming drum stroke", "a {L}knock on a drum", "a {L}drum beat",
                  "a {L}percussion hit")},
}
_WIDE_WORDS = {"S": ("tone", "note", "drone"), "B1": ("beep", "bleep", "pulse", "pip"),
               "B": ("beeps", "bleeps", "pulses", "pips"),
               "T": {"pure": ("mellow",), "buzzy": ("reedy",), "bright": ("brassy",)}}
# How often a wide caption names both, only the pitch, only the timbre or neither (pitched patterns).
_NAMED_MASS = {"PT": 0.6, "P": 0.2, "T": 0.1, "": 0.1}


def _group(pattern: str) -> str:
    """The template group of a pattern (rising and falling share the sweep templates)."""
    return "sweep" if pattern in ("rising", "falling") else pattern


def _named(spec: ToneSpec) -> str:
    """What a spec names besides its pattern: 'PT', 'P', 'T' or ''."""
    return ("P" if spec.pitch else "") + ("T" if spec.timbre else "")


def _templates(spec: ToneSpec, grammar: str = "base") -> tuple[str, ...]:
    """Templates that name exactly what `spec` names; the base grammar has complete specs only."""
    base = _TEMPLATES[_group(spec.pattern)] if spec.complete else ()
    if grammar == "base":
        return base
    return base + _WIDE_TEMPLATES[_group(spec.pattern)].get(_named(spec), ())


def _slot_options(spec: ToneSpec, grammar: str = "base") -> dict[str, tuple[str, ...]]:
    """Word options for every slot the spec can fill."""
    wide = grammar == "wide"
    opts = {"L": _LOUD_WORDS[spec.loudness]}
    if spec.pitch is not None:
        opts.update(P=_PITCH_WORDS[spec.pitch], Pn=_PITCH_NOUNS[spec.pitch])
    if spec.timbre is not None:
        opts.update(T=_TIMBRE_WORDS[spec.timbre] + (_WIDE_WORDS["T"][spec.timbre] if wide else ()),
                    Ta=_TIMBRE_ADJ[spec.timbre])
    if spec.beeps is not None:
        nouns = (("beep",), ("beeps",)) if not wide else (_WIDE_WORDS["B1"], _WIDE_WORDS["B"])
        opts.update(N=_COUNT_WORDS[spec.beeps], X=_TIMES_WORDS[spec.beeps], B=nouns[spec.beeps > 1])
    if spec.pattern in _DIRECTION_ADJ:
        opts.update(D=_DIRECTION_ADJ[spec.pattern], V=_DIRECTION_ADV[spec.pattern])
    if wide:
        opts.update(S=_WIDE_WORDS["S"])
    return opts


_AN = re.compile(r"\ba (?=[aeiou])")


def _fill(template: str, words: dict[str, str]) -> str:
    """Format a template and fix the article before vowel-initial words."""
    return _AN.sub("an ", template.format(**words))


def _slots(template: str) -> list[str]:
    """Slot names used by a template, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _require_complete(spec: ToneSpec) -> None:
    """Captions need every attribute the pattern uses."""
    if not spec.complete:
        raise ValueError(f"cannot caption an incomplete spec: {spec}")


def _unnamed(spec: ToneSpec, rng: Rng) -> ToneSpec:
    """`spec` with its pitch and/or timbre left unnamed at the wide grammar's rates (pitched patterns only)."""
    if spec.pattern in UNPITCHED_PATTERNS:
        return spec
    named = _weighted_pick(rng, tuple(_NAMED_MASS), list(_NAMED_MASS.values()))
    return replace(spec, pitch=spec.pitch if "P" in named else None, timbre=spec.timbre if "T" in named else None)


def caption(spec: ToneSpec, rng: Rng, grammar: str = "base") -> str:
    """Sample one caption for a complete spec (template and each slot chosen uniformly); the wide grammar may
    leave the pitch and/or timbre unnamed (parse_caption then gives the spec without them)."""
    _require_complete(spec)
    _check(grammar, GRAMMARS, "grammar")
    named = _unnamed(spec, rng) if grammar == "wide" else spec
    template = _pick(rng, _templates(named, grammar))
    opts = _slot_options(named, grammar)
    return _fill(template, {s: _pick(rng, opts[s]) for s in _slots(template)})


def _realise(spec: ToneSpec, template_index: int, variant: int = 0) -> str:
    """A deterministic caption: given template, variant-th option of each slot (cyclic)."""
    _require_complete(spec)
    templates = _templates(spec)
    template = templates[template_index % len(templates)]
    opts = _slot_options(spec)
    return _fill(template, {s: opts[s][variant % len(opts[s])] for s in _slots(template)})


def canonical_caption(spec: ToneSpec) -> str:
    """The plain phrasing used for deterministic evaluation prompts."""
    return _realise(spec, 0, 0)


def all_captions(spec: ToneSpec, grammar: str = "base") -> Iterator[str]:
    """Every caption the grammar can produce for a complete spec naming all it has (a few dozen); in the wide
    grammar `spec` may also leave its pitch and/or timbre unnamed."""
    _check(grammar, GRAMMARS, "grammar")
    if grammar == "base":
        _require_complete(spec)
    opts = _slot_options(spec, grammar)
    for template in _templates(spec, grammar):
        names = _slots(template)
        for words in itertools.product(*(opts[s] for s in names)):
            yield _fill(template, dict(zip(names, words)))


def captionable(spec: ToneSpec, grammar: str = "base") -> list[ToneSpec]:
    """`spec` and, in the wide grammar, the partial specs its captions may name instead (pitch and/or timbre
    unnamed)."""
    if grammar == "base" or spec.pattern in UNPITCHED_PATTERNS:
        return [spec]
    return [spec, replace(spec, pitch=None), replace(spec, timbre=None), replace(spec, pitch=None, timbre=None)]


def vocabulary(grammar: str = "base") -> set[str]:
    """Every word the grammar's captions use, over the whole world (held-out specs included)."""
    return {word for spec in all_specs() for named in captionable(spec, grammar)
            for text in all_captions(named, grammar) for word in _TOKEN.findall(text)}


# Word -> attribute value for parsing; multi-word slot options contribute their key word.
_WORD_PITCH = {w: p for p, ws in _PITCH_WORDS.items() for w in ws} | {"middle": "medium"}
_WORD_TIMBRE = {w: t for t, ws in _TIMBRE_WORDS.items() for w in ws} | {
    w: t for t, ws in _WIDE_WORDS["T"].items() for w in ws}
_WORD_LOUD = {"quiet": "quiet", "soft": "quiet", "loud": "loud"}
_WORD_COUNT = {"one": 1, "single": 1, "once": 1, "two": 2, "pair": 2, "twice": 2, "three": 3, "four": 4}
_WORD_PATTERN = (
    {"noise": "noise", "drum": "drum", "percussion": "drum", "beeping": "beeps"}
    | {w: "beeps" for w in _WIDE_WORDS["B1"] + _WIDE_WORDS["B"]}
    | {w: d for d, ws in _DIRECTION_ADJ.items() for w in ws}
    | {w: d for d, ws in _DIRECTION_ADV.items() for w in ws}
)
_WORD_STEADY = {"steady", "sustained", "constant", "continuous", "drone"}  # name the pattern when nothing else does
_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*")


def _only(values: list, name: str):
    """The single distinct value in values, None if empty; ValueError if they disagree."""
    distinct = set(values)
    if len(distinct) > 1:
        raise ValueError(f"caption names conflicting {name}s: {sorted(map(str, distinct))}")
    return distinct.pop() if distinct else None


def parse_caption(text: str) -> ToneSpec:
    """Recover the spec of a grammar caption; ValueError if no pattern or conflicting words."""
    words = _TOKEN.findall(text.lower())
    pitch = _only([_WORD_PITCH[w] for w in words if w in _WORD_PITCH], "pitch")
    timbre = _only([_WORD_TIMBRE[w] for w in words if w in _WORD_TIMBRE], "timbre")
    loudness = _only([_WORD_LOUD[w] for w in words if w in _WORD_LOUD], "loudness")
    pattern = _only([_WORD_PATTERN[w] for w in words if w in _WORD_PATTERN], "pattern")
    if pattern is None and (pitch or timbre or _WORD_STEADY.intersection(words)):
        pattern = "steady"  # a pitched caption without beeps or direction words
    if pattern is None:
        raise ValueError(f"caption names no pattern: {text!r}")
    beeps = None
    if pattern == "beeps":
        beeps = _only([_WORD_COUNT[w] for w in words if w in _WORD_COUNT], "count")
    return ToneSpec(pattern, pitch, timbre, beeps, loudness)


# --------------------------------------------------------------------------- eval prompts

# Free-form prompts outside the grammar; specs state only what the text states.
_PARAPHRASES: tuple[tuple[str, ToneSpec], ...] = (
    ("a deep hum that keeps going", ToneSpec("steady", pitch="low")),
    ("two quick chirps, very high", ToneSpec("beeps", pitch="high", beeps=2)),
    ("the sound of static", ToneSpec("noise")),
    ("a siren going up", ToneSpec("rising")),
    ("someone hits a kick drum", ToneSpec("drum")),
    ("a whistle whose pitch slides downward", ToneSpec("falling")),
    ("an electronic buzz at a middle pitch, held for a while", ToneSpec("steady", pitch="medium", timbre="buzzy")),
    ("four blips from an alarm clock", ToneSpec("beeps", beeps=4)),
    ("radio hiss between stations", ToneSpec("noise")),
    ("a single thud, like a bass drum", ToneSpec("drum")),
    ("three low bloops", ToneSpec("beeps", pitch="low", beeps=3)),
    ("an organ note way down in the bass, unchanging", ToneSpec("steady", pitch="low")),
    ("a smooth flute-like note in the middle register", ToneSpec("steady", pitch="medium", timbre="pure")),
    ("one short ping up high", ToneSpec("beeps", pitch="high", beeps=1)),
    ("a shrill whine that never changes", ToneSpec("steady", pitch="high")),
    ("a rasping synth lead that climbs in pitch", ToneSpec("rising", timbre="bright")),
    ("a slide whistle dropping in pitch", ToneSpec("falling")),
    ("a tom drum struck once, loudly", ToneSpec("drum", loudness="loud")),
    ("a faint hiss like a distant waterfall", ToneSpec("noise", loudness="quiet")),
)


def _grammar_prompts() -> list[tuple[str, ToneSpec]]:
    """Canonical captions: every pitched pattern x pitch x timbre not held out, plus noise and drum."""
    out: list[tuple[str, ToneSpec]] = []
    for pattern in PITCHED_PATTERNS:
        for i, (pitch, timbre) in enumerate(itertools.product(PITCHES, TIMBRES)):
            beeps = 1 + i % MAX_BEEPS if pattern == "beeps" else None
            spec = ToneSpec(pattern, pitch, timbre, beeps)
            if not is_held_out(spec):
                out.append((canonical_caption(spec), spec))
    for pattern in UNPITCHED_PATTERNS:
        for loud in (None, "quiet", "loud"):
            spec = ToneSpec(pattern, loudness=loud)
            out.append((canonical_caption(spec), spec))
    return out


def _held_out_prompts() -> list[tuple[str, ToneSpec]]:
    """Each held-out combination with four distinct grammar phrasings."""
    out: list[tuple[str, ToneSpec]] = []
    for pitch, timbre, pattern in sorted(HELD_OUT):
        for k in range(4):
            spec = ToneSpec(pattern, pitch, timbre, k + 1 if pattern == "beeps" else None)
            out.append((_realise(spec, k, k), spec))
    return out


def eval_prompts(split: str) -> list[tuple[str, ToneSpec]]:
    """Evaluation prompts with true specs, of one split of `worlds.SPLITS`."""
    return split_prompts(split, _grammar_prompts, _held_out_prompts, _PARAPHRASES)


def understood() -> dict[str, tuple[str, ...]]:
    """What a model trained on this world understands, by attribute: the caption parser's words."""
    return {"patterns": tuple(dict.fromkeys([*_WORD_PATTERN, *sorted(_WORD_STEADY)])), "pitches": tuple(_WORD_PITCH),
            "timbres": tuple(_WORD_TIMBRE), "counts": tuple(_WORD_COUNT), "loudness": tuple(_WORD_LOUD)}


SUMMARY = {"patterns": PATTERNS, "pitches": PITCHES, "timbres": TIMBRES}  # what a notice lists
