"""Checkpoints: recognise layouts, load and save safely, resolve preset names."""

from .layouts import Layout, layout_of
from .loading import Checkpoint, inspect_limits, load_checkpoint, resolve, save_checkpoint

__all__ = ["Checkpoint", "Layout", "inspect_limits", "layout_of", "load_checkpoint", "resolve", "save_checkpoint"]
