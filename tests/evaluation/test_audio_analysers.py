"""The audio analysers must read the ground truth of rendered `tones` clips."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from mediadiff.evaluation import audio as A
from mediadiff.worlds import tones as T
from mediadiff.worlds.tones import ToneSpec

SR = 16000


def _additive(hz: float, kind: str, seconds: float = 1.0, sr: int = SR) -> np.ndarray:
    """Band-limited sine/square/saw written independently of the tones renderer."""
    t = np.arange(int(seconds * sr)) / sr
    hs = {"sine": [1], "square": range(1, 40, 2), "saw": range(1, 40)}[kind]
    wave = sum(np.sin(2 * np.pi * h * hz * t) / h for h in hs if h * hz < 0.45 * sr)
    return 0.5 * wave / np.abs(wave).max()


def _accuracies(results: list[tuple[ToneSpec, dict]]) -> dict[str, float]:
    """Mean correctness per scored attribute."""
    scores: dict[str, list[bool]] = {}
    for spec, measured in results:
        for key, ok in A.score(measured, spec).items():
            scores.setdefault(key, []).append(ok)
    return {k: float(np.mean(v)) for k, v in scores.items()}


@pytest.fixture(scope="module")
def rendered() -> list[tuple[ToneSpec, dict]]:
    """200 random clips (held-out combinations included) with their analyses."""
    rng = np.random.default_rng(2024)
    out = []
    for _ in range(200):
        spec = T.sample_spec(rng, include_held_out=True)
        out.append((spec, A.analyse(T.render(spec, rng=rng), SR)))
    return out


def test_analysers_read_rendered_ground_truth(rendered):
    acc = _accuracies(rendered)
    assert set(acc) == {"pattern", "pitch", "timbre", "beeps"}
    for key, value in acc.items():
        assert value >= 0.97, f"{key} accuracy {value:.3f} ({acc})"


def test_rendered_loudness_is_readable(rendered):
    assert np.mean([m["loudness"] == s.loudness for s, m in rendered]) >= 0.97


def test_every_pattern_is_recognised(rendered):
    for pattern in T.PATTERNS:
        hits = [m["pattern"] == pattern for s, m in rendered if s.pattern == pattern]
        assert len(hits) >= 10 and np.mean(hits) >= 0.9, pattern


def test_robust_to_a_noise_floor():
    """Generated audio is never clean: white noise 20 dB under the sound's RMS must not matter."""
    rng = np.random.default_rng(7)
    results = []
    for _ in range(40):
        spec = T.sample_spec(rng, include_held_out=True)
        wave = T.render(spec, rng=rng).astype(np.float64)
        rms = np.sqrt(np.mean(wave[np.abs(wave) > 0.05 * np.abs(wave).max()] ** 2))
        noisy = wave + rng.standard_normal(len(wave)) * rms * 0.1
        results.append((spec, A.analyse(noisy, SR)))
    for key, value in _accuracies(results).items():
        assert value >= 0.9, key


# --------------------------------------------------------------------------- single analysers


@pytest.mark.parametrize("kind", ["sine", "square", "saw"])
@pytest.mark.parametrize("hz", [110.0, 233.0, 440.0, 930.0, 1800.0])
def test_fundamental_has_no_octave_errors(kind, hz):
    f0 = A.fundamental_frequency(_additive(hz, kind), SR)
    assert abs(np.log2(f0 / hz)) < 0.02


def test_pitch_class():
    assert [A.pitch_class(h) for h in (150.0, 220.0, 300.0, 320.0, 440.0, 600.0, 650.0, 2000.0)] == [
        "low", "low", "low", "medium", "medium", "medium", "high", "high"]
    assert A.pitch_class(float("nan")) is None and A.pitch_class(0.0) is None


@pytest.mark.parametrize("kind,expected", [("sine", "pure"), ("square", "buzzy"), ("saw", "bright")])
@pytest.mark.parametrize("hz", [110.0, 440.0, 1700.0])
def test_timbre_class_on_independent_waves(kind, expected, hz):
    assert A.timbre_class(_additive(hz, kind), SR) == expected


def test_pitch_slope_reads_sweep_direction():
    t = np.arange(2 * SR) / SR
    up = np.sin(2 * np.pi * np.cumsum(300 * 2 ** t) / SR)  # one octave per second
    assert abs(A.pitch_slope(up, SR) - 1.0) < 0.05
    assert abs(A.pitch_slope(up[::-1].copy(), SR) + 1.0) < 0.05
    assert abs(A.pitch_slope(_additive(440, "saw", 2.0), SR)) < 0.02


def test_flatness_separates_noise_from_tones():
    rng = np.random.default_rng(0)
    assert A.spectral_flatness(0.3 * rng.standard_normal(SR), SR) > 0.4
    assert A.spectral_flatness(_additive(220, "saw"), SR) < 0.05


def test_onsets_and_activity():
    for n in range(1, 5):
        wave = T.render(ToneSpec("beeps", "medium", "pure", n), rng=n)
        assert A.onset_count(wave, SR) == n
    drum = A.activity_duration(T.render(ToneSpec("drum"), rng=0), SR)
    noise = A.activity_duration(T.render(ToneSpec("noise"), rng=0), SR)
    assert 0.05 < drum < 0.45 < noise


@pytest.mark.parametrize("wave", [np.zeros(3 * SR), np.zeros(0), 1e-6 * np.ones(SR),
                                  1e-5 * np.random.default_rng(0).standard_normal(2 * SR)])
def test_silence_is_reported_not_crashed(wave):
    measured = A.analyse(wave, SR)
    assert measured["pattern"] == "silence" and measured["beeps"] is None and measured["pitch"] is None
    assert A.score(measured, ToneSpec("steady", "low", "pure")) == {
        "pattern": False, "pitch": False, "timbre": False}
    assert A.onset_count(wave, SR) == 0 and A.activity_duration(wave, SR) == 0.0
    assert np.isnan(A.fundamental_frequency(wave, SR)) and A.timbre_class(wave, SR) is None


def test_input_layouts():
    wave = T.render(ToneSpec("beeps", "low", "bright", 2), rng=3)
    mono = A.analyse(wave, SR)
    for layout in (wave[None, :], wave[:, None], np.stack([wave, wave])):
        assert A.analyse(layout, SR)["pattern"] == mono["pattern"]
    assert A.analyse(wave + 0.2, SR)["beeps"] == 2  # DC offset ignored


def test_other_sample_rates():
    for sr in (8000, 22050):
        spec = ToneSpec("falling", "high", "bright")
        measured = A.analyse(T.render(spec, sample_rate=sr, rng=1), sr)
        assert all(A.score(measured, spec).values())


# --------------------------------------------------------------------------- score


def test_score_only_states_given_attributes():
    measured = {"pattern": "beeps", "pitch": "high", "timbre": "pure", "beeps": 3}
    assert A.score(measured, ToneSpec("beeps", beeps=3)) == {"pattern": True, "beeps": True}
    assert A.score(measured, ToneSpec("beeps", "high", beeps=2)) == {
        "pattern": True, "pitch": True, "beeps": False}
    assert A.score(measured, ToneSpec("steady", "high", "buzzy")) == {
        "pattern": False, "pitch": True, "timbre": False}
    assert A.score(measured, ToneSpec("noise")) == {"pattern": False}


def test_analyse_is_fast():
    wave = T.render(ToneSpec("rising", "low", "bright"), seconds=4.0, rng=0)
    A.analyse(wave, SR)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        A.analyse(wave, SR)
        runs.append(time.perf_counter() - start)
    assert min(runs) < 0.1  # ~20-30 ms on one core; generous for loaded CI machines


def test_long_sounds_are_scored_window_by_window():
    from mediadiff.worlds import tones

    spec = tones.ToneSpec("steady", "medium", "pure")
    parts = [tones.render(spec, 4.0, 16000, rng=i) for i in range(3)]
    steady = A.analyse_long(np.concatenate(parts), 16000)
    assert len(steady["windows"]) == 3
    assert A.score(steady, spec)["windows_pattern"] and A.score(steady, spec)["windows_pitch"]
    gap = A.analyse_long(np.concatenate([parts[0], np.zeros_like(parts[1]), parts[2]]), 16000)
    assert not A.score(gap, spec)["windows_pattern"]  # a silent window in a steady tone
    higher = A.analyse_long(np.concatenate([parts[0], parts[1], tones.render(replace(spec, pitch="high"), 4.0)]),
                            16000)
    assert not A.score(higher, spec)["windows_pitch"]
    assert "windows" not in A.analyse_long(parts[0], 16000)  # one window: the plain analysis
