"""Pictures people look at instead of reading numbers: spectrograms, labelled frame strips, PNG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_output

# The one spectrogram palette, dark to bright (black, purple, red, orange, pale yellow), interpolated per pixel.
PALETTE = np.array([[0, 0, 4], [80, 18, 123], [183, 55, 121], [251, 136, 97], [252, 253, 191]], dtype=np.float64)
DB_RANGE = 80.0  # a spectrogram shows this many dB below its loudest bin


def colourise(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (H, W) -> uint8 RGB (H, W, 3) through the palette."""
    pos = np.clip(values, 0.0, 1.0) * (len(PALETTE) - 1)  # (H, W)
    lo = np.floor(pos).astype(int).clip(0, len(PALETTE) - 2)
    frac = (pos - lo)[..., None]  # (H, W, 1)
    return (PALETTE[lo] * (1 - frac) + PALETTE[lo + 1] * frac).round().astype(np.uint8)  # (H, W, 3)


def spectrogram(log_mel: np.ndarray) -> np.ndarray:
    """A natural-log mel magnitude (T, M) -> uint8 RGB (M, T, 3): time left to right, low frequencies at the
    bottom, DB_RANGE dB below the loudest bin."""
    db = 20.0 / np.log(10.0) * np.asarray(log_mel, dtype=np.float64)  # (T, M) in dB
    return colourise((db.T[::-1] - (db.max() - DB_RANGE)) / DB_RANGE)  # (M, T, 3)


def upscale(image: np.ndarray, min_height: int) -> np.ndarray:
    """Nearest-neighbour enlargement by a whole factor, so tiny pictures stay visible (and crisp)."""
    k = max(1, -(-min_height // image.shape[0]))
    return np.repeat(np.repeat(image, k, axis=0), k, axis=1) if k > 1 else image


def stack_rows(images: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """uint8 images (H_i, W, 3) of one width top to bottom, with white gaps between them."""
    rows = []
    for image in images:
        rows += [image, np.full((gap, image.shape[1], 3), 255, dtype=np.uint8)]
    return np.concatenate(rows[:-1])  # (sum H + gaps, W, 3)


def spectrogram_rows(mels: list[np.ndarray], scale: int = 2) -> np.ndarray:
    """Log-mels (T, M), cut to the shortest, as spectrograms stacked top to bottom (`scale`x enlarged)."""
    frames = min(len(m) for m in mels)
    return stack_rows([spectrogram(np.asarray(m)[:frames]).repeat(scale, 0).repeat(scale, 1) for m in mels])


def label(image: np.ndarray, text: str, height: int = 14) -> np.ndarray:
    """`image` (H, W, 3) under a white band carrying `text` in black."""
    from PIL import Image, ImageDraw

    band = Image.new("RGB", (image.shape[1], height), (255, 255, 255))
    ImageDraw.Draw(band).text((2, 1), text, fill=(0, 0, 0))
    return np.concatenate([np.asarray(band), image])


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a uint8 (H, W, 3) image as PNG, atomically."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(str(tmp), format="PNG")
    return path
