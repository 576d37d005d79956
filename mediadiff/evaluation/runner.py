"""`mediadiff eval`: generate from a prompt set through the real pipeline, measure the media, tabulate accuracy.

Modality-generic: a Suite names the world's prompts and the analysers; audio uses `worlds.tones` +
`evaluation.audio`, video `worlds.shapes` + `evaluation.video`. Accuracy is reported per attribute, separately
for in-grammar prompts, held-out combinations and free paraphrases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ValidationError
from ..worlds import SPLITS

# The targets for the shipped tones model: (split, attribute, minimum accuracy).
TONES_TARGETS = (("grammar", "pitch", 0.9), ("grammar", "pattern", 0.9), ("grammar", "beeps", 0.8),
                 ("held_out", "pattern", 0.8), ("paraphrase", "pattern", 0.7))
SHAPES_TARGETS = (("grammar", "colour", 0.95), ("grammar", "motion", 0.9), ("grammar", "shape", 0.8),
                  ("held_out", "colour", 0.8), ("held_out", "motion", 0.8),
                  ("paraphrase", "colour", 0.7), ("paraphrase", "motion", 0.7))
# Past one window and with given media (issue 21): long clips keep their colour and shape in every window;
# a continuation keeps colour, shape and direction (video) or pitch and pattern (audio).
SHAPES_LONG_TARGETS = tuple((split, attr, 0.95) for split in SPLITS for attr in ("windows_colour", "windows_shape"))
CONTINUE_TARGETS = {"video": tuple((split, a, 0.9) for split in SPLITS for a in ("colour", "shape", "motion")),
                    "audio": tuple((split, a, 0.9) for split in SPLITS for a in ("pitch", "pattern"))}
TARGETS = {("audio", "generate"): TONES_TARGETS, ("video", "generate"): SHAPES_TARGETS + SHAPES_LONG_TARGETS,
           ("audio", "continue"): CONTINUE_TARGETS["audio"], ("video", "continue"): CONTINUE_TARGETS["video"]}


@dataclass(frozen=True)
class Suite:
    """What evaluating one modality needs: prompts with true specs, an analyser and a scorer."""

    modality: str
    attributes: tuple[str, ...]
    prompts: Callable[[str], list[tuple[str, Any]]]
    parse: Callable[[str], Any]
    spec: Callable[..., Any]
    analyse: Callable[[Any, int, Any], dict]  # (output, index, part or None) -> measured attributes
    score: Callable[[dict, Any], dict[str, bool]]


def suite(modality: str) -> Suite:
    """The evaluation suite of `modality` (audio: tones, video: shapes)."""
    if modality == "audio":
        from ..worlds import tones
        from . import audio

        def sound(out, i, part):
            wave, rate = out.waveforms[i], out.sample_rate
            if part is not None:
                wave = wave[int(round(part[0] * rate)):int(round(part[1] * rate))]
            return audio.analyse_long(wave, rate)

        return Suite("audio", ("pattern", "pitch", "timbre", "beeps"), tones.eval_prompts, tones.parse_caption,
                     tones.ToneSpec, sound, audio.score)
    if modality == "video":
        from ..codecs.frames import to_uint8
        from ..worlds import shapes
        from . import video

        def clip(out, i, part):
            frames = out.frames[i] if part is None else out.frames[i][int(part[0]):int(part[1])]
            return video.analyse_long(to_uint8(frames))

        return Suite("video", ("colour", "shape", "motion"), shapes.eval_prompts, shapes.parse_caption,
                     shapes.ShapeSpec, clip, video.score)
    raise ValidationError("modality", modality, "must be audio or video")


@dataclass
class Item:
    """One evaluation prompt: its split, text and true spec."""

    split: str
    prompt: str
    spec: Any


def world_items(s: Suite, splits: tuple[str, ...] = SPLITS, limit: int | None = None) -> list[Item]:
    """The world's own prompts of each split (the first `limit` of each when given)."""
    out = []
    for split in splits:
        if split not in SPLITS:
            raise ValidationError("splits", split, f"must be among {', '.join(SPLITS)}")
        out.extend(Item(split, p, spec) for p, spec in s.prompts(split)[:limit])
    return out


def _spec_from(s: Suite, value: dict, where: str):
    try:
        return s.spec(**value)
    except (TypeError, ValueError) as e:
        raise ValidationError("prompts", where, f"has an invalid spec ({e})") from None


def read_prompts(s: Suite, path: str | Path) -> list[Item]:
    """Prompts from a file: .txt (one grammar caption per line, spec parsed from it) or .json/.jsonl
    (objects with prompt, spec and optional split)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("prompts", str(path), "no such file (.txt: one prompt per line; .jsonl: "
                                                    '{"prompt": ..., "spec": {...}, "split": ...} per line)')
    text = path.read_text(encoding="utf-8", errors="replace")
    items = []
    if path.suffix in (".json", ".jsonl"):
        try:
            rows = json.loads(text) if path.suffix == ".json" else [json.loads(l) for l in text.splitlines() if l.strip()]
        except json.JSONDecodeError as e:
            raise ValidationError("prompts", str(path), f"is not valid JSON ({e})") from None
        for n, row in enumerate(rows, 1):
            where = f"{path}:{n}"
            if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not isinstance(row.get("spec"), dict):
                raise ValidationError("prompts", where, 'each entry needs "prompt" (text) and "spec" (object)')
            items.append(Item(str(row.get("split", "custom")), row["prompt"], _spec_from(s, row["spec"], where)))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                items.append(Item("custom", line, s.parse(line)))
            except ValueError as e:
                raise ValidationError("prompts", f"{path}:{n}", f"cannot read the attributes of {line!r} ({e}); "
                                                                "use a .jsonl file with explicit specs") from None
    if not items:
        raise ValidationError("prompts", str(path), "holds no prompts")
    return items


@dataclass
class Report:
    """Per-prompt results and their per-split, per-attribute tallies."""

    modality: str
    attributes: tuple[str, ...]
    settings: dict
    results: list[dict] = field(default_factory=list)
    task: str = "generate"

    def tally(self) -> dict[str, dict[str, dict]]:
        """split -> attribute -> {correct, total, accuracy}."""
        out: dict[str, dict[str, dict]] = {}
        for r in self.results:
            split = out.setdefault(r["split"], {})
            for attr, ok in r["score"].items():
                t = split.setdefault(attr, {"correct": 0, "total": 0})
                t["correct"] += int(ok)
                t["total"] += 1
        for split in out.values():
            for t in split.values():
                t["accuracy"] = t["correct"] / t["total"]
        return out

    def accuracy(self, split: str, attribute: str) -> float | None:
        t = self.tally().get(split, {}).get(attribute)
        return None if t is None else t["accuracy"]

    def targets(self) -> list[dict]:
        """The shipped model's targets for this modality with their measured values."""
        out = []
        for split, attr, minimum in TARGETS.get((self.modality, self.task), ()):
            value = self.accuracy(split, attr)
            if value is not None:
                out.append({"split": split, "attribute": attr, "minimum": minimum, "accuracy": value,
                            "met": value >= minimum})
        return out

    def table(self) -> str:
        """A plain-text table: one row per split, one column per attribute (accuracy and counts)."""
        tally = self.tally()
        splits = [s for s in (*SPLITS, "custom") if s in tally] + sorted(set(tally) - {*SPLITS, "custom"})
        extra = sorted({a for r in self.results for a in r["score"]} - set(self.attributes))  # e.g. long clips' windows
        attributes = (*self.attributes, *extra)
        width = max([11, *(len(s) + 2 for s in splits)])
        head = f"{'split':<{width}}{'samples':>8}  " + "".join(f"{a:<16}" for a in attributes)
        lines = [head, "-" * len(head.rstrip())]
        for split in splits:
            n = sum(1 for r in self.results if r["split"] == split)
            cells = []
            for a in attributes:
                t = tally[split].get(a)
                cell = "-" if t is None else "{:.0f}% ({}/{})".format(100 * t["accuracy"], t["correct"], t["total"])
                cells.append(f"{cell:<16}")
            lines.append(f"{split:<{width}}{n:>8}  " + "".join(cells))
        for t in self.targets():
            mark = "met" if t["met"] else "NOT met"
            lines.append(f"target {t['split']} {t['attribute']} >= {100 * t['minimum']:.0f}%: "
                         f"{100 * t['accuracy']:.0f}% ({mark})")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"modality": self.modality, "task": self.task, "settings": self.settings, "accuracy": self.tally(),
                "targets": self.targets(), "results": self.results}


def _plain(measured: dict) -> dict:
    """The measured labels and scalar measures, JSON-friendly."""
    out = {}
    for k, v in measured.items():
        if isinstance(v, (np.floating, float)):
            out[k] = None if not np.isfinite(v) else round(float(v), 4)
        elif isinstance(v, (str, int, type(None), np.integer)):
            out[k] = v if not isinstance(v, np.integer) else int(v)
    return out


def evaluate(pipe, items: list[Item] | None = None, *, seeds: int = 1, seed: int = 0, settings: dict | None = None,
             on_item: Callable[[int, int], None] | None = None, save_dir: Path | None = None,
             cases: list | None = None, task: str = "generate") -> Report:
    """Generate `seeds` outputs per case (seeds seed, seed+1, ...) and score the analysed part of each against its
    spec; `cases`: already validated (tasks.cases), else plain generation of `items`, validated here."""
    from . import tasks

    s = suite(pipe.modality)
    settings = dict(settings or {})
    report = Report(s.modality, s.attributes, {**settings, "seeds": seeds, "seed": seed, "model": pipe.name},
                    task=task)
    if cases is None:
        cases = tasks.cases("generate", pipe.limits, items, seeds=seeds, seed=seed, settings=settings)
    if save_dir is not None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
    for n, case in enumerate(cases):
        out = pipe.generate(case.request)
        if save_dir is not None:
            suffix = ".wav" if s.modality == "audio" else ".mp4"
            out.save(Path(save_dir) / f"{n:03d}-{case.split.replace(' ', '-')}{suffix}")
        inpainted_clip = case.request.inpaint is not None and s.modality == "video"
        kept = tasks.outside_difference(pipe, case, out) if inpainted_clip else None
        for i in range(seeds):
            measured = s.analyse(out, i, case.part)
            score = s.score(measured, case.spec)
            if case.attributes is not None:
                score = {k: v for k, v in score.items() if k in case.attributes}
            if kept is not None:
                measured["outside_max_diff"] = kept[i]
                score["outside_kept"] = kept[i] <= tasks.OUTSIDE_TOLERANCE
            result = {"split": case.split, "prompt": case.prompt, "seed": seed + i,
                      "spec": {k: v for k, v in vars(case.spec).items() if v is not None},
                      "measured": _plain(measured), "score": score}
            if case.given is not None:
                result["given"] = case.given.name
            report.results.append(result)
        if on_item is not None:
            on_item(n + 1, len(cases))
    return report
