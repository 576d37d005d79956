"""Training data helpers: captions of clips played backwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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


def test_caption_bank_cache_is_used_only_for_the_same_captions(tmp_path):
    from mediadiff.training.data import caption_bank

    cache = tmp_path / "captions.safetensors"
    first, rows = caption_bank([["two low beeps"], ["a loud drum hit"]], 8, cache)
    again, same_rows = caption_bank([["two low beeps"], ["a loud drum hit"]], 8, cache)
    assert torch.equal(first, again) and rows == same_rows
    other, _ = caption_bank([["a rising sweep"], ["a burst of noise"]], 8, cache)  # same row count, other words
    assert other.shape == first.shape and not torch.equal(other, first)
    longer, _ = caption_bank([["a rising sweep"], ["a burst of noise"]], 8, cache, sentence_token=True)
    assert longer.shape == (3, 9, 384) and torch.equal(longer[:, :-1], other)  # same words, encoded another way


def test_a_run_folder_refuses_data_prepared_with_other_settings(tiny_config, tmp_path):
    import copy

    import pytest

    from mediadiff import ValidationError
    from mediadiff.training.config import load_config
    from mediadiff.training.data import load_or_build

    cfg = load_config(tiny_config(tmp_path / "a.yaml", "audio", data={"clips": 6}), "audio")
    first = load_or_build(cfg, tmp_path / "run", log=lambda line: None)
    assert load_or_build(cfg, tmp_path / "run").captions == first.captions  # the same settings reuse the set
    other = copy.deepcopy(cfg)
    other["data"]["pattern_weights"] = {"beeps": 2.0}
    with pytest.raises(ValidationError, match="holds data prepared with other data:/mel:/seed settings"):
        load_or_build(other, tmp_path / "run")
