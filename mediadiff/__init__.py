"""mediadiff: text-to-video and text-to-audio diffusion on one shared denoising core."""

__version__ = "0.1.0"

from .errors import Cancelled, CheckpointError, MediadiffError, ValidationError  # noqa: E402

_PIPELINE_NAMES = {"AudioOutput", "AudioPipeline", "VideoOutput", "VideoPipeline"}


def __getattr__(name: str):
    # Pipelines pull in torch and diffusers: import them on first use so `mediadiff.worlds` and the CLI start fast.
    if name in _PIPELINE_NAMES:
        from . import pipelines

        return getattr(pipelines, name)
    raise AttributeError(f"module 'mediadiff' has no attribute {name!r}")

__all__ = ["AudioOutput", "AudioPipeline", "Cancelled", "CheckpointError", "MediadiffError", "ValidationError",
           "VideoOutput", "VideoPipeline", "__version__"]
