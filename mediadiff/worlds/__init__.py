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


WORLDS = ("shapes", "tones")  # the procedural worlds a checkpoint's `world` default may name


def understood(world: str) -> dict[str, tuple[str, ...]]:
    """The words and phrases a model trained on `world` understands, by attribute."""
    from importlib import import_module

    return import_module(f"{__name__}.{world}").understood()


def unknown_words_notice(world: str, prompt: str, model: str) -> str | None:
    """One line for a prompt that has no word a `world` model knows (it would give an arbitrary output); else
    None."""
    import re
    from importlib import import_module

    if world not in WORLDS or not isinstance(prompt, str):
        return None
    text = f" {' '.join(re.findall(r'[a-z]+', prompt.lower()))} "
    if any(f" {phrase} " in text for words in understood(world).values() for phrase in words):
        return None
    summary = import_module(f"{__name__}.{world}").SUMMARY
    known = "; ".join(f"{k}: {', '.join(v)}" for k, v in summary.items())
    return f"notice: the {model} model knows none of this prompt's words, so the output will not follow it; it " \
           f"knows {known}"


def prompt_notices(limits, request, model: str) -> list[str]:
    """The unknown-words notice of each prompt of a validated request (a travel schedule's too) for a model
    trained on a world (its `world` default); none for other models."""
    from pathlib import Path

    world = limits.defaults.get("world")
    texts = [text for _, text in request.schedule] if request.schedule else [request.prompt]
    name = Path(str(model)).name or str(model)
    return [line for text in dict.fromkeys(texts) if (line := unknown_words_notice(world, text, name))]
