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


PROMPT = "a red circle moving right"


@pytest.mark.parametrize("prompt", [PROMPT, {0: PROMPT, 20: "a blue square"}], ids=["one-prompt", "travel"])
@pytest.mark.parametrize("weighting", ["pyramid", "flat"])
def test_long_video_matches_diffusers_freenoise(tiny_models, prompt, weighting):
    """40 frames on windows of 16, stride 4: diffusers' AnimateDiffPipeline with enable_free_noise (and its dict
    prompt for prompt travel) on the same tiny weights, scheduler and seed."""
    path = tiny_models["animatediff"]
    ours = VideoPipeline.from_pretrained(path, device="cpu")
    out = ours(prompt, "blurry", frames=40, height=32, width=32, steps=3, guidance=7.5, scheduler="ddim", seed=3,
               context_length=16, context_stride=4, weighting=weighting)
    assert out.settings["context"]["method"] == "freenoise"
    ref = _reference("animatediff", path, "ddim")
    ref.enable_free_noise(context_length=16, context_stride=4, weighting_scheme=weighting)
    expected = np.asarray(ref(prompt, negative_prompt="blurry", num_frames=40, height=32, width=32,
                              num_inference_steps=3, guidance_scale=7.5, output_type="np",
                              generator=torch.Generator().manual_seed(3)).frames)
    assert out.frames.shape == expected.shape == (1, 40, 32, 32, 3)
    assert np.abs(out.frames - expected).max() <= TOL


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """8 random 32x32 frames as a PNG folder (lossless), and the same frames."""
    from mediadiff.codecs.frames import write_video

    frames = (np.random.default_rng(0).random((8, 32, 32, 3)) * 255).astype(np.uint8)
    return write_video(tmp_path_factory.mktemp("clip") / "frames", frames, 8), frames


@pytest.mark.parametrize("layout", ["animatediff", "modelscope"])
def test_video_to_video_matches_diffusers(tiny_models, clip_folder, layout):
    """--init with --strength equals AnimateDiffVideoToVideoPipeline / VideoToVideoSDPipeline."""
    from diffusers import AnimateDiffVideoToVideoPipeline, VideoToVideoSDPipeline
    from PIL import Image

    from mediadiff.core.schedulers import make_scheduler

    folder, frames = clip_folder
    path = tiny_models[layout]
    out = VideoPipeline.from_pretrained(path, device="cpu")(PROMPT, "blurry", init=folder, strength=0.6, height=32,
                                                            width=32, steps=5, guidance=7.5, scheduler="ddim", seed=3)
    cls = AnimateDiffVideoToVideoPipeline if layout == "animatediff" else VideoToVideoSDPipeline
    ref = cls.from_pretrained(path)
    ref.scheduler = make_scheduler("ddim", ref.scheduler.config)
    ref.set_progress_bar_config(disable=True)
    video = [Image.fromarray(f) for f in frames] if layout == "animatediff" else [f / 255.0 for f in frames]
    size = {"height": 32, "width": 32} if layout == "animatediff" else {}
    expected = np.asarray(ref(prompt=PROMPT, negative_prompt="blurry", video=video, strength=0.6,
                              num_inference_steps=5, guidance_scale=7.5, output_type="np",
                              generator=torch.Generator().manual_seed(3), **size).frames)
    assert np.abs(out.frames - expected.reshape(out.frames.shape)).max() <= TOL
    assert out.settings["init"]["sha256"] and out.settings["strength"] == 0.6
