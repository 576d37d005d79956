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
