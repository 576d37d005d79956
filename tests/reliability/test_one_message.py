"""Guarantee 1 across surfaces: the same bad value gets the same one-line message from the Python API, the CLI and
the Gradio HTTP API (the endpoint the UI's Generate button calls), before any model work."""

from __future__ import annotations

import contextlib
import io

import pytest

pytest.importorskip("gradio", reason="the apps need the `apps` extra (gradio)")

from apphelpers import video_args  # noqa: E402

from mediadiff import ValidationError  # noqa: E402

OK = dict(frames=2, height=8, width=8, steps=1, fps=8, guidance=4.0, scheduler="dpm++", seed=1)
BAD = [("steps", 0), ("steps", 1001), ("frames", 0), ("frames", 999), ("height", 33), ("width", 4096),
       ("fps", 61), ("guidance", -1), ("guidance", 101), ("scheduler", "magic"), ("seed", -5), ("seed", 2**40),
       ("prompt", ""), ("prompt", "   "), ("negative_prompt", "n" * 2001), ("prompt", "p" * 2001)]


def test_same_message_from_api_cli_and_http(rel_pipes, rel_models, app, tmp_path):
    from gradio_client.exceptions import AppError

    from mediadiff.cli import main

    video, _ = rel_pipes
    client = app.client()
    for param, bad in BAD:
        kwargs = {**OK, "prompt": "a circle", "negative_prompt": "", param: bad}
        steps_run = []
        with pytest.raises(ValidationError) as info:
            video(**kwargs, callback=lambda *a: steps_run.append(1))
        expected = str(info.value)
        assert steps_run == [] and expected.startswith(f"invalid {param}=") and "\n" not in expected

        out = tmp_path / f"{param}.mp4"
        argv = ["video", "-o", str(out), "--model", str(rel_models["mediadiff-video"]), "--quiet"]
        argv += [f"--{k.replace('_', '-')}={v}" for k, v in kwargs.items() if k != "prompt"]
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main([*argv, "--", kwargs["prompt"]])
        assert (code, err.getvalue()) == (2, f"mediadiff: error: {expected}\n"), param
        assert not out.exists()

        http = {k: v for k, v in kwargs.items() if k not in ("prompt", "seed")}
        with pytest.raises(AppError) as got:
            client.predict(*video_args(app, kwargs["prompt"], seed=kwargs["seed"], **http),
                           api_name="/generate_video")
        assert str(got.value) == expected, param
