"""`mediadiff train audio|video --config FILE`: train a pipeline's stages (resumable) with accelerate."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ValidationError
from .common import add_output_options, emit

STAGE_CHOICES = ("vae", "vocoder", "denoiser", "all")


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model's stages (VAE, vocoder, denoiser) from a YAML config",
                       description="Train on the CPU, one GPU or many (`accelerate launch -m mediadiff train ...`). "
                                   "The pipeline lands in OUT/pipeline; checkpoints in OUT/<stage>/checkpoint.")
    p.add_argument("modality", help="audio or video")
    p.add_argument("--config", required=True, help="a YAML file, e.g. configs/train/tones.yaml")
    p.add_argument("--stage", default="all", help="vae, vocoder (audio), denoiser, or all (default)")
    p.add_argument("--resume", action="store_true", help="continue from the stages' last checkpoints")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--stop-after", default=None, help="stop this sitting after N steps of the current stage")
    p.add_argument("--minutes", default=None, help="stop this sitting after M minutes of the current stage")
    p.add_argument("--init", default=None, help="continue from this pipeline: its VAE (and vocoder) as they are, "
                                                "the denoiser starting from its UNet")
    add_output_options(p, "print one JSON summary (stages, steps, pipeline) and nothing else")
    p.set_defaults(run=run)


def _positive(name: str, value) -> int | None:
    if value is None:
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ValidationError(name, value, "must be a positive integer")
    return n


def run(args) -> int:
    from ..training.config import MODALITIES, load_config, with_sitting

    if args.modality not in MODALITIES:
        raise ValidationError("modality", args.modality, f"must be one of {', '.join(MODALITIES)}")
    if args.stage not in STAGE_CHOICES:
        raise ValidationError("stage", args.stage, f"must be one of {', '.join(STAGE_CHOICES)}")
    stop_after = _positive("stop-after", args.stop_after)
    minutes = None
    if args.minutes is not None:
        try:
            minutes = float(args.minutes)
        except ValueError:
            raise ValidationError("minutes", args.minutes, "must be a positive number of minutes") from None
    cfg = with_sitting(load_config(args.config, args.modality), args.init, minutes)
    out = Path(args.out) if args.out else Path("runs") / cfg["name"]
    if out.exists() and not out.is_dir():
        raise ValidationError("out", str(out), "is a file; give a folder for the run")
    from ..libraries import quiet_libraries

    quiet_libraries()
    from ..training.run import run as train_run

    def log(line: str) -> None:
        if not (args.quiet or args.json):
            print(line, file=sys.stderr, flush=True)

    summary = train_run(cfg, out, args.stage, resume=args.resume, stop_after=stop_after,
                        progress=not (args.quiet or args.json), log=log)
    if summary.get("rank"):
        return 0
    done = ", ".join(f"{s['stage']} {s['step']}/{s['of']} ({s['train_wall_s']:.0f} s)" for s in summary["stages"])
    where = summary["pipeline"] or "not yet (resume to finish)"
    trained = summary["pipeline_training"]
    if trained and trained["denoiser_step"] < trained["denoiser_steps"]:
        where += f" (denoiser step {trained['denoiser_step']} of {trained['denoiser_steps']}; resume to finish)"
    emit(args, summary, f"trained {done}; pipeline: {where}")
    return 0
