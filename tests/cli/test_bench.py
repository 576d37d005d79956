"""`mediadiff bench` as a user runs it: a real process, JSON or a table, one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from mediadiff.cli import main


def run(*args, timeout=600):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "mediadiff", "bench", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_bench_json_against_diffusers(tiny_models):
    r = run("audio", "--model", tiny_models["audioldm"], "--seconds", 0.25, "--steps", 2, "--repeat", 2,
            "--against", "diffusers", "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["mediadiff"]["total"]["n"] == 2 and result["diffusers"]["denoise"]["n"] == 2
    assert result["ratio"]["total"]["median"] > 0 and result["max_abs_diff"] <= 1e-4


def test_bench_table_with_step_cache(tiny_models):
    r = run("video", "--model", tiny_models["mediadiff-video"], "--frames", 2, "--height", 16, "--width", 16,
            "--steps", 2, "--repeat", 1, "--cache-steps", 2, "--threads", 1)
    assert r.returncode == 0, r.stderr
    for text in ("denoising", "VAE decode", "end to end", "compute bound", "step cache 2", "decode extra memory"):
        assert text in r.stdout


def test_bench_with_jit_reports_it(tiny_models):
    r = run("video", "--model", tiny_models["mediadiff-video"], "--frames", 2, "--height", 16, "--width", 16,
            "--steps", 2, "--repeat", 1, "--jit", "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["jit"] is True and result["mediadiff"]["denoise"]["n"] == 1


@pytest.mark.parametrize("args,message", [
    (["video", "--against", "torch"], "invalid against='torch'"),
    (["video", "--repeat", 0], "invalid repeat=0"),
    (["video", "--seed", "random"], "must be a fixed integer"),
    (["video", "--cache-steps", "x"], "invalid cache_steps='x'"),
    (["video", "--frames", 0], "invalid frames=0"),
    (["video", "--cache-branch", "mid"], "invalid cache_branch='mid'"),
    (["video", "--jit", "--cache-steps", 2], "invalid jit=True: cannot be combined with --cache-steps 2"),
    (["video", "--jit", "--compile"], "invalid jit=True: cannot be combined with --compile"),
    (["video", "--jit", "--compile-unet"], "invalid jit=True: cannot be combined with --compile-unet"),
    (["video", "--compile-unet", "--cache-steps", 2], "invalid compile_unet=True: cannot be combined with --cache-steps 2"),
])
def test_bad_options_one_line(tiny_models, capsys, args, message):
    code = main(["bench", *map(str, args), "--model", str(tiny_models["mediadiff-video"])])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_against_diffusers_needs_a_diffusers_layout(tiny_models, capsys):
    code = main(["bench", "audio", "--model", str(tiny_models["mediadiff-audio"]), "--against", "diffusers",
                 "--steps", "1", "--seconds", "0.5", "--repeat", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "no pipeline for" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("flags,scope", [([], None), (["--compile"], "blocks"), (["--compile-unet"], "unet")])
def test_compile_flags_pick_a_scope_and_leave_the_prompt_alone(flags, scope):
    from mediadiff.cli import build_parser
    from mediadiff.cli.common import speed_options

    args = build_parser().parse_args(["video", *flags, "a red circle", "-o", "x.mp4"])
    assert args.prompt == "a red circle" and speed_options(args)["compile"] == scope
