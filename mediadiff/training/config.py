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
                 "motion_heads": 2, "norm_num_groups": 8, "init": None,
                 "pair_reversed": False,  # train each clip beside its time reversal (same noise, swapped caption)
                 "clips": None},  # video: a set of its own, streamed into latents (stream_latents)
    "defaults": {"steps": 20, "guidance": 4.0, "scheduler": "dpm++"},
}
POSITIVE_INTS = ("steps", "batch", "checkpoint_every", "grad_accumulation")


def _merge(base: dict, override: dict) -> dict:
    """Deep merge of `override` into a copy of `base`."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
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


def _check_stage(cfg: dict, stage: str) -> None:
    """Numbers of one stage section must be positive."""
    section = cfg[stage]
    for key in POSITIVE_INTS:
        value = section.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(f"{stage}.{key}", value, "must be a positive integer")
    for key in ("lr", "ema_decay"):
        value = section.get(key)
        if not isinstance(value, (int, float)) or not 0 < float(value) <= 1:
            raise ValidationError(f"{stage}.{key}", value, "must be a number in (0, 1]")
    betas = section.get("betas")
    if not (isinstance(betas, list) and len(betas) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1
                                                                 for b in betas)):
        raise ValidationError(f"{stage}.betas", betas, "must be two numbers in [0, 1), e.g. [0.9, 0.999]")


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
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValidationError(f"data.pattern_weights.{key}", value, "must be a positive number")


def read_with_base(path: str | Path) -> dict:
    """The YAML mapping in `path` merged over the config its `base:` names (a path relative to it), if any."""
    raw = read_yaml(path)
    base = raw.pop("base", None)
    return _merge(read_with_base(Path(path).parent / base), raw) if base else raw


def load_config(path: str | Path, modality: str | None = None) -> dict:
    """A complete, checked training config; `modality` must match the file's when both are given."""
    raw = read_with_base(path)
    cfg = _merge(DEFAULTS, {k: v for k, v in raw.items() if k != "modality"})
    for stage in ("vae", "vocoder", "denoiser"):
        cfg[stage] = _merge(STAGE_DEFAULTS, cfg[stage])
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
    _check_text(cfg)
    _check_pattern_weights(cfg)
    _check_beep_layout(cfg)
    _check_grammar(cfg)
    if cfg["vocoder"]["ship"] not in ("auto", "hifigan", "griffin-lim"):
        raise ValidationError("vocoder.ship", cfg["vocoder"]["ship"], "must be auto, hifigan or griffin-lim")
    cfg["name"] = Path(path).stem
    return cfg
