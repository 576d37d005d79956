"""What a first-time user hit on the command line (issue: ... what a new user tripped on): each fixed."""

import json

import numpy as np
import pytest
import soundfile as sf

from test_cli import run  # tests/cli is on sys.path (pytest prepend import mode, no packages)


def test_unwritable_output_folder_is_refused_before_any_model_work():
    r = run("video", "a red circle", "-o", "/proc/o.mp4")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "invalid output='/proc/o.mp4'" in lines[0], r.stderr
    assert "not writable" in lines[0] and "partial" not in lines[0]


def test_every_size_flag_and_the_output_have_help():
    import argparse

    from mediadiff.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command in ("video", "audio"):
        for action in sub.choices[command]._actions:
            assert action.help, (command, action.option_strings or action.dest)


@pytest.mark.parametrize("model,words", [("shapes", ["colours: red", "shapes: circle", "motions: left"]),
                                         ("tones", ["patterns: noise", "pitches: low", "timbres: pure"])])
def test_info_says_what_a_shipped_model_understands(model, words):
    r = run("info", model)
    assert r.returncode == 0 and "understands (" in r.stdout, r.stderr
    assert all(w in r.stdout for w in words)
    assert json.loads(run("info", model, "--json").stdout)["understands"]


def test_a_prompt_with_no_known_word_gets_one_notice(tmp_path):
    r = run("video", "a cat walking on a beach", "--steps", 1, "--seed", 0, "-o", tmp_path / "cat.mp4")
    notices = [line for line in r.stderr.splitlines() if line.startswith("notice:")]
    assert r.returncode == 0 and len(notices) == 1 and "colours: red" in notices[0], r.stderr
    r = run("video", "a red circle moving right", "--steps", 1, "--seed", 0, "-o", tmp_path / "red.mp4")
    assert r.returncode == 0 and "notice:" not in r.stderr


def test_written_sound_stays_inside_full_scale(tmp_path):
    """"a siren sweeping up" at seed 0 peaked at 1.0 with clipped samples; now it is scaled under the ceiling."""
    from mediadiff.codecs.mel import PEAK_CEILING

    out = tmp_path / "siren.wav"
    r = run("audio", "a siren sweeping up", "--seed", 0, "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    wave, _ = sf.read(out)
    assert np.abs(wave).max() <= PEAK_CEILING + 1 / 32768 and not (np.abs(wave) >= 0.999).any()
    assert json.loads(r.stdout)["settings"]["peak_ceiling"] == PEAK_CEILING
