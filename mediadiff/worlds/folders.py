"""A folder of the user's own media as training data: `sound.wav` + `sound.txt`, `clip.mp4` + `clip.txt`.

Every pair is checked on its own; a bad one (unreadable file, missing or empty caption, wrong sample rate,
too short) is reported by file name and skipped, so one broken file never stops a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ValidationError

SUFFIXES = {"audio": (".wav", ".flac", ".ogg"), "video": (".mp4", ".gif", ".mov", ".webm")}


class BadItem(Exception):
    """One media file that cannot be used, and why."""


@dataclass
class FolderData:
    """Usable items (media array, caption, file name) and one line per skipped file."""

    items: list[tuple[np.ndarray, str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_caption(media: Path) -> str:
    """The caption in the .txt beside `media`; BadItem when missing or empty."""
    text_file = media.with_suffix(".txt")
    if not text_file.is_file():
        raise BadItem(f"no caption file {text_file.name}")
    try:
        text = " ".join(text_file.read_text(encoding="utf-8").split())
    except (OSError, UnicodeDecodeError) as e:
        raise BadItem(f"caption {text_file.name} unreadable ({type(e).__name__})") from None
    if not text:
        raise BadItem(f"caption {text_file.name} is empty")
    return text


def load_sound(path: Path, sample_rate: int, seconds: float) -> np.ndarray:
    """Mono float32 (samples,) of exactly `seconds` (padded with silence or cut); BadItem on any problem."""
    import soundfile as sf

    try:
        wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise BadItem(f"unreadable audio ({' '.join(str(e).split())[:80] or type(e).__name__})") from None
    if rate != sample_rate:
        raise BadItem(f"sample rate {rate} Hz, expected {sample_rate} Hz (resample it first)")
    wave = wave.mean(axis=1)  # (samples,)
    if len(wave) < int(0.1 * sample_rate):
        raise BadItem(f"too short ({len(wave) / sample_rate:.2f} s, need at least 0.1 s)")
    if not np.isfinite(wave).all():
        raise BadItem("contains NaN or infinite samples")
    n = int(round(seconds * sample_rate))
    return np.pad(wave[:n], (0, max(0, n - len(wave)))).astype(np.float32)


def load_clip(path: Path, frames: int, size: int) -> np.ndarray:
    """uint8 (frames, size, size, 3) read with imageio-ffmpeg (looped if short); BadItem on any problem."""
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path), output_params=["-vf", f"scale={size}:{size}"])
        meta = next(reader)
        w, h = meta["size"]
        out = []
        for raw in reader:
            out.append(np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3))
            if len(out) == frames:
                break
        reader.close()
    except Exception as e:
        raise BadItem(f"unreadable video ({' '.join(str(e).split())[:80] or type(e).__name__})") from None
    if not out:
        raise BadItem("has no frames")
    clip = np.stack(out)  # (F', H, W, 3)
    return clip[np.arange(frames) % len(clip)]  # (F, H, W, 3)


def read_folder(folder: str | Path, modality: str, *, sample_rate: int = 16000, seconds: float = 4.0,
                frames: int = 16, size: int = 64) -> FolderData:
    """Every usable (media, caption) pair in `folder`; refuses a folder with none, naming the reasons."""
    root = Path(folder)
    if not root.is_dir():
        raise ValidationError("data.folder", str(root), "no such folder")
    out = FolderData()
    for media in sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES[modality]):
        try:
            text = read_caption(media)
            array = (load_sound(media, sample_rate, seconds) if modality == "audio"
                     else load_clip(media, frames, size))
        except BadItem as e:
            out.skipped.append(f"{media.relative_to(root)}: {e}")
            continue
        out.items.append((array, text, str(media.relative_to(root))))
    if not out.items:
        reasons = "; ".join(out.skipped[:3]) or f"no {'/'.join(SUFFIXES[modality])} files"
        raise ValidationError("data.folder", str(root), f"holds no usable {modality} with a caption ({reasons})")
    return out
