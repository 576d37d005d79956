"""The combined mediadiff app (Video and Audio tabs): the Hugging Face Space's entry point.

    python apps/app.py [--video-model M] [--audio-model M] [--host H] [--port P] [--share] ...
    mediadiff serve    (the same command)

`build_demo(video_pipe, audio_pipe, config=...)` returns the gr.Blocks without launching it (tests, notebooks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script: `python apps/app.py` (Spaces)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

try:  # on Hugging Face ZeroGPU, `spaces` must be imported before torch touches CUDA
    import spaces  # noqa: F401
except ImportError:
    pass

import gradio as gr

from apps import audio_app, common, video_app
from mediadiff import __version__, serving
from mediadiff.errors import CheckpointError, MediadiffError
from mediadiff.libraries import quiet_libraries

INTRO = (f"# mediadiff {__version__}\nText to video and text to audio on one diffusion core. "
         "Every result carries its settings (seed included), so it can be replayed with the `mediadiff` CLI.")


def build_demo(video_pipe=None, audio_pipe=None, *, video_models: dict | None = None,
               audio_models: dict | None = None, config: common.AppConfig | None = None,
               notes: list[str] | None = None) -> gr.Blocks:
    """Both apps as tabs over one queue (generation shares one concurrency limit) and one output folder."""
    from mediadiff.pipelines import AudioPipeline, VideoPipeline

    config = config or common.AppConfig()
    sessions = common.Sessions()
    video = common.model_set(VideoPipeline, "video", video_pipe, video_models, config)
    audio = common.model_set(AudioPipeline, "audio", audio_pipe, audio_models, config)

    def tabs(store: common.OutputStore) -> None:
        with gr.Tabs():
            with gr.Tab("Video", id="video"):
                video_app.build_tab(video, store, config, sessions, audio_models=audio)
            with gr.Tab("Audio", id="audio"):
                audio_app.build_tab(audio, store, config, sessions)

    return common.blocks("mediadiff", INTRO + "".join(f"\n\n> {note}" for note in notes or ()), config, tabs)


def load(cls, modality: str, model: str | None, device: str, dtype: str, jit: bool = False):
    """The requested model, or the shipped default; a missing default is a note for the page, not a crash."""
    from mediadiff.checkpoints.presets import default_model

    if model is None:
        try:
            model = default_model(modality)
        except CheckpointError as e:
            return None, f"No {modality} model: {e.problem.replace('pass --model', f'pass --{modality}-model')}."
    return cls.from_pretrained(model, device=device, dtype=dtype).enable_jit(jit), None


def serve(video_model: str | None = None, audio_model: str | None = None, *, video: bool = True, audio: bool = True,
          host: str | None = None, port: int | None = None, share: bool = False, config: common.AppConfig | None = None,
          block: bool = True):
    """Load the models (or the shipped defaults) and launch the combined app; returns (demo, url)."""
    from mediadiff.pipelines import AudioPipeline, VideoPipeline

    config = config or common.AppConfig()
    notes, pipes = [], {}
    for modality, cls, wanted, model in (("video", VideoPipeline, video, video_model),
                                         ("audio", AudioPipeline, audio, audio_model)):
        pipe = None
        if wanted:
            pipe, note = load(cls, modality, model, config.device, config.dtype, config.jit)
            notes += [note] if note else []
        pipes[modality] = pipe
    extra = {m: common.local_models(m, skip={p.name for p in pipes.values() if p is not None}) if w else {}
             for m, w in (("video", video), ("audio", audio))}
    if pipes["video"] is None and pipes["audio"] is None and not extra["video"] and not extra["audio"]:
        raise MediadiffError("no model to serve: " + " ".join(notes))
    for note in notes:
        print(f"mediadiff serve: {note}", file=sys.stderr)
    demo = build_demo(pipes["video"], pipes["audio"], video_models=extra["video"], audio_models=extra["audio"],
                      config=config, notes=notes)
    try:
        _, url, _ = demo.launch(prevent_thread_lock=True, **common.launch_kwargs(config, host, port, share))
    except OSError as e:  # port taken, address not available
        demo.output_store.stop()
        where = f"{host or '127.0.0.1'}:{port or 7860}"
        raise MediadiffError(f"cannot listen on {where}: {str(e).splitlines()[0]}") from None
    print(f"mediadiff serve: outputs in {config.output_dir} (deleted after {config.max_age_s} s)", file=sys.stderr)
    if block:
        demo.block_thread()
    return demo, url


def run(args: argparse.Namespace) -> int:
    """Serve with parsed server flags (mediadiff.serving): `mediadiff serve` and main() both land here."""
    quiet_libraries()
    serve(**serving.serve_options(args), config=common.AppConfig(**serving.app_config(args)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python apps/app.py [--video-model M] ...`: the flags of `mediadiff serve`; errors as its one line."""
    parser = argparse.ArgumentParser(prog="apps/app.py", description="The mediadiff web app (`mediadiff serve`).")
    serving.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        serving.check(args)
        return run(args)
    except MediadiffError as e:
        print(f"mediadiff: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
