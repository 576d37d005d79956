"""Frame VAE decoding in chunks, and video files (MP4 H.264, GIF, PNG folder) through imageio-ffmpeg."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import numpy as np

from ..errors import MediadiffError
from .atomic import atomic_output
from .metadata import settings_json


def vae_factor(vae) -> int:
    """Spatial downsampling of an AutoencoderKL (a VAE or its config mapping): 2 per level after the first."""
    config = getattr(vae, "config", vae)
    return 2 ** (len(config.get("block_out_channels", [0])) - 1)


def decode_video(vae, latents: torch.Tensor, chunk_size: int = 8) -> np.ndarray:
    """Latents (B, C, F, h, w) -> frames (B, F, H, W, 3) float32 in [0, 1], decoded `chunk_size` frames at a time."""
    import torch  # here, not at module import: checkpoints read vae_factor before torch is needed

    b, c, f, h, w = latents.shape
    flat = latents.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)  # (B*F, C, h, w): a view when B == 1
    dtype = next(vae.parameters()).dtype
    frames = None
    with torch.no_grad():
        for start in range(0, b * f, chunk_size):
            # Each chunk goes to host memory at once so device memory stays flat as the frame count grows.
            chunk = flat[start:start + chunk_size] / vae.config.scaling_factor  # scaled per chunk: no full copy
            image = vae.decode(chunk.to(dtype)).sample  # (n, 3, H, W) in [-1, 1]
            image = (image.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()  # (n, H, W, 3)
            if frames is None:
                frames = np.empty((b * f, *image.shape[1:]), dtype=np.float32)
            frames[start:start + len(image)] = image
    return frames.reshape(b, f, *frames.shape[1:])  # (B, F, H, W, 3)


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] -> uint8, rounded; frame by frame, so no full-size float temporaries."""
    out = np.empty(frames.shape, dtype=np.uint8)
    for i in np.ndindex(frames.shape[:-3]):  # every (..., H, W, 3) image
        out[i] = (np.clip(frames[i], 0.0, 1.0) * 255.0).round()
    return out


AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
AAC_FALLBACK_RATE = 48000  # a soundtrack at a rate AAC does not take is resampled to this
AAC_BITRATE = "128k"


def _ffmpeg_write(path: Path, frames: np.ndarray, fps: int, codec: str, pix_fmt: str, extra: list[str],
                  name: str | None = None, sound: Path | None = None, rate: int = 0) -> None:
    """Pipe uint8 frames (F, H, W, 3) through imageio-ffmpeg's bundled ffmpeg, with a mono float32 `sound` file
    (raw, at `rate`) as an AAC stream when given; a failure raises with its reason."""
    import imageio_ffmpeg

    f, h, w, _ = frames.shape
    audio_in = ["-f", "f32le", "-ar", str(rate), "-ac", "1", "-i", str(sound)] if sound is not None else []
    audio_out = ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", AAC_BITRATE] if sound is not None else ["-an"]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", *audio_in, *audio_out, "-c:v", codec, "-pix_fmt", pix_fmt,
           *extra, str(path)]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), capture_output=True)
    if proc.returncode != 0:
        killed = f"killed by {signal.Signals(-proc.returncode).name}" if proc.returncode < 0 else "unknown error"
        if proc.returncode == -signal.SIGXFSZ:
            killed += " (the file size limit, ulimit -f)"
        lines = proc.stderr.decode(errors="replace").strip().splitlines() or [killed]
        raise MediadiffError(f"ffmpeg could not write {name or path.name}: {lines[0][:200]}")


def soundtrack_samples(wave: np.ndarray, rate: int, seconds: float) -> tuple[np.ndarray, int]:
    """Mono samples at a rate AAC takes (resampled with torchaudio where needed), trimmed or zero-padded to exactly
    `seconds`: what is muxed under a clip."""
    wave = np.asarray(wave, dtype=np.float32)
    if rate not in AAC_RATES:
        import torch
        import torchaudio

        wave = torchaudio.functional.resample(torch.from_numpy(wave), rate, AAC_FALLBACK_RATE).numpy()
        rate = AAC_FALLBACK_RATE
    samples = round(seconds * rate)
    return np.pad(wave[:samples], (0, max(0, samples - len(wave)))), rate


def write_video(path: str | Path, frames: np.ndarray, fps: int, settings: dict | None = None,
                sound: tuple[np.ndarray, int] | None = None) -> Path:
    """Write uint8 frames (F, H, W, 3) to .mp4 (H.264 yuv420p, with `sound` (mono samples, rate) as AAC), .gif, or
    a folder of PNGs; atomically."""
    import tempfile

    path = Path(path)
    meta = ["-metadata", f"comment={settings_json(settings)}"] if settings else []
    suffix = path.suffix.lower()
    if sound is not None and suffix != ".mp4":
        raise MediadiffError(f"{path.name}: only an .mp4 carries a soundtrack")
    with atomic_output(path) as tmp, tempfile.TemporaryDirectory(prefix="mediadiff-sound-") as scratch:
        if suffix == ".mp4":
            raw, rate = None, 0
            if sound is not None:
                wave, rate = sound
                raw = Path(scratch) / "sound.f32"
                raw.write_bytes(np.clip(np.asarray(wave, dtype="<f4"), -1.0, 1.0).tobytes())
            # -bitexact keeps encoder version strings out, so equal frames give equal files.
            _ffmpeg_write(tmp, frames, fps, "libx264", "yuv420p",
                          ["-crf", "18", "-preset", "medium", "-movflags", "+faststart", "-fflags", "+bitexact",
                           "-threads", "1", *meta], path.name, raw, rate)
        elif suffix == ".gif":
            _ffmpeg_write(tmp, frames, fps, "gif", "rgb8", ["-fflags", "+bitexact", *meta], path.name)
        else:
            tmp.mkdir()
            _ffmpeg_write(tmp / "frame_%04d.png", frames, fps, "png", "rgb24", ["-f", "image2"], path.name)
    return path


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """Decode a video file back to uint8 frames (F, H, W, 3) and its fps (for tests and evaluation)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    frames = [np.frombuffer(buf, np.uint8).reshape(h, w, 3) for buf in reader]
    return np.stack(frames), float(meta["fps"])


def frame_strip(frames: np.ndarray, count: int = 8) -> np.ndarray:
    """`count` evenly spaced frames side by side: (H, count*W, 3), for previews and model cards."""
    idx = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    return np.concatenate(list(frames[idx]), axis=1)
