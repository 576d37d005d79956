"""`mediadiff tiny LAYOUT DIR`: save a tiny random pipeline of any supported layout (for trials and benchmarks)."""

from __future__ import annotations

from ..checkpoints.layouts import TINY_LAYOUTS
from .common import emit


def register(sub) -> None:
    p = sub.add_parser("tiny", help="save a tiny random pipeline (its output is noise) of a layout")
    p.add_argument("layout", choices=TINY_LAYOUTS)
    p.add_argument("directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run, quiet=False)


def run(args) -> int:
    from ..checkpoints.debug import build

    path = build(args.layout, args.directory, seed=args.seed)
    emit(args, {"layout": args.layout, "path": str(path)}, f"wrote a tiny random {args.layout} pipeline to {path}")
    return 0
