"""A tiny training config (seconds per stage on a CPU) for tests and smoke runs of the training code."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

TINY = {
    "audio": {
        "modality": "audio", "seed": 0,
        "data": {"world": "tones", "clips": 24, "seconds": 2.0, "captions_per_clip": 2},
        "mel": {"sample_rate": 16000, "n_fft": 512, "win_length": 512, "hop_length": 256, "n_mels": 16,
                "f_min": 0.0, "f_max": 8000.0},
        "text": {"max_length": 12},
        "vae": {"block_out_channels": [8, 16], "latent_channels": 4, "steps": 4, "batch": 8, "crop_frames": 32,
                "warmup": 1, "checkpoint_every": 2},
        "vocoder": {"upsample_initial_channel": 32, "steps": 4, "batch": 4, "segment_frames": 8, "clips": 8,
                    "warmup": 1, "checkpoint_every": 2, "ship": "auto"},
        "denoiser": {"block_out_channels": [16, 32], "attention_head_dim": 4, "steps": 4, "batch": 8, "warmup": 1,
                     "checkpoint_every": 2, "sample_prompt": "two low beeps"},
        "defaults": {"steps": 2, "guidance": 3.0, "seconds": 2.0, "max_seconds": 4.0},
    },
    "video": {
        "modality": "video", "seed": 0,
        "data": {"world": "shapes", "clips": 12, "frames": 4, "size": 16, "fps": 8, "captions_per_clip": 2},
        "text": {"max_length": 12},
        "vae": {"block_out_channels": [8, 16], "latent_channels": 4, "steps": 4, "batch": 8, "warmup": 1,
                "checkpoint_every": 2},
        "denoiser": {"block_out_channels": [16, 32], "attention_head_dim": 2, "motion_heads": 2, "steps": 4,
                     "batch": 4, "warmup": 1, "checkpoint_every": 2, "sample_prompt": "a red circle moving right"},
        "defaults": {"steps": 2, "guidance": 3.0},
    },
}


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def write_tiny_config(path: str | Path, modality: str = "audio", **overrides) -> Path:
    """Write the tiny config of `modality` (sections deep-merged with `overrides`) to `path`."""
    path = Path(path)
    path.write_text(yaml.safe_dump(_merge(TINY[modality], overrides), sort_keys=False))
    return path
