"""Schedulers by name: each one runs through the shared loop; unknown names are refused."""

import numpy as np
import pytest

from mediadiff.core.schedulers import DEFAULT_SCHEDULER, SCHEDULERS, make_scheduler, scheduler_name
from mediadiff.errors import ValidationError


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_generates_and_is_seed_deterministic(video_pipe, name):
    a = video_pipe("a red circle", frames=4, steps=3, scheduler=name, seed=11)
    b = video_pipe("a red circle", frames=4, steps=3, scheduler=name, seed=11)
    assert np.isfinite(a.frames).all() and a.frames.shape == (1, 4, 32, 32, 3)
    assert np.array_equal(a.frames, b.frames) and a.settings["scheduler"] == name
    if name != DEFAULT_SCHEDULER:  # the name really picks another sampler: other frames than the default's
        default = video_pipe("a red circle", frames=4, steps=3, scheduler=DEFAULT_SCHEDULER, seed=11)
        assert np.abs(a.frames - default.frames).max() > 1e-3


def test_scheduler_keeps_the_checkpoint_training_config():
    s = make_scheduler("euler", {"num_train_timesteps": 500, "prediction_type": "v_prediction"})
    assert s.config.num_train_timesteps == 500 and s.config.prediction_type == "v_prediction"
    assert make_scheduler("dpm++", {}).config.algorithm_type == "dpmsolver++"


def test_aliases_and_unknown_names():
    assert scheduler_name("DPMSolver++") == "dpm++" and scheduler_name("euler_a") == "euler-a"
    with pytest.raises(ValidationError, match="scheduler='heun'.*must be one of dpm\\+\\+, ddim"):
        scheduler_name("heun")
