"""Output dataclasses: the generated media, the settings that made it, and how long each stage took."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codecs.frames import to_uint8, write_video
from ..codecs.mel import write_wav
from ..codecs.metadata import write_sidecar


def numbered(path: Path, index: int, count: int) -> Path:
    """out.mp4 for a single output; out-1.mp4, out-2.mp4, ... for several."""
    return path if count == 1 else path.with_name(f"{path.stem}-{index + 1}{path.suffix}")


def settings_for(settings: dict, index: int) -> dict:
    """Per-output settings: output i of seed s was drawn with seed s + i."""
    out = dict(settings)
    if out.get("seed") is not None:
        out["seed"] = out["seed"] + index
    if isinstance(out.get("sound"), dict) and out["sound"].get("seed") is not None:
        out["sound"] = {**out["sound"], "seed": out["sound"]["seed"] + index}  # the soundtrack of that clip
    if out.get("num_outputs", 1) > 1:
        out["output_index"] = index
    return out


def save_each(path: str | Path, count: int, settings: dict, write) -> list[Path]:
    """Write item i with write(target, i, its settings), then its .json sidecar; numbered when several."""
    paths = []
    for i in range(count):
        target = numbered(Path(path), i, count)
        own = settings_for(settings, i)
        write(target, i, own)
        write_sidecar(target, own)
        paths.append(target)
    return paths


@dataclass
class VideoOutput:
    """frames: (N, F, H, W, 3) float32 in [0, 1]; one clip per output. sound: (N, samples) mono in [-1, 1] at
    sample_rate, exactly as long as the clips (pipelines.soundtrack), or None for silent clips."""

    frames: np.ndarray
    fps: int
    seed: int | None
    settings: dict
    timings: dict = field(default_factory=dict)
    sound: np.ndarray | None = None
    sample_rate: int | None = None

    def save(self, path: str | Path) -> list[Path]:
        """Write each clip (.mp4 with its soundtrack if any, .gif or PNG folder) with its settings and a .json
        sidecar."""
        def write(target, i, s):
            sound = None if self.sound is None else (self.sound[i], self.sample_rate)
            write_video(target, to_uint8(self.frames[i]), self.fps, s, sound)

        return save_each(path, len(self.frames), self.settings, write)


@dataclass
class AudioOutput:
    """waveforms: (N, samples) float32 in [-1, 1]; mel: (N, T, M) log-mel that was vocoded."""

    waveforms: np.ndarray
    sample_rate: int
    mel: np.ndarray
    seed: int | None
    settings: dict
    timings: dict = field(default_factory=dict)

    def save(self, path: str | Path) -> list[Path]:
        """Write each waveform as WAV with its settings in the INFO chunk and a .json sidecar."""
        return save_each(path, len(self.waveforms), self.settings,
                         lambda target, i, s: write_wav(target, self.waveforms[i], self.sample_rate, s))
