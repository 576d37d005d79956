"""The `mediadiff` command: one subcommand per module, user errors as one line and an exit code."""

from __future__ import annotations

import argparse
import errno
import importlib
import signal
import sys

# Each module adds its subcommand with register(subparsers); the order is the order of `mediadiff --help`.
COMMANDS = ("generate", "info", "train", "evaluate", "probe", "examples", "bench", "batch", "serve", "tiny")


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so the same cleanup as Ctrl-C runs (no partial files)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="mediadiff", description="Text-to-video and text-to-audio diffusion.")
    parser.add_argument("--version", action="version", version=f"mediadiff {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f".{name}", __name__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..errors import MediadiffError
    from ..libraries import quiet_environment

    quiet_environment()  # before transformers is first imported

    parser = build_parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(args.run(args) or 0)
    except MediadiffError as e:
        print(f"mediadiff: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("mediadiff: interrupted; no partial output was left", file=sys.stderr)
        return 130
    except Terminated:
        print("mediadiff: terminated; no partial output was left", file=sys.stderr)
        return 143
    except MemoryError:
        print("mediadiff: error: out of memory; lower --frames, --height/--width or --num-outputs", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise
        print(f"mediadiff: error: cannot write the output: {e.strerror}", file=sys.stderr)  # a full disk, a quota
        return 1
    except Exception as e:  # torch.OutOfMemoryError is a RuntimeError subclass
        if "DefaultCPUAllocator: can't allocate memory" in str(e):  # torch's CPU allocator raises RuntimeError
            print("mediadiff: error: out of memory; lower --frames, --height/--width or --num-outputs",
                  file=sys.stderr)
            return 1
        if type(e).__name__ == "OutOfMemoryError":
            import torch

            torch.cuda.empty_cache()
            print("mediadiff: error: the GPU ran out of memory; lower --frames, --height/--width or "
                  "--num-outputs, or use --dtype fp16", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
