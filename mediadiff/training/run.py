"""`mediadiff train`: run the stages of one config in order and assemble the pipeline checkpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..checkpoints import limits_for, save_checkpoint
from ..checkpoints.loading import MINILM_REFERENCE, read_json
from ..errors import MediadiffError
from ..worlds import WORLDS
from . import stages as st
from .data import Prepared, caption_bank, load_or_build, mel_config, minilm, reversed_captions
from .loop import final_dir, read_trainer_state, save_model, stage_dir, train

STAGES_OF = {"audio": ("vae", "vocoder", "denoiser"), "video": ("vae", "denoiser")}


def _load_final(run_dir: Path, name: str, cls):
    """A completed stage's EMA weights, or a one-line error saying which stage to run first."""
    folder = final_dir(run_dir, name)
    if not folder.exists():
        raise MediadiffError(f"the {name} stage is not trained in {run_dir}; run `--stage {name}` first "
                             "(or `--stage all`)")
    return cls.from_pretrained(str(folder)).eval().requires_grad_(False)


def _vae(run_dir: Path):
    from diffusers import AutoencoderKL

    return _load_final(run_dir, "vae", AutoencoderKL)


def vocoder_choice(run_dir: Path) -> str:
    """'hifigan' or 'griffin-lim' as decided after the vocoder stage (Griffin-Lim when there is none)."""
    file = run_dir / "vocoder" / "choice.json"
    return json.loads(file.read_text())["ship"] if file.exists() else "griffin-lim"


def _vocoder_score(cfg: dict, data: Prepared, vocoder, count: int = 24) -> dict[str, float]:
    """Attribute accuracy of tones re-synthesised from their true mels by Griffin-Lim and by the vocoder."""
    from ..codecs.mel import griffin_lim, vocode
    from ..evaluation import audio
    from ..worlds.tones import ToneSpec

    mel = mel_config(cfg)
    first = len(data.waves) if len(data.media) - len(data.waves) >= count else 0  # clips the vocoder never saw
    idx = list(range(first, min(len(data.media), first + count)))
    mels = data.media[idx].float()[:, None]  # (n, 1, T, M)
    waves = {"griffin-lim": griffin_lim(mels, mel), "hifigan": vocode(vocoder.cpu().float(), mels)}  # (n, samples)
    out = {}
    for name, w in waves.items():
        hits = [v for i, k in enumerate(idx)
                for v in audio.score(audio.analyse(w[i].numpy(), mel.sample_rate), ToneSpec(**data.specs[k])).values()]
        out[name] = sum(hits) / max(len(hits), 1)
    return out


def choose_vocoder(cfg: dict, data: Prepared | None, run_dir: Path, log, ship: str | None = None) -> str:
    """Ship HiFi-GAN only where it measures better than Griffin-Lim on clips it was not trained on
    (`data`: the stored set, needed with vocoder.ship: auto); `ship` decides instead when given."""
    ship = ship or cfg["vocoder"]["ship"]
    scores = {}
    if ship == "auto":
        if data.specs is None:
            ship = "hifigan"  # user audio: nothing to measure against
        else:
            from transformers import SpeechT5HifiGan

            scores = _vocoder_score(cfg, data, _load_final(run_dir, "vocoder", SpeechT5HifiGan))
            ship = "hifigan" if scores["hifigan"] > scores["griffin-lim"] else "griffin-lim"
            log(f"vocoder: attribute accuracy on unseen clips {scores}; shipping {ship}")
    (run_dir / "vocoder").mkdir(parents=True, exist_ok=True)
    (run_dir / "vocoder" / "choice.json").write_text(json.dumps({"ship": ship, "scores": scores}) + "\n")
    return ship


def defaults_of(cfg: dict) -> dict:
    """The `defaults` block of the shipped model_index.json."""
    d = dict(cfg["defaults"])
    d["text_max_length"] = int(cfg["text"]["max_length"])
    d.pop("text_sentence_token", None)  # only what the denoiser was trained with, never a `defaults:` override
    if cfg["text"]["sentence_token"]:
        d["text_sentence_token"] = True
    if cfg["data"]["world"] in WORLDS:
        d["world"] = cfg["data"]["world"]  # what its prompts may say: `mediadiff info`, the unknown-words notice
    if cfg["modality"] == "audio":
        d.setdefault("seconds", float(cfg["data"]["seconds"]))
        d.setdefault("max_seconds", 2 * float(cfg["data"]["seconds"]))
        d["mel"] = mel_config(cfg).to_dict()
    else:
        d.setdefault("frames", int(cfg["data"]["frames"]))
        d.setdefault("fps", int(cfg["data"]["fps"]))
        d.setdefault("height", int(cfg["data"]["size"]))
        d.setdefault("width", int(cfg["data"]["size"]))
    return d


def components(cfg: dict, run_dir: Path, unet, text) -> dict:
    """The pipeline's parts: trained VAE, UNet (and vocoder if shipped), MiniLM, DPM-Solver++ scheduler."""
    encoder, tokenizer = text
    parts = {"vae": _vae(run_dir), "text_encoder": encoder, "tokenizer": tokenizer, "unet": unet,
             "scheduler": st.sampling_scheduler(cfg)}
    if cfg["modality"] == "audio" and vocoder_choice(run_dir) == "hifigan":
        from transformers import SpeechT5HifiGan

        parts["vocoder"] = _load_final(run_dir, "vocoder", SpeechT5HifiGan)
    return parts


def check_inits(cfg: dict) -> None:
    """Every stage's `init` names usable weights: checked before any stage starts (one line if not)."""
    for name in STAGES_OF[cfg["modality"]]:
        if cfg[name]["init"]:
            st.init_folder(name, cfg[name]["init"])


def pipeline_from(cfg: dict, run_dir: Path, unet, text):
    """An in-memory pipeline around the current UNet (checkpoint samples use it)."""
    from ..pipelines import AudioPipeline, VideoPipeline

    parts = components(cfg, run_dir, unet, text)
    cls = AudioPipeline if cfg["modality"] == "audio" else VideoPipeline
    pipe = cls(parts, limits_for(cfg["modality"], parts, defaults_of(cfg)))
    return pipe.to(next(unet.parameters()).device)


TEXT_REFERENCES = {"text_encoder": MINILM_REFERENCE, "tokenizer": MINILM_REFERENCE}  # MiniLM: referenced, not copied


def pipeline_writer(cfg: dict, run_dir: Path, text):
    """save(unet, step, folder): a whole pipeline around the denoiser's current weights (the stage's snapshots),
    which `mediadiff eval` reads like any other; model_index `_training` says how far it had trained."""
    def save(unet, step: int, folder: Path) -> None:
        trained = {"denoiser_step": step, "denoiser_steps": int(cfg["denoiser"]["steps"])}
        save_checkpoint(folder, cfg["modality"], components(cfg, run_dir, unet, text), defaults_of(cfg),
                        TEXT_REFERENCES, trained)

    return save


def assemble(cfg: dict, run_dir: Path, text) -> tuple[Path, dict]:
    """Write RUN/pipeline, a normal mediadiff checkpoint with MiniLM referenced, not copied, from the denoiser's
    final weights; after a sitting that stopped early, from its last checkpoint's EMA weights, so that a run can
    be sampled and evaluated between sittings. Returns the folder and how far the denoiser had trained."""
    from diffusers import UNet2DConditionModel, UNetMotionModel

    cls = UNet2DConditionModel if cfg["modality"] == "audio" else UNetMotionModel
    trained = {"denoiser_step": read_trainer_state(stage_dir(run_dir, "denoiser"))["step"],
               "denoiser_steps": int(cfg["denoiser"]["steps"])}
    final = final_dir(run_dir, "denoiser")
    # a final/ from before `denoiser.steps` was raised is older than the checkpoint of the sitting that continued it
    done = final.exists() and trained["denoiser_step"] >= trained["denoiser_steps"]
    weights = final if done else stage_dir(run_dir, "denoiser") / "checkpoint" / "ema"
    parts = components(cfg, run_dir, cls.from_pretrained(str(weights)).eval().requires_grad_(False), text)
    path = save_checkpoint(run_dir / "pipeline", cfg["modality"], parts, defaults_of(cfg), TEXT_REFERENCES, trained)
    return path, trained


class StoredSet:
    """The run's fixed training set (RUN/data), rendered or read only when a stage needs it: a run that takes
    its VAE from `init` and streams the denoiser's clips never renders it."""

    def __init__(self, cfg: dict, run_dir: Path, log):
        self.cfg, self.run_dir, self.log, self.data, self.seconds = cfg, run_dir, log, None, 0.0

    def get(self) -> Prepared:
        if self.data is None:
            started, state = time.perf_counter(), _state()
            with state.main_process_first():  # one process renders and caches the data, the others read the cache
                self.data = load_or_build(self.cfg, self.run_dir, self.log if state.is_main_process
                                          else (lambda line: None))
            self.seconds = round(time.perf_counter() - started, 1)
        return self.data


def adopt(name: str, cfg: dict, run_dir: Path, log) -> None:
    """A stage of 0 steps takes its `init` weights as they are: they become its final weights."""
    final = final_dir(run_dir, name)
    if not final.exists() and _state().is_main_process:
        save_model(st.init_model(name, cfg[name]["init"]), final)
        log(f"{name}: taken as it is from {cfg[name]['init']} -> {final}")
    _state().wait_for_everyone()


def _denoiser_data(cfg: dict, run_dir: Path, vae, stored: StoredSet):
    """Latents of the denoiser's clips, the caption bank with each clip's rows, and the reversed pairs if asked."""
    modality, paired = cfg["modality"], cfg["denoiser"]["pair_reversed"]
    # the stored set, where needed, first (on every rank: it has its own main-process-first build); a streamed
    # video set needs none, and video reverses its latent frames directly
    data = stored.get() if not cfg["denoiser"]["clips"] or (paired and modality == "audio") else None
    with _state().main_process_first():  # one process encodes and caches, the others read the cache
        if cfg["denoiser"]["clips"]:
            latents, captions = st.stream_latents(vae, cfg, run_dir / "data" / "latents")
        else:
            latents, captions = st.encode_latents(vae, data, modality), data.captions
        backwards = reversed_captions(modality, captions, int(cfg["seed"])) if paired else []
        bank, rows = caption_bank(captions + backwards, int(cfg["text"]["max_length"]),
                                  run_dir / "data" / "captions.safetensors", cfg["text"]["sentence_token"])
        rows, reversed_rows = rows[:len(captions)], rows[len(captions):]
        reversal = (st.reversed_latents(vae, data, modality, latents), reversed_rows) if paired else None
    return latents, captions, bank, rows, reversal


def run_stage(name: str, cfg: dict, run_dir: Path, stored: StoredSet, *, resume: bool, stop_after: int | None,
              progress: bool, log) -> dict:
    """Train one stage (and what follows it: vocoder choice, pipeline assembly); returns its summary."""
    started = time.perf_counter()
    common = dict(resume=resume, seed=int(cfg["seed"]), stop_after=stop_after, progress=progress, log=log)
    adopted = int(cfg[name]["steps"]) == 0  # only a VAE or vocoder with init (the config's rule)
    if adopted:
        adopt(name, cfg, run_dir, log)
    elif name == "vae":
        train(st.vae_stage(cfg, stored.get()), run_dir, **common)
    elif name == "vocoder":
        train(st.vocoder_stage(cfg, stored.get()), run_dir, **common)
    else:
        vae = _vae(run_dir).to("cuda" if torch.cuda.is_available() else "cpu")
        latents, captions, bank, rows, reversal = _denoiser_data(cfg, run_dir, vae, stored)
        text = minilm()
        stage = st.denoiser_stage(cfg, captions[0][0], latents, bank, rows,
                                  lambda unet: pipeline_from(cfg, run_dir, unet, text), reversal,
                                  pipeline_writer(cfg, run_dir, text))
        train(stage, run_dir, **common)
        if read_trainer_state(stage_dir(run_dir, "denoiser")) and _state().is_main_process:
            path, trained = assemble(cfg, run_dir, text)
            log(f"pipeline: {path} (denoiser step {trained['denoiser_step']} of {trained['denoiser_steps']})")
    if name == "vocoder" and final_dir(run_dir, "vocoder").exists():
        data = stored.get() if cfg["vocoder"]["ship"] == "auto" and not adopted else None  # on every rank
        if _state().is_main_process:
            choose_vocoder(cfg, data, run_dir, log, ship="hifigan" if adopted else None)  # as it is: as it was
    state = read_trainer_state(run_dir / name)
    return {"stage": name, "step": 0 if adopted else state.get("step", 0), "of": int(cfg[name]["steps"]),
            "train_wall_s": state.get("wall_s", 0.0), "sitting_s": round(time.perf_counter() - started, 1)}


def _state():
    """accelerate's process state (cpu=True without a GPU, so two CPU ranks really split the work)."""
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def run(cfg: dict, run_dir: str | Path, stage: str = "all", *, resume: bool = False, stop_after: int | None = None,
        progress: bool = True, log=print) -> dict:
    """Train `stage` (or all stages in order) of `cfg` in `run_dir`; the pipeline lands in RUN/pipeline."""
    run_dir = Path(run_dir)
    names = STAGES_OF[cfg["modality"]] if stage == "all" else (stage,)
    if stage != "all" and stage not in STAGES_OF[cfg["modality"]]:
        from ..errors import ValidationError

        raise ValidationError("stage", stage, f"{cfg['modality']} has stages {', '.join(STAGES_OF[cfg['modality']])}"
                                              " or all")
    check_inits(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    state = _state()
    stored = StoredSet(cfg, run_dir, log)
    summary = {"run": str(run_dir), "stages": []}
    for name in names:
        summary["stages"].append(run_stage(name, cfg, run_dir, stored, resume=resume, stop_after=stop_after,
                                           progress=progress, log=log))
        if summary["stages"][-1]["step"] < summary["stages"][-1]["of"]:
            break  # a sitting stopped early: later stages wait for --resume
    summary["data_s"] = stored.seconds
    summary["skipped_files"] = (stored.data.skipped or []) if stored.data is not None else []
    if not state.is_main_process:
        summary["rank"] = state.process_index  # the CLI prints the main process's summary only
    state.wait_for_everyone()
    pipeline = run_dir / "pipeline"
    index = pipeline / "model_index.json"
    summary["pipeline"] = str(pipeline) if index.exists() else None
    summary["pipeline_training"] = read_json(index).get("_training") if index.exists() else None
    return summary
