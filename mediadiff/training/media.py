"""Pictures of training samples: a log-mel spectrogram PNG for audio, a frame strip PNG for video."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..codecs.atomic import atomic_output

# A dark-to-bright palette (black, purple, red, orange, pale yellow), interpolated per pixel.
_ANCHORS = np.array([[0, 0, 4], [80, 18, 123], [183, 55, 121], [251, 136, 97], [252, 253, 191]], dtype=np.float64)


def _colourise(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (H, W) -> uint8 RGB (H, W, 3) through the palette."""
    pos = np.clip(values, 0.0, 1.0) * (len(_ANCHORS) - 1)  # (H, W)
    lo = np.floor(pos).astype(int).clip(0, len(_ANCHORS) - 2)
    frac = (pos - lo)[..., None]  # (H, W, 1)
    return (_ANCHORS[lo] * (1 - frac) + _ANCHORS[lo + 1] * frac).round().astype(np.uint8)  # (H, W, 3)


def spectrogram_image(mels: list[np.ndarray], scale: int = 2) -> np.ndarray:
    """Log-mels (T, M) stacked top to bottom, low frequencies at the bottom of each, 80 dB range."""
    rows, frames = [], min(len(m) for m in mels)
    for mel in mels:
        mel = np.asarray(mel)[:frames]  # (T, M), all cut to the shortest
        db = 20.0 / np.log(10.0) * np.asarray(mel, dtype=np.float64)  # natural log magnitude -> dB
        norm = (db - (db.max() - 80.0)) / 80.0  # (T, M)
        img = _colourise(norm.T[::-1])  # (M, T, 3)
        rows.append(img.repeat(scale, axis=0).repeat(scale, axis=1))
        rows.append(np.full((2, rows[-1].shape[1], 3), 255, dtype=np.uint8))
    return np.concatenate(rows[:-1])  # (H, W, 3)


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a uint8 (H, W, 3) image as PNG, atomically."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(str(tmp), format="PNG")
    return path


def frame_strip(frames: np.ndarray, count: int = 8) -> np.ndarray:
    """Float (F, H, W, 3) frames in [0, 1] -> uint8 strip of `count` evenly spaced frames (H, count*W, 3)."""
    from ..codecs import frames as codec

    return codec.frame_strip(codec.to_uint8(frames), count)


def main(argv: list[str] | None = None) -> int:
    """`python -m mediadiff.training.media PNG PROMPT [PROMPT ...]`: spectrograms of real outputs (README image)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m mediadiff.training.media",
                                description="Generate sounds with an audio model and draw their log-mel spectrograms.")
    p.add_argument("png", help="output image, e.g. assets/tones_spectrogram.png")
    p.add_argument("prompts", nargs="+")
    p.add_argument("--model", default=None, help="default: the shipped tones model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--wav-dir", default=None, help="also write each sound as WAV here")
    args = p.parse_args(argv)
    from ..cli import quiet_libraries
    from ..pipelines import AudioPipeline

    quiet_libraries()
    pipe = AudioPipeline.from_pretrained(args.model, device="cpu")
    mels = []
    for i, prompt in enumerate(args.prompts):
        out = pipe(prompt, seed=args.seed)
        mels.append(out.mel[0])  # (T, M)
        if args.wav_dir:
            Path(args.wav_dir).mkdir(parents=True, exist_ok=True)
            out.save(Path(args.wav_dir) / f"{i + 1}-{'-'.join(prompt.split()[:4])}.wav")
    print(write_png(args.png, spectrogram_image(mels)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
