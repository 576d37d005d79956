"""Property-based fuzzing of the generation parameters, through the Python API and the CLI.

Every drawn value is tagged valid or invalid by construction (independently of mediadiff.validation). The property:
all valid -> a generation of exactly the asked shape; anything invalid -> mediadiff's ValidationError (exit 2 on
the CLI) naming one of the invalid parameters, in one line, before any denoising step ran; never another
exception, never a hang (each example runs under a hard alarm, besides hypothesis' deadline).
"""

from __future__ import annotations

import contextlib
import io
import math
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediadiff import ValidationError
from mediadiff.core import MAX_SEED
from mediadiff.core.schedulers import ALIASES, SCHEDULERS

EXAMPLE_LIMIT_S = 60  # a hang fails the test instead of stalling CI
FUZZ = settings(max_examples=40, deadline=30_000, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@contextlib.contextmanager
def hard_limit(seconds: int):
    def expired(signum, frame):
        raise TimeoutError(f"one example ran past {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def tagged(valid, invalid, invalid_weight: int = 1, valid_weight: int = 9):
    """(value, is_valid): mostly valid values, so that whole valid requests are common enough to generate."""
    return st.integers(1, valid_weight + invalid_weight).flatmap(
        lambda k: valid.map(lambda v: (v, True)) if k <= valid_weight else invalid.map(lambda v: (v, False)))


def as_number_forms(ints):
    """An integer as int, integral float or text with spaces: all of them mean the same integer."""
    return ints.flatmap(lambda n: st.sampled_from([n, float(n), f" {n} ", str(n)]))


JUNK = st.one_of(st.sampled_from(["abc", "", "  ", "1.5.2", "ten", "0x1g", "[]", "None!"]), st.booleans(),
                 st.just([]), st.just({}), st.just(math.nan), st.just(math.inf), st.just(-math.inf))
NON_INTEGRAL = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6).filter(
    lambda x: not float(x).is_integer())


def int_param(lo: int, hi: int, valid_lo: int, valid_hi: int, hard_max: int):
    """An integer parameter: small valid values (fast generations); invalid ones outside [lo, hi], or not integers."""
    invalid = st.one_of(st.integers(max_value=lo - 1), st.integers(min_value=hi + 1, max_value=hard_max),
                        st.integers(min_value=10**12, max_value=10**30), NON_INTEGRAL, JUNK)
    return tagged(as_number_forms(st.integers(valid_lo, valid_hi)), invalid)


def side_param():
    """Tiny video VAE: factor 2, so even sides from 2 to 2048; fast ones only when valid."""
    invalid = st.one_of(st.integers(max_value=1), st.integers(1, 1025).map(lambda k: 2 * k - 1),
                        st.integers(1025, 5000).map(lambda k: 2 * k), NON_INTEGRAL, JUNK)
    return tagged(as_number_forms(st.sampled_from([2, 4, 8, 16])), invalid)


VALID_TEXT = st.text(max_size=40).map(lambda s: "a " + s)  # any unicode, with something that is not whitespace
PROMPT = tagged(VALID_TEXT, st.one_of(st.sampled_from(["", "   ", "\n\t"]), st.none(), st.integers(),
                                      st.text(min_size=1, max_size=5).map(lambda s: "x" * 2001 + s)))
NEGATIVE = tagged(st.one_of(st.none(), st.text(max_size=40)), st.one_of(st.integers(), st.just(["no"]),
                                                                       st.just("y" * 2001)))
GUIDANCE = tagged(st.one_of(st.floats(0, 12), st.integers(0, 12), st.floats(0, 12).map(str)),
                  st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=100.0001, allow_infinity=False), JUNK))
KNOWN = set(SCHEDULERS) | set(ALIASES)
SCHEDULER = tagged(st.sampled_from(sorted(KNOWN)).flatmap(lambda s: st.sampled_from([s, s.upper()])),
                   st.text(max_size=12).filter(lambda s: s.lower() not in KNOWN))
SEED = tagged(st.one_of(st.none(), st.just("random"), as_number_forms(st.integers(0, MAX_SEED))),
              st.one_of(st.integers(max_value=-1), st.integers(MAX_SEED + 1, 2**70), NON_INTEGRAL,
                        st.sampled_from(["abc", "1.5", True])))
NUM_OUTPUTS = int_param(1, 16, 1, 2, 10**4)


def video_params():
    return st.fixed_dictionaries({
        "prompt": PROMPT, "negative_prompt": NEGATIVE, "frames": int_param(1, 128, 1, 3, 10**4),
        "fps": int_param(1, 60, 1, 60, 10**4), "height": side_param(), "width": side_param(),
        "steps": int_param(1, 1000, 1, 2, 10**5), "guidance": GUIDANCE, "scheduler": SCHEDULER, "seed": SEED,
        "num_outputs": NUM_OUTPUTS,
    })


def audio_params():
    seconds = tagged(st.one_of(st.floats(0.05, 0.5), st.sampled_from([0.25, "0.3", " 0.1 "])),
                     st.one_of(st.floats(max_value=0), st.floats(min_value=10.0001, allow_infinity=False), JUNK))
    return st.fixed_dictionaries({
        "prompt": PROMPT, "negative_prompt": NEGATIVE, "seconds": seconds, "steps": int_param(1, 1000, 1, 2, 10**5),
        "guidance": GUIDANCE, "scheduler": SCHEDULER, "seed": SEED, "num_outputs": NUM_OUTPUTS,
    })


def split(tagged_params: dict) -> tuple[dict, set[str]]:
    values = {k: v for k, (v, _) in tagged_params.items()}
    return values, {k for k, (_, ok) in tagged_params.items() if not ok}


def check_rejection(e: ValidationError, invalid: set[str]) -> None:
    assert e.param in invalid, f"rejected {e.param} but the invalid ones were {invalid}: {e}"
    message = str(e)
    assert message.startswith(f"invalid {e.param}=") and "\n" not in message and e.allowed, message


def _int(v) -> int:
    return int(float(str(v).strip()))


@pytest.fixture(scope="module")
def warm(rel_pipes):
    video, audio = rel_pipes
    video("warm up", frames=1, height=8, width=8, steps=1, seed=0)
    audio("warm up", seconds=0.1, steps=1, seed=0)
    return video, audio


@FUZZ
@given(params=video_params())
def test_video_api_generates_or_names_the_bad_parameter(warm, params):
    video, _ = warm
    values, invalid = split(params)
    steps_run = []
    with hard_limit(EXAMPLE_LIMIT_S):
        try:
            out = video(**values, callback=lambda i, n, latents: steps_run.append(i))
        except ValidationError as e:
            assert invalid, f"a valid request was refused: {e}"
            check_rejection(e, invalid)
            assert steps_run == [], "validation must come before any model work"
            return
    assert not invalid, f"accepted invalid {invalid}"
    n, f, h, w = (_int(values[k]) for k in ("num_outputs", "frames", "height", "width"))
    assert out.frames.shape == (n, f, h, w, 3) and np.isfinite(out.frames).all()
    assert len(steps_run) == _int(values["steps"])


@FUZZ
@given(params=audio_params())
def test_audio_api_generates_or_names_the_bad_parameter(warm, params):
    _, audio = warm
    values, invalid = split(params)
    steps_run = []
    with hard_limit(EXAMPLE_LIMIT_S):
        try:
            out = audio(**values, callback=lambda i, n, latents: steps_run.append(i))
        except ValidationError as e:
            assert invalid, f"a valid request was refused: {e}"
            check_rejection(e, invalid)
            assert steps_run == []
            return
    assert not invalid, f"accepted invalid {invalid}"
    samples = int(float(str(values["seconds"]).strip()) * out.sample_rate)  # as tests/pipelines/test_audio.py
    assert out.waveforms.shape == (_int(values["num_outputs"]), samples)
    assert np.isfinite(out.waveforms).all() and np.abs(out.waveforms).max() <= 1.0


DEVICE = tagged(st.sampled_from(["cpu", "auto"] + (["cuda"] if torch.cuda.is_available() else [])),
                st.sampled_from(["tpu", "gpu"] + ([] if torch.cuda.is_available() else ["cuda", "cuda:1"])),
                invalid_weight=1, valid_weight=6)
DTYPE = tagged(st.just("fp32"), st.sampled_from(["fp64", "float16", "FP32"] +
                                                ([] if torch.cuda.is_available() else ["fp16"])),
               invalid_weight=1, valid_weight=6)
CLI_FLAGS = {"negative_prompt": "--negative-prompt", "frames": "--frames", "fps": "--fps", "height": "--height",
             "width": "--width", "steps": "--steps", "guidance": "--guidance", "scheduler": "--scheduler",
             "seed": "--seed", "num_outputs": "--num-outputs", "device": "--device", "dtype": "--dtype"}


def cli_text(v):
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
        return str(int(v))  # a shell user types 3, not 3.0
    return v if isinstance(v, str) else str(v)


@settings(FUZZ, max_examples=20)
@given(params=video_params().flatmap(lambda p: st.fixed_dictionaries({"device": DEVICE, "dtype": DTYPE})
                                      .map(lambda extra: {**p, **extra})))
def test_cli_generates_or_prints_one_line_and_exits_2(warm, rel_models, params):
    """The same entry point as `mediadiff video` (in-process, so that examples stay fast)."""
    from mediadiff.cli import main

    # Only what a shell can pass: text, no NUL bytes; None means the option is left out.
    params = {k: (v, ok) for k, (v, ok) in params.items() if v is not None and "\x00" not in cli_text(v)}
    if not isinstance(params.get("prompt", (None,))[0], str):
        params["prompt"] = ("a prompt", True)
    if "negative_prompt" in params and not isinstance(params["negative_prompt"][0], str):
        params["negative_prompt"] = (cli_text(params["negative_prompt"][0]), True)  # on a command line all is text
    values, invalid = split(params)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-cli-"))
    out = folder / "out.mp4"
    argv = ["video", "-o", str(out), "--model", str(rel_models["mediadiff-video"]), "--quiet"]
    for name, flag in CLI_FLAGS.items():
        if name in values:
            argv.append(f"{flag}={cli_text(values[name])}")  # --flag=VALUE: a value may start with '-'
    argv += ["--", values["prompt"]]
    err = io.StringIO()
    with hard_limit(EXAMPLE_LIMIT_S), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    stderr = err.getvalue()
    assert "Traceback" not in stderr
    if invalid:
        lines = stderr.strip().splitlines()
        assert code == 2 and len(lines) == 1, (invalid, code, stderr)
        assert any(lines[0].startswith(f"mediadiff: error: invalid {p}=") for p in invalid), (invalid, stderr)
        assert list(folder.iterdir()) == []
    else:
        assert code == 0, stderr
        n = _int(values.get("num_outputs", 1))
        names = ["out.mp4"] if n == 1 else [f"out-{i}.mp4" for i in range(1, n + 1)]
        assert sorted(p.name for p in folder.iterdir()) == sorted(names + [m + ".json" for m in names])
