"""VideoPipeline: text -> video latents (B, C, F, h, w) -> frames, on the shared core."""

from __future__ import annotations

import torch

from .. import validation
from ..codecs.frames import decode_video
from ..core.sampling import CancelFlag, StepCallback
from ..validation import VideoRequest
from .base import MediaPipeline, Timer, seed_or_generator
from .outputs import VideoOutput


class VideoPipeline(MediaPipeline):
    """Text-to-video with a UNet3D (ModelScope) or UNetMotionModel (AnimateDiff) denoiser and a frame VAE."""

    modality = "video"
    request_type = VideoRequest

    def request(self, prompt, negative_prompt=None, **settings) -> VideoRequest:
        """The generation checked once against this checkpoint's limits; unset settings take its defaults."""
        return validation.video_request(self.limits, prompt, negative_prompt, **settings)

    def __call__(self, prompt: str, negative_prompt: str | None = None, *, frames: int | None = None,
                 height: int | None = None, width: int | None = None, fps: int | None = None,
                 steps: int | None = None, guidance: float | None = None, scheduler: str | None = None,
                 seed=None, num_outputs: int | None = None, decode_chunk_size: int = 8,
                 callback: StepCallback | None = None, cancel: CancelFlag | None = None) -> VideoOutput:
        """Generate `num_outputs` clips; unset parameters take the checkpoint's defaults."""
        seed, generator = seed_or_generator(seed)
        request = self.request(prompt, negative_prompt, frames=frames, height=height, width=width, fps=fps,
                               steps=steps, guidance=guidance, scheduler=scheduler, seed=seed,
                               num_outputs=num_outputs)
        return self.generate(request, generator=generator, decode_chunk_size=decode_chunk_size, callback=callback,
                             cancel=cancel)

    def generate(self, request: VideoRequest, *, generator: torch.Generator | None = None,
                 decode_chunk_size: int = 8, callback: StepCallback | None = None,
                 cancel: CancelFlag | None = None) -> VideoOutput:
        """Generate a validated request; `generator` (one for every clip) replaces the request's seed."""
        # 1. The request was validated once, before any model work; only its kind is checked here.
        self.check_request(request)
        timer = Timer(self.device)
        # 2. One CPU generator per output.
        generators, used_seed = self.generators(request.seed, request.num_outputs, generator)
        # 3. Denoise in the video latent layout.
        f = self.limits.vae_factor
        shape = (request.num_outputs, self.unet.config.in_channels, request.frames,
                 request.height // f, request.width // f)  # (B, C, F, h, w)
        latents = self.denoise(shape, request, generators, timer, callback, cancel)
        # 4. Decode frame by frame, in chunks.
        with timer.stage("decode"):
            video = decode_video(self.vae, latents, decode_chunk_size)  # (B, F, H, W, 3)
        return VideoOutput(video, request.fps, used_seed, self.base_settings(request, used_seed), timer.stages)
