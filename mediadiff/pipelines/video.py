"""VideoPipeline: text -> video latents (B, C, F, h, w) -> frames, on the shared core."""

from __future__ import annotations

from ..codecs.frames import decode_video
from ..core.sampling import CancelFlag, StepCallback
from ..validation import video_request
from .base import MediaPipeline, Timer
from .outputs import VideoOutput


class VideoPipeline(MediaPipeline):
    """Text-to-video with a UNet3D (ModelScope) or UNetMotionModel (AnimateDiff) denoiser and a frame VAE."""

    modality = "video"

    def __call__(self, prompt: str, negative_prompt: str | None = None, *, frames: int | None = None,
                 height: int | None = None, width: int | None = None, fps: int | None = None,
                 steps: int | None = None, guidance: float | None = None, scheduler: str | None = None,
                 seed=None, num_outputs: int | None = None, decode_chunk_size: int = 8,
                 callback: StepCallback | None = None, cancel: CancelFlag | None = None) -> VideoOutput:
        """Generate `num_outputs` clips; unset parameters take the checkpoint's defaults."""
        # 1. Validate everything before any model work.
        request = video_request(self.limits, prompt, negative_prompt, frames=frames, height=height, width=width,
                                fps=fps, steps=steps, guidance=guidance, scheduler=scheduler,
                                seed=None if hasattr(seed, "manual_seed") else seed, num_outputs=num_outputs)
        timer = Timer(self.device)
        # 2. One CPU generator per output.
        generators, used_seed = self.generators(seed if hasattr(seed, "manual_seed") else request.seed,
                                                request.num_outputs)
        # 3. Denoise in the video latent layout.
        f = self.limits.vae_factor
        shape = (request.num_outputs, self.unet.config.in_channels, request.frames,
                 request.height // f, request.width // f)  # (B, C, F, h, w)
        latents = self.denoise(shape, request, generators, timer, callback, cancel)
        # 4. Decode frame by frame, in chunks.
        with timer.stage("decode"):
            video = decode_video(self.vae, latents, decode_chunk_size)  # (B, F, H, W, 3)
        return VideoOutput(video, request.fps, used_seed, self.base_settings(request, used_seed), timer.stages)
