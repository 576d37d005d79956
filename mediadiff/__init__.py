"""mediadiff: text-to-video and text-to-audio diffusion on one shared denoising core."""

__version__ = "0.1.0"

from .errors import Cancelled, CheckpointError, MediadiffError, ValidationError  # noqa: E402
from .pipelines import AudioOutput, AudioPipeline, VideoOutput, VideoPipeline  # noqa: E402

__all__ = ["AudioOutput", "AudioPipeline", "Cancelled", "CheckpointError", "MediadiffError", "ValidationError",
           "VideoOutput", "VideoPipeline", "__version__"]
