"""The one sampling loop: guidance, seeds, callbacks, cancellation, layout."""

import threading

import pytest
import torch

from mediadiff.core import guidance
from mediadiff.core.sampling import SamplerSettings, sample
from mediadiff.core.schedulers import make_scheduler
from mediadiff.errors import Cancelled


def test_guidance_combines_uncond_and_cond():
    uncond, cond = torch.zeros(1, 2), torch.ones(1, 2)
    out = guidance.combine(torch.cat([uncond, cond]), 3.0, guided=True)
    assert torch.equal(out, torch.full((1, 2), 3.0))
    assert guidance.combine(cond, 3.0, guided=False) is cond
    assert guidance.uses_guidance(1.5) and not guidance.uses_guidance(1.0)


def _run(steps=4, scale=5.0, cancel=None, on_step=None, calls=None, layout=(1, 4, 3, 4, 4)):
    scheduler = make_scheduler("dpm++", {"num_train_timesteps": 1000})
    scheduler.set_timesteps(steps)

    def model_fn(x, t):
        if calls is not None:
            calls.append(tuple(x.shape))
        return 0.1 * x  # a stand-in denoiser: the loop, not the network, is under test

    latents = torch.randn(layout, generator=torch.Generator().manual_seed(0))
    return sample(model_fn, latents, scheduler, SamplerSettings(steps, scale), on_step, cancel)


def test_guided_step_is_one_batched_forward_in_the_media_layout():
    calls = []
    _run(steps=3, scale=5.0, calls=calls)
    assert calls == [(2, 4, 3, 4, 4)] * 3  # one forward per step, negative+positive stacked, 5-D kept
    calls.clear()
    _run(steps=3, scale=1.0, calls=calls)
    assert calls == [(1, 4, 3, 4, 4)] * 3  # guidance off: no unconditional branch


def test_callback_sees_every_step():
    seen = []
    _run(steps=5, on_step=lambda i, n, x: seen.append((i, n, tuple(x.shape))))
    assert seen == [(i, 5, (1, 4, 3, 4, 4)) for i in range(5)]


def test_cancellation_stops_before_the_next_step():
    flag = threading.Event()
    steps_done = []

    def on_step(i, n, x):
        steps_done.append(i)
        if i == 1:
            flag.set()

    with pytest.raises(Cancelled) as info:
        _run(steps=6, cancel=flag, on_step=on_step)
    assert steps_done == [0, 1] and info.value.step == 2


def test_guided_ddim_loop_equals_the_update_written_out():
    """The loop against DDIM's update written out by hand, with a stand-in whose two branches differ: the
    guidance order (negative first), the scale and every step's timestep pair must all be right."""
    steps, scale = 4, 3.0
    scheduler = make_scheduler("ddim", {"num_train_timesteps": 1000, "clip_sample": False})
    scheduler.set_timesteps(steps)
    assert scheduler.timesteps.tolist() == [750, 500, 250, 0]

    def model_fn(x, t):  # (2, C, L): the negative branch predicts 0.1 x, the positive one 0.3 x
        return x * torch.tensor([0.1, 0.3]).view(2, 1, 1)

    x0 = torch.randn(1, 3, 5, generator=torch.Generator().manual_seed(0))
    out = sample(model_fn, x0, scheduler, SamplerSettings(steps, scale))
    k = 0.1 + scale * (0.3 - 0.1)  # the guided prediction is k * x
    alpha = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)  # the linear betas
    x = x0.double()
    for t in (750, 500, 250, 0):
        a, a_prev = alpha[t], (alpha[t - 250] if t >= 250 else torch.tensor(1.0, dtype=torch.float64))
        eps = k * x
        x = a_prev.sqrt() * (x - (1 - a).sqrt() * eps) / a.sqrt() + (1 - a_prev).sqrt() * eps
    torch.testing.assert_close(out.double(), x, rtol=1e-4, atol=1e-5)


def test_a_stochastic_scheduler_draws_its_noise_from_the_settings_generator():
    def run(seed):
        scheduler = make_scheduler("ddpm", {"num_train_timesteps": 1000})
        scheduler.set_timesteps(3)
        settings = SamplerSettings(3, 1.0, torch.Generator().manual_seed(seed))
        return sample(lambda x, t: 0.1 * x, torch.zeros(1, 2, 3), scheduler, settings)

    torch.manual_seed(0)
    first = run(1)
    torch.manual_seed(1)  # the global RNG changes; the generator's seed does not
    assert torch.equal(run(1), first) and first.abs().max() > 0
    assert not torch.equal(run(2), first)


def test_strength_runs_the_last_part_of_the_schedule():
    from diffusers import DDIMScheduler

    from mediadiff.core.sampling import first_step, schedule

    assert [first_step(10, s) for s in (1.0, 0.5, 0.26, 0.01)] == [0, 5, 8, 10]
    sched = DDIMScheduler()
    full = schedule(sched, 10).tolist()
    assert schedule(sched, 10, 0.5).tolist() == full[5:]


def test_known_region_is_the_given_latents_after_the_last_step():
    from diffusers import DDIMScheduler

    from mediadiff.core.sampling import KnownRegion, SamplerSettings, sample, schedule

    sched = DDIMScheduler()
    timesteps = schedule(sched, 4)
    given = torch.randn(1, 2, 6, 3, 3)
    keep = torch.zeros(1, 1, 6, 1, 1)
    keep[:, :, :2] = 1
    known = KnownRegion(given, keep, torch.randn_like(given))
    out = sample(lambda x, t: torch.zeros_like(x), torch.randn_like(given), sched, SamplerSettings(4, 1.0),
                 timesteps=timesteps, known=known)
    assert torch.equal(out[:, :, :2], given[:, :, :2])
    assert not torch.allclose(out[:, :, 2:], given[:, :, 2:])
