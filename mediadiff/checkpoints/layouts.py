"""The checkpoint layouts mediadiff recognises, by the pipeline class named in model_index.json."""

from __future__ import annotations

from dataclasses import dataclass, field

# Components each layout needs to generate; anything else in model_index.json is loaded only if listed here.
VIDEO_PARTS = ("vae", "text_encoder", "tokenizer", "unet", "scheduler")
AUDIO_PARTS = ("vae", "text_encoder", "tokenizer", "unet", "scheduler", "vocoder")


@dataclass(frozen=True)
class Layout:
    """One checkpoint family: its modality, the parts it loads, and its published defaults."""

    name: str
    modality: str
    parts: tuple[str, ...]
    optional: tuple[str, ...] = ()
    defaults: dict = field(default_factory=dict)


LAYOUTS: dict[str, Layout] = {
    "TextToVideoSDPipeline": Layout("modelscope", "video", VIDEO_PARTS, defaults={"guidance": 9.0, "fps": 8, "frames": 16}),
    "AnimateDiffPipeline": Layout("animatediff", "video", VIDEO_PARTS, ("motion_adapter",),
                                  defaults={"guidance": 7.5, "fps": 8, "frames": 16}),
    # A Stable Diffusion 1.5 base becomes AnimateDiff once a motion adapter is given.
    "StableDiffusionPipeline": Layout("animatediff", "video", VIDEO_PARTS, ("motion_adapter",),
                                      defaults={"guidance": 7.5, "fps": 8, "frames": 16}),
    "AudioLDMPipeline": Layout("audioldm", "audio", AUDIO_PARTS, defaults={"guidance": 2.5, "seconds": 5.12}),
    "MediadiffVideoPipeline": Layout("mediadiff", "video", VIDEO_PARTS),
    "MediadiffAudioPipeline": Layout("mediadiff", "audio", ("vae", "text_encoder", "tokenizer", "unet", "scheduler"),
                                     ("vocoder",)),
}
OWN_CLASS = {"video": "MediadiffVideoPipeline", "audio": "MediadiffAudioPipeline"}


def layout_of(class_name: str) -> Layout | None:
    """The layout for a model_index.json `_class_name`, or None when mediadiff does not know it."""
    return LAYOUTS.get(class_name)

# Tiny random pipelines `mediadiff tiny` can build (checkpoints/debug.py), one per layout above.
TINY_LAYOUTS = ("modelscope", "animatediff", "audioldm", "mediadiff-video", "mediadiff-audio")
