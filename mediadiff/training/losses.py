"""Losses: diffusion (v-prediction, min-SNR weighting), VAE reconstruction + KL, vocoder spectral losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def min_snr_weights(scheduler, timesteps: torch.Tensor, gamma: float, prediction_type: str) -> torch.Tensor:
    """Per-sample weights min(SNR, gamma) / SNR (epsilon), / (SNR + 1) (v) (Hang et al. 2023); gamma <= 0: all 1."""
    from diffusers.training_utils import compute_snr

    if gamma <= 0:  # the plain loss: keeps the high-noise steps, where only the text decides, at full weight
        return torch.ones_like(timesteps, dtype=torch.float32)
    snr = compute_snr(scheduler, timesteps)  # (B,)
    clipped = torch.clamp(snr, max=gamma)
    return clipped / (snr + 1) if prediction_type == "v_prediction" else clipped / snr


def noise_and_timesteps(x0: torch.Tensor, num_train_timesteps: int, paired: bool = False, generator=None,
                        t_min: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian noise (B, C, ...) and uniform timesteps (B,) for a batch.

    paired: the batch is B/2 clips followed by their time reversals, and both halves get the same noise and
    timesteps, so from the same noisy start only the caption tells a clip from its reversal.
    """
    n = x0.shape[0] // 2 if paired else x0.shape[0]
    noise = torch.randn((n, *x0.shape[1:]), generator=generator, device=x0.device, dtype=x0.dtype)
    t = torch.randint(t_min, num_train_timesteps, (n,), generator=generator, device=x0.device)
    return (torch.cat([noise, noise]), torch.cat([t, t])) if paired else (noise, t)


def diffusion_loss(model_fn, scheduler, x0: torch.Tensor, gamma: float, prediction_type: str,
                   paired: bool = False, t_min: int = 0) -> torch.Tensor:
    """Noise x0 at random timesteps >= t_min and regress the target (v: Salimans & Ho 2022), min-SNR weighted;
    paired: x0 is clips then their time reversals, noised alike (`noise_and_timesteps`)."""
    noise, t = noise_and_timesteps(x0, scheduler.config.num_train_timesteps, paired, t_min=t_min)  # (B, C, ...), (B,)
    noisy = scheduler.add_noise(x0, noise, t)  # (B, C, ...)
    target = scheduler.get_velocity(x0, noise, t) if prediction_type == "v_prediction" else noise
    pred = model_fn(noisy, t)  # (B, C, ...)
    per_sample = F.mse_loss(pred.float(), target.float(), reduction="none").flatten(1).mean(1)  # (B,)
    w = min_snr_weights(scheduler, t.cpu(), gamma, prediction_type).to(x0.device)  # (B,)
    return (w * per_sample).mean()


def vae_loss(vae, x: torch.Tensor, kl_weight: float, kind: str = "l1") -> torch.Tensor:
    """L1 (or MSE) reconstruction plus a small KL to the unit Gaussian (latent diffusion's autoencoder)."""
    posterior = vae.encode(x).latent_dist
    recon = vae.decode(posterior.sample()).sample  # same shape as x
    reconstruction = F.l1_loss(recon, x) if kind == "l1" else F.mse_loss(recon.float(), x.float())
    return reconstruction + kl_weight * posterior.kl().mean()


def stft_loss(pred: torch.Tensor, target: torch.Tensor, sizes=(256, 512, 1024)) -> torch.Tensor:
    """Multi-resolution STFT loss: spectral convergence + log-magnitude L1 (Yamamoto et al. 2020)."""
    total = pred.new_zeros(())
    for n_fft in sizes:
        window = torch.hann_window(n_fft, device=pred.device)
        spec = [torch.stft(w, n_fft, n_fft // 4, window=window, return_complex=True).abs() + 1e-7
                for w in (pred, target)]  # (B, F, T) each
        sc = torch.linalg.norm(spec[1] - spec[0]) / torch.linalg.norm(spec[1])
        total = total + sc + F.l1_loss(spec[0].log(), spec[1].log())
    return total / len(sizes)
