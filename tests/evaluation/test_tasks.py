"""`mediadiff eval --task`: the world's renderings given to the pipeline, the right part analysed and scored."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mediadiff.errors import ValidationError
from mediadiff.evaluation import tasks
from mediadiff.evaluation.runner import evaluate, suite, world_items
from mediadiff.evaluation.video import analyse


def items(modality, n=2):
    return world_items(suite(modality), ("grammar",), limit=n)


def test_given_media_is_the_worlds_truth(video_pipe, tmp_path):
    """Each case's input is the spec's own rendering at the model's size, read back through the input path."""
    for task in ("continue", "inpaint", "edit"):
        for case in tasks.cases(task, video_pipe.limits, items("video"), folder=tmp_path / task):
            given = (case.request.init or case.request.continuation).data
            assert given.shape[1:3] == (video_pipe.limits.defaults["height"],) * 2
            if task == "continue":  # half the clip given, as much again asked for, the new half analysed
                assert len(given) == tasks.GIVEN_VIDEO_FRAMES // 2 == case.request.frames
                assert case.part == (len(given), 2 * len(given))
    spec = items("video", 1)[0].spec
    clip = tasks.render_given(spec, video_pipe.limits, tmp_path, "whole", np.random.default_rng(0))
    assert clip.is_dir() and len(list(clip.glob("*.png"))) == tasks.GIVEN_VIDEO_FRAMES


def test_world_rendering_reads_as_its_spec(tmp_path):
    """At the shipped size the analysers read a rendered given clip as its spec (what the cases score against)."""
    from mediadiff.worlds import shapes

    for _, spec in shapes.eval_prompts("grammar")[:6]:
        clip = shapes.render(spec, tasks.GIVEN_VIDEO_FRAMES, 64, np.random.default_rng(1))
        m = analyse(clip)
        assert (m["colour"], m["shape"], m["motion"]) == (spec.colour, spec.shape, spec.motion)


def test_edit_asks_for_another_colour_at_high_strength(video_pipe, tmp_path):
    cs = tasks.cases("edit", video_pipe.limits, items("video", 1), folder=tmp_path)
    keep, change = cs
    assert (keep.request.strength, change.request.strength) == (tasks.KEEP_STRENGTH, tasks.CHANGE_STRENGTH)
    assert keep.spec.colour != change.spec.colour and keep.spec.motion == change.spec.motion
    assert change.spec.colour in change.prompt and keep.request.init.sha256 == change.request.init.sha256


def test_inpainted_clip_keeps_the_reconstruction_outside_the_span(video_pipe, tmp_path):
    """Through the real tiny pipeline: outside the span the output is the input's reconstruction."""
    cs = tasks.cases("inpaint", video_pipe.limits, items("video", 1), seeds=2, folder=tmp_path,
                     settings={"steps": 2})
    report = evaluate(video_pipe, cases=cs, seeds=2, task="inpaint")
    assert len(report.results) == 2
    for r in report.results:
        assert r["measured"]["outside_max_diff"] <= tasks.OUTSIDE_TOLERANCE and r["score"]["outside_kept"]
        assert set(r["score"]) == {"colour", "shape", "motion", "outside_kept"} and r["given"].endswith("inpaint")


def test_continued_sound_is_analysed_after_the_given_part(audio_pipe, tmp_path):
    cs = tasks.cases("continue", audio_pipe.limits, items("audio", 1), folder=tmp_path, settings={"steps": 2})
    (case,) = cs
    given = case.request.continuation
    assert case.part == (pytest.approx(given.length), pytest.approx(2 * given.length))
    report = evaluate(audio_pipe, cases=cs, task="continue")
    assert set(report.results[0]["score"]) <= {"pitch", "pattern"}
    assert report.to_json()["task"] == "continue"


def test_a_task_sets_the_length(video_pipe, tmp_path):
    with pytest.raises(ValidationError, match="frames"):
        tasks.cases("continue", video_pipe.limits, items("video", 1), folder=tmp_path, settings={"frames": 4})
    with pytest.raises(ValidationError, match="task"):
        tasks.cases("outpaint", video_pipe.limits, items("video", 1), folder=tmp_path)


def test_cli_refuses_an_unknown_task(tiny_models):
    r = subprocess.run([sys.executable, "-m", "mediadiff", "eval", "video", "--task", "outpaint", "--model",
                        str(tiny_models["mediadiff-video"])], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    (line,) = [l for l in r.stderr.splitlines() if l.strip()]
    assert "task" in line and "outpaint" in line and "generate" in line
