"""Analysers that measure generated audio (waveforms, not latents) against `tones` specs.

Every measure works on a mono float waveform and its sample rate and is
relative to the clip's own peak level, so loudness does not change what is
detected. Frames are analysed on a shared grid of centres (hop 16 ms):
- f0 per frame by YIN (difference function, cumulative-mean normalised, first
  dip under a threshold), which locks onto the period rather than the
  strongest harmonic and so makes no octave errors on square/saw waves;
- timbre from energy in bands around each harmonic of the tracked f0;
- segments from a 10 ms RMS envelope with hysteresis; the thresholds rise
  above a noise floor when there is one, since generated audio is rarely clean.
A 4 s clip at 16 kHz is analysed in about 15-30 ms on one CPU core. Events
shorter than 40 ms are ignored (a clip holding only those reads as silence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mediadiff.worlds.tones import PITCH_HZ, ToneSpec

# Envelope and segmentation (dB relative to the loudest envelope frame).
ENV_HOP_S, ENV_WIN_S = 0.010, 0.020
ON_DB, OFF_DB = -20.0, -28.0  # hysteresis: enter a segment above ON, leave below OFF
MIN_GAP_S = 0.06  # shorter dips are tremolo/vocoder artefacts, not separate onsets
MIN_SEGMENT_S = 0.04  # shorter blips are clicks, not events
SILENCE_PEAK = 1e-4  # -80 dBFS: below this a clip counts as silent

# Frame analysis (f0, spectra).
HOP_S = 0.016
YIN_WIN_S = 0.040  # >= 4 periods of the lowest sweep note (~107 Hz)
SPEC_WIN_S = 0.064
F0_MIN, F0_MAX = 70.0, 2500.0
YIN_THRESHOLD = 0.2
VOICED_APERIODICITY = 0.35  # frames above this are treated as unpitched
STRONG_DB = -12.0  # spectral measures use frames this close to the peak
MAX_HARMONIC = 8
MAX_SPECTRA = 96  # spectral measures subsample long clips to this many frames

# Decision thresholds (see the tests for the accuracies they give on rendered clips).
NOISE_FLATNESS = 0.2  # white noise ~0.55, tones < 0.01
SWEEP_SLOPE = 0.25  # octaves/s; rendered sweeps are >= 0.5, steady tones ~0
BEEP_MAX_S = 0.7  # a single segment shorter than this is a beep (or a drum)
DRUM_SUSTAIN = 0.5  # fraction of a hit within 6 dB of its peak: drum ~0.3, beep ~0.9
DRUM_GLIDE = -3.0  # oct/s; a drum's pitch drops ~1.5 octaves in its first 0.1 s, beeps hold pitch
PURE_RICHNESS = 0.04  # overtone/fundamental energy: sine ~0, square >= 0.11, saw >= 0.36
BRIGHT_EVEN = 0.3  # even share of overtone energy: square ~0, saw ~0.6
QUIET_PEAK, LOUD_PEAK = 0.19, 0.53  # geometric midpoints of the rendered peak levels


# --------------------------------------------------------------------------- framing


def _mono(wave) -> np.ndarray:
    """Float64 mono copy of a (samples,), (1, samples), (samples, 1) or (channels, samples) array."""
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0) if x.shape[0] <= x.shape[1] else x.mean(axis=1)
    if x.ndim != 1:
        raise ValueError(f"expected a mono or (channels, samples) waveform, got shape {x.shape}")
    x = np.nan_to_num(x)
    return x - x.mean() if len(x) else x  # a DC offset would read as a steady "sound"


def _envelope_db(x: np.ndarray, sr: int) -> np.ndarray:
    """RMS envelope in dBFS, one value per ENV_HOP_S."""
    hop, win = max(1, round(ENV_HOP_S * sr)), max(1, round(ENV_WIN_S * sr))
    n = max(1, math.ceil(len(x) / hop))
    padded = np.pad(x * x, (win // 2, win + n * hop))
    cs = np.concatenate([[0.0], np.cumsum(padded)])
    starts = np.arange(n) * hop
    power = (cs[starts + win] - cs[starts]) / win
    return 10 * np.log10(np.maximum(power, 1e-12))


def _thresholds(db: np.ndarray) -> tuple[float, float]:
    """Hysteresis (on, off) levels in dBFS, raised above a noise floor when there is one."""
    peak = float(db.max())
    span = peak - float(np.percentile(db, 2))  # peak over floor; a clean render gives ~100 dB
    if span < 8.0:  # no usable floor (sound fills the clip): everything near the peak is active
        return peak + ON_DB, peak + OFF_DB
    on = -min(-ON_DB, span / 2)
    return peak + on, peak + on - min(ON_DB - OFF_DB, span / 4)


def _segments(db: np.ndarray) -> list[tuple[int, int]]:
    """Active (start, end) envelope-frame ranges by hysteresis, short gaps merged, blips dropped."""
    on, off = _thresholds(db)
    segs: list[list[int]] = []
    active, start = False, 0
    for i, v in enumerate(db):
        if not active and v >= on:
            active, start = True, i
        elif active and v < off:
            active = False
            segs.append([start, i])
    if active:
        segs.append([start, len(db)])
    merged: list[list[int]] = []
    for seg in segs:
        if merged and (seg[0] - merged[-1][1]) * ENV_HOP_S < MIN_GAP_S:
            merged[-1][1] = seg[1]
        else:
            merged.append(seg)
    return [(a, b) for a, b in merged if (b - a) * ENV_HOP_S >= MIN_SEGMENT_S]


def _in_segments(times: np.ndarray, segs: list[tuple[int, int]]) -> np.ndarray:
    """Mask of times (s) that fall inside any segment."""
    mask = np.zeros(len(times), dtype=bool)
    for a, b in segs:
        mask |= (times >= a * ENV_HOP_S) & (times < b * ENV_HOP_S)
    return mask


def _centres(n: int, sr: int) -> np.ndarray:
    """Sample positions of the shared analysis-frame centres."""
    return np.arange(0, n, max(1, round(HOP_S * sr)))


def _windows(x: np.ndarray, centres: np.ndarray, before: int, length: int) -> np.ndarray:
    """(frames, length) views starting `before` samples ahead of each centre (zero padded)."""
    padded = np.pad(x, (before, length))
    return np.lib.stride_tricks.sliding_window_view(padded, length)[centres]


def _frame_level_db(db: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Envelope level (dB relative to the clip's peak frame) at the given times."""
    return np.interp(times, np.arange(len(db)) * ENV_HOP_S, db - db.max())


@dataclass(frozen=True)
class _Frames:
    """Per-clip analysis state shared by every measure (built once by _frames)."""

    x: np.ndarray
    sr: int
    db: np.ndarray  # RMS envelope, dBFS per ENV_HOP_S
    segments: list[tuple[int, int]]  # active envelope-frame ranges
    times: np.ndarray  # analysis-frame centres (s)
    f0: np.ndarray  # Hz per analysis frame; NaN where unvoiced or outside segments
    strong: np.ndarray  # analysis frames inside a segment and within STRONG_DB of the peak


def _frames(wave, sr: int) -> _Frames | None:
    """Envelope, segments and f0 track of a clip; None when it is (near-)silent."""
    x = _mono(wave)
    if len(x) == 0 or np.abs(x).max() < SILENCE_PEAK:
        return None
    db = _envelope_db(x, sr)
    segs = _segments(db)
    if not segs:
        return None
    centres = _centres(len(x), sr)
    times = centres / sr
    active = _in_segments(times, segs)
    strong = active & (_frame_level_db(db, times) >= STRONG_DB)
    f0 = np.full(len(centres), np.nan)
    win = round(YIN_WIN_S * sr)
    hz, aperiodicity = _yin(_windows(x, centres[active], win // 2, win + math.ceil(sr / F0_MIN) + 1), sr, win)
    f0[active] = np.where(aperiodicity <= VOICED_APERIODICITY, hz, np.nan)
    return _Frames(x, sr, db, segs, times, f0, strong)


# --------------------------------------------------------------------------- f0 tracking


def _yin(frames: np.ndarray, sr: int, win: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame f0 (Hz) and aperiodicity (0 = perfectly periodic) by vectorised YIN."""
    tau_min, tau_max = int(sr / F0_MAX), int(math.ceil(sr / F0_MIN))
    size = 1 << (frames.shape[1] - 1).bit_length()
    spec_head = np.fft.rfft(frames[:, :win], size)
    spec_full = np.fft.rfft(frames, size)
    r = np.fft.irfft(np.conj(spec_head) * spec_full, size)[:, : tau_max + 1]
    cs = np.concatenate([np.zeros((len(frames), 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(tau_max + 1)
    energy = cs[:, lags + win] - cs[:, lags]
    d = np.maximum(energy[:, :1] + energy - 2 * r, 0.0)
    cum = np.cumsum(d[:, 1:], axis=1)
    dn = np.ones_like(d)
    # Frames with no energy at any lag are aperiodic, not perfectly periodic (0/0).
    dn[:, 1:] = np.where(cum > 1e-12, d[:, 1:] * lags[1:] / np.maximum(cum, 1e-12), 1.0)
    # First local minimum under the threshold (avoids sub-harmonic picks), else the global minimum.
    inner = dn[:, tau_min:tau_max]
    is_min = (inner < dn[:, tau_min - 1:tau_max - 1]) & (inner <= dn[:, tau_min + 1:tau_max + 1])
    ok = is_min & (inner < YIN_THRESHOLD)
    tau = np.where(ok.any(axis=1), ok.argmax(axis=1), inner.argmin(axis=1)) + tau_min
    rows = np.arange(len(frames))
    a, b, c = dn[rows, tau - 1], dn[rows, tau], dn[rows, tau + 1]
    denom = a - 2 * b + c
    safe = np.where(np.abs(denom) > 1e-12, denom, 1.0)
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / safe, 0.0)  # parabolic refinement
    return sr / (tau + np.clip(shift, -1, 1)), b


def f0_track(wave, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and f0 (Hz; NaN where unvoiced, inactive or silent) of the analysis frames."""
    fr = _frames(wave, sr)
    if fr is None:
        times = _centres(len(_mono(wave)), sr) / sr
        return times, np.full(len(times), np.nan)
    return fr.times, fr.f0


def _median_hz(f0: np.ndarray) -> float:
    """Median in log-frequency (the midpoint of an exponential sweep), NaN if no voiced frames."""
    voiced = f0[np.isfinite(f0)]
    return float(2 ** np.median(np.log2(voiced))) if len(voiced) else float("nan")


def fundamental_frequency(wave, sr: int) -> float:
    """Geometric-mean f0 (Hz) over the voiced active frames; NaN when nothing is pitched."""
    return _median_hz(f0_track(wave, sr)[1])


def pitch_class(hz: float) -> str | None:
    """Nearest of low/medium/high (220/440/880 Hz) in log-frequency; None for NaN/non-positive."""
    if not (hz > 0 and math.isfinite(hz)):
        return None
    return min(PITCH_HZ, key=lambda name: abs(math.log2(hz / PITCH_HZ[name])))


def _slope(times: np.ndarray, f0: np.ndarray) -> float:
    """Least-squares log2(f0) slope (oct/s), refit once without >0.3-octave outliers."""
    keep = np.isfinite(f0)
    if keep.sum() < 4 or np.ptp(times[keep]) <= 0:
        return 0.0
    t, y = times[keep], np.log2(f0[keep])
    slope, icpt = np.polyfit(t, y, 1)
    inl = np.abs(y - (slope * t + icpt)) < 0.3
    if inl.sum() >= 4 and np.ptp(t[inl]) > 0:
        slope, _ = np.polyfit(t[inl], y[inl], 1)
    return float(slope)


def pitch_slope(wave, sr: int) -> float:
    """Pitch trend in octaves per second over the voiced active frames (+ rising, - falling)."""
    return _slope(*f0_track(wave, sr))


# --------------------------------------------------------------------------- spectra


def _strong_spectra(fr: _Frames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hann-windowed power spectra of (at most MAX_SPECTRA) strong frames, bin frequencies, frame indices."""
    win = round(SPEC_WIN_S * fr.sr)
    size = 2 << (win - 1).bit_length()  # 2x zero padding: finer bins for harmonic bands
    idx = np.flatnonzero(fr.strong)
    idx = idx[:: -(-len(idx) // MAX_SPECTRA)] if len(idx) else idx  # spectral stats need no dense sampling
    centres = np.rint(fr.times[idx] * fr.sr).astype(int)
    frames = _windows(fr.x, centres, win // 2, win) * np.hanning(win)
    return np.abs(np.fft.rfft(frames, size)) ** 2, np.fft.rfftfreq(size, 1 / fr.sr), idx


def _analysis_band(freqs: np.ndarray, sr: int) -> np.ndarray:
    """Bins from 30 Hz (a drum's ~50 Hz body counts) to 0.45 * sr."""
    return (freqs >= 30) & (freqs <= 0.45 * sr)


def _flatness(power: np.ndarray, freqs: np.ndarray, sr: int) -> float:
    """Median per-frame Wiener entropy (geometric / arithmetic mean power) over the analysis band."""
    if len(power) == 0:
        return 0.0
    band = power[:, _analysis_band(freqs, sr)] + 1e-20
    flat = np.exp(np.log(band).mean(axis=1)) / band.mean(axis=1)
    return float(np.median(flat))


def spectral_flatness(wave, sr: int) -> float:
    """Spectral flatness of the loud active frames: ~0 for tones, ~0.55 for white noise."""
    fr = _frames(wave, sr)
    return 0.0 if fr is None else _flatness(*_strong_spectra(fr)[:2], sr)


def _harmonic_energies(power: np.ndarray, freqs: np.ndarray, f0: np.ndarray, sr: int) -> np.ndarray:
    """Energy in the band (h +- 0.5) * f0 for h = 0..MAX_HARMONIC, summed over voiced frames."""
    voiced = np.isfinite(f0)
    if not voiced.any():
        return np.zeros(MAX_HARMONIC + 1)
    power, f0v = power[voiced], f0[voiced][:, None]
    # Remove each frame's noise floor (median bin power / ln 2 = mean of exponential noise power).
    # Every 4th bin is plenty for a floor estimate and keeps the median cheap.
    floor = np.median(power[:, _analysis_band(freqs, sr)][:, ::4], axis=1, keepdims=True) / math.log(2)
    harm = np.rint(freqs[None, :] / f0v).astype(int)  # (frames, bins) harmonic index of each bin
    # Bands that reach the synthesis taper (~6 kHz) or Nyquist would under-count; drop them.
    top = np.minimum(MAX_HARMONIC, np.floor(0.42 * sr / f0v)).astype(int)
    keep = (harm >= 1) & (harm <= top)
    sums = np.bincount(harm[keep], weights=(power - floor)[keep], minlength=MAX_HARMONIC + 1)
    return np.maximum(sums, 0.0)


def _timbre_from_energies(e: np.ndarray) -> tuple[float, float, str | None]:
    """(richness, even fraction, timbre) from per-harmonic energies."""
    if e[1] <= 0:
        return float("nan"), float("nan"), None
    over = e[2:].sum()
    richness = float(over / e[1])
    even = float(e[2::2].sum() / over) if over > 0 else 0.0
    if richness < PURE_RICHNESS:
        return richness, even, "pure"
    return richness, even, "bright" if even > BRIGHT_EVEN else "buzzy"


def _timbre_measures(fr: _Frames | None) -> tuple[float, float, str | None]:
    """Richness, even fraction and timbre class from the strong voiced frames."""
    if fr is None:
        return float("nan"), float("nan"), None
    power, freqs, idx = _strong_spectra(fr)
    return _timbre_from_energies(_harmonic_energies(power, freqs, fr.f0[idx], fr.sr))


def timbre_class(wave, sr: int) -> str | None:
    """pure (sine), buzzy (square: odd overtones) or bright (saw: all overtones); None if unpitched."""
    return _timbre_measures(_frames(wave, sr))[2]


# --------------------------------------------------------------------------- envelope measures


def onset_count(wave, sr: int) -> int:
    """Number of separate active segments (hysteresis on the RMS envelope)."""
    fr = _frames(wave, sr)
    return 0 if fr is None else len(fr.segments)


def _activity(db: np.ndarray) -> float:
    """Seconds of envelope at or above the onset threshold."""
    return float((db >= _thresholds(db)[0]).sum() * ENV_HOP_S)


def activity_duration(wave, sr: int) -> float:
    """Seconds the envelope spends above the onset threshold (20 dB under the peak, less over noise)."""
    fr = _frames(wave, sr)
    return 0.0 if fr is None else _activity(fr.db)


def _sustain(db: np.ndarray, seg: tuple[int, int]) -> float:
    """Fraction of a segment within 6 dB of its own peak: flat beeps ~1, decaying hits small."""
    part = db[seg[0]:seg[1]]
    return float((part >= part.max() - 6.0).mean())


def loudness_class(peak: float) -> str | None:
    """quiet / None (normal) / loud from the peak amplitude, matching the tones render levels."""
    if peak < QUIET_PEAK:
        return "quiet"
    return "loud" if peak > LOUD_PEAK else None


# --------------------------------------------------------------------------- analyse / score


def _pattern(flatness: float, segs: list, sustain: float, slope: float) -> str:
    """Pattern decision from the raw measures (order matters: noise, then onsets, then pitch)."""
    if not segs:
        return "silence"
    if flatness > NOISE_FLATNESS:
        return "noise"
    if len(segs) > 1:
        return "beeps"
    if (segs[0][1] - segs[0][0]) * ENV_HOP_S < BEEP_MAX_S:
        return "drum" if sustain < DRUM_SUSTAIN or slope < DRUM_GLIDE else "beeps"
    if slope > SWEEP_SLOPE:
        return "rising"
    return "falling" if slope < -SWEEP_SLOPE else "steady"


def _silence(peak: float) -> dict:
    """Result for a (near-)silent clip."""
    return {"pattern": "silence", "pitch": None, "timbre": None, "beeps": None, "loudness": "quiet",
            "f0_hz": float("nan"), "slope_oct_s": 0.0, "flatness": 0.0, "onsets": 0, "activity_s": 0.0,
            "sustain": 0.0, "richness": float("nan"), "even_fraction": float("nan"),
            "peak": peak, "segments": []}


def analyse(wave, sr: int) -> dict:
    """Classify a clip (pattern, pitch, timbre, beeps, loudness) and return the raw measures too."""
    x = _mono(wave)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    fr = _frames(x, sr)
    if fr is None:
        return _silence(peak)
    power, freqs, idx = _strong_spectra(fr)
    flatness = _flatness(power, freqs, sr)
    richness, even, timbre = _timbre_from_energies(_harmonic_energies(power, freqs, fr.f0[idx], sr))
    slope = _slope(fr.times, fr.f0)
    sustain = _sustain(fr.db, fr.segments[0])
    pattern = _pattern(flatness, fr.segments, sustain, slope)
    f0_hz = _median_hz(fr.f0)
    pitched = pattern in ("steady", "beeps", "rising", "falling")
    return {
        "pattern": pattern,
        "pitch": pitch_class(f0_hz) if pitched else None,
        "timbre": timbre if pitched else None,
        "beeps": len(fr.segments) if pattern == "beeps" else None,
        "loudness": loudness_class(peak),
        "f0_hz": f0_hz,
        "slope_oct_s": slope,
        "flatness": flatness,
        "onsets": len(fr.segments),
        "activity_s": _activity(fr.db),
        "sustain": sustain,
        "richness": richness,
        "even_fraction": even,
        "peak": peak,
        "segments": [(a * ENV_HOP_S, b * ENV_HOP_S) for a, b in fr.segments],
    }


LONG_WINDOW_S = 4.0  # seconds per analysed window of a long sound (the shipped tones model's sound)


def analyse_long(wave, sr: int, window_s: float = LONG_WINDOW_S) -> dict:
    """`analyse` of the whole sound; for one of more than two windows also each window's pattern and pitch
    (consecutive, non-overlapping): a steady tone stays steady, beeps keep coming."""
    measured = analyse(wave, sr)
    n = int(round(window_s * sr))
    x = _mono(wave)
    if len(x) <= 2 * n:
        return measured
    chunks = [analyse(x[s:s + n], sr) for s in range(0, len(x) - n + 1, n)]
    measured["windows"] = [{"pattern": c["pattern"], "pitch": c["pitch"]} for c in chunks]
    return measured


def score(measured: dict, target: ToneSpec) -> dict[str, bool]:
    """Per-attribute correctness for the attributes the target states (pattern, pitch, timbre, beeps); for a long
    sound every window's pattern and pitch instead of a beep count (which grows with the length)."""
    windows = measured.get("windows")
    out = {"pattern": measured["pattern"] == target.pattern}
    if target.pitch is not None:
        out["pitch"] = measured["pitch"] == target.pitch
    if target.timbre is not None:
        out["timbre"] = measured["timbre"] == target.timbre
    if target.beeps is not None and not windows:
        out["beeps"] = measured["pattern"] == "beeps" and measured["beeps"] == target.beeps
    if windows:
        out["windows_pattern"] = all(w["pattern"] == target.pattern for w in windows)
        if target.pitch is not None:
            out["windows_pitch"] = all(w["pitch"] == target.pitch for w in windows)
    return out
