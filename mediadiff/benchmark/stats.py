"""Medians, spreads and interleaved ratios of repeated measurements."""

from __future__ import annotations

import statistics


def summary(values: list[float]) -> dict:
    """Median, min, max and relative spread ((max - min) / median) of repeated measurements."""
    values = [float(v) for v in values]
    med = statistics.median(values)
    return {"median": med, "min": min(values), "max": max(values), "n": len(values),
            "spread": (max(values) - min(values)) / med if med else 0.0}


def ratios(ours: list[float], theirs: list[float]) -> dict:
    """Run-by-run ratios ours/theirs (each pair measured back to back), summarised."""
    pairs = [a / b for a, b in zip(ours, theirs) if b > 0]
    return summary(pairs) if pairs else {}


def by_stage(runs: list[dict]) -> dict[str, list[float]]:
    """[{stage: seconds}, ...] -> {stage: [seconds per run]} over the stages every run has."""
    stages = [k for k in runs[0] if all(k in r for r in runs)]
    return {k: [r[k] for r in runs] for k in stages}
