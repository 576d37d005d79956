"""The shipped `shapes` model through the default path: prompts it follows today stay followed (a regression
guard), and the issue's targets on a small fixed prompt set (expected to fail until a model meets them)."""

import numpy as np
import pytest

from mediadiff.evaluation import video as analysers
from mediadiff.worlds import shapes

# Followed by the shipped weights at seed 0. Not "a yellow triangle moving up quickly": up/down and left/right signs
# follow the seed more than the words (the model card's diagnosis); "moving right" also guards the model's lean to
# the right, which a retrained model may lose without being worse.
PROMPTS = ["a red circle moving right", "a big blue square growing", "a white square shrinking"]


@pytest.fixture(scope="module")
def shapes_pipe():
    from mediadiff import VideoPipeline

    # No model: the shipped default. Frozen UNet: same output, and these tests call it a dozen times.
    return VideoPipeline.from_pretrained(device="cpu").enable_jit()


@pytest.mark.parametrize("prompt", PROMPTS)
def test_default_model_follows_colour_shape_and_motion(shapes_pipe, prompt):
    out = shapes_pipe(prompt, seed=0)
    assert out.frames.shape == (1, 16, 64, 64, 3) and out.settings["model"] == "shapes"
    frames = (out.frames[0] * 255).round().astype(np.uint8)
    score = analysers.score(analysers.analyse(frames), shapes.parse_caption(prompt))
    assert all(score.values()), score


def _shipped_items():
    """A fixed 15-prompt set: a sixth of the grammar prompts, a third of the held-out ones and of the paraphrases."""
    from mediadiff.evaluation.runner import suite, world_items

    s = suite("video")
    return (world_items(s, ("grammar",))[::6] + world_items(s, ("held_out",))[::3]
            + world_items(s, ("paraphrase",))[::6])


@pytest.mark.xfail(reason="the shipped shapes model is below the issue's motion and paraphrase targets "
                          "(assets/models/shapes/README.md); remove this mark once a model meets them", strict=False)
def test_shipped_shapes_model_meets_the_targets(shapes_pipe):
    """The issue's targets at the default settings (25 steps, seed 0), about two minutes on 2 CPU cores."""
    from mediadiff.evaluation.runner import SHAPES_TARGETS, evaluate

    report = evaluate(shapes_pipe, _shipped_items(), seeds=1, seed=0)
    assert len(report.targets()) == len(SHAPES_TARGETS)
    missed = [t for t in report.targets() if not t["met"]]
    assert not missed, report.table()
