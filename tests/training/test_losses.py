"""Diffusion loss weights: min-SNR (Hang et al. 2023) and the plain loss that gamma <= 0 selects."""

import torch
from diffusers import DDPMScheduler

from mediadiff.training.losses import diffusion_loss, min_snr_weights


def _scheduler():
    return DDPMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")


def test_min_snr_for_v_prediction_vanishes_at_the_noisiest_steps():
    w = min_snr_weights(_scheduler(), torch.tensor([0, 500, 999]), 5.0, "v_prediction")
    assert torch.allclose(w[0], torch.tensor(5.0 / (1 + _snr(0))), rtol=1e-3)  # clipped at gamma, low noise
    assert w[2] < 1e-3 < w[1] < 1.0  # why gamma <= 0 exists: the high-noise steps get almost no weight


def test_gamma_zero_weighs_every_timestep_alike():
    w = min_snr_weights(_scheduler(), torch.tensor([0, 500, 999]), 0.0, "v_prediction")
    assert torch.equal(w, torch.ones(3))


def test_plain_loss_is_the_unweighted_mean_square_error():
    torch.manual_seed(0)
    x0 = torch.randn(4, 2, 8, 8)
    plain = diffusion_loss(lambda x, t: torch.zeros_like(x), _scheduler(), x0, 0.0, "v_prediction")
    torch.manual_seed(0)
    x0 = torch.randn(4, 2, 8, 8)  # the same draws in the same order as above
    noise, t = torch.randn_like(x0), torch.randint(0, 1000, (4,))
    target = _scheduler().get_velocity(x0, noise, t)
    assert torch.allclose(plain, target.pow(2).mean(), rtol=1e-5)


def _snr(t: int) -> float:
    a = _scheduler().alphas_cumprod[t]
    return float(a / (1 - a))


def test_paired_batches_share_noise_and_timesteps_between_halves():
    from mediadiff.training.losses import noise_and_timesteps

    x0 = torch.randn(6, 4, 3, 5)
    noise, t = noise_and_timesteps(x0, 1000, paired=True, generator=torch.Generator().manual_seed(0))
    assert noise.shape == x0.shape and t.shape == (6,)
    assert torch.equal(noise[:3], noise[3:]) and torch.equal(t[:3], t[3:])
    noise, t = noise_and_timesteps(x0, 1000, generator=torch.Generator().manual_seed(0), t_min=900)
    assert not torch.equal(noise[:3], noise[3:]) and bool((t >= 900).all())


def test_t_min_keeps_the_loss_on_the_noisiest_timesteps():
    seen = []

    def model(x, t):
        seen.append(t)
        return torch.zeros_like(x)

    torch.manual_seed(0)
    diffusion_loss(model, _scheduler(), torch.randn(256, 2, 4, 4), 0.0, "v_prediction", t_min=700)
    t = seen[0]
    assert int(t.min()) >= 700 and int(t.max()) == 999 and len(set(t.tolist())) > 100
