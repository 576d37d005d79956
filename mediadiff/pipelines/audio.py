"""AudioPipeline: text -> mel latents (B, C, t, m) -> log-mel -> waveform, on the shared core."""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio

from .. import validation
from ..codecs.mel import LOG_FLOOR, PEAK_CEILING, MelConfig, decode_mel, griffin_lim, limit_peak, log_mel, vocode
from ..core.sampling import CancelFlag, StepCallback
from ..validation import AudioRequest
from .base import Given, MediaPipeline, Timer, seed_or_generator, windows_for
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

    def __call__(self, prompt, negative_prompt: str | None = None, *, seconds: float | None = None,
                 steps: int | None = None, guidance: float | None = None, scheduler: str | None = None,
                 seed=None, num_outputs: int | None = None,
                 callback: StepCallback | None = None, cancel: CancelFlag | None = None, **media) -> AudioOutput:
        """Generate `num_outputs` sounds of `seconds` each; unset parameters take the checkpoint's defaults.

        `prompt` may be a {second: prompt} schedule. `media`: init=FILE and strength= (audio to audio),
        continue_from=FILE (seconds= new seconds after it), inpaint=(start, end) seconds with init, and the context
        windows: context_length=, context_stride= (seconds), weighting=, noise_type= (validation.audio_request)."""
        seed, generator = seed_or_generator(seed)
        request = self.request(prompt, negative_prompt, seconds=seconds, steps=steps, guidance=guidance,
                               scheduler=scheduler, seed=seed, num_outputs=num_outputs, **media)
        return self.generate(request, generator=generator, callback=callback, cancel=cancel)

    def generate(self, request: AudioRequest, *, generator: torch.Generator | None = None,
                 callback: StepCallback | None = None, cancel: CancelFlag | None = None) -> AudioOutput:
        """Generate a validated request; `generator` (one for every sound) replaces the request's seed."""
        # 1. The request was validated once, before any model work; only its kind is checked here.
        self.check_request(request)
        self.check_speed_with(request)
        timer = Timer(self.device)
        mel = self.mel_config
        # 2. Mel frames covering the requested length (never short), rounded up to the VAE factor (trimmed later).
        f = self.limits.vae_factor
        rows_per_second = mel.sample_rate / mel.hop_length / f
        mel_frames = math.ceil(math.ceil(request.total_seconds * mel.sample_rate / mel.hop_length - 1e-6) / f) * f
        shape = (request.num_outputs, self.unet.config.in_channels, mel_frames // f, mel.n_mels // f)  # (B, C, t, m)
        # 3. Given sound into latents (posterior samples drawn before the noise).
        generators, used_seed = self.generators(request.seed, request.num_outputs, generator)
        given = Given()
        if request.given:
            with timer.stage("encode"):
                given = self.given(request, shape, generators, rows_per_second)
        # 4. Denoise in the audio latent layout: one window, or context windows over time.
        keys = None if request.schedule is None else \
            [0] + [int(round((k + request.overlap) * rows_per_second)) for k, _ in request.schedule[1:]]
        latents = self.denoise(shape, request, generators, timer, callback, cancel, given,
                               windows_for(request.context, rows_per_second), keys)
        # 5. Decode to log-mel, then to a waveform; a continued sound is the given one, then the new seconds.
        with timer.stage("decode"):
            mels = decode_mel(self.vae, latents)  # (B, 1, T, M)
        with timer.stage("vocoder"):
            vocoder = self.components.get("vocoder")
            wave = vocode(vocoder, mels) if vocoder is not None else griffin_lim(mels, mel)  # (B, samples)
        wave = wave[:, : int(request.total_seconds * mel.sample_rate)].numpy()
        spectrum = mels[:, 0].float().cpu().numpy()  # (B, T, M): what was vocoded
        if request.inpaint is not None:
            # The mel VAE and the vocoder see across the span's edges: outside it the output is the input's own
            # reconstruction (its latents decoded alone), crossfaded into the new span; the spectrum likewise.
            with timer.stage("decode"):
                kept = decode_mel(self.vae, given.known)
                kept_wave = (vocode(vocoder, kept) if vocoder is not None else griffin_lim(kept, mel))
            start, end = (int(round(t * mel.sample_rate)) for t in request.inpaint)
            per_sample = spectrum.shape[1] / wave.shape[1]
            wave = splice(kept_wave[:, :wave.shape[1]].numpy(), wave, start, end)
            shown = splice(kept[:, 0].float().cpu().numpy().swapaxes(1, 2), spectrum.swapaxes(1, 2),
                           int(start * per_sample), int(end * per_sample), fade=1)
            spectrum = np.ascontiguousarray(shown.swapaxes(1, 2))
        if request.continuation is not None:
            given_wave = self.resampled(request.continuation, mel.sample_rate)
            overlap = int(round(request.overlap * mel.sample_rate))
            wave = join(given_wave, wave, overlap)
            head = log_mel_of(given_wave[: len(given_wave) - overlap], mel)  # (T', M): the given part, analysed
            spectrum = np.concatenate([np.repeat(head[None], len(spectrum), 0), spectrum], axis=1)
        # 6. Inside full scale: a waveform that peaks past the ceiling is scaled down to it (never clipped).
        wave = limit_peak(wave)
        settings = self.base_settings(request, used_seed) | {"sample_rate": mel.sample_rate,
                                                             "peak_ceiling": PEAK_CEILING}
        return AudioOutput(wave, mel.sample_rate, spectrum, used_seed, settings, timer.stages)

    @staticmethod
    def resampled(media, rate: int) -> np.ndarray:
        """A given sound's samples at `rate` (torchaudio's band-limited resampling where the rates differ)."""
        wave = torch.from_numpy(media.data)
        if int(media.rate) != rate:
            wave = torchaudio.functional.resample(wave, int(media.rate), rate)
        return wave.numpy()

    def given(self, request: AudioRequest, shape: tuple[int, ...], generators, rows_per_second: float) -> Given:
        """The request's given sound as latents: an SDEdit start (init) and a kept region (an inpainting span's
        outside, a continued sound's tail), with the mask over latent rows (B, 1, t, 1)."""
        rows = shape[2]
        keep = torch.zeros((1, 1, rows, 1), device=self.device, dtype=self.dtype)
        mel = self.mel_config
        if request.init is not None:
            init = self.encode_wave(self.resampled(request.init, mel.sample_rate), rows, request.num_outputs,
                                    generators)
            if request.inpaint is None:
                return Given(init=init)
            start, end = (int(round(t * rows_per_second)) for t in request.inpaint)
            keep[:, :, :start] = 1
            keep[:, :, max(end, start + 1):] = 1
            return Given(init=init, known=init, keep=keep)
        if request.continuation is not None:
            wave = self.resampled(request.continuation, mel.sample_rate)
            tail = wave[len(wave) - int(round(request.overlap * mel.sample_rate)):]
            given_rows = min(rows, int(round(request.overlap * rows_per_second)))
            known = torch.zeros(shape, device=self.device, dtype=self.dtype)
            known[:, :, :given_rows] = self.encode_wave(tail, rows, request.num_outputs, generators)[:, :, :given_rows]
            keep[:, :, :given_rows] = 1
            return Given(known=known, keep=keep)
        return Given()

    def encode_wave(self, wave: np.ndarray, rows: int, count: int, generators) -> torch.Tensor:
        """Samples -> mel latents (B, C, rows, m): log-mel through the mel VAE, trimmed or padded (with the
        log floor, silence) to `rows` latent rows."""
        mel = self.mel_config
        frames = rows * self.limits.vae_factor
        spectrum = log_mel(torch.from_numpy(wave)[None], mel)[:, :frames]  # (1, T, M)
        if spectrum.shape[1] < frames:
            pad = spectrum.new_full((1, frames - spectrum.shape[1], mel.n_mels), math.log(LOG_FLOOR))
            spectrum = torch.cat([spectrum, pad], dim=1)
        latents = self.encode_latents(spectrum[:, None], generators)  # (1, C, rows, m)
        return latents.expand(count, -1, -1, -1).contiguous()


def log_mel_of(wave: np.ndarray, mel: MelConfig) -> np.ndarray:
    """Log-mel (T, M) of samples, frames a hop apart (the analysis the vocoder inverts)."""
    if len(wave) < mel.hop_length:
        return np.zeros((0, mel.n_mels), np.float32)
    frames = len(wave) // mel.hop_length
    return log_mel(torch.from_numpy(np.ascontiguousarray(wave))[None], mel)[0, :frames].numpy()


def splice(outside: np.ndarray, inside: np.ndarray, start: int, end: int, fade: int = 320) -> np.ndarray:
    """`outside` with `inside` over [start, end) on the last axis, equal-power crossfades of `fade` samples just
    inside the span's edges (outside the span the result is `outside` exactly)."""
    out = outside.copy()
    out[..., start:end] = inside[..., start:end]
    fade = min(fade, (end - start) // 2)
    if fade:
        ramp = np.sin(np.linspace(0, np.pi / 2, fade, dtype=np.float32)) ** 2
        out[..., start:start + fade] = outside[..., start:start + fade] * (1 - ramp) + inside[..., start:start + fade] * ramp
        out[..., end - fade:end] = inside[..., end - fade:end] * ramp[::-1] + outside[..., end - fade:end] * (1 - ramp[::-1])
    return out


def join(given: np.ndarray, generated: np.ndarray, overlap: int, fade: int = 320) -> np.ndarray:
    """A continued sound: the given samples, then the generated ones after its kept tail, with a short
    equal-power crossfade (`fade` samples) over the seam."""
    fade = min(fade, overlap, len(given))
    new = generated[:, overlap - fade:]  # (B, fade + new samples)
    head = np.repeat(given[None], len(generated), 0).astype(np.float32)
    if fade:
        ramp = np.sin(np.linspace(0, np.pi / 2, fade, dtype=np.float32)) ** 2
        head[:, -fade:] = head[:, -fade:] * (1 - ramp) + new[:, :fade] * ramp
    return np.concatenate([head, new[:, fade:]], axis=1)
