"""What `mediadiff eval --task` asks of a model: plain generation, or continuing, inpainting and editing given media.

The given media is the world's own rendering of each prompt's spec (its true colour, shape and motion, or pitch
and pattern), written losslessly (PNG frames, 16-bit WAV) and read back through the same input path as the CLI's
`--continue` / `--init`. Each case says which part of the output is analysed and what it should read there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

TASKS = ("generate", "continue", "inpaint", "edit")
KEEP_STRENGTH, CHANGE_STRENGTH = 0.3, 0.8  # edit: the same prompt kept lightly, another colour / pitch strongly
GIVEN_VIDEO_FRAMES = 16  # a rendered world clip; continue gives its first half
INPAINT_SPAN = (0.25, 0.75)  # the regenerated span, as fractions of the given clip or sound


@dataclass(frozen=True)
class Case:
    """One generation of an evaluation and how its output is scored."""

    split: str  # the report's row: the prompt's split, with the edit's strength where there is one
    prompt: str
    spec: Any  # what the analysed part should read
    request: Any  # validated once (validation.video_request / audio_request)
    part: tuple[float, float] | None = None  # analysed span: frames (video) or seconds (audio); None: all
    attributes: tuple[str, ...] | None = None  # the attributes scored; None: the suite's scorer decides
    given: Path | None = None  # the rendered input, when there is one


def completed(spec, rng: np.random.Generator):
    """`spec` with what an eval prompt leaves open (a tone's pitch, timbre, beep count) drawn, so it renders."""
    from ..worlds import tones

    if not isinstance(spec, tones.ToneSpec) or spec.complete:
        return spec
    return replace(spec, pitch=spec.pitch or str(rng.choice(tones.PITCHES)),
                   timbre=spec.timbre or str(rng.choice(tones.TIMBRES)),
                   beeps=spec.beeps if spec.pattern != "beeps" else spec.beeps or int(rng.integers(2, 4)))


def other(spec):
    """The same spec with another colour (shapes) or pitch (tones): what a strong edit's prompt asks for."""
    from ..worlds import shapes, tones

    if isinstance(spec, shapes.ShapeSpec):
        colours = list(shapes.COLOURS)
        return replace(spec, colour=colours[(colours.index(spec.colour) + 1) % len(colours)])
    if spec.pitch is None:
        return None  # unpitched: nothing to change the pitch of
    return replace(spec, pitch=tones.PITCHES[(tones.PITCHES.index(spec.pitch) + 1) % len(tones.PITCHES)])


def render_given(spec, limits, folder: Path, name: str, rng: np.random.Generator, frames: int | None = None) -> Path:
    """The world's clip (PNG frames at the model's size; its first `frames` when given) or sound (WAV at the
    model's rate) of `spec`."""
    from ..codecs.frames import write_video
    from ..codecs.mel import write_wav

    if limits.modality == "video":
        from ..worlds import shapes

        size = int(limits.defaults.get("height", 64))
        return write_video(folder / name, shapes.render(spec, GIVEN_VIDEO_FRAMES, size, rng)[:frames], 8)
    from ..worlds import tones

    rate = int(limits.defaults.get("mel", {}).get("sample_rate", tones.SAMPLE_RATE))
    seconds = float(np.clip(limits.defaults.get("seconds", tones.MAX_SECONDS), tones.MIN_SECONDS, tones.MAX_SECONDS))
    return write_wav(folder / f"{name}.wav", tones.render(spec, seconds, rate, rng), rate)


def caption(spec) -> str:
    """The world's plain caption of a spec."""
    from ..worlds import shapes, tones

    return (shapes if hasattr(spec, "colour") else tones).canonical_caption(spec)


def cases(task: str, limits, items: list, *, seeds: int = 1, seed: int = 0, settings: dict | None = None,
          folder: Path | None = None) -> list[Case]:
    """Every case of `task` over `items`, each request validated once; given media rendered into `folder`."""
    from .. import validation
    from ..errors import ValidationError

    if task not in TASKS:
        raise ValidationError("task", task, f"must be one of {', '.join(TASKS)}")
    video = limits.modality == "video"
    build = validation.video_request if video else validation.audio_request
    settings = dict(settings or {})

    def request(prompt, **media):
        return build(limits, prompt, seed=seed, num_outputs=seeds, **settings, **media)

    if task == "generate":
        return [Case(i.split, i.prompt, i.spec, request(i.prompt)) for i in items]
    if folder is None:
        raise ValueError("given media needs a folder")
    folder.mkdir(parents=True, exist_ok=True)
    length = "frames" if video else "seconds"
    if settings.get(length) is not None:
        raise ValidationError(length, settings[length], f"is set by --task {task} (the given media's length)")
    out = []
    for n, item in enumerate(items):
        spec = completed(item.spec, np.random.default_rng([seed, n]))
        half = GIVEN_VIDEO_FRAMES // 2 if video and task == "continue" else None  # continue: the clip's first half
        given = render_given(spec, limits, folder, f"{n:03d}-{task}", np.random.default_rng([seed, n]), half)
        scored = ("colour", "shape", "motion") if video else ("pitch", "pattern") if spec.pitch else ("pattern",)
        if task == "continue":
            # The given clip's first half (video) or the whole sound, continued by as much again.
            if video:
                req, part = request(item.prompt, continue_from=given, frames=half), (half, 2 * half)
            else:
                probe = request(item.prompt, init=given)
                req = request(item.prompt, continue_from=given, seconds=probe.seconds)
                part = (probe.seconds, 2 * probe.seconds)
            out.append(Case(item.split, item.prompt, spec, req, part, scored, given))
        elif task == "inpaint":
            probe = request(item.prompt, init=given)
            total = probe.frames if video else probe.seconds
            span = tuple(round(f * total) if video else round(f * total, 3) for f in INPAINT_SPAN)
            out.append(Case(item.split, item.prompt, spec, request(item.prompt, init=given, inpaint=span), span,
                            scored, given))
        else:  # edit
            out.append(Case(f"{item.split} s{KEEP_STRENGTH}", item.prompt, spec,
                            request(item.prompt, init=given, strength=KEEP_STRENGTH), None, scored, given))
            changed = other(spec)
            if changed is not None:
                out.append(Case(f"{item.split} s{CHANGE_STRENGTH}", caption(changed), changed,
                                request(caption(changed), init=given, strength=CHANGE_STRENGTH), None, scored,
                                given))
    return out


OUTSIDE_TOLERANCE = 1  # uint8 levels: outside an inpainted span the clip is the input's reconstruction


def outside_difference(pipe, case: Case, out) -> list[int]:
    """Per output clip, the largest uint8 difference outside the inpainted span between the output and the input's
    reconstruction (its latents, the same posterior draw, encoded and decoded here independently of the pipeline).
    Video only: for sound the pipeline splices that reconstruction in itself, so there is nothing to check."""
    request = case.request
    import torch

    from ..codecs.frames import decode_video, to_uint8

    generators, _ = pipe.generators(request.seed, request.num_outputs)
    with torch.no_grad():
        latents = pipe.encode_frames(request.init.data[:request.frames], request, generators)
        reconstruction = to_uint8(decode_video(pipe.vae, latents))  # (B, F, H, W, 3)
    start, end = request.inpaint
    output = to_uint8(out.frames)
    outside = np.r_[0:int(start), int(end):request.frames]
    diff = np.abs(output[:, outside].astype(int) - reconstruction[:, outside].astype(int))  # (B, F', H, W, 3)
    return [int(d.max()) if d.size else 0 for d in diff]
