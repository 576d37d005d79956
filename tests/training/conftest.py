"""Tiny training configs and their prepared data, shared by the training tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_audio(tiny_config, tmp_path_factory):
    """(config, prepared data) of the tiny tones config."""
    from mediadiff.training.config import load_config
    from mediadiff.training.data import build

    path = tiny_config(tmp_path_factory.mktemp("cfg") / "tiny-audio.yaml", "audio")
    cfg = load_config(path, "audio")
    return cfg, build(cfg)
