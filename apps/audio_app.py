"""The audio app: prompt -> WAV in a player, the mel spectrogram, the settings and a download.

    build_demo(audio_pipe, config=AppConfig(...)) -> gr.Blocks      (tests, notebooks, Spaces)
    python apps/audio_app.py --audio-model FOLDER                   (the combined app: `mediadiff serve`)
"""

from __future__ import annotations

import sys
from pathlib import Path

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script: `python apps/audio_app.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gradio as gr

from apps import common
from mediadiff import validation
from mediadiff.codecs import pictures
from mediadiff.codecs.mel import bin_frequencies
from mediadiff.core.schedulers import SCHEDULERS
from mediadiff.worlds.tones import EXAMPLE_PROMPTS

EXAMPLES = list(EXAMPLE_PROMPTS)  # prompts the shipped `tones` model follows; the sweep is a held-out combination
MEL_MIN_HEIGHT = 128  # the spectrogram's height in the page, at least
UI_MAX_SECONDS = 30.0  # the slider's range when a model allows more; the API takes up to the model's maximum


def _defaults(limits) -> dict:
    """The checkpoint's defaults, filled and checked by the same rule the CLI uses."""
    return validation.audio_request(limits, "defaults").settings()


def _seconds_max(limits) -> float:
    return min(limits.max_seconds, max(UI_MAX_SECONDS, _defaults(limits)["seconds"]))


class AudioTab(common.GenerationTab):
    """The handlers of one audio tab; plain methods, so tests can also call them without a server."""

    modality = "audio"

    def generate(self, prompt, negative_prompt, model, seconds, steps, guidance, scheduler, random_seed, seed,
                 request: gr.Request = None, progress=gr.Progress()):
        """Validate with the CLI's rules, generate, save to the output folder; errors as one line."""
        def make_request(limits):
            return validation.audio_request(limits, prompt, negative_prompt, seconds=seconds, steps=steps,
                                            guidance=guidance, scheduler=scheduler,
                                            seed=None if random_seed else seed, num_outputs=1)

        def preview(out):  # the spectrogram with its axes (seconds, Hz), enlarged to be seen
            mel = self.models.get(model).mel_config
            scale = max(1, -(-MEL_MIN_HEIGHT // mel.n_mels))
            return pictures.spectrogram_figure(out.mel[0], out.waveforms.shape[1] / out.sample_rate,
                                               bin_frequencies(mel), scale=scale)

        return self._generate(model, make_request, ".wav", preview, request, progress)

    def example(self, prompt):
        """What a cached example shows: the prompt at the first model's defaults, seed 0."""
        unset = None  # each setting takes the model's default when the one request is validated
        return self.generate(prompt, "", self.models.names[0], *[unset] * 4, False, 0, None, None)

    def model_defaults(self, model):
        try:
            limits = self.models.limits(model)
            d = _defaults(limits)
        except Exception as e:  # noqa: BLE001
            raise common.user_error(e, "audio") from None
        return (gr.update(maximum=_seconds_max(limits), value=d["seconds"]), gr.update(value=d["steps"]),
                gr.update(value=d["guidance"]), gr.update(value=d["scheduler"]))


def build_tab(models: common.ModelSet, store: common.OutputStore, config: common.AppConfig,
              sessions: common.Sessions | None = None) -> common.Tab:
    """The audio tab's components and events, inside the current gr.Blocks (or gr.Tab)."""
    tab = AudioTab(models, store, config, sessions)
    if not models:
        gr.Markdown("**No audio model is loaded.** Start the app with `mediadiff serve --audio-model FOLDER` "
                    "(a mediadiff or AudioLDM pipeline folder, or a preset name).")
        return common.Tab(tab.generate)
    first = models.names[0]
    limits = models.limits(first)
    d = _defaults(limits)
    with gr.Row():
        with gr.Column(scale=1):
            prompt = gr.Textbox(EXAMPLES[0], label="Prompt", placeholder="describe the sound, e.g. three short high "
                                "beeps", lines=2, elem_id="audio-prompt")  # filled: Generate works at once
            negative = gr.Textbox("", label="Negative prompt", placeholder="what to steer away from", lines=1)
            model = gr.Dropdown(models.names, value=first, label="Model")
            with gr.Row():
                generate = gr.Button("Generate", variant="primary", elem_id="audio-generate")
                stop = gr.Button("Stop", variant="stop", elem_id="audio-stop")
            status = gr.Markdown("", elem_id="audio-status")
            with gr.Accordion("Settings", open=True):
                seconds = gr.Slider(0.1, _seconds_max(limits), value=d["seconds"], step=0.1, label="Seconds")
                with gr.Row():
                    steps = gr.Slider(1, 100, value=d["steps"], step=1, label="Steps")
                    guidance = gr.Slider(0, 20, value=d["guidance"], step=0.5, label="Guidance")
                scheduler = gr.Dropdown(list(SCHEDULERS), value=d["scheduler"], label="Scheduler")
                with gr.Row():
                    random_seed = gr.Checkbox(value=True, label="Random seed")
                    seed = gr.Number(value=0, precision=0, label="Seed (shows the seed used)")
        with gr.Column(scale=1):
            audio = gr.Audio(label="Audio", type="filepath", elem_id="audio-output", interactive=False,
                             waveform_options=gr.WaveformOptions(show_recording_waveform=False))  # plain <audio>
            mel = gr.Image(label="Mel spectrogram", type="numpy", format="png", show_label=False)  # axes drawn in
            settings = gr.JSON(label="Settings")
            download = gr.File(label="Download")
    outputs = [audio, mel, settings, download, seed]
    examples = gr.Examples(
        [[p] for p in EXAMPLES], inputs=[prompt], outputs=outputs if config.cache_examples else None,
        fn=tab.example if config.cache_examples else None, cache_examples=bool(config.cache_examples),
        cache_mode="lazy" if config.cache_examples == "lazy" else "eager", label="Examples",
        api_name="audio_example",
    )
    if config.cache_examples:  # a cached example shows its seed 0: "Random seed" is unticked with it
        examples.dataset.click(lambda: False, None, random_seed, queue=False, api_name="audio_example_seed",
                               api_visibility="private")
    inputs = [prompt, negative, model, seconds, steps, guidance, scheduler, random_seed, seed]
    # preprocess=False: values reach mediadiff.validation as sent, so the API gets the CLI's messages, not Gradio's.
    event = gr.on([generate.click, prompt.submit], tab.generate, inputs, outputs, api_name="generate_audio",
                  preprocess=False, concurrency_id=common.GENERATE_QUEUE, concurrency_limit=config.concurrency,
                  show_progress_on=[audio])  # one progress bar, over the player
    generate.click(lambda: "", None, status, queue=False, api_visibility="private")
    stop.click(tab.stop, None, status, cancels=[event], queue=False, api_name="stop_audio")
    model.change(tab.model_defaults, [model], [seconds, steps, guidance, scheduler], queue=False,
                 api_name="audio_model_defaults", api_visibility="private")
    return common.Tab(tab.generate, event, dict(zip(["prompt", "negative", "model", "seconds", "steps", "guidance",
                                                     "scheduler", "random_seed", "seed"], inputs))
                      | {"audio": audio, "tab": tab})


def build_demo(audio_pipe=None, *, models: dict | None = None, config: common.AppConfig | None = None) -> gr.Blocks:
    """The audio app alone. `audio_pipe`: a loaded AudioPipeline; `models`: more name -> pipeline/folder."""
    return common.single_app("audio", audio_pipe, models, config, build_tab)


if __name__ == "__main__":
    from apps import app

    sys.exit(app.main(["--no-video", *sys.argv[1:]]))
