"""diffusers' own pipeline for a layout, on the same weights and settings, with its stages timed by hooks."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..errors import ValidationError

# layout -> diffusers pipeline class: the reference each mediadiff layout is measured against.
REFERENCES = {"modelscope": "TextToVideoSDPipeline", "animatediff": "AnimateDiffPipeline",
              "audioldm": "AudioLDMPipeline", "mediadiff": "AnimateDiffPipeline"}  # mediadiff: video, motion UNet


def check_reference(path: Path) -> str:
    """The layout of the checkpoint at `path` (read from model_index.json), if diffusers has a pipeline for it."""
    from ..checkpoints import read_index

    layout = read_index(Path(path))[1]
    if layout.name == "mediadiff" and layout.modality != "video":
        raise ValidationError("against", "diffusers", "has no pipeline for a mediadiff audio model")
    reference_class(layout.name)
    return layout.name


def reference_class(layout: str):
    """The diffusers class for `layout`, or a one-line error for layouts diffusers cannot run."""
    if layout not in REFERENCES:
        raise ValidationError("against", "diffusers", f"needs a {', '.join(REFERENCES)} checkpoint; this one is "
                                                      f"the {layout} layout, which diffusers has no pipeline for")
    import diffusers

    return getattr(diffusers, REFERENCES[layout])


def load_reference(ckpt, device: torch.device, dtype: torch.dtype, scheduler: str, context: dict | None = None):
    """diffusers' pipeline on the same weights, device/dtype and scheduler; with FreeNoise's windows (diffusers'
    `enable_free_noise`) when the request runs on context windows.

    A mediadiff video checkpoint with a motion UNet runs in `AnimateDiffPipeline` built from its own components
    (a second copy, `ckpt`), with the tokenizer length and attention mask mediadiff's text encoder uses; diffusers'
    FreeNoise reads the window limit from a motion adapter, which a whole UNetMotionModel stands in for."""
    from ..core.schedulers import make_scheduler

    layout = ckpt.layout.name
    if layout == "mediadiff":
        parts = ckpt.components
        if type(parts["unet"]).__name__ != "UNetMotionModel":
            raise ValidationError("against", "diffusers", "needs a motion-module UNet in a mediadiff video model")
        parts["tokenizer"].model_max_length = int(ckpt.limits.defaults.get("text_max_length", 77))
        parts["text_encoder"].config.use_attention_mask = True
        pipe = reference_class(layout)(vae=parts["vae"], text_encoder=parts["text_encoder"],
                                       tokenizer=parts["tokenizer"], unet=parts["unet"], motion_adapter=None,
                                       scheduler=parts["scheduler"]).to(device, dtype)
        pipe.motion_adapter = parts["unet"]  # carries motion_max_seq_length in its config, as an adapter does
    else:
        pipe = reference_class(layout).from_pretrained(str(ckpt.path), dtype=dtype).to(device)
    pipe.scheduler = make_scheduler(scheduler, pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    if context is not None:
        if not hasattr(pipe, "enable_free_noise"):
            raise ValidationError("against", "diffusers", f"diffusers' {type(pipe).__name__} has no context windows "
                                                          "(FreeNoise is for AnimateDiff)")
        pipe.enable_free_noise(context_length=int(context["length"]), context_stride=int(context["stride"]),
                               weighting_scheme=context["weighting"], noise_type=context["noise"])
    return pipe


class StageHooks:
    """Times text encoding, denoising, VAE decode and vocoder of a diffusers pipeline without per-step syncs."""

    def __init__(self, pipe, device: torch.device):
        self.pipe, self.device = pipe, device
        self.marks: dict[str, float] = {}
        self.handles = []

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _add(self, stage: str, seconds: float) -> None:
        self.marks[stage] = self.marks.get(stage, 0.0) + seconds

    def _time_module(self, module, stage: str) -> None:
        """Forward pre/post hooks adding each call's time to `stage`."""
        start = {}
        self.handles.append(module.register_forward_pre_hook(lambda m, a: start.__setitem__("t", self._now())))
        self.handles.append(module.register_forward_hook(
            lambda m, a, o: self._add(stage, self._now() - start["t"])))

    def _first_unet_call(self, module, args) -> None:
        self.marks.setdefault("_denoise_start", time.perf_counter())

    def _wrap_decode(self, vae) -> None:
        """vae.decode is a method call, not a forward: wrap it; its first call ends the denoising stage."""
        original = vae.decode

        def decode(*args, **kwargs):
            start = self._now()
            self.marks.setdefault("_denoise_end", start)
            out = original(*args, **kwargs)
            self._add("decode", self._now() - start)
            return out

        vae.decode = decode
        self.handles.append(_Restore(vae, "decode"))

    def _wrap_encode_prompt(self) -> None:
        """Text encoding includes tokenization, as mediadiff's text stage does: time the pipeline's prompt method."""
        name = "encode_prompt" if hasattr(self.pipe, "encode_prompt") else "_encode_prompt"
        original = getattr(self.pipe, name)

        def encode(*args, **kwargs):
            start = self._now()
            out = original(*args, **kwargs)
            self._add("text", self._now() - start)
            return out

        setattr(self.pipe, name, encode)
        self.handles.append(_Restore(self.pipe, name))

    def install(self) -> "StageHooks":
        self._wrap_encode_prompt()
        self.handles.append(self.pipe.unet.register_forward_pre_hook(self._first_unet_call))
        self._wrap_decode(self.pipe.vae)
        if getattr(self.pipe, "vocoder", None) is not None:
            self._time_module(self.pipe.vocoder, "vocoder")
        return self

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()

    def stages(self) -> dict[str, float]:
        """The stage times of the last call (denoise runs from the first UNet call to the first decode)."""
        out = {k: v for k, v in self.marks.items() if not k.startswith("_")}
        if "_denoise_start" in self.marks and "_denoise_end" in self.marks:
            out["denoise"] = self.marks["_denoise_end"] - self.marks["_denoise_start"]
        return out


class _Restore:
    """A handle that removes an instance attribute patch (like a hook handle)."""

    def __init__(self, obj, name: str):
        self.obj, self.name = obj, name

    def remove(self) -> None:
        self.obj.__dict__.pop(self.name, None)


def call_kwargs(modality: str, settings: dict) -> dict:
    """mediadiff's validated settings as the reference pipeline's keyword arguments."""
    common = dict(prompt=settings["prompt"], negative_prompt=settings["negative_prompt"] or None,
                  num_inference_steps=settings["steps"], guidance_scale=settings["guidance"], output_type="np",
                  generator=torch.Generator("cpu").manual_seed(int(settings["seed"])))
    if modality == "video":
        return common | dict(num_frames=settings["frames"], height=settings["height"], width=settings["width"])
    return common | dict(audio_length_in_s=settings["seconds"])


def write_reference_output(modality: str, result, path: Path, settings: dict, sample_rate: int) -> np.ndarray:
    """Write the reference's output the way diffusers' docs do (export_to_video's libx264 / a scipy WAV)."""
    if modality == "video":
        import imageio_ffmpeg

        frames = np.asarray(result.frames)[0]  # (F, H, W, 3) in [0, 1]
        h, w = frames.shape[1:3]
        writer = imageio_ffmpeg.write_frames(str(path), (w, h), fps=settings["fps"], quality=5, macro_block_size=16)
        writer.send(None)
        for frame in frames:
            writer.send(np.ascontiguousarray(frame * 255, dtype=np.uint8))  # older imageio-ffmpeg needs C order
        writer.close()
        return frames
    from scipy.io import wavfile

    wave = np.asarray(result.audios)[0]
    wavfile.write(str(path), sample_rate, wave)
    return wave


def run_reference(pipe, modality: str, settings: dict, path: Path, device: torch.device) -> tuple[dict, np.ndarray]:
    """One timed reference generation plus file writing: stage seconds and the output array."""
    hooks = StageHooks(pipe, device).install()
    try:
        start = time.perf_counter()
        result = pipe(**call_kwargs(modality, settings))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        call = time.perf_counter() - start
        file_start = time.perf_counter()
        rate = int(pipe.vocoder.config.sampling_rate) if modality == "audio" else 0
        output = write_reference_output(modality, result, path, settings, rate)
        stages = hooks.stages() | {"file": time.perf_counter() - file_start}
    finally:
        hooks.remove()
    stages["total"] = call + stages["file"]
    return stages, output
