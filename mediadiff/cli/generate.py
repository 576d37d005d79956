"""`mediadiff video` and `mediadiff audio`: one prompt to files, with progress and settings metadata."""

from __future__ import annotations

import time

from .. import validation
from ..checkpoints import resolve_limits
from ..checkpoints.presets import default_model
from ..errors import ValidationError
from ..validation import check_output_path
from .common import (add_model_options, add_output_options, add_speed_options, apply_speed_options, emit,
                     speed_options, step_progress)


def _shared(p) -> None:
    p.add_argument("prompt", help="what to generate")
    p.add_argument("-o", "--output", required=True, help="the file to write (its folder must exist); with "
                                                           "--num-outputs N, out-1, out-2, ...")
    p.add_argument("--negative-prompt", default=None, help="what to steer away from")
    p.add_argument("--steps", default=None, help="denoising steps (default: the model's, usually 25)")
    p.add_argument("--guidance", default=None, help="classifier-free guidance scale")
    p.add_argument("--scheduler", default=None, help="dpm++ (default), ddim, ddpm, euler, euler-a, unipc")
    p.add_argument("--seed", default=None, help="an integer, or random (default)")
    p.add_argument("--num-outputs", default=1, help="outputs for this prompt (out-1, out-2, ...)")
    add_model_options(p)
    add_speed_options(p)
    add_output_options(p)


def _beyond_one_window(p, unit: str, media: str) -> None:
    """Given media and context windows: the same flags for both modalities, in frames or seconds."""
    g = p.add_argument_group("given media and long outputs")
    g.add_argument("--init", default=None, help=f"{media} to re-render (with --strength) or inpaint (--inpaint)")
    g.add_argument("--strength", default=None, help="with --init: how much is re-made, more than 0 up to 1 "
                                                    "(SDEdit; 1 ignores the input outside --inpaint)")
    g.add_argument("--continue", dest="continue_from", default=None,
                   help=f"{media} to carry on: the output is it, then --{unit} more {unit}")
    g.add_argument("--inpaint", default=None, help=f"START:END in {unit}: with --init, regenerate only that span")
    g.add_argument("--context-length", default=None, help=f"context window in {unit} (default: the model's "
                                                          f"window); used when the output is longer than one window")
    g.add_argument("--context-stride", default=None, help=f"{unit} between window starts (default: a quarter "
                                                          "window)")
    g.add_argument("--weighting", default=None, help="how overlapping windows are fused: pyramid (default), flat, "
                                                     "delayed_reverse_sawtooth")
    g.add_argument("--noise-type", default=None, help="windows' initial noise: shuffle_context (default, "
                                                      "FreeNoise), repeat_context, random")
    g.add_argument("--window-method", default=None, help="denoiser (whole-UNet windows, any model) or freenoise "
                                                         "(windowed temporal attention, AnimateDiff layout; its "
                                                         "default)")


def register(sub) -> None:
    v = sub.add_parser("video", help="generate a video clip (.mp4, .gif, or a folder of PNG frames)")
    _shared(v)
    v.add_argument("--frames", default=None, help="frames to make (default: the model's); past the model's "
                                                  "window, context windows; with --continue, the new frames")
    v.add_argument("--fps", default=None, help="frames per second (default: the model's)")
    v.add_argument("--height", default=None, help="pixels, a multiple of the VAE factor (default: the model's)")
    v.add_argument("--width", default=None, help="pixels, a multiple of the VAE factor (default: the model's)")
    v.add_argument("--motion-adapter", default=None, help="a MotionAdapter folder/hub id for a Stable Diffusion base")
    v.add_argument("--image", default=None, help="a picture the clip animates: given as its first frame "
                                                 "(or --image-at)")
    v.add_argument("--image-at", default=None, help="the frame index --image is given at (default 0)")
    _beyond_one_window(v, "frames", "a clip (MP4, GIF or PNG folder)")
    g = v.add_argument_group("soundtrack (MP4)")
    g.add_argument("--sound", nargs="?", const="", default=None, metavar="AUDIO_PROMPT",
                   help="give the clip a soundtrack as long as it, from the audio model and the same seed: from "
                        "AUDIO_PROMPT, or bare, from the video prompt")
    g.add_argument("--audio-model", default=None, help="with --sound: the audio model (default: the shipped tones)")
    g.add_argument("--sound-file", default=None, help="a WAV/FLAC/OGG to mux in as the soundtrack instead (trimmed "
                                                      "or padded to the clip, resampled where AAC needs it)")
    v.set_defaults(run=run_video)
    a = sub.add_parser("audio", help="generate a sound (.wav)")
    _shared(a)
    a.add_argument("--seconds", default=None, help="seconds to make (default: the model's); past the model's "
                                                   "length, context windows; with --continue, the new seconds")
    _beyond_one_window(a, "seconds", "a sound (WAV or FLAC)")
    a.set_defaults(run=run_audio)


def _media(args) -> dict:
    """The given-media and window flags as request keywords."""
    return {k: getattr(args, k) for k in ("init", "strength", "continue_from", "inpaint", "context_length",
                                          "context_stride", "weighting", "noise_type", "window_method")}


def _limits(args, modality: str):
    """The output path, the model resolved once and its limits, from configs alone (before any weights load)."""
    output = check_output_path(args.output, modality)
    model = resolve_limits(args.model or default_model(modality), getattr(args, "motion_adapter", None))
    return output, model, model.limits


def notice_unknown_words(args, limits, request, model) -> None:
    """One notice line (stderr, not an error) for each prompt a world-trained model has no word of."""
    import sys

    from ..worlds import prompt_notices

    for line in prompt_notices(limits, request, model.source):
        if not args.quiet:
            print(line, file=sys.stderr)


def _load(cls, args, model):
    from ..libraries import quiet_libraries

    quiet_libraries()
    pipe = cls.from_pretrained(model, device=args.device, dtype=args.dtype, allow_pickle=args.allow_pickle,
                               motion_adapter=getattr(args, "motion_adapter", None))
    return apply_speed_options(pipe, args.speed)


def _generate(cls, args, model, request):
    """Load the pipeline and generate the validated request, with a progress bar."""
    pipe = _load(cls, args, model)
    bar, on_step = step_progress(args, request.steps, "denoising")
    with bar:
        return pipe.generate(request, callback=on_step)


def _soundtrack(args, request, output):
    """--sound / --sound-file checked once with the clip (one seed for both); Nones without them. Returns the
    validated soundtrack, the resolved audio model (None for a given file) and the clip's request with its seed."""
    if args.audio_model is not None and args.sound is None:
        raise ValidationError("audio_model", args.audio_model, "needs --sound")
    if args.sound is None and args.sound_file is None:
        return None, None, request
    if args.sound is not None and args.sound_file is not None:
        raise ValidationError("sound_file", args.sound_file, "is the soundtrack itself: give it or "
                                                                        "--sound, not both")
    model = None
    if args.sound_file is None:
        model = resolve_limits(args.audio_model or default_model("audio"))
    request, track = validation.soundtrack(request, output, limits=None if model is None else model.limits,
                                           source="" if model is None else model.source,
                                           prompt=args.sound or None, file=args.sound_file)
    return track, model, request


def _finish(args, out, paths, started: float, what: str) -> int:
    total = time.perf_counter() - started
    result = {"paths": [str(p) for p in paths], "seed": out.seed, "settings": out.settings,
              "timings": {**out.timings, "total": total}}
    emit(args, result, f"wrote {', '.join(map(str, paths))} ({what}, seed {out.seed}) in {total:.1f} s")
    return 0


def run_video(args) -> int:
    started = time.perf_counter()
    # 1. Validate every option against the checkpoint's configs, once, before any model work.
    output, model, limits = _limits(args, "video")
    args.speed = speed_options(args)
    request = validation.video_request(limits, args.prompt, args.negative_prompt, frames=args.frames, fps=args.fps,
                                       height=args.height, width=args.width, steps=args.steps,
                                       guidance=args.guidance, scheduler=args.scheduler, seed=args.seed,
                                       num_outputs=args.num_outputs, image=args.image, image_at=args.image_at,
                                       **_media(args))
    validation.check_cache_with(args.speed["cache_steps"], request)
    track, audio_model, request = _soundtrack(args, request, output)
    notice_unknown_words(args, limits, request, model)
    if track is not None and track.request is not None:
        notice_unknown_words(args, audio_model.limits, track.request, audio_model)
    from ..pipelines import AudioPipeline, VideoPipeline  # torch and diffusers load only once the request is valid
    from ..pipelines.soundtrack import add_sound

    # 2. Generate that request (and its soundtrack), then write the files: nothing is written if either fails.
    out = _generate(VideoPipeline, args, model, request)
    what = f"{out.frames.shape[1]} frames, {request.width}x{request.height}, {request.fps} fps"
    if track is not None:
        audio = None
        if track.request is not None:
            audio = AudioPipeline.from_pretrained(audio_model, device=args.device, dtype=args.dtype,
                                                  allow_pickle=args.allow_pickle)
        bar, on_step = step_progress(args, track.request.steps if audio else 1, "soundtrack")
        with bar:
            out = add_sound(out, track, audio, callback=on_step)
        what += f", with {track.seconds:g} s of sound"
    paths = out.save(output)
    return _finish(args, out, paths, started, what)


def run_audio(args) -> int:
    started = time.perf_counter()
    # 1. Validate every option against the checkpoint's configs, once, before any model work.
    output, model, limits = _limits(args, "audio")
    args.speed = speed_options(args)
    request = validation.audio_request(limits, args.prompt, args.negative_prompt, seconds=args.seconds,
                                       steps=args.steps, guidance=args.guidance, scheduler=args.scheduler,
                                       seed=args.seed, num_outputs=args.num_outputs, **_media(args))
    validation.check_cache_with(args.speed["cache_steps"], request)
    notice_unknown_words(args, limits, request, model)
    from ..pipelines import AudioPipeline

    # 2. Generate that request, then write the file.
    out = _generate(AudioPipeline, args, model, request)
    paths = out.save(output)
    seconds = out.waveforms.shape[1] / out.sample_rate
    return _finish(args, out, paths, started, f"{seconds:g} s at {out.sample_rate} Hz")
