"""The probe's v-prediction inversion recovers the clean sample exactly."""

import torch
from diffusers import DDPMScheduler

from mediadiff.evaluation.probe import predicted_clean


def test_predicted_clean_inverts_the_velocity():
    scheduler = DDPMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")
    x0, noise = torch.randn(2, 4, 3, 2, 2), torch.randn(2, 4, 3, 2, 2)
    for t in (0, 500, 999):
        ts = torch.full((2,), t)
        noisy = scheduler.add_noise(x0, noise, ts)
        v = scheduler.get_velocity(x0, noise, ts)
        torch.testing.assert_close(predicted_clean(scheduler.alphas_cumprod, t, noisy, v), x0, atol=1e-4, rtol=1e-4)
