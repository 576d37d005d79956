"""`mediadiff serve`: the Gradio app (Video and Audio tabs) from apps/app.py, on the shipped or given models."""

from __future__ import annotations

import importlib
import sys

from ..errors import MediadiffError
from ..validation import check_device, check_dtype


def register(sub) -> None:
    p = sub.add_parser("serve", help="launch the web app (video and audio tabs; needs the `apps` extra)")
    p.add_argument("--video-model", default=None, help="video pipeline folder, preset or hub id (default: shapes)")
    p.add_argument("--audio-model", default=None, help="audio pipeline folder, preset or hub id (default: tones)")
    p.add_argument("--no-video", action="store_true", help="no video tab")
    p.add_argument("--no-audio", action="store_true", help="no audio tab")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1; 0.0.0.0 for a LAN)")
    p.add_argument("--port", default=None, type=int, help="port (default 7860, or the next free one)")
    p.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    p.add_argument("--concurrency", default=1, type=int,
                   help="generations running at once across both tabs (default 1: one GPU)")
    p.add_argument("--max-queue", default=16, type=int, help="waiting requests before new ones get 'busy'")
    p.add_argument("--output-dir", default=None, help="where results are written (default: a fresh temp folder)")
    p.add_argument("--max-age", default=3600, type=int, help="seconds before a result is deleted (default 3600)")
    p.add_argument("--no-cache-examples", action="store_true",
                   help="do not cache the example prompts' results (cached on first click by default)")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N, mps")
    p.add_argument("--dtype", default="fp32", help="fp32, fp16 (GPU) or bf16")
    p.add_argument("--jit", action="store_true", help="TorchScript-freeze the UNets (CPU): same output, faster steps "
                                                     "after the first request of each size")
    p.set_defaults(run=run)


def _apps():
    """apps/app.py from this checkout (the apps live beside the package, as on a Space)."""
    from ..checkpoints.presets import REPO_ROOT as root

    if not (root / "apps" / "app.py").exists():
        raise MediadiffError(f"the web apps are not in this install (no {root / 'apps' / 'app.py'})")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module("apps.app"), importlib.import_module("apps.common")
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("gradio", "gradio_client"):
            raise MediadiffError("the web apps need Gradio: pip install -e '.[apps]'") from None
        raise


def run(args) -> int:
    check_device(args.device)
    check_dtype(args.dtype, "cpu" if args.device == "cpu" else "cuda")
    if args.no_video and args.no_audio:
        raise MediadiffError("nothing to serve: --no-video and --no-audio together")
    from . import quiet_libraries

    app, common = _apps()
    quiet_libraries()
    config = common.AppConfig(output_dir=args.output_dir, max_age_s=args.max_age, concurrency=args.concurrency,
                              max_queue=args.max_queue, cache_examples=False if args.no_cache_examples else "lazy",
                              device=args.device, dtype=args.dtype, jit=args.jit)
    app.serve(args.video_model, args.audio_model, video=not args.no_video, audio=not args.no_audio,
              host=args.host, port=args.port, share=args.share, config=config)
    return 0
