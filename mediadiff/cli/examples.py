"""`mediadiff examples video|audio -o PNG [--prompt TEXT ...]`: one picture of a model's outputs (README images)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ValidationError
from .common import emit


def register(sub) -> None:
    p = sub.add_parser("examples", help="a picture of a model's outputs: labelled frame strips or spectrograms",
                       description="Generates each prompt at the model's defaults with one seed (not picked) and "
                                   "draws them in one PNG: 8 frames a row for video, a log-mel spectrogram a row "
                                   "for audio.")
    p.add_argument("modality", help="video or audio")
    p.add_argument("--prompt", dest="prompts", action="append", default=[],
                   help="a prompt (repeat for more rows); default: the shipped model's example prompts, as in the app")
    p.add_argument("-o", "--output", required=True, help="the PNG to write")
    p.add_argument("--model", default=None, help="pipeline folder, preset or hub id (default: the shipped one)")
    p.add_argument("--seed", default="0", help="the seed of every prompt (default 0)")
    p.add_argument("--media-dir", default=None, help="also write each output (MP4 / WAV) into this folder")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda, mps (default cpu)")
    p.add_argument("--frames", default=None, help="video: frames per clip (past the window: context windows)")
    p.add_argument("--seconds", default=None, help="audio: seconds per sound (past the model's length: windows)")
    p.add_argument("--init", default=None, help="given media for every prompt, with --strength or --inpaint")
    p.add_argument("--strength", default=None)
    p.add_argument("--inpaint", default=None, help="START:END, with --init")
    p.add_argument("--continue", dest="continue_from", default=None, help="given media each prompt continues")
    p.add_argument("--strip", default="8", help="video: frames shown per row (default 8)")
    p.add_argument("--json", action="store_true", help="print one JSON object (picture, outputs)")
    p.set_defaults(run=run, quiet=False)


def run(args) -> int:
    from ..checkpoints import resolve_limits
    from ..checkpoints.presets import default_model
    from ..core import MAX_SEED
    from .. import validation
    from ..validation import check_int, check_output_path, check_prompt

    if args.modality not in ("video", "audio"):
        raise ValidationError("modality", args.modality, "must be video or audio")
    if Path(args.output).suffix.lower() != ".png":
        raise ValidationError("output", args.output, "must end in .png")
    check_output_path(Path(args.output).with_suffix(".mp4" if args.modality == "video" else ".wav"), args.modality)
    seed = check_int("seed", args.seed, 0, MAX_SEED)
    from ..worlds import shapes, tones

    prompts = [check_prompt(p) for p in args.prompts] or list((shapes if args.modality == "video" else tones)
                                                              .EXAMPLE_PROMPTS)
    model = resolve_limits(args.model or default_model(args.modality))  # checked before the weights load
    if model.limits.modality != args.modality:
        raise ValidationError("model", model.source, f"is a {model.limits.modality} model; use `mediadiff examples "
                                                     f"{model.limits.modality}`")
    given = dict(init=args.init, strength=args.strength, inpaint=args.inpaint, continue_from=args.continue_from)
    if args.modality == "video":
        requests = [validation.video_request(model.limits, p, frames=args.frames, seed=seed, **given) for p in prompts]
    else:
        requests = [validation.audio_request(model.limits, p, seconds=args.seconds, seed=seed, **given)
                    for p in prompts]
    strip = check_int("strip", args.strip, 1, 64)
    import numpy as np

    from ..codecs import pictures
    from ..codecs.frames import frame_strip, to_uint8
    from ..codecs.mel import bin_frequencies
    from ..libraries import quiet_libraries
    from ..pipelines import AudioPipeline, VideoPipeline

    quiet_libraries()
    cls = VideoPipeline if args.modality == "video" else AudioPipeline
    pipe = cls.from_pretrained(model, device=args.device)
    rows, saved = [], []
    for i, (prompt, request) in enumerate(zip(prompts, requests)):
        out = pipe.generate(request)
        if args.modality == "video":
            rows.append(pictures.label(frame_strip(to_uint8(out.frames[0]), strip), prompt))  # (14 + H, nW, 3)
        else:  # the spectrogram with its axes, titled by its prompt
            seconds = out.waveforms.shape[1] / out.sample_rate
            rows.append(pictures.spectrogram_figure(out.mel[0], seconds, bin_frequencies(pipe.mel_config), prompt))
        if args.media_dir:
            Path(args.media_dir).mkdir(parents=True, exist_ok=True)
            saved += out.save(Path(args.media_dir) / f"example-{i + 1}{'.mp4' if args.modality == 'video' else '.wav'}")
    if args.modality == "audio":  # rows of one width: each sound's figure padded on the right with white
        width = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    image = pictures.stack_rows(rows, gap=0)
    path = pictures.write_png(args.output, image)
    emit(args, {"picture": str(path), "prompts": prompts, "seed": seed, "outputs": [str(p) for p in saved]},
         f"wrote {path} ({len(prompts)} prompts, seed {seed})")
    return 0
