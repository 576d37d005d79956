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


def add_speed_options(p) -> None:
    p.add_argument("--cache-steps", default=1, help="step caching (DeepCache-style): a full UNet forward every N "
                                                     "steps, deep features reused in between (1: off)")
    p.add_argument("--cache-branch", default="block", help="block (default) or layer: how much a cached step reuses")
    p.add_argument("--compile", dest="compile", action="store_const", const="blocks", default=None,
                   help="torch.compile (GPU) of the repeated UNet blocks: regional, a short first call")
    p.add_argument("--compile-unet", dest="compile", action="store_const", const="unet",
                   help="torch.compile (GPU) of the whole UNet: a long first call (minutes), the fastest steps")
    p.add_argument("--jit", action="store_true", help="TorchScript-freeze the UNet (CPU): same output, faster steps "
                                                     "after a few seconds of tracing per new size; for repeated runs")


def speed_options(args) -> dict:
    """The speed flags, checked by validation.speed_options (before torch is imported)."""
    from ..validation import speed_options

    return speed_options(args.cache_steps, args.cache_branch, args.compile, args.jit, getattr(args, "device", "auto"))


def apply_speed_options(pipe, options: dict):
    """Turn on the opt-in step cache and compilation on a loaded pipeline."""
    if options["cache_steps"] > 1:
        pipe.enable_step_cache(options["cache_steps"], options["cache_branch"])
    if options["compile"]:
        pipe.compile(scope=options["compile"])
    if options["jit"]:
        pipe.enable_jit()
    return pipe


def add_output_options(p, json_help: str = "print one JSON object (paths, seed, timings) and nothing else") -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars, only errors")
    p.add_argument("--json", action="store_true", help=json_help)


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
