"""`mediadiff batch JOBS.jsonl --out DIR`: every job of a JSONL file, resumable, split across processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import ValidationError
from .common import emit


def register(sub) -> None:
    p = sub.add_parser("batch", help="generate every job of a JSONL file (skips finished ones; accelerate-aware)")
    p.add_argument("jobs", help='JSONL: one {"prompt": ..., "kind": "video"|"audio", "settings": {...}, '
                                '"name": ..., "model": ...} per line')
    p.add_argument("--out", required=True, help="output folder (created if missing); manifest.json goes here")
    p.add_argument("--video-model", default=None, help="model for video jobs without one (default: the shipped one)")
    p.add_argument("--audio-model", default=None, help="model for audio jobs without one (default: the shipped one)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda; under accelerate each process takes its own")
    p.add_argument("--dtype", default="fp32", help="fp32, fp16 (GPU) or bf16")
    p.add_argument("--allow-pickle", action="store_true")
    p.add_argument("--jit", action="store_true", help="TorchScript-freeze each UNet (CPU): same output, faster steps "
                                                     "once each size has been traced")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only errors")
    p.add_argument("--json", action="store_true", help="print the manifest summary as one JSON object")
    p.set_defaults(run=run)


def output_dir(path: str) -> Path:
    """The output folder, created if missing; it must be writable."""
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise ValidationError("out", path, "is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValidationError("out", path, f"cannot be created ({e.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValidationError("out", path, "is not writable")
    return out


def gather_counts(state, counts: dict) -> list[dict]:
    """Every process's generated/skipped/failed counts, in rank order (what ran where, for the manifest)."""
    mine = {"rank": state.process_index, "generated": counts["generated"], "skipped": counts["skipped"],
            "failed": len(counts["failed"])}
    if state.num_processes == 1:
        return [mine]
    from accelerate.utils import gather_object

    return sorted(gather_object([mine]), key=lambda c: c["rank"])


def run(args) -> int:
    from ..batch import manifest, read_jobs, run_share, write_manifest
    from ..checkpoints.presets import default_model
    from ..validation import check_device, check_dtype, check_jit

    check_device(args.device)
    check_dtype(args.dtype, args.device)
    check_jit(args.jit, args.device)
    out = output_dir(args.out)
    models = {"video": args.video_model or default_model("video"), "audio": args.audio_model or default_model("audio")}
    jobs = read_jobs(args.jobs, models)  # every line checked before any model loads
    from tqdm.auto import tqdm

    from ..libraries import quiet_libraries
    from ..batch import Generator, process_state

    quiet_libraries()
    state = process_state(args.device)
    device = str(state.device) if state.num_processes > 1 or args.device == "auto" else args.device
    generator = Generator(device, args.dtype, args.allow_pickle, jit=args.jit and state.device.type == "cpu")
    with state.split_between_processes(jobs) as mine:  # the same deterministic split on every process
        desc = f"batch {state.process_index + 1}/{state.num_processes}" if state.num_processes > 1 else "batch"
        with tqdm(total=len(mine), desc=desc, unit="job", disable=args.quiet or args.json, file=sys.stderr,
                  leave=False, dynamic_ncols=True) as bar:
            counts = run_share(mine, out, generator, on_job=lambda job: bar.update(1))
    for failure in counts["failed"]:
        print(f"mediadiff: error: {failure}", file=sys.stderr)
    state.wait_for_everyone()
    data = manifest(jobs, out) | {"processes": gather_counts(state, counts)}
    if state.is_main_process:
        path = write_manifest(data, out)
        summary = {k: data[k] for k in ("jobs", "done", "missing", "processes")} | {"manifest": str(path)}
        emit(args, summary, f"{data['done']}/{data['jobs']} jobs done ({data['missing']} missing) on "
                            f"{state.num_processes} process(es); manifest {path}")
    return 1 if data["missing"] else 0
