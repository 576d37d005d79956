"""`mediadiff bench video|audio`: per-stage timings, peak memory and the compute bound, optionally against diffusers."""

from __future__ import annotations

import sys

from .. import validation
from ..checkpoints import resolve_limits
from ..checkpoints.presets import default_model
from ..errors import ValidationError
from ..validation import check_int
from .common import add_model_options, add_output_options, add_speed_options, emit, speed_options

PROMPTS = {"video": "a red circle moving right", "audio": "three short high beeps"}
AGAINST = ("diffusers",)


def register(sub) -> None:
    p = sub.add_parser("bench", help="time each stage of a generation (optionally against diffusers' pipeline)")
    p.add_argument("modality", choices=("video", "audio"))
    p.add_argument("--prompt", default=None, help="default: a fixed test prompt")
    p.add_argument("--negative-prompt", default="blurry")
    p.add_argument("--steps", default=None)
    p.add_argument("--guidance", default=None)
    p.add_argument("--scheduler", default=None)
    p.add_argument("--seed", default=0, help="fixed, so every run and both pipelines draw the same noise")
    p.add_argument("--frames", default=None)
    p.add_argument("--fps", default=None)
    p.add_argument("--height", default=None)
    p.add_argument("--width", default=None)
    p.add_argument("--seconds", default=None)
    p.add_argument("--motion-adapter", default=None)
    p.add_argument("--context-length", default=None, help="context windows (frames / seconds), as for generation")
    p.add_argument("--context-stride", default=None)
    p.add_argument("--weighting", default=None)
    p.add_argument("--noise-type", default=None)
    p.add_argument("--window-method", default=None)
    p.add_argument("--repeat", default=3, help="timed runs after one warm-up (default 3)")
    p.add_argument("--against", default=None, help="diffusers: run its reference pipeline interleaved")
    add_speed_options(p)
    p.add_argument("--threads", default=None, help="CPU threads for torch (default: torch's choice)")
    add_model_options(p)
    add_output_options(p)
    p.set_defaults(run=run)


def spec_from_args(args):
    """Validate every option (before importing torch) and build the BenchSpec."""
    model = args.model or default_model(args.modality)
    resolved = resolve_limits(model, args.motion_adapter)
    path, limits = resolved.path, resolved.limits
    prompt = args.prompt or PROMPTS[args.modality]
    windows = {k: getattr(args, k) for k in ("context_length", "context_stride", "weighting", "noise_type",
                                             "window_method")}
    if args.modality == "video":
        request = validation.video_request(limits, prompt, args.negative_prompt, frames=args.frames, fps=args.fps,
                                           height=args.height, width=args.width, steps=args.steps,
                                           guidance=args.guidance, scheduler=args.scheduler, seed=args.seed,
                                           **windows)
    else:
        request = validation.audio_request(limits, prompt, args.negative_prompt, seconds=args.seconds,
                                           steps=args.steps, guidance=args.guidance, scheduler=args.scheduler,
                                           seed=args.seed, **windows)
    if request.seed is None:
        raise ValidationError("seed", args.seed, "must be a fixed integer for a benchmark")
    if args.against is not None and args.against not in AGAINST:
        raise ValidationError("against", args.against, f"must be one of {', '.join(AGAINST)}")
    if args.against == "diffusers":
        from ..benchmark.reference import check_reference

        check_reference(path)  # before any weights load
    from ..benchmark.runner import BenchSpec

    return BenchSpec(modality=args.modality, model=model, request=request, device=args.device,
                     dtype=args.dtype, allow_pickle=args.allow_pickle, motion_adapter=args.motion_adapter,
                     **speed_options(args),
                     repeat=check_int("repeat", args.repeat, 1, 100), against=args.against,
                     suffix=".mp4" if args.modality == "video" else ".wav")


def run(args) -> int:
    spec = spec_from_args(args)
    from tqdm.auto import tqdm

    from ..libraries import quiet_libraries
    from ..benchmark.report import table
    from ..benchmark.runner import bench

    quiet_libraries()
    if args.threads is not None:
        import torch

        torch.set_num_threads(check_int("threads", args.threads, 1, 1024))
    total = (spec.repeat + 1) + 2 + spec.repeat * (2 if spec.against else 1)
    with tqdm(total=total, desc="bench", unit="run", disable=args.quiet or args.json, file=sys.stderr,
              leave=False, dynamic_ncols=True) as bar:
        def on_run(what: str) -> None:
            bar.set_postfix_str(what)
            bar.update(1)

        result = bench(spec, on_run)
    result["model"] = spec.model
    emit(args, result, f"mediadiff bench {spec.modality} --model {spec.model}\n{table(result)}")
    return 0
