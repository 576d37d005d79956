"""Output files appear whole or not at all: write to a hidden temp beside the target, then rename."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path
from typing import Iterator


def temp_path_for(target: Path) -> Path:
    """A hidden sibling of `target` with the same suffix (ffmpeg picks its muxer from the suffix)."""
    return target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.partial{target.suffix}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path; on success it replaces `target` atomically, on any failure it is deleted."""
    target = Path(target)
    tmp = temp_path_for(target)
    try:
        yield tmp
        if target.is_dir() and tmp.is_dir():
            # A folder (PNG frames) cannot be replaced in one rename: move the old one aside first.
            old = temp_path_for(target)
            os.replace(target, old)
            os.replace(tmp, target)
            _remove(old)
        else:
            os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
