"""AudioPipeline: text -> mel latents (B, C, t, m) -> log-mel -> waveform, on the shared core."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import validation
from ..codecs.mel import MelConfig, decode_mel, griffin_lim, vocode
from ..core.sampling import CancelFlag, StepCallback
from ..validation import AudioRequest
from .base import MediaPipeline, Timer, seed_or_generator
from .outputs import AudioOutput


class AudioPipeline(MediaPipeline):
    """Text-to-audio with a UNet2D on mel latents, a mel VAE and a HiFi-GAN vocoder (Griffin-Lim without one)."""

    modality = "audio"
    request_type = AudioRequest

    @property
    def mel_config(self) -> MelConfig:
        """The mel analysis: the vocoder's rate and hop where there is one, else the checkpoint's record."""
        cfg = MelConfig.from_dict(self.limits.defaults.get("mel"))
        vocoder = self.components.get("vocoder")
        if vocoder is not None:
            c = vocoder.config
            cfg = MelConfig(**{**cfg.to_dict(), "sample_rate": int(c.sampling_rate),
                               "hop_length": int(np.prod(c.upsample_rates)), "n_mels": int(c.model_in_dim)})
        return cfg

    def request(self, prompt, negative_prompt=None, **settings) -> AudioRequest:
        """The generation checked once against this checkpoint's limits; unset settings take its defaults."""
        return validation.audio_request(self.limits, prompt, negative_prompt, **settings)

    def __call__(self, prompt: str, negative_prompt: str | None = None, *, seconds: float | None = None,
                 steps: int | None = None, guidance: float | None = None, scheduler: str | None = None,
                 seed=None, num_outputs: int | None = None,
                 callback: StepCallback | None = None, cancel: CancelFlag | None = None) -> AudioOutput:
        """Generate `num_outputs` sounds of `seconds` each; unset parameters take the checkpoint's defaults."""
        seed, generator = seed_or_generator(seed)
        request = self.request(prompt, negative_prompt, seconds=seconds, steps=steps, guidance=guidance,
                               scheduler=scheduler, seed=seed, num_outputs=num_outputs)
        return self.generate(request, generator=generator, callback=callback, cancel=cancel)

    def generate(self, request: AudioRequest, *, generator: torch.Generator | None = None,
                 callback: StepCallback | None = None, cancel: CancelFlag | None = None) -> AudioOutput:
        """Generate a validated request; `generator` (one for every sound) replaces the request's seed."""
        # 1. The request was validated once, before any model work; only its kind is checked here.
        self.check_request(request)
        timer = Timer(self.device)
        mel = self.mel_config
        # 2. Mel frames covering the requested length (never short), rounded up to the VAE factor (trimmed later).
        f = self.limits.vae_factor
        mel_frames = math.ceil(math.ceil(request.seconds * mel.sample_rate / mel.hop_length - 1e-6) / f) * f
        shape = (request.num_outputs, self.unet.config.in_channels, mel_frames // f, mel.n_mels // f)  # (B, C, t, m)
        # 3. Denoise in the audio latent layout.
        generators, used_seed = self.generators(request.seed, request.num_outputs, generator)
        latents = self.denoise(shape, request, generators, timer, callback, cancel)
        # 4. Decode to log-mel, then to a waveform.
        with timer.stage("decode"):
            log_mel = decode_mel(self.vae, latents)  # (B, 1, T, M)
        with timer.stage("vocoder"):
            vocoder = self.components.get("vocoder")
            wave = vocode(vocoder, log_mel) if vocoder is not None else griffin_lim(log_mel, mel)  # (B, samples)
        wave = wave[:, : int(request.seconds * mel.sample_rate)].numpy()
        settings = self.base_settings(request, used_seed) | {"sample_rate": mel.sample_rate}
        return AudioOutput(wave, mel.sample_rate, log_mel[:, 0].float().cpu().numpy(), used_seed, settings,
                           timer.stages)
