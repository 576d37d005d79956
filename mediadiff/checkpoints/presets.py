"""Preset names (configs/presets.yaml) -> hub ids or shipped folders, with recommended settings."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


def repo_path(relative: str) -> Path:
    """A path inside the mediadiff checkout (or MEDIADIFF_HOME), for configs/ and assets/."""
    return Path(os.environ.get("MEDIADIFF_HOME", REPO_ROOT)) / relative


@lru_cache(maxsize=1)
def _all() -> dict:
    path = repo_path("configs/presets.yaml")
    return yaml.safe_load(path.read_text()) if path.exists() else {}


def get(name: str) -> dict | None:
    """The preset called `name`, or None."""
    return _all().get(name)


def names() -> list[str]:
    """Every preset name."""
    return sorted(_all())
