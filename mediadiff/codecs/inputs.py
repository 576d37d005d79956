"""Reading a user's media (video-to-video, continuation, inpainting, a first frame): MP4/GIF/PNG folder, PNG/JPEG
images, WAV/FLAC. Each reader checks the header against bounds before decoding, and raises MediaProblem with a
one-line reason for anything it cannot take; validation turns that into the parameter's error."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

VIDEO_FILES = (".mp4", ".gif", ".mov", ".webm", ".mkv", ".avi")
IMAGE_FILES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
AUDIO_FILES = (".wav", ".flac", ".ogg")


class MediaProblem(ValueError):
    """A media file this reader refuses: the message is the rule it broke."""


def sha256(path: Path) -> str:
    """SHA-256 of a file, or of a PNG folder's frames in name order (what a replay must find again)."""
    digest = hashlib.sha256()
    for part in (sorted(path.glob("*.png")) if path.is_dir() else [path]):
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _existing(path: Path, max_bytes: int) -> None:
    if not path.exists():
        raise MediaProblem("no such file or folder")
    if path.is_file():
        size = path.stat().st_size
        if size == 0:
            raise MediaProblem("is an empty file")
        if size > max_bytes:
            raise MediaProblem(f"is {size / 2**20:.0f} MiB; at most {max_bytes / 2**20:.0f} MiB")


def _check_size(width: int, height: int, max_side: int) -> None:
    if max(width, height) > max_side or min(width, height) < 8:
        raise MediaProblem(f"is {width}x{height}; frames must be 8 to {max_side} pixels a side")


def read_image(path: Path, max_side: int, max_bytes: int) -> np.ndarray:
    """One picture as uint8 (1, H, W, 3)."""
    from PIL import Image, UnidentifiedImageError

    _existing(path, max_bytes)
    try:
        with Image.open(path) as img:
            _check_size(img.width, img.height, max_side)
            return np.asarray(img.convert("RGB"))[None]
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise MediaProblem(f"is not a readable image ({type(e).__name__})") from None


def read_frames(path: Path, max_side: int, max_frames: int, max_bytes: int) -> tuple[np.ndarray, float | None]:
    """A clip as uint8 (F, H, W, 3) and its fps (None for a PNG folder): a video file or a folder of PNG frames."""
    _existing(path, max_bytes)
    if path.is_dir():
        names = sorted(path.glob("*.png"))
        if not names:
            raise MediaProblem("is a folder with no PNG frames")
        if len(names) > max_frames:
            raise MediaProblem(f"has {len(names)} frames; at most {max_frames}")
        frames = [read_image(p, max_side, max_bytes)[0] for p in names]
        if len({f.shape for f in frames}) != 1:
            raise MediaProblem("has PNG frames of different sizes")
        return np.stack(frames), None
    if path.suffix.lower() in IMAGE_FILES:
        return read_image(path, max_side, max_bytes), None
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path))
        meta = next(reader)
    except (RuntimeError, OSError, StopIteration, ValueError):
        raise MediaProblem("is not a readable video (ffmpeg found no video stream)") from None
    try:
        width, height = meta["size"]
        _check_size(width, height, max_side)
        fps = float(meta.get("fps") or 0) or None
        frames = []
        for buffer in reader:
            if len(frames) == max_frames:
                raise MediaProblem(f"has more than {max_frames} frames")
            frames.append(np.frombuffer(buffer, np.uint8).reshape(height, width, 3))
    except RuntimeError:
        raise MediaProblem("is a corrupt video (ffmpeg could not decode it)") from None
    finally:
        reader.close()
    if not frames:
        raise MediaProblem("has no frames")
    return np.stack(frames), fps


def read_audio(path: Path, max_seconds: float, max_bytes: int) -> tuple[np.ndarray, int]:
    """A sound as mono float32 samples in [-1, 1] and its sample rate (channels averaged)."""
    import soundfile as sf

    _existing(path, max_bytes)
    if path.is_dir():
        raise MediaProblem("is a folder, not a sound file")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError):
        raise MediaProblem("is not a readable sound (WAV, FLAC or OGG)") from None
    if info.frames == 0 or info.samplerate <= 0:
        raise MediaProblem("has no samples")
    if info.duration > max_seconds:
        raise MediaProblem(f"is {info.duration:.1f} s long; at most {max_seconds:g} s")
    if not 4000 <= info.samplerate <= 192000:
        raise MediaProblem(f"has a sample rate of {info.samplerate} Hz; 4,000 to 192,000 Hz")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError):
        raise MediaProblem("is a corrupt sound file") from None
    wave = data.mean(axis=1)
    if not np.isfinite(wave).all():
        raise MediaProblem("holds samples that are not finite numbers")
    return np.clip(wave, -1.0, 1.0).astype(np.float32), int(rate)


def resample_frames(frames: np.ndarray, fps_in: float | None, fps_out: int) -> np.ndarray:
    """Frames retimed to `fps_out` by taking the nearest frame in time (unchanged when the rates agree or the
    input has no rate)."""
    if not fps_in or abs(fps_in - fps_out) <= 0.01 * fps_out:
        return frames
    count = max(1, int(round(len(frames) * fps_out / fps_in)))
    index = np.minimum(np.round(np.arange(count) * fps_in / fps_out).astype(int), len(frames) - 1)
    return frames[index]
