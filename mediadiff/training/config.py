"""Training configs (configs/train/*.yaml): read, fill defaults, and check every field once."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import yaml

from ..errors import ValidationError

MODALITIES = ("audio", "video")
STAGE_DEFAULTS = {
    "steps": 1000, "batch": 32, "lr": 1e-3, "warmup": 100, "weight_decay": 0.0, "ema_decay": 0.999,
    "checkpoint_every": 250, "grad_clip": 1.0, "grad_accumulation": 1, "mixed_precision": "no",
    "betas": [0.9, 0.999],
    "lr_floor": 0.0,  # the cosine decay ends at this fraction of lr (0: diffusers' cosine schedule)
    "ema_warmup": True,  # diffusers' EMA warm-up, 1 - (1 + step)^-0.75; false: its plain ramp (1 + step) / (10 + step)
    "data_on_device": False,  # the whole set kept on the training device, batches drawn there (no loader)
    "snapshot_every": 0,  # every N steps keep the EMA weights (a pipeline, for the denoiser) in snapshots/
    "minutes": None,  # stop a sitting after this many minutes of the stage (continue with --resume)
    "init": None,  # start from these weights: a pipeline folder or the component's own folder
}
DEFAULTS = {
    "seed": 0,
    "data": {"world": None, "folder": None, "clips": 1000, "seconds": 4.0, "captions_per_clip": 3,
             "frames": 16, "size": 64, "fps": 8,
             "pattern_weights": None,  # tones: {pattern: factor} on the world's pattern mix, e.g. {beeps: 2}
             # tones: {from_start: bool, gap_s: [shortest, longest]} places each group of beeps (BeepLayout)
             "beep_layout": None,
             "grammar": "base"},  # tones: base or wide (more words, captions that leave pitch/timbre unnamed)
    "mel": {},
    # sentence_token: MiniLM's mean-pooled sentence embedding as one more conditioning token; p_sentence_only:
    # share of captioned samples whose word tokens are swapped for the empty prompt's, leaving only that token
    "text": {"max_length": 24, "sentence_token": False, "p_sentence_only": 0.0},
    "vae": {"block_out_channels": [32, 64, 64], "latent_channels": 4, "layers_per_block": 1, "crop_frames": 128,
            "kl_weight": 1e-6, "norm_num_groups": 8, "loss": "l1", "mid_attention": False},
    "vocoder": {"upsample_initial_channel": 64, "segment_frames": 32, "clips": 500, "ship": "auto"},
    "denoiser": {"block_out_channels": [32, 64, 64], "layers_per_block": 1, "attention_head_dim": 8,
                 "p_uncond": 0.1, "min_snr_gamma": 5.0, "prediction_type": "v_prediction",
                 "beta_schedule": "squaredcos_cap_v2", "num_train_timesteps": 1000, "sample_prompt": None,
                 "motion_heads": 2, "norm_num_groups": 8,
                 "t_min": 0,  # train on timesteps >= t_min only (the high-noise steps that decide the layout)
                 "pair_reversed": False,  # train each clip beside its time reversal (same noise, swapped caption)
                 "clips": None},  # video: a set of its own, streamed into latents (stream_latents)
    "defaults": {"steps": 20, "guidance": 4.0, "scheduler": "dpm++"},
}
POSITIVE_INTS = ("steps", "batch", "checkpoint_every", "grad_accumulation")
DEVICE_DATA_STAGES = {"video": ("vae", "denoiser"), "audio": ("denoiser",)}  # whose datasets can gather on a device


def deep_merge(base: dict, override: dict) -> dict:
    """Deep merge of `override` into a copy of `base`."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = deep_merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def read_yaml(path: str | Path) -> dict:
    """The YAML mapping in `path`, or a one-line error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("config", str(path), "no such file; give a YAML file such as configs/train/tones.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ValidationError("config", str(path), f"is not valid YAML ({' '.join(str(e).split())[:160]})") from None
    if not isinstance(data, dict):
        raise ValidationError("config", str(path), "must hold a YAML mapping (modality:, data:, vae:, ...)")
    return data


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_stage(cfg: dict, stage: str) -> None:
    """The settings of one stage section: positive counts, rates in range, flags, an optional start."""
    section = cfg[stage]
    for key in POSITIVE_INTS:
        value = section.get(key)
        if key == "steps" and value == 0 and section["init"] is not None and stage != "denoiser":
            continue  # steps 0 with init: the VAE or vocoder takes those weights as they are
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            rule = "must be a positive integer" + (" (0 only for the vae or vocoder with init: take those weights "
                                                   "as they are)" if key == "steps" else "")
            raise ValidationError(f"{stage}.{key}", value, rule)
    if not (_is_number(section["lr"]) and 0 < section["lr"] <= 1):
        raise ValidationError(f"{stage}.lr", section["lr"], "must be a number in (0, 1]")
    if not (_is_number(section["ema_decay"]) and 0 <= section["ema_decay"] <= 1):
        raise ValidationError(f"{stage}.ema_decay", section["ema_decay"], "must be a number in [0, 1] "
                                                                           "(0: the raw weights, no averaging)")
    betas = section.get("betas")
    if not (isinstance(betas, list) and len(betas) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1
                                                                 for b in betas)):
        raise ValidationError(f"{stage}.betas", betas, "must be two numbers in [0, 1), e.g. [0.9, 0.999]")
    if not (_is_number(section["lr_floor"]) and 0 <= section["lr_floor"] < 1):
        raise ValidationError(f"{stage}.lr_floor", section["lr_floor"], "must be a number in [0, 1) (a fraction of lr)")
    for key in ("ema_warmup", "data_on_device"):
        if not isinstance(section[key], bool):
            raise ValidationError(f"{stage}.{key}", section[key], "must be true or false")
    every = section["snapshot_every"]
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise ValidationError(f"{stage}.snapshot_every", every, "must be an integer of at least 0 (0: no snapshots)")
    minutes = section["minutes"]
    if minutes is not None and not (_is_number(minutes) and minutes > 0):
        raise ValidationError(f"{stage}.minutes", minutes, "must be a positive number of minutes (or left out)")
    if section["init"] is not None and not (isinstance(section["init"], str) and section["init"].strip()):
        raise ValidationError(f"{stage}.init", section["init"], "must be a folder: a pipeline or the component's own")


def _check_text(cfg: dict) -> None:
    """The conditioning options of the `text:` section."""
    text = cfg["text"]
    if not isinstance(text["sentence_token"], bool):
        raise ValidationError("text.sentence_token", text["sentence_token"], "must be true or false")
    p = text["p_sentence_only"]
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValidationError("text.p_sentence_only", p, "must be a number in [0, 1)")
    if p and not text["sentence_token"]:
        raise ValidationError("text.p_sentence_only", p, "needs text.sentence_token: true")
    if p and cfg["denoiser"]["pair_reversed"]:  # a pair must differ only in its words
        raise ValidationError("text.p_sentence_only", p, "must be 0 with denoiser.pair_reversed")


def _tones_mapping(cfg: dict, key: str, shape: str) -> dict | None:
    """data.<key> when set: a mapping, and only for the tones world; None when unset."""
    value = cfg["data"][key]
    if value is None:
        return None
    if cfg["data"].get("world") != "tones":
        raise ValidationError(f"data.{key}", value, "is for the tones world")
    if not isinstance(value, dict):
        raise ValidationError(f"data.{key}", value, f"must be a mapping {shape}")
    return value


def _check_beep_layout(cfg: dict) -> None:
    """data.beep_layout: {from_start: bool, gap_s: [shortest, longest]}; the gap rule itself is BeepLayout's."""
    from ..worlds.tones import BeepLayout

    layout = _tones_mapping(cfg, "beep_layout", "with from_start and/or gap_s")
    if layout is None:
        return
    if set(layout) - {"from_start", "gap_s"}:
        raise ValidationError("data.beep_layout", layout, "must be a mapping with from_start and/or gap_s")
    if not isinstance(layout.get("from_start", False), bool):
        raise ValidationError("data.beep_layout.from_start", layout["from_start"], "must be true or false")
    gap = layout.get("gap_s", BeepLayout.gap_s)
    valid = isinstance(gap, (list, tuple)) and len(gap) == 2 and all(
        isinstance(g, (int, float)) and not isinstance(g, bool) for g in gap)
    if valid:
        try:
            BeepLayout.from_dict(layout)
        except ValueError:
            valid = False
    if not valid:
        raise ValidationError("data.beep_layout.gap_s", gap, "must be [shortest, longest] seconds with "
                                                             "0.2 <= shortest <= longest <= 1.0")


def _check_grammar(cfg: dict) -> None:
    """data.grammar: base for every world; wide for tones, where it cannot pair reversed clips."""
    from ..worlds.tones import GRAMMARS

    grammar = cfg["data"]["grammar"]
    if grammar not in GRAMMARS:
        raise ValidationError("data.grammar", grammar, f"must be one of: {', '.join(GRAMMARS)}")
    if grammar == "wide" and cfg["data"].get("world") != "tones":
        raise ValidationError("data.grammar", grammar, "wide is for the tones world")
    if grammar == "wide" and cfg["denoiser"]["pair_reversed"]:
        raise ValidationError("data.grammar", grammar, "wide cannot be combined with denoiser.pair_reversed, "
                                                       "whose reversed captions come from the base grammar")


def _check_pattern_weights(cfg: dict) -> None:
    """data.pattern_weights: positive factors keyed by tones patterns."""
    from ..worlds.tones import PATTERNS

    weights = _tones_mapping(cfg, "pattern_weights", "{pattern: factor}, e.g. {beeps: 2}")
    if weights is None:
        return
    for key, value in weights.items():
        if key not in PATTERNS:
            raise ValidationError("data.pattern_weights", weights, f"keys must be patterns: {', '.join(PATTERNS)}")
        if not _is_number(value) or value <= 0:
            raise ValidationError(f"data.pattern_weights.{key}", value, "must be a positive number")


def read_with_base(path: str | Path) -> dict:
    """The YAML mapping in `path` merged over the config its `base:` names (a path relative to it), if any."""
    raw = read_yaml(path)
    base = raw.pop("base", None)
    return deep_merge(read_with_base(Path(path).parent / base), raw) if base else raw


def _check_keys(raw: dict) -> None:
    """Every key of the file is one mediadiff reads: a misspelt key is an error, not a silent default."""
    from ..codecs.mel import MelConfig

    known = {"modality": None, **DEFAULTS}
    for key, value in raw.items():
        if key not in known:
            raise ValidationError(key, value, f"is not a config key; use {', '.join(known)}")
        if key in ("vae", "vocoder", "denoiser", "data", "text", "mel") and isinstance(value, dict):
            allowed = MelConfig.__dataclass_fields__ if key == "mel" else {
                **DEFAULTS[key], **(STAGE_DEFAULTS if key in ("vae", "vocoder", "denoiser") else {})}
            for sub in value:
                if sub not in allowed:
                    raise ValidationError(f"{key}.{sub}", value[sub], f"is not a {key} key; use "
                                                                      f"{', '.join(sorted(allowed))}")


def load_config(path: str | Path, modality: str | None = None) -> dict:
    """A complete, checked training config; `modality` must match the file's when both are given."""
    raw = read_with_base(path)
    _check_keys(raw)
    cfg = deep_merge(DEFAULTS, {k: v for k, v in raw.items() if k != "modality"})
    for stage in ("vae", "vocoder", "denoiser"):
        cfg[stage] = deep_merge(STAGE_DEFAULTS, cfg[stage])
        _check_stage(cfg, stage)
    cfg["modality"] = raw.get("modality", modality)
    if cfg["modality"] not in MODALITIES:
        raise ValidationError("modality", cfg["modality"], f"must be one of {', '.join(MODALITIES)}")
    if modality is not None and modality != cfg["modality"]:
        article = "an" if cfg["modality"] == "audio" else "a"
        raise ValidationError("config", str(path), f"is {article} {cfg['modality']} config; run `mediadiff train "
                                                   f"{cfg['modality']}` or pick a {modality} config")
    data = cfg["data"]
    if bool(data.get("world")) == bool(data.get("folder")):
        raise ValidationError("data", {k: data.get(k) for k in ("world", "folder")},
                              "give exactly one of world: (tones, shapes) or folder: PATH")
    worlds = {"audio": "tones", "video": "shapes"}
    if data.get("world") and data["world"] != worlds[cfg["modality"]]:
        raise ValidationError("data.world", data["world"], f"{cfg['modality']} trains on {worlds[cfg['modality']]}")
    if cfg["vae"]["loss"] not in ("l1", "mse"):
        raise ValidationError("vae.loss", cfg["vae"]["loss"], "must be l1 or mse")
    clips = cfg["denoiser"]["clips"]
    if clips is not None and (isinstance(clips, bool) or not isinstance(clips, int) or clips < 1):
        raise ValidationError("denoiser.clips", clips, "must be a positive integer (or left out)")
    if clips is not None and (cfg["modality"] != "video" or not data.get("world")):
        raise ValidationError("denoiser.clips", clips, "is for video trained on the shapes world")
    paired = cfg["denoiser"]["pair_reversed"]
    if not isinstance(paired, bool):
        raise ValidationError("denoiser.pair_reversed", paired, "must be true or false")
    if paired and not data.get("world"):
        raise ValidationError("denoiser.pair_reversed", paired, "needs a procedural world (data.world), whose "
                                                                "captions say what a clip played backwards is")
    if paired and cfg["denoiser"]["batch"] % 2:
        raise ValidationError("denoiser.batch", cfg["denoiser"]["batch"], "must be even with pair_reversed "
                                                                          "(each clip and its reversal)")
    for stage in ("vae", "vocoder", "denoiser"):
        if cfg[stage]["data_on_device"] and stage not in DEVICE_DATA_STAGES[cfg["modality"]]:
            stages = " and ".join(DEVICE_DATA_STAGES[cfg["modality"]])
            raise ValidationError(f"{stage}.data_on_device", True, f"is for the {stages} stages of {cfg['modality']}")
    t_min, timesteps = cfg["denoiser"]["t_min"], cfg["denoiser"]["num_train_timesteps"]
    if isinstance(t_min, bool) or not isinstance(t_min, int) or not 0 <= t_min < timesteps:
        raise ValidationError("denoiser.t_min", t_min, f"must be an integer from 0 to {timesteps - 1}")
    _check_text(cfg)
    _check_pattern_weights(cfg)
    _check_beep_layout(cfg)
    _check_grammar(cfg)
    if cfg["vocoder"]["ship"] not in ("auto", "hifigan", "griffin-lim"):
        raise ValidationError("vocoder.ship", cfg["vocoder"]["ship"], "must be auto, hifigan or griffin-lim")
    cfg["name"] = Path(path).stem
    return cfg


def with_sitting(cfg: dict, init: str | None = None, minutes=None) -> dict:
    """The config with the command line's `--init PIPELINE` (its VAE, and vocoder if it has one, taken as they are;
    the denoiser started from its UNet) and `--minutes M` (every stage's sitting limit) applied."""
    cfg = copy.deepcopy(cfg)
    if minutes is not None:
        if not (_is_number(minutes) and minutes > 0):
            raise ValidationError("minutes", minutes, "must be a positive number of minutes")
        for stage in ("vae", "vocoder", "denoiser"):
            cfg[stage]["minutes"] = float(minutes)
    if init is not None:
        folder = Path(init)
        if not (folder / "model_index.json").is_file():
            raise ValidationError("init", init, "must be a pipeline folder (with model_index.json), e.g. "
                                                "runs/shapes/pipeline")
        for stage in ("vae", "vocoder"):
            if (folder / stage / "config.json").is_file():
                cfg[stage]["init"], cfg[stage]["steps"] = str(folder), 0
        cfg["denoiser"]["init"] = str(folder)
    return cfg
