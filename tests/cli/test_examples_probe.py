"""`mediadiff examples` (a picture of a model's outputs) and `mediadiff probe` (words vs noise), on tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mediadiff.cli import main


def test_examples_video_is_a_labelled_strip_per_prompt_of_the_real_outputs(tiny_models, tmp_path, capsys):
    from PIL import Image

    from mediadiff import VideoPipeline
    from mediadiff.codecs.frames import frame_strip, to_uint8

    model = str(tiny_models["mediadiff-video"])
    prompts = ["a red circle moving left", "a blue square growing"]
    code = main(["examples", "video", "-o", str(tmp_path / "ex.png"), "--model", model, "--seed", "3",
                 "--prompt", prompts[0], "--prompt", prompts[1], "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["prompts"] == prompts
    image = np.asarray(Image.open(tmp_path / "ex.png"))
    strip = frame_strip(to_uint8(VideoPipeline.from_pretrained(model)(prompts[1], seed=3).frames[0]), 8)
    assert image.shape == (2 * (14 + strip.shape[0]), strip.shape[1], 3)
    assert np.array_equal(image[-strip.shape[0]:], strip)  # the second row is that prompt's clip at that seed


def test_examples_audio_stacks_spectrograms(tiny_models, tmp_path):
    from PIL import Image

    code = main(["examples", "audio", "-o", str(tmp_path / "ex.png"), "--model", str(tiny_models["mediadiff-audio"]),
                 "--prompt", "two low beeps", "--prompt", "a rising sweep", "--media-dir", str(tmp_path / "wav")])
    assert code == 0 and len(list((tmp_path / "wav").glob("*.wav"))) == 2
    image = np.asarray(Image.open(tmp_path / "ex.png"))
    assert (image[image.shape[0] // 2 - 1] == 255).all()  # a white gap between two rows of equal height


@pytest.mark.parametrize("argv,needle", [
    (["examples", "video", "-o", "x.jpg"], "invalid output='x.jpg': must end in .png"),
    (["examples", "sound", "-o", "x.png"], "invalid modality='sound'"),
    (["probe", "--seeds", "0"], "invalid seeds=0"),
])
def test_bad_options_are_one_line(argv, needle, capsys):
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_probe_measures_words_against_noise(tiny_config, tmp_path, capsys):
    """On a v-prediction video pipeline (a tiny one trained for two steps), one row per seed."""
    from mediadiff.training.config import load_config
    from mediadiff.training.run import run

    cfg = load_config(tiny_config(tmp_path / "v.yaml", "video", vae={"steps": 2}, denoiser={"steps": 2}), "video")
    run(cfg, tmp_path / "run", progress=False, log=lambda line: None)
    assert main(["probe", "--model", str(tmp_path / "run" / "pipeline"), "--seeds", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in out["rows"]] == [0, 1]
    assert all(0 < r["left_vs_right"] and 0 < r["red_vs_blue"] and len(r["read_as"]) == 3 for r in out["rows"])
    assert out["mean"]["red_vs_blue"] == pytest.approx(sum(r["red_vs_blue"] for r in out["rows"]) / 2)
    from mediadiff import VideoPipeline
    from mediadiff.evaluation.probe import direction_probe

    again = direction_probe(VideoPipeline.from_pretrained(tmp_path / "run" / "pipeline", device="cpu"), 999, 2)
    assert [r["left_vs_right"] for r in again] == pytest.approx([r["left_vs_right"] for r in out["rows"]], rel=1e-6)
    assert out["rows"][0]["red_vs_blue"] != pytest.approx(out["rows"][1]["red_vs_blue"])  # a seed is its own noise


def test_probe_refuses_an_epsilon_model(tiny_models, capsys):
    assert main(["probe", "--model", str(tiny_models["modelscope"])]) == 2
    assert "predicts epsilon; the probe reads v-prediction models" in capsys.readouterr().err
