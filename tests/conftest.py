"""Shared fixtures: tiny random checkpoints of every layout, built once per test session."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach a hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
warnings.filterwarnings("ignore")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """layout name -> folder of a tiny random pipeline saved by that layout's own save_pretrained."""
    from mediadiff.checkpoints import debug

    root = tmp_path_factory.mktemp("tiny")
    return {layout: debug.build(layout, root / layout) for layout in debug.LAYOUTS}


@pytest.fixture(scope="session")
def video_pipe(tiny_models):
    from mediadiff import VideoPipeline

    return VideoPipeline.from_pretrained(tiny_models["mediadiff-video"], device="cpu")


@pytest.fixture(scope="session")
def audio_pipe(tiny_models):
    from mediadiff import AudioPipeline

    return AudioPipeline.from_pretrained(tiny_models["mediadiff-audio"], device="cpu")


# Training configs of seconds per stage on a CPU, for tests of the training code (deep-merged with overrides).
TINY_TRAINING = {
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


@pytest.fixture(scope="session")
def tiny_config():
    """write(path, modality, **overrides) -> path: the tiny training config of `modality`, its sections
    deep-merged with `overrides`, as a YAML file."""
    import yaml

    from mediadiff.training.config import deep_merge

    def write(path, modality: str = "audio", **overrides) -> Path:
        path = Path(path)
        path.write_text(yaml.safe_dump(deep_merge(TINY_TRAINING[modality], overrides), sort_keys=False))
        return path

    return write
