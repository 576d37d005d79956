"""Options and output shared by the subcommands: model loading flags, progress bars, --json."""

from __future__ import annotations

import json
import sys

from tqdm.auto import tqdm


def add_model_options(p) -> None:
    p.add_argument("--model", help="pipeline folder, preset name (configs/presets.yaml) or hub id; "
                                    "default: the shipped model")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--dtype", default="fp32", help="fp32, fp16 (GPU) or bf16")
    p.add_argument("--allow-pickle", action="store_true",
                   help="also load .bin/.pt weights (with torch.load(weights_only=True)); off by default")


def add_output_options(p) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars, only errors")
    p.add_argument("--json", action="store_true", help="print one JSON object (paths, seed, timings) and nothing else")


def step_progress(args, total: int, desc: str):
    """A tqdm bar and the per-step callback that advances it (disabled by --quiet/--json)."""
    bar = tqdm(total=total, desc=desc, unit="step", disable=args.quiet or args.json, file=sys.stderr,
               leave=False, dynamic_ncols=True)

    def on_step(i: int, n: int, latents) -> None:
        bar.update(1)

    return bar, on_step


def emit(args, result: dict, line: str) -> None:
    """The result: JSON for scripts, one line for people."""
    if args.json:
        print(json.dumps(result, default=str))
    elif not args.quiet:
        print(line)
