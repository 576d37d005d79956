"""Errors a user can act on: each renders as one line, never a traceback."""

from __future__ import annotations


class MediadiffError(Exception):
    """Base of every error mediadiff reports to a user as one line."""

    exit_code = 1


class ValidationError(MediadiffError, ValueError):
    """A parameter outside what is allowed: names the parameter, the value and the rule."""

    exit_code = 2

    def __init__(self, param: str, value, allowed: str):
        self.param, self.value, self.allowed = param, value, allowed
        super().__init__(f"invalid {param}={value!r}: {allowed}")


class CheckpointError(MediadiffError):
    """A checkpoint that cannot be loaded: names the file and the problem."""

    exit_code = 2

    def __init__(self, path, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"cannot load checkpoint {self.path}: {problem}")


class Cancelled(MediadiffError):
    """A generation stopped on request (cancel event, Stop button, Ctrl-C)."""

    exit_code = 130

    def __init__(self, step: int | None = None):
        self.step = step
        super().__init__("generation cancelled" + (f" at step {step}" if step is not None else ""))
