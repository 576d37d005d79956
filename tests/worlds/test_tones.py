"""Tests for the procedural `tones` audio world: specs, sampling, rendering, captions, eval prompts."""

from __future__ import annotations

import collections
import random
import re

import numpy as np
import pytest

from mediadiff.worlds import tones as T
from mediadiff.worlds.tones import HELD_OUT, ToneSpec

SR = T.SAMPLE_RATE


def _grammar_captions() -> set[str]:
    """Every caption the grammar can produce, over the whole world."""
    return {c for spec in T.all_specs() for c in T.all_captions(spec)}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower()))


# --------------------------------------------------------------------------- specs


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(pattern="chirp"),
        dict(pattern="steady", pitch="ultra"),
        dict(pattern="steady", timbre="smooth"),
        dict(pattern="steady", loudness="medium"),
        dict(pattern="noise", pitch="low"),
        dict(pattern="drum", timbre="pure"),
        dict(pattern="steady", pitch="low", timbre="pure", beeps=2),
        dict(pattern="beeps", beeps=0),
        dict(pattern="beeps", beeps=5),
        dict(pattern="beeps", beeps=True),
        dict(pattern="beeps", beeps=2.0),
    ],
)
def test_spec_rejects_invalid(kwargs):
    with pytest.raises(ValueError):
        ToneSpec(**kwargs)


def test_spec_completeness_and_triple():
    assert ToneSpec("noise").complete
    assert not ToneSpec("steady", pitch="low").complete
    assert not ToneSpec("beeps", "low", "pure").complete
    assert ToneSpec("beeps", "low", "pure", 3).complete
    assert ToneSpec("rising", "low", "bright").triple == ("low", "bright", "rising")


def test_all_specs_enumerates_world():
    specs = T.all_specs()
    assert len(specs) == len(set(specs)) == 3 * (3 * 3 * (3 + 4) + 2)
    assert all(s.complete for s in specs)
    assert not any(T.is_held_out(s) for s in T.all_specs(include_held_out=False))


# --------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("make_rng", [lambda: random.Random(0), lambda: np.random.default_rng(0)])
def test_sample_spec_never_yields_held_out(make_rng):
    rng = make_rng()
    specs = [T.sample_spec(rng) for _ in range(5000)]
    assert not any(T.is_held_out(s) for s in specs)
    assert all(s.complete for s in specs)
    # Uniform-ish: every value of every attribute shows up.
    assert {s.pattern for s in specs} == set(T.PATTERNS)
    assert {s.pitch for s in specs} == set(T.PITCHES) | {None}
    assert {s.timbre for s in specs} == set(T.TIMBRES) | {None}
    assert {s.beeps for s in specs} == {1, 2, 3, 4, None}
    assert {s.loudness for s in specs} == {"quiet", "loud", None}
    counts = collections.Counter(s.pattern for s in specs)
    assert min(counts.values()) > 0.05 * len(specs)


@pytest.mark.parametrize("make_rng", [lambda: random.Random(0), lambda: np.random.default_rng(0)])
def test_pattern_weights_scale_the_pattern_mix(make_rng):
    rng = make_rng()
    counts = collections.Counter(T.sample_spec(rng, pattern_weights={"beeps": 2.0}).pattern for _ in range(6000))
    # default mass 2 per pitched pattern, 1 per unpitched; beeps doubled: 4 / 12 (held-out redraws aside)
    assert 0.30 < counts["beeps"] / 6000 < 0.37, counts
    assert 0.06 < counts["drum"] / 6000 < 0.11, counts


# The first draws of seed 5 before pattern_weights existed: recipes without weights must render the same clips.
_FIRST_DRAWS = {
    "random": [("drum", None, None, None, "quiet"), ("beeps", "low", "bright", 4, None),
               ("steady", "low", "buzzy", None, None), ("falling", "medium", "bright", None, None)],
    "numpy": [("steady", "medium", "pure", None, "quiet"), ("drum", None, None, None, None),
              ("rising", "medium", "buzzy", None, None), ("beeps", "low", "pure", 1, None)],
}


@pytest.mark.parametrize("kind, make_rng", [("random", lambda: random.Random(5)),
                                            ("numpy", lambda: np.random.default_rng(5))])
def test_no_pattern_weights_draw_the_original_clips(kind, make_rng):
    rng = make_rng()
    drawn = [T.sample_spec(rng) for _ in range(4)]
    assert [(s.pattern, s.pitch, s.timbre, s.beeps, s.loudness) for s in drawn] == _FIRST_DRAWS[kind]
    assert collections.Counter(T._UNWEIGHTED_DRAW) == T.PATTERN_MASS  # the two spellings of the default mix


def test_sample_spec_can_include_held_out():
    rng = np.random.default_rng(1)
    seen = {s.triple for s in (T.sample_spec(rng, include_held_out=True) for _ in range(5000))}
    assert HELD_OUT <= seen


# --------------------------------------------------------------------------- rendering


@pytest.mark.parametrize("spec", [ToneSpec("steady", "low", "bright"), ToneSpec("beeps", "high", "buzzy", 4),
                                  ToneSpec("falling", "medium", "pure", loudness="loud"),
                                  ToneSpec("noise", loudness="quiet"), ToneSpec("drum")])
def test_render_is_deterministic_and_well_formed(spec):
    a = T.render(spec, rng=np.random.default_rng(7))
    b = T.render(spec, rng=np.random.default_rng(7))
    c = T.render(spec, rng=np.random.default_rng(8))
    assert a.dtype == np.float32 and a.ndim == 1
    assert np.array_equal(a, b)
    assert not np.array_equal(a[: len(c)], c[: len(a)])
    assert 2.0 * SR <= len(a) <= 4.0 * SR
    assert np.abs(a).max() <= 1.0 and np.isfinite(a).all()
    assert np.array_equal(T.render(spec, rng=random.Random(3)), T.render(spec, rng=random.Random(3)))


def test_render_without_rng_is_the_same_clip_in_every_process():
    """rng=None seeds from the spec with a stable hash, not hash(): processes with other hash salts agree."""
    import hashlib
    import os
    import subprocess
    import sys

    spec = ToneSpec("beeps", "high", "buzzy", 4)  # beep placement depends on the seed
    here = hashlib.sha256(T.render(spec).tobytes()).hexdigest()
    code = ("import hashlib; from mediadiff.worlds import tones as T; "
            f"print(hashlib.sha256(T.render(T.{spec!r}).tobytes()).hexdigest())")
    for salt in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": salt}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == here, salt
    assert not np.array_equal(T.render(spec), T.render(spec, rng=0))  # the spec's seed, not a fixed one


def test_render_length_sample_rate_and_levels():
    spec = ToneSpec("steady", "medium", "buzzy")
    assert len(T.render(spec, seconds=2.5, rng=0)) == 40000
    assert len(T.render(spec, seconds=3.0, sample_rate=22050, rng=0)) == 66150
    for loud, level in T.PEAK_LEVEL.items():
        peaks = [np.abs(T.render(ToneSpec("drum", loudness=loud), rng=i)).max() for i in range(5)]
        assert all(0.85 * level <= p <= 1.16 * level for p in peaks)


def test_render_rejects_bad_arguments():
    with pytest.raises(ValueError):
        T.render(ToneSpec("steady", pitch="low"))
    with pytest.raises(ValueError):
        T.render(ToneSpec("noise"), seconds=1.0)
    with pytest.raises(ValueError):
        T.render(ToneSpec("noise"), seconds=5.0)


def _runs(wave: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) sample ranges of non-zero audio."""
    on = np.concatenate([[0], (wave != 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(on))
    return list(zip(edges[::2], edges[1::2]))


def test_beeps_are_short_and_separated():
    rng = np.random.default_rng(2)
    for _ in range(120):
        n = int(rng.integers(1, 5))
        spec = ToneSpec("beeps", T.PITCHES[n % 3], T.TIMBRES[n % 3], n)
        wave = T.render(spec, seconds=float(rng.uniform(2, 4)), rng=rng)
        runs = _runs(wave)
        assert len(runs) == n
        assert all(0.15 * SR - 2 <= b - a <= 0.25 * SR + 2 for a, b in runs)
        assert all(nxt[0] - prev[1] >= 0.15 * SR for prev, nxt in zip(runs, runs[1:]))


def test_a_beep_layout_from_the_start_with_a_steady_rhythm():
    rng = np.random.default_rng(3)
    layout = T.BeepLayout(from_start=True, gap_s=(0.2, 0.3))
    for _ in range(60):
        n = int(rng.integers(1, 5))
        spec = ToneSpec("beeps", T.PITCHES[n % 3], T.TIMBRES[n % 3], n)
        runs = _runs(T.render(spec, seconds=float(rng.uniform(2, 4)), rng=rng, layout=layout))
        assert len(runs) == n
        assert 0.05 * SR - 2 <= runs[0][0] <= 0.2 * SR + 2
        silences = [nxt[0] - prev[1] for prev, nxt in zip(runs, runs[1:])]
        assert all(0.16 * SR <= g <= 0.34 * SR for g in silences), silences
    with pytest.raises(ValueError, match="gap_s"):
        T.BeepLayout(gap_s=(0.1, 0.3))
    # Anywhere (the default), a single beep lands past the first 0.2 s most of the time.
    starts = [_runs(T.render(ToneSpec("beeps", "low", "pure", 1), seconds=4.0, rng=k))[0][0] for k in range(20)]
    assert sum(s > 0.2 * SR for s in starts) >= 15


def test_sweeps_span_two_octaves_around_the_base():
    for pattern, sign in (("rising", 1), ("falling", -1)):
        wave = T.render(ToneSpec(pattern, "medium", "pure"), seconds=3.0, rng=4).astype(np.float64)
        (a, b), = _runs(wave)
        edge = int(0.25 * SR)

        def hz(seg: np.ndarray) -> float:
            return np.count_nonzero(np.diff(np.signbit(seg))) / 2 / (len(seg) / SR)

        start, end = hz(wave[a + 400:a + 400 + edge]), hz(wave[b - 400 - edge:b - 400])
        assert sign * np.log2(end / start) > 1.5  # ~2 octaves minus the edge windows
        assert abs(np.log2(np.sqrt(start * end) / 440.0)) < 0.1  # midpoint = base pitch


def test_harmonics_are_band_limited():
    wave = T.render(ToneSpec("rising", "high", "bright"), seconds=3.0, rng=5).astype(np.float64)
    power = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / SR)
    assert power[freqs > 7100].sum() < 1e-6 * power.sum()


def test_noise_and_drum_shapes():
    noise = T.render(ToneSpec("noise"), rng=1)
    (a, b), = _runs(noise)
    assert 0.5 * SR - 2 <= b - a <= 1.5 * SR + 2
    drum = np.abs(T.render(ToneSpec("drum"), rng=1)).astype(np.float64)
    onset = int(np.flatnonzero(drum)[0])
    early = drum[onset:onset + 1600].max()
    late = drum[onset + int(0.4 * SR):onset + int(0.5 * SR)].max()
    assert late < 0.05 * early  # decays by > 26 dB within 0.4 s


# --------------------------------------------------------------------------- captions


@pytest.mark.parametrize("make_rng", [lambda: random.Random(11), lambda: np.random.default_rng(11)])
def test_random_captions_parse_back(make_rng):
    rng = make_rng()
    for _ in range(3000):
        spec = T.sample_spec(rng, include_held_out=True)
        text = T.caption(spec, rng)
        assert T.parse_caption(text) == spec, text


def test_every_grammar_caption_parses_back():
    total = 0
    for spec in T.all_specs():
        captions = list(T.all_captions(spec))
        assert len(captions) == len(set(captions)) >= 4
        for text in captions:
            assert T.parse_caption(text) == spec, text
        total += len(captions)
    assert total > 5000


def test_caption_style():
    rng = random.Random(0)
    texts = [T.caption(T.sample_spec(rng), rng) for _ in range(2000)]
    assert not any(re.search(r"\ba [aeiou]|\s{2}|^\s|\s$|\d", t) for t in texts)
    beeps = [t for t in texts if "beep" in t]
    assert any(w in t for t in beeps for w in ("three", "twice"))  # counts in words
    assert T.canonical_caption(ToneSpec("beeps", "high", "buzzy", 3)) == "three short high buzzy beeps"
    assert T.canonical_caption(ToneSpec("drum", loudness="loud")) == "a loud drum hit"


def test_every_wide_grammar_caption_parses_back_to_what_it_names():
    total = 0
    for spec in T.all_specs():
        for named in T.captionable(spec, "wide"):
            captions = list(T.all_captions(named, "wide"))
            assert len(captions) == len(set(captions)) >= 3, named
            for text in captions:
                assert T.parse_caption(text) == named, text
            total += len(captions)
    assert total > 50_000


def test_wide_captions_leave_pitch_and_timbre_unnamed_at_their_rates():
    rng = np.random.default_rng(3)
    named = collections.Counter()
    for _ in range(4000):
        spec = T.sample_spec(rng)
        text = T.caption(spec, rng, "wide")
        parsed = T.parse_caption(text)
        assert parsed.pattern == spec.pattern and parsed.beeps == spec.beeps and parsed.loudness == spec.loudness
        assert parsed.pitch in (None, spec.pitch) and parsed.timbre in (None, spec.timbre), text
        assert not re.search(r"\ba [aeiou]|\s{2}|^\s|\s$|\d| ,", text), text
        if spec.pattern in T.PITCHED_PATTERNS:
            named[("P" if parsed.pitch else "") + ("T" if parsed.timbre else "")] += 1
    total = sum(named.values())
    for key, share in (("PT", 0.6), ("P", 0.2), ("T", 0.1), ("", 0.1)):
        assert abs(named[key] / total - share) < 0.03, (key, named)


def test_the_wide_grammar_adds_no_word_of_the_paraphrase_eval():
    base = set().union(*map(_words, _grammar_captions()))
    assert T.vocabulary("base") == base
    wide = T.vocabulary("wide")
    assert {len(T.captionable(ToneSpec("steady", "low", "pure"), g)) for g in T.GRAMMARS} == {1, 4}
    paraphrase_words = set().union(*(_words(t) for t, _ in T.eval_prompts("paraphrase")))
    added = wide - base
    assert {"drone", "pulses", "glissando", "crackling", "percussion"} <= added
    assert not added & paraphrase_words


def test_the_base_grammar_is_the_default_and_unchanged_by_the_wide_one():
    a, b = random.Random(5), random.Random(5)
    for _ in range(50):
        assert T.caption(T.sample_spec(a), a) == T.caption(T.sample_spec(b), b, "base")
    steady = ToneSpec("steady", "low", "pure")
    assert T.caption(steady, random.Random(0)) in set(T.all_captions(steady))
    with pytest.raises(ValueError, match="grammar"):
        T.caption(steady, random.Random(0), "broad")
    with pytest.raises(ValueError, match="incomplete"):
        list(T.all_captions(ToneSpec("steady", "low"), "base"))


def test_caption_and_parse_errors():
    with pytest.raises(ValueError):
        T.caption(ToneSpec("beeps", "low", "pure"), random.Random(0))
    with pytest.raises(ValueError):
        T.parse_caption("a pleasant afternoon")
    with pytest.raises(ValueError):
        T.parse_caption("a low high pure tone")


# --------------------------------------------------------------------------- eval prompts


def test_eval_prompt_structure():
    splits = ("grammar", "held_out", "paraphrase")
    texts = {}
    for split in splits:
        prompts = T.eval_prompts(split)
        texts[split] = {t for t, _ in prompts}
        assert len(texts[split]) == len(prompts)
        prompts.clear()  # each call builds its own list: a caller cannot change the eval set
        assert len(T.eval_prompts(split)) == len(texts[split])
    for i, a in enumerate(splits):
        for b in splits[i + 1:]:
            assert not texts[a] & texts[b], (a, b)  # no prompt counts for two splits
    assert len(texts["held_out"]) == 4 * len(HELD_OUT)  # four phrasings of each held-out combination
    with pytest.raises(ValueError):
        T.eval_prompts("train")


def test_grammar_prompts_cover_the_seen_world():
    prompts = T.eval_prompts("grammar")
    assert 30 <= len(prompts) <= 40
    specs = [s for _, s in prompts]
    assert not any(T.is_held_out(s) for s in specs)
    assert {(s.pattern, s.pitch) for s in specs if s.pitch} == {
        (p, q) for p in T.PITCHED_PATTERNS for q in T.PITCHES}
    assert {"noise", "drum"} <= {s.pattern for s in specs}
    assert {s.timbre for s in specs if s.timbre} == set(T.TIMBRES)
    assert {s.beeps for s in specs if s.beeps} == {1, 2, 3, 4}
    assert all(T.parse_caption(t) == s for t, s in prompts)


def test_held_out_prompts():
    prompts = T.eval_prompts("held_out")
    by_combo = collections.defaultdict(set)
    for text, spec in prompts:
        assert T.is_held_out(spec) and T.parse_caption(text) == spec
        by_combo[spec.triple].add(text)
    assert set(by_combo) == set(HELD_OUT)
    assert all(len(texts) >= 3 for texts in by_combo.values())


def test_paraphrases_are_outside_the_grammar():
    prompts = T.eval_prompts("paraphrase")
    assert 15 <= len(prompts) <= 20
    grammar = _grammar_captions()
    vocabulary = {w for c in grammar for w in re.findall(r"[a-z]+(?:-[a-z]+)*", c)}
    for text, spec in prompts:
        assert text not in grammar
        assert text.lower() not in grammar
        assert set(re.findall(r"[a-z]+(?:-[a-z]+)*", text.lower())) - vocabulary, text
    specs = [s for _, s in prompts]
    assert set(T.PATTERNS) <= {s.pattern for s in specs}
    assert any(s.pitch for s in specs) and any(s.beeps for s in specs)


# --------------------------------------------------------------------------- time reversal


@pytest.mark.parametrize("pattern,backwards", [("rising", "falling"), ("falling", "rising"), ("steady", "steady"),
                                               ("beeps", "beeps"), ("noise", "noise"), ("drum", None)])
def test_time_reversed_spec_describes_the_sound_played_backwards(pattern, backwards):
    from mediadiff.evaluation.audio import analyse

    pitched = pattern in T.PITCHED_PATTERNS
    spec = ToneSpec(pattern, "medium" if pitched else None, "bright" if pitched else None,
                    3 if pattern == "beeps" else None)
    reversed_spec = T.time_reversed(spec)
    if backwards is None:  # a drum hit played backwards swells: the world has no such sound
        assert reversed_spec is None
        return
    assert reversed_spec == ToneSpec(backwards, spec.pitch, spec.timbre, spec.beeps)
    wave = T.render(spec, seconds=3.0, rng=np.random.default_rng(4))
    got = analyse(wave[::-1].copy(), SR)
    assert got["pattern"] == backwards
    if pattern == "beeps":
        assert got["beeps"] == 3
