"""Training data helpers: captions of clips played backwards."""

from __future__ import annotations

import numpy as np
import pytest

from mediadiff.training.data import reversed_captions
from mediadiff.worlds import shapes, tones


@pytest.mark.parametrize("modality,world", [("audio", tones), ("video", shapes)])
def test_reversed_captions_name_the_reversal_and_never_a_held_out_one(modality, world):
    rng = np.random.default_rng(1)
    specs = [world.sample_spec(rng) for _ in range(400)]
    captions = [[world.caption(s, rng), world.caption(s, rng)] for s in specs]
    backwards = reversed_captions(modality, captions, seed=0)
    assert backwards == reversed_captions(modality, captions, seed=0)  # seeded
    missing = 0
    for spec, options in zip(specs, backwards):
        expected = world.time_reversed(spec)
        if expected is None or world.is_held_out(expected):
            assert options == []
            missing += 1
            continue
        assert len(options) == 1 and world.parse_caption(options[0]).triple == expected.triple
    assert missing < len(specs) // 3  # only drum hits (tones) and reversals into held-out combinations
