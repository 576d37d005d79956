"""Mel spectrograms: the mel VAE decode, vocoders (HiFi-GAN, Griffin-Lim fallback) and WAV files."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio

from .atomic import atomic_output
from .metadata import settings_json

LOG_FLOOR = 1e-5


@dataclass(frozen=True)
class MelConfig:
    """The mel analysis a checkpoint was trained on (AudioLDM's: 16 kHz, 64 bins, hop 160)."""

    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 160
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float = 8000.0

    @classmethod
    def from_dict(cls, d: dict | None) -> "MelConfig":
        return cls(**{k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        return asdict(self)


def _mel_transform(cfg: MelConfig) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length,
        f_min=cfg.f_min, f_max=cfg.f_max, n_mels=cfg.n_mels, power=1.0, norm="slaney", mel_scale="slaney",
    )


def bin_frequencies(cfg: MelConfig) -> np.ndarray:
    """Each mel bin's centre in Hz (n_mels,), low to high: where its triangular filter peaks."""
    fbanks = torchaudio.functional.melscale_fbanks(cfg.n_fft // 2 + 1, cfg.f_min, cfg.f_max, cfg.n_mels,
                                                   cfg.sample_rate, norm="slaney", mel_scale="slaney")  # (F, M)
    hz = np.linspace(0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    return hz[fbanks.argmax(dim=0).numpy()]


def log_mel(wave: torch.Tensor, cfg: MelConfig) -> torch.Tensor:
    """Waveform (B, samples) -> natural-log magnitude mel (B, T, n_mels), HiFi-GAN's input convention."""
    mel = _mel_transform(cfg).to(wave.device)(wave)  # (B, n_mels, T)
    return torch.log(mel.clamp(min=LOG_FLOOR)).transpose(1, 2)  # (B, T, n_mels)


@torch.no_grad()
def decode_mel(vae, latents: torch.Tensor) -> torch.Tensor:
    """Latents (B, C, t, m) -> log-mel (B, 1, T, M) through the mel VAE."""
    dtype = next(vae.parameters()).dtype
    return vae.decode((latents / vae.config.scaling_factor).to(dtype)).sample


@torch.no_grad()
def vocode(vocoder, mel: torch.Tensor) -> torch.Tensor:
    """Log-mel (B, 1, T, M) -> waveform (B, samples) float32 on the CPU with HiFi-GAN (Kong et al. 2020)."""
    dtype = next(vocoder.parameters()).dtype
    return vocoder(mel.squeeze(1).to(dtype)).float().cpu()


@torch.no_grad()
def griffin_lim(mel: torch.Tensor, cfg: MelConfig, n_iter: int = 32) -> torch.Tensor:
    """Log-mel (B, 1, T, M) -> waveform (B, samples) by phase reconstruction (Griffin & Lim 1984)."""
    magnitude = torch.exp(mel.squeeze(1).float().cpu()).transpose(1, 2)  # (B, M, T)
    inverse = torchaudio.transforms.InverseMelScale(
        n_stft=cfg.n_fft // 2 + 1, n_mels=cfg.n_mels, sample_rate=cfg.sample_rate,
        f_min=cfg.f_min, f_max=cfg.f_max, norm="slaney", mel_scale="slaney",
    )
    linear = inverse(magnitude)  # (B, n_fft/2+1, T)
    gl = torchaudio.transforms.GriffinLim(
        n_fft=cfg.n_fft, win_length=cfg.win_length, hop_length=cfg.hop_length, power=1.0, n_iter=n_iter,
        rand_init=False,  # deterministic: same mel, same waveform
    )
    wave = gl(linear)  # (B, (T-1)*hop): centred frames cover one hop less than a vocoder's output
    return torch.nn.functional.pad(wave, (0, magnitude.shape[-1] * cfg.hop_length - wave.shape[-1]))


PEAK_CEILING = 0.98  # every generated waveform's peak stays at or below this (16-bit full scale is 1.0)


def limit_peak(wave: np.ndarray, ceiling: float = PEAK_CEILING) -> np.ndarray:
    """Waveforms (..., samples) whose peak passes `ceiling` scaled down to it as a whole (peak normalisation: no
    clipped samples, no change to the rest)."""
    peak = np.abs(wave).max(axis=-1, keepdims=True)  # (..., 1)
    return (wave * np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))).astype(wave.dtype)


def write_wav(path: str | Path, wave: np.ndarray, sample_rate: int, settings: dict | None = None) -> Path:
    """Write mono float audio as 16-bit PCM WAV with the settings in its INFO chunk; atomically."""
    import soundfile as sf

    path = Path(path)
    buffer = io.BytesIO()  # encoded in memory, written by Python: a full disk is an OSError with its errno
    with sf.SoundFile(buffer, "w", samplerate=sample_rate, channels=1, subtype="PCM_16", format="WAV") as f:
        if settings:
            f.comment = settings_json(settings)
            f.software = f"mediadiff {settings.get('mediadiff_version', '')}".strip()
        f.write(np.clip(np.asarray(wave, dtype=np.float32), -1.0, 1.0))
    with atomic_output(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return path
