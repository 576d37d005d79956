"""`mediadiff eval audio|video --model M`: per-attribute accuracy of generated media, by prompt split."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import ValidationError
from .common import add_model_options, add_speed_options, apply_speed_options, emit, speed_options


def register(sub) -> None:
    p = sub.add_parser("eval", help="measure how well a model follows prompts (accuracy table per attribute)",
                       description="Generates from the world's prompt splits (grammar, held_out, paraphrase) through "
                                   "the real pipeline and measures the media with the analysers.")
    p.add_argument("modality", help="audio or video")
    add_model_options(p)
    p.add_argument("--prompts", default=None, help=".txt (one grammar caption per line) or .jsonl "
                                                   '({"prompt", "spec", "split"} per line); default: the world\'s splits')
    p.add_argument("--task", default="generate", help="generate (default), continue (the world's clip or sound "
                   "carried on), inpaint (its middle half regenerated) or edit (strength 0.3 with the same prompt, "
                   "0.8 with another colour or pitch)")
    p.add_argument("--splits", default="grammar,held_out,paraphrase", help="comma-separated world splits")
    p.add_argument("--limit", default=None, help="first N prompts of each split (a quick check)")
    p.add_argument("--seeds", default="3", help="outputs per prompt, seeds SEED, SEED+1, ... (default 3)")
    p.add_argument("--seed", default="0", help="first seed (default 0)")
    p.add_argument("--steps", default=None, help="denoising steps (default: the model's)")
    p.add_argument("--guidance", default=None, help="guidance scale (default: the model's)")
    p.add_argument("--seconds", default=None, help="audio length (default: the model's; past its length: windows)")
    p.add_argument("--frames", default=None, help="video length (default: the model's; past its window: windows)")
    add_speed_options(p)
    p.add_argument("--save", default=None, help="also write every generated file into this folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the JSON report (accuracy, targets, per-prompt results)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..checkpoints import resolve_limits
    from ..core import MAX_SEED
    from ..checkpoints.loading import read_json
    from ..checkpoints.presets import default_model
    from ..evaluation.runner import SPLITS
    from ..validation import check_int

    if args.modality not in ("audio", "video"):
        raise ValidationError("modality", args.modality, "must be audio or video")
    speed = speed_options(args)
    seeds = check_int("seeds", args.seeds, 1, 64)
    seed = check_int("seed", args.seed, 0, MAX_SEED)
    limit = None if args.limit is None else check_int("limit", args.limit, 1, 10_000)
    splits = tuple(s.strip() for s in args.splits.split(",") if s.strip())
    for s in splits:
        if s not in SPLITS:
            raise ValidationError("splits", args.splits, f"each must be one of {', '.join(SPLITS)}")
    model = args.model or default_model(args.modality)
    model = resolve_limits(model)  # resolved once: the request checks and the load use it
    path, limits = model.path, model.limits
    if limits.modality != args.modality:
        raise ValidationError("model", model.source, f"is a {limits.modality} model; use `mediadiff eval "
                                                     f"{limits.modality}`")
    if args.save is not None and Path(args.save).exists() and not Path(args.save).is_dir():
        raise ValidationError("save", args.save, "is a file; give a folder for the generated files")
    settings = {k: v for k, v in (("steps", args.steps), ("guidance", args.guidance)) if v is not None}
    if args.modality == "audio" and args.seconds is not None:
        settings["seconds"] = args.seconds
    if args.modality == "video" and args.frames is not None:
        settings["frames"] = args.frames
    import contextlib
    import tempfile

    from ..evaluation import tasks
    from ..evaluation.runner import evaluate, read_prompts, suite, world_items

    s = suite(args.modality)
    items = read_prompts(s, args.prompts) if args.prompts else world_items(s, splits, limit)
    # Every case's request validated once, before loading; evaluate generates exactly these. Given media (the
    # world's renderings) go with the saved outputs, else into a folder removed at the end.
    if args.save is not None:
        scratch, given = contextlib.nullcontext(), Path(args.save) / "given"
    else:
        scratch = tempfile.TemporaryDirectory(prefix="mediadiff-eval-")
        given = Path(scratch.name)
    cases = tasks.cases(args.task, limits, items, seeds=seeds, seed=seed, settings=settings, folder=given)
    settings = {k: getattr(cases[0].request, k) for k in settings} if cases else settings  # as checked: 4, not "4"
    from ..libraries import quiet_libraries
    from ..pipelines import AudioPipeline, VideoPipeline

    quiet_libraries()
    cls = AudioPipeline if args.modality == "audio" else VideoPipeline
    pipe = cls.from_pretrained(model, device=args.device, dtype=args.dtype, allow_pickle=args.allow_pickle)
    apply_speed_options(pipe, speed)
    from tqdm.auto import tqdm

    started = time.perf_counter()
    bar = tqdm(total=len(cases), desc="evaluating", unit="case", file=sys.stderr, leave=False,
               disable=args.quiet or args.json, dynamic_ncols=True)
    with bar, scratch:
        report = evaluate(pipe, items, seeds=seeds, seed=seed, settings=settings, save_dir=args.save,
                          cases=cases, task=args.task, on_item=lambda n, total: bar.update(1))
    trained = read_json(path / "model_index.json").get("_training")  # set by `mediadiff train` (learning curves)
    result = report.to_json() | {"wall_s": round(time.perf_counter() - started, 1), "speed": speed,
                                 "model_training": trained}
    if args.json:
        emit(args, result, "")
    else:
        print(report.table())
        at = f" at denoiser step {trained['denoiser_step']} of {trained['denoiser_steps']}" if trained else ""
        print(f"({len(report.results)} outputs of {model}{at} in {result['wall_s']:.0f} s)")
    return 0
