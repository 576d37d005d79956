"""Procedural training worlds (synthetic captioned media) and what their evaluation splits are."""

from __future__ import annotations

from typing import Callable

# Evaluation splits of every world: in-grammar captions, held-out combinations, free paraphrases.
SPLITS = ("grammar", "held_out", "paraphrase")


def split_prompts(split: str, grammar: Callable[[], list], held_out: Callable[[], list], paraphrases) -> list:
    """The (prompt, spec) pairs of one evaluation split, built by the world's own functions."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected {', '.join(SPLITS)}")
    return {"grammar": grammar, "held_out": held_out, "paraphrase": lambda: list(paraphrases)}[split]()
