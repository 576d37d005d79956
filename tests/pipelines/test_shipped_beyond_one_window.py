"""The shipped `shapes` and `tones` models past one window, continuing, inpainting and editing given media: quality
floors on a small fixed set of grammar prompts (seed 0), a regression guard for what README's figures measure on
the full set (`mediadiff eval MODALITY --task T --splits grammar --limit 10 --seeds 2`)."""

from __future__ import annotations

import pytest

from mediadiff.evaluation import tasks
from mediadiff.evaluation.runner import evaluate, suite, world_items

pytestmark = pytest.mark.slow

PROMPTS = 4  # every third grammar prompt of the first twelve: colours, shapes, motions / pitches, patterns vary


@pytest.fixture(scope="module")
def shapes():
    from mediadiff import VideoPipeline

    return VideoPipeline.from_pretrained(device="cpu").enable_jit()  # frozen UNet: same output, faster


@pytest.fixture(scope="module")
def tones():
    from mediadiff import AudioPipeline

    return AudioPipeline.from_pretrained(device="cpu")


def run(pipe, task, tmp_path, settings=None, n=PROMPTS):
    items = world_items(suite(pipe.modality), ("grammar",), limit=3 * n)[::3]
    cs = tasks.cases(task, pipe.limits, items, folder=tmp_path, settings=settings)
    return evaluate(pipe, cases=cs, task=task)


def test_continued_clip_keeps_colour_and_shape(shapes, tmp_path):
    report = run(shapes, "continue", tmp_path)
    assert report.accuracy("grammar", "colour") >= 0.75 and report.accuracy("grammar", "shape") >= 0.75, \
        report.table()


def test_inpainted_clip_keeps_the_outside_and_fills_the_span(shapes, tmp_path):
    report = run(shapes, "inpaint", tmp_path)
    assert report.accuracy("grammar", "outside_kept") == 1.0, report.table()
    assert report.accuracy("grammar", "colour") >= 0.75 and report.accuracy("grammar", "shape") >= 0.75, \
        report.table()


def test_light_edit_keeps_the_clip_and_strong_edit_changes_its_colour(shapes, tmp_path):
    report = run(shapes, "edit", tmp_path)
    keep, change = f"grammar s{tasks.KEEP_STRENGTH}", f"grammar s{tasks.CHANGE_STRENGTH}"
    assert all(report.accuracy(keep, a) == 1.0 for a in ("colour", "shape", "motion")), report.table()
    assert report.accuracy(change, "colour") >= 0.75, report.table()


def test_long_clip_keeps_colour_and_shape_in_every_window(shapes, tmp_path):
    """48 frames: past the model's 32, FreeNoise windows (README: 64 and 128 frames on 8 prompts)."""
    report = run(shapes, "generate", tmp_path, settings={"frames": 48}, n=1)
    assert report.accuracy("grammar", "windows_colour") == 1.0, report.table()
    assert report.accuracy("grammar", "windows_shape") == 1.0, report.table()


def test_continued_sound_keeps_pitch_and_pattern(tones, tmp_path):
    report = run(tones, "continue", tmp_path)
    pitch = report.accuracy("grammar", "pitch")  # None where no prompt of the set names a pitch
    assert report.accuracy("grammar", "pattern") >= 0.75 and (pitch is None or pitch >= 0.75), report.table()


def test_inpainted_and_lightly_edited_sound_keep_the_pattern(tones, tmp_path):
    inpainted = run(tones, "inpaint", tmp_path / "inpaint")
    assert inpainted.accuracy("grammar", "pattern") >= 0.75, inpainted.table()
    edited = run(tones, "edit", tmp_path / "edit")
    assert edited.accuracy(f"grammar s{tasks.KEEP_STRENGTH}", "pattern") == 1.0, edited.table()


def test_long_sound_keeps_its_pattern_in_every_window(tones, tmp_path):
    """20 s: two and a half times the trained length, windows over time."""
    report = run(tones, "generate", tmp_path, settings={"seconds": 20.0}, n=2)
    assert report.accuracy("grammar", "windows_pattern") == 1.0, report.table()
