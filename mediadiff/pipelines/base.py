"""What every pipeline shares: loading, devices, text encoding, and the call into the one sampling loop."""

from __future__ import annotations

import contextlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..checkpoints import load_checkpoint, save_checkpoint
from ..checkpoints.presets import default_model
from ..core import denoisers
from ..core.freenoise import temporal_windows
from ..core.frozen import FrozenDenoiser
from ..core.noise import initial_latents, make_generator
from ..core.sampling import (CancelFlag, KnownRegion, SamplerSettings, StepCallback, sample, schedule,
                             start_latents)
from ..core.schedulers import make_scheduler
from ..core.stepcache import StepCache
from ..core.text import TextEncoder
from ..core.windows import WindowSettings, window_noise, windowed
from ..errors import ValidationError
from ..validation import Limits, check_cache, check_cache_with, check_compile, check_device, check_dtype, check_jit

TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def seed_or_generator(seed) -> tuple[object, torch.Generator | None]:
    """`seed=` may be a torch.Generator, as in diffusers: (None, generator) then, else (seed, None)."""
    return (None, seed) if isinstance(seed, torch.Generator) else (seed, None)


def resolve_device(device: str = "auto") -> torch.device:
    """auto picks cuda, then mps, then cpu; an explicit device must exist."""
    device = check_device(device)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValidationError("device", device, "no CUDA GPU is available here; use cpu or auto")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValidationError("device", device, "Apple MPS is not available here; use cpu or auto")
    return torch.device(device)


@dataclass
class Given:
    """Given media encoded in the sample's latent layout: where a run starts (SDEdit) and what it keeps."""

    init: torch.Tensor | None = None  # the start, noised to the strength's timestep
    known: torch.Tensor | None = None  # latents kept where `keep` is 1 (continuation, inpainting, a given frame)
    keep: torch.Tensor | None = None


class Timer:
    """Wall time per stage; syncs the device only at stage boundaries, never inside the step loop."""

    def __init__(self, device: torch.device):
        self.device, self.stages = device, {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - start


def windows_for(context, rows_per_unit: float = 1.0) -> WindowSettings | None:
    """A request's context windows in latent steps (frames for video; mel latent rows per second for audio)."""
    if context is None:
        return None
    length = max(2, int(round(context.length * rows_per_unit)))
    stride = max(1, min(length, int(round(context.stride * rows_per_unit))))
    return WindowSettings(length, stride, context.weighting, context.noise, context.method)


class MediaPipeline:
    """Components of one checkpoint plus the shared generation machinery; subclasses add a modality."""

    modality: ClassVar[str]
    request_type: ClassVar[type]  # validation.VideoRequest / AudioRequest: what generate() takes

    def __init__(self, components: dict[str, Any], limits: Limits, references: dict | None = None, source: str = ""):
        self.components = components
        self.limits = limits
        self.references = references or {}
        self.source = source
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self._text: TextEncoder | None = None
        self.cache_interval, self.cache_branch = 1, "block"  # DeepCache-style step caching (enable_step_cache)
        self._frozen: FrozenDenoiser | None = None  # enable_jit

    def __getattr__(self, name: str):
        components = self.__dict__.get("components", {})
        if name in components:
            return components[name]
        raise AttributeError(name)

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike | None = None, *, device: str = "auto", dtype: str = "fp32",
                        allow_pickle: bool = False, motion_adapter: str | None = None):
        """Load a pipeline folder, preset or hub id (ModelScope, AnimateDiff, AudioLDM or mediadiff layout), or a
        model already resolved by `checkpoints.resolve_limits` (then it is not resolved again)."""
        torch_device = resolve_device(device)
        check_dtype(dtype, torch_device.type)
        model = model if model is not None else default_model(cls.modality)
        ckpt = load_checkpoint(model, allow_pickle=allow_pickle, motion_adapter=motion_adapter)
        if ckpt.layout.modality != cls.modality:
            raise ValidationError("model", str(model), f"is a {ckpt.layout.modality} checkpoint ({ckpt.class_name}); "
                                                       f"use `mediadiff {ckpt.layout.modality}`")
        pipe = cls(ckpt.components, ckpt.limits, ckpt.references, source=str(model))
        return pipe.to(torch_device, TORCH_DTYPES[dtype])

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write this pipeline as a mediadiff checkpoint (diffusers layout, safetensors)."""
        defaults = {k: v for k, v in self.limits.defaults.items() if k != "name"}
        return save_checkpoint(directory, self.modality, self.components, defaults, self.references)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None):
        """Move every module (and the embedding cache key) to `device` / `dtype`."""
        self.device = torch.device(device)
        self.dtype = dtype or self.dtype
        if self._frozen is not None:
            self._frozen = FrozenDenoiser(self.unet)  # graphs hold the old device's weights
        for module in self.components.values():
            if isinstance(module, torch.nn.Module):
                module.to(self.device, self.dtype)
        return self

    def enable_step_cache(self, interval: int, branch: str = "block") -> "MediaPipeline":
        """Opt-in: a full UNet forward every `interval` steps, deep features reused in between (1 turns it off)."""
        self.cache_interval, self.cache_branch = check_cache(interval, branch)
        return self

    def compile(self, mode: str | None = None, scope: str = "blocks") -> "MediaPipeline":
        """Opt-in torch.compile of the repeated UNet blocks (scope "blocks") or of the whole UNet ("unet")."""
        if check_compile(scope) == "unet":
            self.unet.compile(mode=mode)
            return self
        repeated = ("ResnetBlock2D", "Transformer2DModel", "TransformerTemporalModel", "TemporalConvLayer",
                    "AnimateDiffTransformer3D", "Downsample2D", "Upsample2D")
        # Dynamo keeps parameter shapes static, so one block class needs a graph per width it meets (a dozen in
        # the full-size UNet3D); past its default limit of 8 it silently runs eager. A process-wide setting.
        config = torch._dynamo.config
        limit = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
        setattr(config, limit, max(getattr(config, limit), 64))
        for module in self.unet.modules():
            if type(module).__name__ in repeated:
                module.compile(mode=mode)
        return self

    def enable_jit(self, enabled: bool = True) -> "MediaPipeline":
        """Opt-in: run the UNet as a TorchScript-frozen graph, traced on the first call of each shape (CPU).
        Same output; less time per step after that first call (core.frozen)."""
        self._frozen = FrozenDenoiser(self.unet) if check_jit(enabled, self.device.type) else None
        return self

    @property
    def frozen(self) -> FrozenDenoiser | None:
        """The frozen UNet graphs (enable_jit), or None when the UNet runs eagerly."""
        return self._frozen

    @property
    def text(self) -> TextEncoder:
        """The prompt encoder, built once per pipeline so its cache lives as long as the pipeline."""
        if self._text is None:
            defaults = self.limits.defaults
            self._text = TextEncoder(self.tokenizer, self.text_encoder, defaults.get("text_max_length"),
                                     sentence_token=bool(defaults.get("text_sentence_token", False)))
        return self._text

    @property
    def name(self) -> str:
        return self.source or str(self.limits.defaults.get("name", ""))

    def check_request(self, request) -> None:
        """A request of this pipeline's modality (built once by validation.video_request / audio_request)."""
        if not isinstance(request, self.request_type):
            raise ValidationError("request", type(request).__name__, f"must be a request for {self.modality} "
                                  f"({self.request_type.__name__}, from pipe.request(...) or mediadiff.validation)")

    def generators(self, seed: int | None, count: int, generator: torch.Generator | None = None
                   ) -> tuple[list[torch.Generator] | torch.Generator, int | None]:
        """One CPU generator per output (seed, seed+1, ...) so each output is reproducible on its own; a given
        `generator` serves every output instead (its seed is unknown)."""
        if generator is not None:
            return generator, None
        first, used = make_generator(seed)
        if count == 1:
            return first, used
        return [first] + [make_generator(used + i)[0] for i in range(1, count)], used

    def denoise(self, latent_shape: tuple[int, ...], request, seed_source, timer: Timer,
                on_step: StepCallback | None = None, cancel: CancelFlag | None = None, given: Given | None = None,
                windows: WindowSettings | None = None, travel_keys: list[int] | None = None) -> torch.Tensor:
        """Encode prompts, draw noise and run the shared sampling loop; returns denoised latents.

        `given`: media the run starts from (SDEdit) or keeps (a known region); `windows`: context windows over the
        time axis; `travel_keys`: the prompt schedule's positions in latent frames / rows."""
        n, total = request.num_outputs, latent_shape[2]
        given = given or Given()
        step_generator = seed_source[0] if isinstance(seed_source, list) else seed_source
        settings = SamplerSettings(request.steps, request.guidance, step_generator)
        # 1. Text: one row per output, or one per frame for a prompt schedule (prompt travel).
        with timer.stage("text"):
            per_frame = request.schedule is not None
            if per_frame:
                embeddings = self.text.encode_schedule(travel_keys, [p for _, p in request.schedule],
                                                       request.negative_prompt, total, n, settings.guided)
            else:
                embeddings = self.text.encode_for_guidance([request.prompt] * n, [request.negative_prompt] * n,
                                                           settings.guided)
        # 2. The run's timesteps: all of them, or the last `strength` of them from a given start (SDEdit).
        scheduler = make_scheduler(request.scheduler, self.scheduler.config)
        strength = request.strength if given.init is not None else 1.0
        timesteps = schedule(scheduler, request.steps, strength, self.device)
        # 3. Noise (reshuffled per window, FreeNoise), the start, and the region kept as given.
        noise = self.draw_noise(latent_shape, seed_source, frames_first=given.init is not None and strength < 1)
        if windows is not None and given.init is None:
            noise = window_noise(noise, windows, step_generator)
        latents = start_latents(scheduler, timesteps, noise, given.init, full=strength >= 1)
        known = KnownRegion(given.known, given.keep, noise) if given.known is not None else None
        # 4. The denoiser: on the whole clip, on windows of it, or with windowed temporal attention (FreeNoise).
        cache = StepCache(self.unet, self.cache_interval, self.cache_branch) if self.cache_interval > 1 else None
        forward = self._frozen if cache is None else None  # eager under the cache: it swaps block forwards per step

        def model_fn_for(window: slice):
            return denoisers.bind(self.unet, denoisers.for_window(self.unet, embeddings, per_frame, window), forward)

        freenoise = windows is not None and windows.method == "freenoise"
        whole = windows is None or freenoise
        model_fn = model_fn_for(slice(0, total)) if whole else windowed(model_fn_for, total, windows)
        if cache is not None:
            model_fn = cache.model_fn(model_fn)
        if self._frozen is not None:
            self._frozen.variant = windows if freenoise else None  # a graph per attention variant too
        # inference_mode, not no_grad: no version counters on the tensors (shapes UNet forward 0.95-0.97x on a CPU)
        with (timer.stage("denoise"), torch.inference_mode(),
              temporal_windows(self.unet, windows) if freenoise else contextlib.nullcontext(),
              cache.installed() if cache is not None else contextlib.nullcontext()):
            return sample(model_fn, latents, scheduler, settings, on_step, cancel, timesteps=timesteps, known=known)

    def draw_noise(self, shape: tuple[int, ...], seed_source, frames_first: bool = False) -> torch.Tensor:
        """Unit Gaussian noise in the latent layout, drawn on the CPU. `frames_first`: drawn as (B, F, C, ...) and
        moved to (B, C, F, ...), as diffusers' video-to-video pipelines draw the noise they add to a given clip."""
        if not frames_first:
            return initial_latents(shape, seed_source, self.device, self.dtype, 1.0)
        b, c, f, *rest = shape
        return initial_latents((b, f, c, *rest), seed_source, self.device, self.dtype, 1.0).transpose(1, 2)

    def encode_latents(self, pixels: torch.Tensor, seed_source, chunk: int = 16) -> torch.Tensor:
        """Images (N, C, H, W) in [-1, 1] -> scaled VAE latents (N, c, h, w): a posterior sample drawn with the
        run's generator, `chunk` images per VAE call (diffusers' video-to-video encode)."""
        generator = seed_source[0] if isinstance(seed_source, list) else seed_source
        vae_dtype = next(self.vae.parameters()).dtype
        parts = []
        with torch.inference_mode():
            for start in range(0, len(pixels), chunk):
                posterior = self.vae.encode(pixels[start:start + chunk].to(self.device, vae_dtype)).latent_dist
                parts.append(posterior.sample(generator))
        return (torch.cat(parts) * self.vae.config.scaling_factor).to(self.dtype)

    def check_speed_with(self, request) -> None:
        """This pipeline's speed-ups against the request (validation.check_cache_with)."""
        check_cache_with(self.cache_interval, request)

    def base_settings(self, request, seed: int | None) -> dict:
        """The generation settings every output carries."""
        from .. import __version__

        settings = request.settings()
        settings.update(seed=seed, model=self.name, modality=self.modality, mediadiff_version=__version__)
        if self.cache_interval > 1:
            settings["cache_steps"] = self.cache_interval  # changes the output: recorded so it can be replayed
            settings["cache_branch"] = self.cache_branch
        return settings
