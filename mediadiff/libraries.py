"""The libraries mediadiff runs on, kept quiet: their load reports and progress bars are not for our users."""

from __future__ import annotations

import os


def quiet_environment() -> None:
    """Ask transformers and diffusers for errors only (read when they are first imported)."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")


def quiet_libraries() -> None:
    """diffusers/transformers chatter (load reports, deprecation notes, progress bars) off, imported or not."""
    quiet_environment()
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
