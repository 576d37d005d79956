"""VideoPipeline: text -> video latents (B, C, F, h, w) -> frames, on the shared core."""

from __future__ import annotations

import numpy as np
import torch

from .. import validation
from ..checkpoints import resolve_limits
from ..checkpoints.presets import default_model
from ..codecs.frames import decode_video
from ..core.sampling import CancelFlag, StepCallback
from ..errors import ValidationError
from ..validation import VideoRequest
from .base import Given, MediaPipeline, Timer, seed_or_generator, windows_for
from .outputs import VideoOutput
from .soundtrack import add_sound


class VideoPipeline(MediaPipeline):
    """Text-to-video with a UNet3D (ModelScope) or UNetMotionModel (AnimateDiff) denoiser and a frame VAE."""

    modality = "video"
    request_type = VideoRequest

    def request(self, prompt, negative_prompt=None, **settings) -> VideoRequest:
        """The generation checked once against this checkpoint's limits; unset settings take its defaults."""
        return validation.video_request(self.limits, prompt, negative_prompt, **settings)

    def __call__(self, prompt, negative_prompt: str | None = None, *, frames: int | None = None,
                 height: int | None = None, width: int | None = None, fps: int | None = None,
                 steps: int | None = None, guidance: float | None = None, scheduler: str | None = None,
                 seed=None, num_outputs: int | None = None, decode_chunk_size: int = 8,
                 callback: StepCallback | None = None, cancel: CancelFlag | None = None, sound=None,
                 sound_prompt: str | None = None, sound_file=None, **media) -> VideoOutput:
        """Generate `num_outputs` clips; unset parameters take the checkpoint's defaults.

        `prompt` may be a {frame: prompt} schedule (prompt travel). `media`: init=FILE and strength= (video to
        video), continue_from=FILE (frames= new frames after it), inpaint=(start, end) frames with init, image=FILE
        and image_at= (a given frame), and the context windows: context_length=, context_stride=, weighting=,
        noise_type=, window_method= (validation.video_request).

        A soundtrack as long as the clip, from the clip's seed: `sound=` an AudioPipeline, True (the shipped audio
        model) or an audio prompt (the shipped model with it); `sound_prompt=` (default: the clip's prompt);
        `sound_file=` a given sound instead. Saved as .mp4 it is muxed in as AAC."""
        seed, generator = seed_or_generator(seed)
        wants_sound = sound is not None and sound is not False or sound_file is not None
        if wants_sound and generator is not None:
            raise ValidationError("seed", "a torch.Generator", "must be an integer or None with a soundtrack (one "
                                                              "seed for the clip and its sound)")
        request = self.request(prompt, negative_prompt, frames=frames, height=height, width=width, fps=fps,
                               steps=steps, guidance=guidance, scheduler=scheduler, seed=seed,
                               num_outputs=num_outputs, **media)
        if not wants_sound:
            return self.generate(request, generator=generator, decode_chunk_size=decode_chunk_size,
                                 callback=callback, cancel=cancel)
        from .audio import AudioPipeline

        audio = sound if isinstance(sound, AudioPipeline) else None
        limits, source = (audio.limits, audio.name) if audio is not None else (None, "")
        if sound_file is None and audio is None:  # the shipped audio model: checked on its configs, loaded after
            resolved = resolve_limits(default_model("audio"))
            limits, source = resolved.limits, resolved.source
            sound_prompt = sound if isinstance(sound, str) and sound_prompt is None else sound_prompt
        request, track = validation.soundtrack(request, limits=limits, source=source, prompt=sound_prompt,
                                               file=sound_file)
        out = self.generate(request, decode_chunk_size=decode_chunk_size, callback=callback, cancel=cancel)
        if sound_file is None and audio is None:
            audio = AudioPipeline.from_pretrained(resolved, device=str(self.device))
        return add_sound(out, track, audio, cancel=cancel)

    def generate(self, request: VideoRequest, *, generator: torch.Generator | None = None,
                 decode_chunk_size: int = 8, callback: StepCallback | None = None,
                 cancel: CancelFlag | None = None) -> VideoOutput:
        """Generate a validated request; `generator` (one for every clip) replaces the request's seed."""
        # 1. The request was validated once, before any model work; only its kind is checked here.
        self.check_request(request)
        self.check_speed_with(request)
        timer = Timer(self.device)
        # 2. One CPU generator per output.
        generators, used_seed = self.generators(request.seed, request.num_outputs, generator)
        # 3. Given media into latents (posterior samples drawn before the noise, as diffusers draws them).
        f = self.limits.vae_factor
        shape = (request.num_outputs, self.unet.config.in_channels, request.latent_frames,
                 request.height // f, request.width // f)  # (B, C, F, h, w)
        given = Given()
        if request.given:
            with timer.stage("encode"):
                given = self.given(request, shape, generators)
        # 4. Denoise in the video latent layout: one window, or context windows over the frames.
        windows = windows_for(request.context)
        keys = None if request.schedule is None else \
            [0] + [int(k) + request.overlap for k, _ in request.schedule[1:]]  # after a continued clip's tail
        latents = self.denoise(shape, request, generators, timer, callback, cancel, given, windows, keys)
        # 5. Decode frame by frame, in chunks; a continued clip is the given frames, then the new ones.
        with timer.stage("decode"):
            video = decode_video(self.vae, latents, decode_chunk_size)  # (B, F, H, W, 3)
        if request.continuation is not None:
            given_frames = pixels(request.continuation.data, request.height, request.width).permute(0, 2, 3, 1)
            given_frames = ((given_frames + 1) / 2).clamp(0, 1).numpy()[None].repeat(len(video), 0)
            video = np.concatenate([given_frames, video[:, request.overlap:]], axis=1)
        return VideoOutput(video, request.fps, used_seed, self.base_settings(request, used_seed), timer.stages)

    def given(self, request: VideoRequest, shape: tuple[int, ...], generators) -> Given:
        """The request's given media as latents: an SDEdit start (init), a kept region (inpaint span's outside,
        a continued clip's tail, a given frame), with the mask over frames (B, 1, F, 1, 1)."""
        n, _, total = shape[:3]
        keep = torch.zeros((1, 1, total, 1, 1), device=self.device, dtype=self.dtype)
        if request.init is not None:
            init = self.encode_frames(request.init.data[:request.frames], request, generators)
            if request.inpaint is None:
                return Given(init=init)
            keep[:, :, :request.inpaint[0]] = 1
            keep[:, :, request.inpaint[1]:] = 1
            return Given(init=init, known=init, keep=keep)
        if request.continuation is not None:
            tail = request.continuation.data[len(request.continuation.data) - request.overlap:]
            known = torch.zeros(shape, device=self.device, dtype=self.dtype)
            known[:, :, :request.overlap] = self.encode_frames(tail, request, generators)
            keep[:, :, :request.overlap] = 1
            return Given(known=known, keep=keep)
        if request.image is not None:
            known = torch.zeros(shape, device=self.device, dtype=self.dtype)
            at = request.image_at
            known[:, :, at:at + 1] = self.encode_frames(request.image.data, request, generators)
            keep[:, :, at] = 1
            return Given(known=known, keep=keep)
        return Given()

    def encode_frames(self, frames: np.ndarray, request: VideoRequest, generators) -> torch.Tensor:
        """uint8 frames (F, H, W, 3) -> latents (B, C, F, h, w) at the request's size, one copy per output."""
        latents = self.encode_latents(pixels(frames, request.height, request.width), generators)  # (F, C, h, w)
        return latents.transpose(0, 1).unsqueeze(0).expand(request.num_outputs, -1, -1, -1, -1).contiguous()


def pixels(frames: np.ndarray, height: int, width: int) -> torch.Tensor:
    """uint8 frames (F, H, W, 3) -> float (F, 3, height, width) in [-1, 1]: centre-cropped to the target's aspect
    and resized (antialiased bilinear) where the size differs."""
    x = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2).float() / 255.0  # (F, 3, H, W)
    h, w = x.shape[-2:]
    if (h, w) != (height, width):
        if h * width > w * height:  # taller than the target: crop rows
            keep = round(w * height / width)
            x = x[:, :, (h - keep) // 2:(h - keep) // 2 + keep]
        else:
            keep = round(h * width / height)
            x = x[:, :, :, (w - keep) // 2:(w - keep) // 2 + keep]
        x = torch.nn.functional.interpolate(x, size=(height, width), mode="bilinear", antialias=True,
                                            align_corners=False).clamp(0, 1)
    return x * 2 - 1

