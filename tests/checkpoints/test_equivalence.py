"""mediadiff's output equals diffusers' reference pipelines on the same tiny weights (the proof the core is right)."""

import numpy as np
import pytest
import torch

from mediadiff import AudioPipeline, VideoPipeline

TOL = 1e-4
DETERMINISTIC = ["dpm++", "ddim", "euler", "unipc"]


def _reference(layout, path, scheduler):
    from diffusers import AnimateDiffPipeline, AudioLDMPipeline, TextToVideoSDPipeline

    from mediadiff.core.schedulers import make_scheduler

    cls = {"modelscope": TextToVideoSDPipeline, "animatediff": AnimateDiffPipeline, "audioldm": AudioLDMPipeline}[layout]
    ref = cls.from_pretrained(path)
    ref.scheduler = make_scheduler(scheduler, ref.scheduler.config)
    ref.set_progress_bar_config(disable=True)
    return ref


@pytest.mark.parametrize("layout", ["modelscope", "animatediff"])
@pytest.mark.parametrize("scheduler", DETERMINISTIC)
def test_video_matches_diffusers(tiny_models, layout, scheduler):
    path = tiny_models[layout]
    ours = VideoPipeline.from_pretrained(path, device="cpu")
    out = ours("a red circle moving right", "blurry", frames=6, height=32, width=32, steps=4, guidance=7.5,
               scheduler=scheduler, seed=3)
    ref = _reference(layout, path, scheduler)
    expected = np.asarray(ref("a red circle moving right", negative_prompt="blurry", num_frames=6, height=32,
                              width=32, num_inference_steps=4, guidance_scale=7.5, output_type="np",
                              generator=torch.Generator().manual_seed(3)).frames)
    assert out.frames.shape == expected.shape
    assert np.abs(out.frames - expected).max() <= TOL


@pytest.mark.parametrize("scheduler", DETERMINISTIC)
def test_audio_matches_diffusers(tiny_models, scheduler):
    path = tiny_models["audioldm"]
    ours = AudioPipeline.from_pretrained(path, device="cpu")
    out = ours("a dog barking", "static", seconds=0.5, steps=4, guidance=2.5, scheduler=scheduler, seed=5)
    ref = _reference("audioldm", path, scheduler)
    expected = ref("a dog barking", negative_prompt="static", audio_length_in_s=0.5, num_inference_steps=4,
                   guidance_scale=2.5, output_type="np", generator=torch.Generator().manual_seed(5)).audios
    assert out.waveforms.shape == expected.shape == (1, 8000)
    assert np.abs(out.waveforms - expected).max() <= TOL
