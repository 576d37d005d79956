"""What `mediadiff serve` and `python apps/app.py` (the Space's entry point) share: the server's flags and their
checks, without Gradio, so the CLI builds its parser and rejects bad values before the apps load."""

from __future__ import annotations

from .errors import MediadiffError
from .validation import check_device, check_dtype, check_jit


def add_arguments(p) -> None:
    """The server's flags, on an argparse parser (the `serve` subcommand's, or apps/app.py's own)."""
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


def check(args) -> None:
    """The flags that can be checked before Gradio and the models load."""
    check_device(args.device)
    check_dtype(args.dtype, "cpu" if args.device == "cpu" else "cuda")
    check_jit(args.jit, args.device)
    if args.no_video and args.no_audio:
        raise MediadiffError("nothing to serve: --no-video and --no-audio together")


def app_config(args) -> dict:
    """apps.common.AppConfig's fields from the flags."""
    return dict(output_dir=args.output_dir, max_age_s=args.max_age, concurrency=args.concurrency,
                max_queue=args.max_queue, cache_examples=False if args.no_cache_examples else "lazy",
                device=args.device, dtype=args.dtype, jit=args.jit)


def serve_options(args) -> dict:
    """apps.app.serve's arguments (besides its config) from the flags."""
    return dict(video_model=args.video_model, audio_model=args.audio_model, video=not args.no_video,
                audio=not args.no_audio, host=args.host, port=args.port, share=args.share)
