"""Training configs: a `base:` config under the file's own keys, and every shipped config loads."""

import re
from pathlib import Path

import pytest

from mediadiff.training.config import load_config

CONFIGS = sorted(Path(__file__).parents[2].joinpath("configs", "train").glob("*.yaml"))


def test_base_is_merged_under_the_files_own_keys(tmp_path):
    (tmp_path / "a.yaml").write_text("modality: audio\ndata: {world: tones, clips: 40}\ndenoiser: {steps: 7, batch: 2}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\ndenoiser: {steps: 9}\n")
    cfg = load_config(tmp_path / "b.yaml", "audio")
    assert cfg["denoiser"]["steps"] == 9 and cfg["denoiser"]["batch"] == 2 and cfg["data"]["clips"] == 40


def test_a_missing_base_is_one_clear_error(tmp_path):
    from mediadiff import ValidationError

    (tmp_path / "b.yaml").write_text("base: nowhere.yaml\nmodality: audio\n")
    with pytest.raises(ValidationError, match="nowhere.yaml': no such file"):
        load_config(tmp_path / "b.yaml")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg["modality"] == {"tones": "audio", "shapes": "video"}[cfg["data"]["world"]]
    assert cfg["name"] == path.stem and path.stem.startswith(cfg["data"]["world"])


def test_pair_reversed_needs_a_world(tmp_path):
    from mediadiff import ValidationError

    (tmp_path / "c.yaml").write_text("modality: audio\ndata: {folder: my_sounds}\ndenoiser: {pair_reversed: true}\n")
    with pytest.raises(ValidationError, match=r"invalid denoiser.pair_reversed=True: needs a procedural world"):
        load_config(tmp_path / "c.yaml")


@pytest.mark.parametrize("yaml_text, message", [
    ("text: {sentence_token: 1}", "invalid text.sentence_token=1: must be true or false"),
    ("text: {sentence_token: true, p_sentence_only: 1.5}", "invalid text.p_sentence_only=1.5: must be a number"),
    ("text: {p_sentence_only: 0.3}", "invalid text.p_sentence_only=0.3: needs text.sentence_token: true"),
    ("text: {sentence_token: true, p_sentence_only: 0.3}\ndenoiser: {pair_reversed: true}",
     "invalid text.p_sentence_only=0.3: must be 0 with denoiser.pair_reversed"),
    ("data: {world: tones, pattern_weights: {chirp: 2}}", "invalid data.pattern_weights={'chirp': 2}: keys must be"),
    ("data: {world: tones, pattern_weights: {beeps: 0}}", "invalid data.pattern_weights.beeps=0: must be a positive"),
    ("data: {world: tones, pattern_weights: {beeps: .nan}}", "invalid data.pattern_weights.beeps=nan: must be a"),
    ("data: {world: tones, pattern_weights: [2]}", "invalid data.pattern_weights=[2]: must be a mapping"),
    ("data: {folder: x, pattern_weights: {beeps: 2}}", "invalid data.pattern_weights={'beeps': 2}: is for the tones"),
    ("data: {world: tones, beep_layout: {from_start: 1}}", "invalid data.beep_layout.from_start=1: must be true"),
    ("data: {world: tones, beep_layout: {gap_s: [0.3, 0.2]}}", "invalid data.beep_layout.gap_s=[0.3, 0.2]: must be"),
    ("data: {world: tones, beep_layout: {gap_s: 0.3}}", "invalid data.beep_layout.gap_s=0.3: must be [shortest,"),
    ("data: {world: tones, beep_layout: {start: true}}", "invalid data.beep_layout={'start': True}: must be a"),
    ("data: {folder: x, beep_layout: {from_start: true}}", "invalid data.beep_layout={'from_start': True}: is for"),
    ("data: {world: tones, grammar: broad}", "invalid data.grammar='broad': must be one of: base, wide"),
    ("data: {folder: x, grammar: wide}", "invalid data.grammar='wide': wide is for the tones world"),
    ("data: {world: tones, grammar: wide}\ndenoiser: {pair_reversed: true}",
     "invalid data.grammar='wide': wide cannot be combined with denoiser.pair_reversed"),
])
def test_text_and_pattern_options_are_checked(tmp_path, yaml_text, message):
    from mediadiff import ValidationError

    if "data:" not in yaml_text:
        yaml_text = "data: {world: tones}\n" + yaml_text
    (tmp_path / "c.yaml").write_text(f"modality: audio\n{yaml_text}\n")
    with pytest.raises(ValidationError, match=re.escape(message)):
        load_config(tmp_path / "c.yaml")


@pytest.mark.parametrize("yaml_text,message", [
    ("denoiser: {lr_flor: 0.1}", "invalid denoiser.lr_flor=0.1: is not a denoiser key; use "),
    ("dataa: {clips: 4}", "invalid dataa={'clips': 4}: is not a config key; use modality, seed, data"),
    ("mel: {hop: 160}", "invalid mel.hop=160: is not a mel key"),
    ("denoiser: {steps: 0, init: some/pipeline}", "invalid denoiser.steps=0: must be a positive integer (0 only "
                                                  "for the vae or vocoder with init"),
    ("vae: {steps: 0}", "invalid vae.steps=0: must be a positive integer (0 only for the vae or vocoder with init"),
    ("denoiser: {t_min: 1000}", "invalid denoiser.t_min=1000: must be an integer from 0 to 999"),
    ("denoiser: {lr_floor: 1.0}", "invalid denoiser.lr_floor=1.0: must be a number in [0, 1)"),
    ("vae: {data_on_device: true}", "invalid vae.data_on_device=True: is for the denoiser stages of audio"),
    ("denoiser: {minutes: -1}", "invalid denoiser.minutes=-1: must be a positive number of minutes"),
])
def test_misspelt_and_out_of_range_keys_are_one_line(tmp_path, yaml_text, message):
    from mediadiff import ValidationError

    (tmp_path / "c.yaml").write_text(f"modality: audio\ndata: {{world: tones}}\n{yaml_text}\n")
    with pytest.raises(ValidationError, match=re.escape(message)):
        load_config(tmp_path / "c.yaml", "audio")


def test_a_vae_taken_as_it_is_needs_init(tmp_path):
    (tmp_path / "c.yaml").write_text("modality: audio\ndata: {world: tones}\nvae: {steps: 0, init: p}\n")
    assert load_config(tmp_path / "c.yaml")["vae"]["steps"] == 0
