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


def _text(draw, xy, text, anchor="la"):
    draw.text(xy, text, fill=(0, 0, 0), anchor=anchor)


def spectrogram_figure(log_mel: np.ndarray, seconds: float, bin_hz: np.ndarray, title: str = "",
                       scale: int = 2) -> np.ndarray:
    """A spectrogram (T, M) with axes: seconds along the bottom, Hz up the side (mel-spaced bins, labelled at
    round frequencies), an optional title above; uint8 RGB."""
    from PIL import Image, ImageDraw

    body = spectrogram(log_mel).repeat(scale, 0).repeat(scale, 1)  # (M*s, T*s, 3)
    h, w = body.shape[:2]
    left, bottom, top = 40, 16, 14 if title else 4
    canvas = Image.new("RGB", (left + w + 6, top + h + bottom), (255, 255, 255))
    canvas.paste(Image.fromarray(body), (left, top))
    draw = ImageDraw.Draw(canvas)
    m, last = len(bin_hz), None
    for hz in (100, 250, 500, 1000, 2000, 4000, 8000, 16000):
        if bin_hz[0] <= hz <= bin_hz[-1]:
            y = top + h - (np.interp(hz, bin_hz, np.arange(m)) + 0.5) * scale  # low frequencies at the bottom
            if last is not None and last - y < 11:
                continue  # too close to the tick below it to read
            draw.line([(left - 3, y), (left, y)], fill=(0, 0, 0))
            _text(draw, (left - 4, y), f"{hz / 1000:g}k" if hz >= 1000 else str(hz), "rm")
            last = y
    _text(draw, (2, top), "Hz")
    step = next(s for s in (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60) if seconds / s <= 10)
    for k in range(int(seconds / step + 1e-9) + 1):
        x = left + k * step / seconds * w
        draw.line([(x, top + h), (x, top + h + 3)], fill=(0, 0, 0))
        _text(draw, (x, top + h + 3), f"{k * step:g}", "ma")
    _text(draw, (2, top + h + 3), "sec")
    if title:
        _text(draw, (left, 1), title)
    return np.asarray(canvas)


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
