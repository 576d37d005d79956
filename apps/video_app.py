"""The video app: prompt -> MP4 in a player, a strip of frames, the settings and a download.

    build_demo(video_pipe, config=AppConfig(...)) -> gr.Blocks      (tests, notebooks, Spaces)
    python apps/video_app.py --video-model FOLDER                   (the combined app: `mediadiff serve`)
"""

from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script: `python apps/video_app.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradio as gr

from apps import common

from mediadiff import validation
from mediadiff.codecs import pictures
from mediadiff.codecs.frames import frame_strip, to_uint8
from mediadiff.errors import ValidationError
from mediadiff.core.schedulers import SCHEDULERS
from mediadiff.pipelines.soundtrack import add_sound
from mediadiff.worlds.shapes import EXAMPLE_PROMPTS

EXAMPLES = list(EXAMPLE_PROMPTS)  # prompts the shipped `shapes` model was trained to follow


def _defaults(limits) -> dict:
    """The checkpoint's defaults, filled and checked by the same rule the CLI uses."""
    return validation.video_request(limits, "defaults").settings()


def _slider_updates(limits) -> tuple:
    d, f = _defaults(limits), limits.vae_factor
    side_max = limits.max_side  # the same limit the one-line message names
    return (
        gr.update(maximum=limits.max_frames, value=min(d["frames"], limits.max_frames)),
        gr.update(value=d["fps"]),
        gr.update(minimum=f, maximum=side_max, step=f, value=d["width"]),
        gr.update(minimum=f, maximum=side_max, step=f, value=d["height"]),
        gr.update(value=d["steps"]),
        gr.update(value=d["guidance"]),
        gr.update(value=d["scheduler"]),
    )


class VideoTab(common.GenerationTab):
    """The handlers of one video tab; plain methods, so tests can also call them without a server."""

    modality = "video"

    def __init__(self, *args, audio_models: common.ModelSet | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.audio_models = audio_models  # for "With sound": the audio tab's models

    def generate(self, prompt, negative_prompt, model, frames, fps, width, height, steps, guidance, scheduler,
                 random_seed, seed, with_sound=False, sound_prompt="", audio_model=None,
                 request: gr.Request = None, progress=gr.Progress()):
        """Validate with the CLI's rules (the soundtrack's too), generate, save to the output folder; errors as one
        line."""
        track = {}

        def make_request(limits):
            req = validation.video_request(limits, prompt, negative_prompt, frames=frames, fps=fps, height=height,
                                           width=width, steps=steps, guidance=guidance, scheduler=scheduler,
                                           seed=None if random_seed else seed, num_outputs=1)
            if with_sound:
                if not self.audio_models:
                    raise ValidationError("with_sound", with_sound, "needs an audio model in the app")
                name = audio_model or self.audio_models.names[0]
                audio_limits = self.audio_models.limits(name)
                req, track["track"] = validation.soundtrack(req, limits=audio_limits, source=name,
                                                            prompt=(sound_prompt or "").strip() or None)
                track["audio"] = name
            return req

        def finish(out, cancel):
            if not track:
                return out
            audio = self.audio_models.get(track["audio"])
            return add_sound(out, track["track"], audio, cancel=cancel)

        def preview(out):
            return pictures.upscale(frame_strip(to_uint8(out.frames[0])), 96)

        return self._generate(model, make_request, ".mp4", preview, request, progress, finish)

    def example(self, prompt):
        """What a cached example shows: the prompt at the first model's defaults, seed 0."""
        unset = None  # each setting takes the model's default when the one request is validated
        return self.generate(prompt, "", self.models.names[0], *[unset] * 7, False, 0, None, None)

    def model_defaults(self, model):
        try:
            return _slider_updates(self.models.limits(model))
        except Exception as e:  # noqa: BLE001
            raise common.user_error(e, "video") from None


def build_tab(models: common.ModelSet, store: common.OutputStore, config: common.AppConfig,
              sessions: common.Sessions | None = None, audio_models: common.ModelSet | None = None) -> common.Tab:
    """The video tab's components and events, inside the current gr.Blocks (or gr.Tab); with `audio_models`, a
    "With sound" option."""
    tab = VideoTab(models, store, config, sessions, audio_models=audio_models)
    if not models:
        gr.Markdown("**No video model is loaded.** Start the app with `mediadiff serve --video-model FOLDER` "
                    "(a mediadiff, ModelScope or AnimateDiff pipeline folder, or a preset name).")
        return common.Tab(tab.generate)
    first = models.names[0]
    limits = models.limits(first)
    d, f = _defaults(limits), limits.vae_factor
    side_max = limits.max_side  # the same limit the one-line message names
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Textbox(EXAMPLES[0], label="Prompt", placeholder="describe the clip, e.g. a red circle "
                                "moving right", lines=2, elem_id="video-prompt")  # filled: Generate works at once
            negative = gr.Textbox("", label="Negative prompt", placeholder="what to steer away from", lines=1)
            model = gr.Dropdown(models.names, value=first, label="Model")
            with gr.Row():
                generate = gr.Button("Generate", variant="primary", elem_id="video-generate")
                stop = gr.Button("Stop", variant="stop", elem_id="video-stop")
            status = gr.Markdown("", elem_id="video-status")
            with gr.Accordion("Settings", open=True):
                with gr.Row():
                    frames = gr.Slider(1, limits.max_frames, value=min(d["frames"], limits.max_frames), step=1,
                                       label="Frames")
                    fps = gr.Slider(1, 60, value=d["fps"], step=1, label="FPS")
                with gr.Row():
                    width = gr.Slider(f, side_max, value=d["width"], step=f, label="Width")
                    height = gr.Slider(f, side_max, value=d["height"], step=f, label="Height")
                with gr.Row():
                    steps = gr.Slider(1, 100, value=d["steps"], step=1, label="Steps")
                    guidance = gr.Slider(0, 20, value=d["guidance"], step=0.5, label="Guidance")
                scheduler = gr.Dropdown(list(SCHEDULERS), value=d["scheduler"], label="Scheduler")
                with gr.Row():
                    random_seed = gr.Checkbox(value=True, label="Random seed")
                    seed = gr.Number(value=0, precision=0, label="Seed (shows the seed used)")
            sound_inputs = []
            if audio_models:
                with gr.Accordion("Sound", open=False):
                    with_sound = gr.Checkbox(value=False, label="With sound", elem_id="video-with-sound")
                    sound_prompt = gr.Textbox("", label="Sound prompt", placeholder="blank: the video prompt")
                    audio_model = gr.Dropdown(audio_models.names, value=audio_models.names[0], label="Audio model")
                sound_inputs = [with_sound, sound_prompt, audio_model]
        with gr.Column(scale=1):
            video = gr.Video(label="Video", autoplay=True, loop=True, height=320, elem_id="video-output")
            strip = gr.Image(label="Frames", type="numpy", format="png", show_label=False)  # no label over frame 1
            settings = gr.JSON(label="Settings")
            download = gr.File(label="Download")
    outputs = [video, strip, settings, download, seed]
    examples = gr.Examples(
        [[p] for p in EXAMPLES], inputs=[prompt], outputs=outputs if config.cache_examples else None,
        fn=tab.example if config.cache_examples else None, cache_examples=bool(config.cache_examples),
        cache_mode="lazy" if config.cache_examples == "lazy" else "eager", label="Examples",
        api_name="video_example",
    )
    if config.cache_examples:  # a cached example shows its seed 0: "Random seed" is unticked with it
        examples.dataset.click(lambda: False, None, random_seed, queue=False, api_name="video_example_seed",
                               api_visibility="private")
    inputs = [prompt, negative, model, frames, fps, width, height, steps, guidance, scheduler, random_seed, seed,
              *sound_inputs]
    # preprocess=False: values reach mediadiff.validation as sent, so the API gets the CLI's messages, not Gradio's.
    event = gr.on([generate.click, prompt.submit], tab.generate, inputs, outputs, api_name="generate_video",
                  preprocess=False, concurrency_id=common.GENERATE_QUEUE, concurrency_limit=config.concurrency,
                  show_progress_on=[video])  # one progress bar, over the player
    generate.click(lambda: "", None, status, queue=False, api_visibility="private")
    stop.click(tab.stop, None, status, cancels=[event], queue=False, api_name="stop_video")
    model.change(tab.model_defaults, [model], [frames, fps, width, height, steps, guidance, scheduler],
                 queue=False, api_name="video_model_defaults", api_visibility="private")
    return common.Tab(tab.generate, event, dict(zip(["prompt", "negative", "model", "frames", "fps", "width",
                                                     "height", "steps", "guidance", "scheduler", "random_seed",
                                                     "seed"], inputs)) | {"video": video, "tab": tab})


def build_demo(video_pipe=None, *, models: dict | None = None, config: common.AppConfig | None = None) -> gr.Blocks:
    """The video app alone. `video_pipe`: a loaded VideoPipeline; `models`: more name -> pipeline/folder."""
    return common.single_app("video", video_pipe, models, config, build_tab)


if __name__ == "__main__":
    from apps import app

    sys.exit(app.main(["--no-audio", *sys.argv[1:]]))
