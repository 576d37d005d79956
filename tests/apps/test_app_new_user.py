"""What a first-time user hit in the apps (issue: video with sound ... what a new user tripped on): each fixed."""

from __future__ import annotations

import time

import pytest

from apphelpers import audio_args, video_args


def component(demo, elem_id):
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def fn(demo, api_name):
    return next(f for f in demo.fns.values() if f.api_name == api_name)


def test_prompt_boxes_are_filled_so_generate_works_at_once(server):
    from apps.audio_app import EXAMPLES as AUDIO
    from apps.video_app import EXAMPLES as VIDEO

    assert component(server.demo, "video-prompt").value == VIDEO[0]
    assert component(server.demo, "audio-prompt").value == AUDIO[0]
    assert "e.g." in component(server.demo, "video-prompt").placeholder  # a hint reads as one


@pytest.mark.parametrize("api_name,player", [("generate_video", "video-output"), ("generate_audio", "audio-output")])
def test_one_progress_bar_over_the_player(server, api_name, player):
    f = fn(server.demo, api_name)
    assert [b._id for b in f.show_progress_on] == [component(server.demo, player)._id]


def test_pictures_carry_no_label_over_them(server):
    images = [b for b in server.demo.blocks.values() if type(b).__name__ == "Image"]
    assert images and all(not b.show_label for b in images)


def test_stop_says_the_step_it_stopped_at(server):
    from gradio_client.utils import Status

    client = server.client()
    job = client.submit(*video_args(server, "a long one", steps=400), api_name="/generate_video")
    deadline = time.time() + 60
    while not (job.status().progress_data and job.status().code == Status.PROGRESS):
        assert time.time() < deadline, job.status()
        time.sleep(0.1)
    message = client.predict(api_name="/stop_video")
    step = int(message.split("step ")[1].split(" ")[0])
    assert message == f"Stopped at step {step} of 400." and 1 <= step < 400
    while not job.done():
        time.sleep(0.1)
    assert client.predict(api_name="/stop_audio") == "Nothing to stop: no generation is running."


@pytest.mark.parametrize("modality", ["video", "audio"])
def test_a_cached_example_at_seed_0_unticks_random_seed(server, modality):
    """Clicking an example row (the Examples dataset) shows its seed 0 and clears "Random seed" with it."""
    untick = fn(server.demo, f"{modality}_example_seed")
    dataset = next(f for f in server.demo.fns.values() if f.api_name == f"{modality}_example").inputs
    random_seed = next(b for b in untick.outputs)
    assert type(random_seed).__name__ == "Checkbox" and random_seed.label == "Random seed"
    assert any(event == "click" and server.demo.blocks[target].__class__.__name__ == "Dataset"
               for target, event in untick.targets) and dataset
    assert untick.fn() is False


def test_side_sliders_end_where_the_models_rule_does(server, app_pipes):
    from gradio_client.exceptions import AppError

    from apps.video_app import VideoTab  # noqa: F401 (the tab whose sliders these are)

    limits = app_pipes[0].limits
    slider = next(b for b in server.demo.blocks.values() if getattr(b, "label", None) == "Width")
    assert slider.maximum == limits.max_side == 4 * 32  # four times the tiny model's 32 pixels
    args = list(video_args(server, "x", seed=1))
    args[5] = limits.max_side + 2
    with pytest.raises(AppError, match=rf"from 2 to {limits.max_side} \(this model's limit"):
        server.client().predict(*args, api_name="/generate_video")


def test_audio_picture_is_a_spectrogram_with_axes(server):
    import numpy as np
    from PIL import Image

    out = server.client().predict(*audio_args(server, "beeps", seed=1), api_name="/generate_audio")
    picture = np.asarray(Image.open(out[1]).convert("RGB"))
    margin = picture[:, :30]  # the Hz axis: dark tick labels on white
    assert (margin.min(axis=2) < 100).any() and (margin == 255).all(axis=2).mean() > 0.5
