"""Preset names (configs/presets.yaml) -> hub ids or shipped folders, with recommended settings."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS = {"video": "shapes", "audio": "tones"}


def repo_path(relative: str) -> Path:
    """A path inside the mediadiff checkout (or MEDIADIFF_HOME), for configs/ and assets/."""
    return Path(os.environ.get("MEDIADIFF_HOME", REPO_ROOT)) / relative


@lru_cache(maxsize=1)
def _all() -> dict:
    path = repo_path("configs/presets.yaml")
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def reload() -> None:
    """Read configs/presets.yaml again on next use (after MEDIADIFF_HOME or the file changed)."""
    _all.cache_clear()


def get(name: str) -> dict | None:
    """The preset called `name`, or None."""
    return _all().get(name)


def names() -> list[str]:
    """Every preset name."""
    return sorted(_all())


def default_model(modality: str) -> str:
    """The shipped model for a modality, or a clear error when this checkout has none."""
    from ..errors import CheckpointError

    folder = repo_path(f"assets/models/{DEFAULT_MODELS[modality]}")
    if not (folder / "model_index.json").exists():
        raise CheckpointError(folder, f"the default {modality} model is not in this checkout; pass --model")
    return DEFAULT_MODELS[modality]
