"""Checkpoints: recognise layouts, load and save safely, resolve preset names."""

from .layouts import Layout, layout_of
from .loading import (Checkpoint, inspect_limits, limits_for, limits_from_configs, load_checkpoint, read_index,
                      Resolved, resolve, resolve_limits, save_checkpoint)

__all__ = ["Checkpoint", "Layout", "inspect_limits", "layout_of", "limits_for", "limits_from_configs",
           "load_checkpoint", "read_index", "Resolved", "resolve", "resolve_limits", "save_checkpoint"]
