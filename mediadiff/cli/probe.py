"""`mediadiff probe --model M`: how much the words vs the noise move a video model's noisiest prediction."""

from __future__ import annotations

import json

from ..errors import ValidationError
from .common import emit


def register(sub) -> None:
    p = sub.add_parser("probe", help="words vs noise: how much the prompt moves a video model's noisiest prediction",
                       description="From one noise per seed, the UNet's predicted clean clip at the noisiest step "
                                   "for 'a red circle moving left' / '... right' / 'a blue circle moving left': their "
                                   "distances relative to the clip's norm, and the motion read in each.")
    p.add_argument("--model", default=None, help="a v-prediction video pipeline (default: the shipped shapes)")
    p.add_argument("--timestep", default="999", help="the training timestep to probe (default 999, the noisiest)")
    p.add_argument("--seeds", default="4", help="noise seeds 0..N-1 (default 4)")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda, mps (default cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON object (rows per seed, means)")
    p.set_defaults(run=run, quiet=False)


def run(args) -> int:
    from ..checkpoints import resolve_limits
    from ..checkpoints.loading import read_json
    from ..checkpoints.presets import default_model
    from ..evaluation.probe import check_probe
    from ..validation import check_int

    seeds = check_int("seeds", args.seeds, 1, 64)
    model = resolve_limits(args.model or default_model("video"))  # every check before the weights load
    if model.limits.modality != "video":
        raise ValidationError("model", model.source, "is an audio model; the probe reads video models")
    timestep = check_probe(model.source, read_json(model.path / "scheduler" / "scheduler_config.json"),
                           args.timestep)
    from ..evaluation.probe import direction_probe
    from ..libraries import quiet_libraries
    from ..pipelines import VideoPipeline

    quiet_libraries()
    rows = direction_probe(VideoPipeline.from_pretrained(model, device=args.device), timestep, seeds)
    means = {k: sum(r[k] for r in rows) / len(rows) for k in ("left_vs_right", "red_vs_blue")}
    lines = [json.dumps(r) for r in rows]
    lines.append(f"mean: left vs right {means['left_vs_right']:.1%}, red vs blue {means['red_vs_blue']:.1%} "
                 f"of the predicted clip's norm at t={timestep}")
    emit(args, {"model": model.source, "timestep": timestep, "rows": rows, "mean": means}, "\n".join(lines))
    return 0
