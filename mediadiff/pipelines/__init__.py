"""Pipelines: orchestrate the core and the codecs for one modality each."""

from .audio import AudioPipeline
from .outputs import AudioOutput, VideoOutput
from .video import VideoPipeline

__all__ = ["AudioOutput", "AudioPipeline", "VideoOutput", "VideoPipeline"]
