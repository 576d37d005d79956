"""Every parameter rule, once: the CLI, the Python API and the apps all validate here before any model work."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .core import MAX_SEED
from .core.schedulers import scheduler_name
from .errors import ValidationError

COMPILE_SCOPES = ("blocks", "unet")  # MediaPipeline.compile: the repeated UNet blocks, or the whole UNet
CACHE_BRANCHES = ("block", "layer")  # core.stepcache.deep_blocks: how much a cached step replays
MAX_CACHE_STEPS = 50
# core.frozen's devices: on GPUs torch.compile (`--compile`) is the tool; TorchScript gains were measured on CPUs
JIT_DEVICES = ("cpu",)

MAX_PROMPT_CHARS = 2000
MAX_STEPS = 1000
MAX_GUIDANCE = 100.0
MAX_OUTPUTS = 16
MAX_SIDE = 2048
VIDEO_SUFFIXES = (".mp4", ".gif")
AUDIO_SUFFIXES = (".wav",)
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Limits:
    """What one checkpoint allows and prefers; built from its component configs by checkpoints.limits_from_configs
    (read from disk without loading weights, or from in-memory components by checkpoints.limits_for)."""

    modality: str  # "video" | "audio"
    vae_factor: int
    max_frames: int = 0
    max_seconds: float = 0.0
    defaults: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """What every validated generation has: every field is within its checkpoint's limits."""

    prompt: str
    negative_prompt: str
    steps: int
    guidance: float
    scheduler: str
    seed: int | None
    num_outputs: int

    def settings(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VideoRequest(Request):
    """A validated video generation."""

    frames: int
    fps: int
    height: int
    width: int


@dataclass(frozen=True)
class AudioRequest(Request):
    """A validated audio generation."""

    seconds: float


def check_int(param: str, value, lo: int, hi: int, rule: str | None = None) -> int:
    """An integer within [lo, hi] (bools and fractional floats refused)."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, float) and value.is_integer():
        value, ok = int(value), True
    if isinstance(value, str):
        try:
            value, ok = int(value.strip()), True
        except ValueError:
            ok = False
    if not ok or not lo <= value <= hi:
        raise ValidationError(param, value, rule or f"must be an integer from {lo} to {hi}")
    return value


def check_float(param: str, value, lo: float, hi: float, rule: str, lo_open: bool = False) -> float:
    """A finite float within its bounds."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(param, value, rule) from None
    if isinstance(value, bool) or not math.isfinite(number) or number > hi or number < lo or (lo_open and number == lo):
        raise ValidationError(param, number, rule)
    return number


def check_prompt(prompt, param: str = "prompt", allow_empty: bool = False) -> str:
    """A non-empty text of bounded length."""
    if prompt is None and allow_empty:
        return ""
    if not isinstance(prompt, str) or (not allow_empty and not prompt.strip()):
        raise ValidationError(param, prompt, "must be a non-empty text")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValidationError(param, prompt[:40] + "...", f"must be at most {MAX_PROMPT_CHARS} characters")
    return prompt.strip()


def check_seed(seed) -> int | None:
    """None (random) or an integer seed in the generator's range."""
    if seed is None or (isinstance(seed, str) and seed.strip().lower() in ("", "random", "none")):
        return None
    return check_int("seed", seed, 0, MAX_SEED)


def check_side(param: str, value, factor: int) -> int:
    """A frame side that the VAE can produce: a multiple of its downsampling factor."""
    rule = f"must be a multiple of {factor} from {factor} to {MAX_SIDE} (e.g. {factor * 8}, {factor * 16}, {factor * 32})"
    side = check_int(param, value, factor, MAX_SIDE, rule)
    if side % factor:
        raise ValidationError(param, side, rule)  # the parsed number, as every other rule reports it
    return side


def _common(limits: Limits, modality: str, prompt, negative_prompt, steps, guidance, scheduler, seed,
            num_outputs) -> dict:
    """The fields every request has, for a model of `modality` (a model of the other one is refused)."""
    if limits.modality != modality:
        other = limits.modality
        article = "an" if other == "audio" else "a"
        raise ValidationError("model", limits.defaults.get("name", "?"), f"is {article} {other} model; use "
                                                                          f"`mediadiff {other}`")
    d = limits.defaults
    return dict(
        prompt=check_prompt(prompt),
        negative_prompt=check_prompt(negative_prompt, "negative_prompt", allow_empty=True),
        steps=check_int("steps", d.get("steps", 25) if steps is None else steps, 1, MAX_STEPS),
        guidance=check_float(
            "guidance", d.get("guidance", 7.5) if guidance is None else guidance, 0.0, MAX_GUIDANCE,
            f"must be a number from 0 to {MAX_GUIDANCE:g} (1 or less turns guidance off)",
        ),
        scheduler=scheduler_name(d.get("scheduler", "dpm++") if scheduler is None else scheduler),
        seed=check_seed(seed),
        num_outputs=check_int("num_outputs", 1 if num_outputs is None else num_outputs, 1, MAX_OUTPUTS),
    )


def video_request(
    limits: Limits, prompt, negative_prompt=None, *, frames=None, fps=None, height=None, width=None,
    steps=None, guidance=None, scheduler=None, seed=None, num_outputs=None,
) -> VideoRequest:
    """Fill unset video parameters from the checkpoint's defaults and check every one."""
    d = limits.defaults
    return VideoRequest(
        **_common(limits, "video", prompt, negative_prompt, steps, guidance, scheduler, seed, num_outputs),
        frames=check_int("frames", d.get("frames", 16) if frames is None else frames, 1, limits.max_frames,
                    f"must be an integer from 1 to {limits.max_frames} (this model's maximum)"),
        fps=check_int("fps", d.get("fps", 8) if fps is None else fps, 1, 60),
        height=check_side("height", d.get("height", 256) if height is None else height, limits.vae_factor),
        width=check_side("width", d.get("width", 256) if width is None else width, limits.vae_factor),
    )


def audio_request(
    limits: Limits, prompt, negative_prompt=None, *, seconds=None, steps=None, guidance=None,
    scheduler=None, seed=None, num_outputs=None,
) -> AudioRequest:
    """Fill unset audio parameters from the checkpoint's defaults and check every one."""
    d = limits.defaults
    return AudioRequest(
        **_common(limits, "audio", prompt, negative_prompt, steps, guidance, scheduler, seed, num_outputs),
        seconds=check_float("seconds", d.get("seconds", 4.0) if seconds is None else seconds, 0.0, limits.max_seconds,
                       f"must be more than 0 and at most {limits.max_seconds:g} seconds", lo_open=True),
    )


def check_output_path(path, modality: str) -> Path:
    """An output path whose kind matches the command and whose folder exists and is writable."""
    p = Path(os.fspath(path)).expanduser()
    suffixes = VIDEO_SUFFIXES if modality == "video" else AUDIO_SUFFIXES
    suffix = p.suffix.lower()
    if modality == "video" and suffix == "":
        pass  # a folder of PNG frames
    elif suffix not in suffixes:
        allowed = "must end in .mp4 or .gif, or name a folder (no extension) for PNG frames" if modality == "video" \
            else "must end in .wav"
        raise ValidationError("output", str(path), allowed)
    parent = p.absolute().parent
    if not parent.is_dir():
        raise ValidationError("output", str(path), f"its folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValidationError("output", str(path), f"its folder {parent} is not writable")
    if p.is_dir() and suffix:
        raise ValidationError("output", str(path), "is an existing folder, not a file")
    return p


def check_device(device: str) -> str:
    """One of auto/cpu/cuda/mps (availability is checked when the device is resolved)."""
    if str(device).split(":")[0] not in DEVICES:
        raise ValidationError("device", device, f"must be one of {', '.join(DEVICES)} (cuda:N allowed)")
    return str(device)


def check_dtype(dtype: str, device: str) -> str:
    """fp32 anywhere; fp16/bf16 on an accelerator (bf16 also on the CPU)."""
    if dtype not in DTYPES:
        raise ValidationError("dtype", dtype, f"must be one of {', '.join(DTYPES)}")
    if dtype == "fp16" and device == "cpu":
        raise ValidationError("dtype", dtype, "fp16 needs a GPU; use fp32 or bf16 on the CPU")
    return dtype


def check_cache(cache_steps, cache_branch: str = "block") -> tuple[int, str]:
    """Step caching: a full UNet forward every `cache_steps` steps (1 turns it off), `cache_branch` reused between."""
    if cache_branch not in CACHE_BRANCHES:
        raise ValidationError("cache_branch", cache_branch, f"must be one of {', '.join(CACHE_BRANCHES)}")
    return check_int("cache_steps", cache_steps, 1, MAX_CACHE_STEPS), cache_branch


def check_compile(scope: str | None) -> str | None:
    """No compilation (None), or torch.compile of the repeated UNet blocks ("blocks") or of the whole UNet."""
    if scope is not None and scope not in COMPILE_SCOPES:
        raise ValidationError("compile", scope, f"must be one of {', '.join(COMPILE_SCOPES)}")
    return scope


def check_jit(jit: bool, device: str) -> bool:
    """TorchScript-frozen UNets run on the CPU; "auto" passes (it is checked again once resolved)."""
    device = str(device).split(":")[0]
    if jit and device not in (*JIT_DEVICES, "auto"):
        raise ValidationError("jit", True, f"runs on the {'/'.join(d.upper() for d in JIT_DEVICES)}; with device "
                                           f"{device} leave it off (on a GPU use --compile)")
    return bool(jit)


def speed_options(cache_steps=1, cache_branch: str = "block", compile: str | None = None, jit: bool = False,
                  device: str = "auto") -> dict:
    """The opt-in speed-ups, each checked and their combinations too: one way to change the UNet's forward."""
    cache_steps, cache_branch = check_cache(cache_steps, cache_branch)
    options = {"cache_steps": cache_steps, "cache_branch": cache_branch, "compile": check_compile(compile),
               "jit": bool(jit)}
    if options["jit"] and (options["compile"] or cache_steps > 1):
        flags = {"blocks": "--compile", "unet": "--compile-unet"}
        other = flags[options["compile"]] if options["compile"] else f"--cache-steps {cache_steps}"
        raise ValidationError("jit", True, f"cannot be combined with {other}: pick one way to speed up the UNet")
    if options["compile"] == "unet" and cache_steps > 1:
        # the step cache swaps block forwards between steps, which a whole-UNet graph would recompile or bypass
        raise ValidationError("compile_unet", True, f"cannot be combined with --cache-steps {cache_steps}; "
                                                    "use --compile (regional) with step caching")
    check_jit(options["jit"], device)
    return options
