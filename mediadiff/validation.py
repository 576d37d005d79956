"""Every parameter rule, once: the CLI, the Python API and the apps all validate here before any model work."""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .core import MAX_SEED, draw_seed
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
# Past one window (core.windows): how long a clip or sound may get, and what a given input may be.
MAX_LONG_FRAMES = 512
MAX_LONG_SECONDS = 120.0
MAX_INPUT_BYTES = 512 * 2**20
WINDOW_METHODS = ("denoiser", "freenoise")  # core.windows.METHODS
WEIGHTINGS = ("pyramid", "flat", "delayed_reverse_sawtooth")  # core.windows.WEIGHTINGS
NOISE_TYPES = ("shuffle_context", "repeat_context", "random")  # core.windows.NOISE_TYPES
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
    denoiser: str = ""  # the UNet's class name: which window methods apply

    @property
    def max_side(self) -> int:
        """The largest frame side this model takes: four times its trained side (at most MAX_SIDE), on the VAE's
        grid. What a model makes far past its size is noise; the app's sliders and the CLI's rule both use this."""
        side = min(MAX_SIDE, 4 * max(int(self.defaults.get("height", 256)), int(self.defaults.get("width", 256))))
        return max(side - side % self.vae_factor, 8 * self.vae_factor)

    @property
    def window(self) -> float:
        """The length one window of the denoiser covers: its default clip (frames) or sound (seconds)."""
        if self.modality == "video":
            return min(int(self.defaults.get("frames", 16)), self.max_frames)
        return min(float(self.defaults.get("window_seconds", self.defaults.get("seconds", 4.0))), self.max_seconds)


@dataclass(frozen=True)
class MediaInput:
    """A given media file, read and checked once: uint8 frames (F, H, W, 3) or mono float samples."""

    param: str  # the flag it came from: init, continue, image
    path: str
    sha256: str
    data: object = field(repr=False, compare=False)
    rate: float  # frames or samples per second (the request's fps for video, once retimed)

    @property
    def length(self) -> float:
        """Frames (video) or seconds (audio)."""
        return len(self.data) if self.data.ndim == 4 else len(self.data) / self.rate

    def describe(self) -> dict:
        """What the settings record so a run can be replayed: the file's name and hash, and what was taken."""
        shape = {"frames": len(self.data), "width": self.data.shape[2], "height": self.data.shape[1]} \
            if self.data.ndim == 4 else {"seconds": round(len(self.data) / self.rate, 4), "sample_rate": self.rate}
        return {"name": Path(self.path).name, "sha256": self.sha256, **shape}


@dataclass(frozen=True)
class Context:
    """Context windows in the request's unit (frames for video, seconds for audio); core.windows runs them."""

    length: float
    stride: float
    weighting: str
    noise: str
    method: str


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
    # beyond one window (all optional): prompt travel, a given input and how it is used, context windows
    schedule: tuple[tuple[float, str], ...] | None = field(default=None, kw_only=True)
    init: MediaInput | None = field(default=None, kw_only=True)
    strength: float = field(default=1.0, kw_only=True)
    continuation: MediaInput | None = field(default=None, kw_only=True)
    inpaint: tuple[float, float] | None = field(default=None, kw_only=True)
    context: Context | None = field(default=None, kw_only=True)

    def settings(self) -> dict:
        """Every field as JSON-ready values; a given input as its name, hash and extent."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.kw_only and value == f.default:
                continue  # features not used are left out of the record
            out[f.name] = value.describe() if isinstance(value, MediaInput) else \
                asdict(value) if isinstance(value, Context) else \
                [list(k) for k in value] if f.name == "schedule" else list(value) if isinstance(value, tuple) else value
        return out

    @property
    def given(self) -> bool:
        """Whether the run starts from or keeps given media."""
        return any(x is not None for x in (self.init, self.continuation, getattr(self, "image", None)))


@dataclass(frozen=True)
class VideoRequest(Request):
    """A validated video generation."""

    frames: int  # new frames: the whole clip, or what follows a continued one
    fps: int
    height: int
    width: int
    image: MediaInput | None = field(default=None, kw_only=True)
    image_at: int = field(default=0, kw_only=True)
    overlap: int = field(default=0, kw_only=True)  # a continued clip's last frames, given to the first window

    @property
    def latent_frames(self) -> int:
        """Frames the denoiser runs on: the clip, or the continued clip's kept tail plus the new frames."""
        return self.frames + self.overlap

    @property
    def output_frames(self) -> int:
        """Frames of the written clip: the new frames, after the continued clip's own."""
        return self.frames + (len(self.continuation.data) if self.continuation is not None else 0)


@dataclass(frozen=True)
class AudioRequest(Request):
    """A validated audio generation."""

    seconds: float  # new seconds: the whole sound, or what follows a continued one
    overlap: float = field(default=0.0, kw_only=True)  # a continued sound's last seconds, given to the first window

    @property
    def total_seconds(self) -> float:
        """Seconds the denoiser runs on."""
        return self.seconds + self.overlap


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


def check_side(param: str, value, factor: int, most: int = MAX_SIDE) -> int:
    """A frame side that the VAE can produce: a multiple of its downsampling factor, at most `most`."""
    examples = ", ".join(str(k * factor) for k in (8, 16, 32) if k * factor <= most)
    rule = f"must be a multiple of {factor} from {factor} to {most} (this model's limit; e.g. {examples})"
    side = check_int(param, value, factor, most, rule)
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


TRAVEL_KEY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*:\s*(.*)$", re.S)


def check_schedule(prompt, end: float, unit: str, integer: bool) -> tuple[str, tuple | None]:
    """A prompt, or a prompt schedule (prompt travel): a {position: prompt} mapping or its CLI form
    "0: a red circle | 32: a blue circle", positions in `unit` from 0 (the first) to below `end`."""
    if isinstance(prompt, str) and TRAVEL_KEY.match(prompt) and "|" in prompt:
        parts = [TRAVEL_KEY.match(part) for part in prompt.split("|")]
        if not all(parts):
            raise ValidationError("prompt", prompt[:60], f"a schedule is 'POSITION: PROMPT | POSITION: PROMPT' with "
                                                         f"positions in {unit}")
        prompt = {float(m.group(1)): m.group(2) for m in parts}
    if not isinstance(prompt, dict):
        return check_prompt(prompt), None
    keys = {}
    for key, text in prompt.items():
        position = check_float("prompt", key, 0.0, math.inf, f"schedule positions must be numbers of {unit}")
        if integer and not position.is_integer():
            raise ValidationError("prompt", key, f"schedule positions must be whole {unit}")
        keys[int(position) if integer else position] = check_prompt(text)
    if 0 not in keys:
        raise ValidationError("prompt", sorted(keys)[0] if keys else None, "a schedule must start at position 0")
    if max(keys) >= end:
        raise ValidationError("prompt", max(keys), f"schedule positions must be below {end:g} {unit} (the length)")
    schedule = tuple(sorted(keys.items()))
    if len(schedule) == 1:
        return schedule[0][1], None
    return " | ".join(f"{k:g}: {t}" for k, t in schedule), schedule


def read_input(param: str, path, kind: str, fps: int | None = None) -> MediaInput:
    """A given file (`kind` video, image or audio) read and checked once; frames retimed to `fps`."""
    from .codecs import inputs

    if path is None:
        return None
    p = Path(os.fspath(path)).expanduser()
    try:
        if kind == "audio":
            data, rate = inputs.read_audio(p, MAX_LONG_SECONDS, MAX_INPUT_BYTES)
        elif kind == "image":
            data, rate = inputs.read_image(p, MAX_SIDE, MAX_INPUT_BYTES), fps
        else:
            raw, source_fps = inputs.read_frames(p, MAX_SIDE, 8 * MAX_LONG_FRAMES, MAX_INPUT_BYTES)
            data, rate = inputs.resample_frames(raw, source_fps, fps), fps
            if len(data) > MAX_LONG_FRAMES:
                raise inputs.MediaProblem(f"has {len(data)} frames at {fps} fps; at most {MAX_LONG_FRAMES}")
    except inputs.MediaProblem as e:
        raise ValidationError(param, str(path), str(e)) from None
    except OSError as e:
        raise ValidationError(param, str(path), f"cannot be read ({e.strerror or type(e).__name__})") from None
    return MediaInput(param, str(p), inputs.sha256(p), data, rate)


def check_span(value, lo: float, hi: float, unit: str, integer: bool) -> tuple[float, float] | None:
    """An inpainting span "START:END" (or a pair) within [lo, hi], START before END."""
    if value is None:
        return None
    rule = f"must be START:END in {unit}, 0 <= START < END <= {hi:g}"
    try:
        a, b = (value.split(":") if isinstance(value, str) else value)
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        raise ValidationError("inpaint", value, rule) from None
    if not (math.isfinite(a) and math.isfinite(b) and lo <= a < b <= hi) or (integer and not (a.is_integer()
                                                                                             and b.is_integer())):
        raise ValidationError("inpaint", value, rule)
    return (int(a), int(b)) if integer else (a, b)


def check_inputs(init, continue_from, image, inpaint, strength) -> None:
    """Which given inputs combine: one of init / continue / image; a span and a strength need an init."""
    given = [name for name, v in (("init", init), ("continue", continue_from), ("image", image)) if v is not None]
    if len(given) > 1:
        raise ValidationError(given[1], "given", f"cannot be combined with --{given[0]}: give one input")
    if inpaint is not None and init is None:
        raise ValidationError("inpaint", inpaint, "needs --init FILE: the media to inpaint")
    if strength is not None and init is None:
        raise ValidationError("strength", strength, "needs --init FILE: the media it is a strength over")


def check_context(limits: Limits, total: float, length=None, stride=None, weighting=None, noise_type=None,
                  method=None, force: bool = False) -> Context | None:
    """Context windows when the media is longer than one window (or any window option is given); None when one
    window covers it."""
    options = (length, stride, weighting, noise_type, method)
    video = limits.modality == "video"
    most = limits.max_frames if video else limits.max_seconds
    if not force and all(o is None for o in options) and total <= most:
        return None
    unit = "frames" if video else "seconds"
    default = limits.window
    if video:
        length = check_int("context_length", default if length is None else length, 2, limits.max_frames,
                           f"must be an integer from 2 to {limits.max_frames} frames (this model's window)")
        stride = check_int("context_stride", max(1, length // 4) if stride is None else stride, 1, length,
                           f"must be an integer from 1 to {length} (the context length)")
    else:
        length = check_float("context_length", default if length is None else length, 0.5, limits.max_seconds,
                             f"must be from 0.5 to {limits.max_seconds:g} seconds (this model's window)")
        stride = check_float("context_stride", length / 4 if stride is None else stride, 0.0, length,
                             f"must be more than 0 and at most {length:g} seconds (the context length)", lo_open=True)
    weighting = weighting or "pyramid"
    if weighting not in WEIGHTINGS:
        raise ValidationError("weighting", weighting, f"must be one of {', '.join(WEIGHTINGS)}")
    noise_type = noise_type or "shuffle_context"
    if noise_type not in NOISE_TYPES:
        raise ValidationError("noise_type", noise_type, f"must be one of {', '.join(NOISE_TYPES)}")
    motion = limits.denoiser == "UNetMotionModel"
    method = method or ("freenoise" if motion else "denoiser")
    if method not in WINDOW_METHODS:
        raise ValidationError("window_method", method, f"must be one of {', '.join(WINDOW_METHODS)}")
    if method == "freenoise" and not motion:
        raise ValidationError("window_method", method, f"needs a motion-module UNet (AnimateDiff layout); this "
                                                       f"model's {limits.denoiser or 'UNet'} takes denoiser")
    if total <= length:
        return None  # one window covers it
    return Context(length, stride, weighting, noise_type, method)


def video_request(
    limits: Limits, prompt, negative_prompt=None, *, frames=None, fps=None, height=None, width=None,
    steps=None, guidance=None, scheduler=None, seed=None, num_outputs=None, init=None, strength=None,
    continue_from=None, inpaint=None, image=None, image_at=None, context_length=None, context_stride=None,
    weighting=None, noise_type=None, window_method=None,
) -> VideoRequest:
    """Fill unset video parameters from the checkpoint's defaults and check every one (given media included)."""
    d = limits.defaults
    common = _common(limits, "video", "-", negative_prompt, steps, guidance, scheduler, seed, num_outputs)
    check_inputs(init, continue_from, image, inpaint, strength)
    if image_at is not None and image is None:
        raise ValidationError("image_at", image_at, "needs --image FILE: the frame it places")
    fps = check_int("fps", d.get("fps", 8) if fps is None else fps, 1, 60)
    height = check_side("height", d.get("height", 256) if height is None else height, limits.vae_factor,
                        limits.max_side)
    width = check_side("width", d.get("width", 256) if width is None else width, limits.vae_factor, limits.max_side)
    init = read_input("init", init, "video", fps)
    continuation = read_input("continue", continue_from, "video", fps)
    image = read_input("image", image, "image", fps)
    if init is not None:
        most, rule = len(init.data), f"must be an integer from 1 to {len(init.data)} (the frames of --init)"
    else:
        most, rule = MAX_LONG_FRAMES, f"must be an integer from 1 to {MAX_LONG_FRAMES}"
    frames = check_int("frames", (most if init is not None else d.get("frames", 16)) if frames is None else frames,
                       1, most, rule)
    overlap = 0
    if continuation is not None:
        window = limits.window if context_length is None else check_int("context_length", context_length, 2,
                                                                        limits.max_frames)
        overlap = min(len(continuation.data), window // 2)
    context = check_context(limits, frames + overlap, context_length, context_stride, weighting, noise_type,
                            window_method, force=continuation is not None and frames + overlap > limits.window)
    prompt, schedule = check_schedule(prompt, frames, "frames", integer=True)
    common["prompt"] = prompt
    return VideoRequest(
        **common, frames=frames, fps=fps, height=height, width=width, schedule=schedule, init=init,
        strength=check_float("strength", 1.0 if strength is None else strength, 0.0, 1.0,
                             "must be more than 0 and at most 1", lo_open=True),
        continuation=continuation, inpaint=check_span(inpaint, 0, frames, "frames", integer=True), context=context,
        image=image, image_at=check_int("image_at", 0 if image_at is None else image_at, 0, frames - 1,
                                        f"must be a frame index from 0 to {frames - 1}"),
        overlap=overlap,
    )


def audio_request(
    limits: Limits, prompt, negative_prompt=None, *, seconds=None, steps=None, guidance=None,
    scheduler=None, seed=None, num_outputs=None, init=None, strength=None, continue_from=None, inpaint=None,
    context_length=None, context_stride=None, weighting=None, noise_type=None, window_method=None,
) -> AudioRequest:
    """Fill unset audio parameters from the checkpoint's defaults and check every one (given media included)."""
    d = limits.defaults
    common = _common(limits, "audio", "-", negative_prompt, steps, guidance, scheduler, seed, num_outputs)
    check_inputs(init, continue_from, None, inpaint, strength)
    init = read_input("init", init, "audio")
    continuation = read_input("continue", continue_from, "audio")
    most = init.length if init is not None else MAX_LONG_SECONDS
    seconds = check_float("seconds", (most if init is not None else d.get("seconds", 4.0)) if seconds is None
                          else seconds, 0.0, most,
                          f"must be more than 0 and at most {most:g} seconds"
                          + (" (the length of --init)" if init is not None else ""), lo_open=True)
    overlap = 0.0
    if continuation is not None:
        window = limits.window if context_length is None else check_float(
            "context_length", context_length, 0.5, limits.max_seconds, f"must be from 0.5 to {limits.max_seconds:g}")
        overlap = min(continuation.length, window / 2)
    context = check_context(limits, seconds + overlap, context_length, context_stride, weighting, noise_type,
                            window_method, force=continuation is not None and seconds + overlap > limits.window)
    prompt, schedule = check_schedule(prompt, seconds, "seconds", integer=False)
    common["prompt"] = prompt
    return AudioRequest(
        **common, seconds=seconds, schedule=schedule, init=init,
        strength=check_float("strength", 1.0 if strength is None else strength, 0.0, 1.0,
                             "must be more than 0 and at most 1", lo_open=True),
        continuation=continuation, inpaint=check_span(inpaint, 0.0, seconds, "seconds", integer=False),
        context=context, overlap=overlap,
    )


@dataclass(frozen=True)
class Soundtrack:
    """A clip's validated soundtrack, exactly as long as the clip: made by an audio model from `request` (its seed
    the clip's), or a given sound `file` (trimmed or padded to the clip)."""

    seconds: float
    request: AudioRequest | None = None
    file: MediaInput | None = None

    def settings(self) -> dict:
        """What the clip's settings record of a given sound (a generated one records its pipeline's settings)."""
        return {"file": self.file.describe(), "seconds": self.seconds} if self.file is not None else {}


def soundtrack(video: VideoRequest, output: Path | None = None, *, limits: Limits | None = None, source: str = "",
               prompt=None, file=None) -> tuple[VideoRequest, Soundtrack]:
    """The soundtrack of a validated clip request: from the audio model with these `limits` (named `source`) and
    `prompt` (default the clip's, a travel schedule moved from frames to seconds), or the given sound `file`. One
    seed for both: a clip without one gets it drawn here; returns the clip's request with it, and the track."""
    if output is not None and output.suffix.lower() != ".mp4":
        raise ValidationError("sound", str(output), "needs an .mp4 output (GIF and PNG frames carry no sound)")
    if video.seed is None:
        video = replace(video, seed=draw_seed())
    seconds = video.output_frames / video.fps
    if file is not None:
        if prompt is not None:
            raise ValidationError("sound_file", str(file), "is the soundtrack itself: give it or --sound, not both")
        return video, Soundtrack(seconds, file=read_input("sound_file", file, "audio"))
    if limits.modality != "audio":
        raise ValidationError("audio_model", source, f"is a {limits.modality} model; the soundtrack needs an audio "
                                                     "model")
    if prompt is None:
        prompt = video.prompt if video.schedule is None else \
            " | ".join(f"{k / video.fps:g}: {text}" for k, text in video.schedule)
    request = audio_request(limits, prompt, seconds=seconds, seed=video.seed, num_outputs=video.num_outputs)
    return video, Soundtrack(seconds, request=request)


def check_cache_with(cache_steps: int, request: Request) -> None:
    """Step caching replays one forward's deep features, which per-window forwards (method denoiser) would mix."""
    if request.context is not None and request.context.method == "denoiser" and cache_steps > 1:
        raise ValidationError("cache_steps", cache_steps, "cannot be combined with context windows (method "
                                                          "denoiser): leave it at 1")


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
    try:  # access() says yes to root everywhere, /proc included: only creating a file tells
        import tempfile

        fd, probe = tempfile.mkstemp(prefix=".mediadiff-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ValidationError("output", str(path), f"its folder {parent} is not writable "
                                                   f"({e.strerror or type(e).__name__})") from None
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
