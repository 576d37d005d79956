"""`mediadiff info MODEL`: components, classes, sizes, layout and defaults."""

from __future__ import annotations

from ..checkpoints import load_checkpoint
from ..worlds import WORLDS, understood
from .common import emit


def register(sub) -> None:
    p = sub.add_parser("info", help="show a model's components, sizes and defaults")
    p.add_argument("model", help="pipeline folder, preset name or hub id")
    p.add_argument("--allow-pickle", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run, quiet=False)


def describe(model: str, allow_pickle: bool = False) -> dict:
    """A summary of a checkpoint: layout, components (class, parameters, MB), limits, defaults."""
    import torch

    from ..libraries import quiet_libraries

    quiet_libraries()
    ckpt = load_checkpoint(model, allow_pickle=allow_pickle)
    parts = {}
    for name, module in ckpt.components.items():
        entry = {"class": type(module).__name__}
        if isinstance(module, torch.nn.Module):
            n = sum(p.numel() for p in module.parameters())
            entry.update(parameters=n, megabytes=round(sum(p.numel() * p.element_size()
                                                           for p in module.parameters()) / 2**20, 2))
        if name in ckpt.references:
            entry["reference"] = ckpt.references[name]
        parts[name] = entry
    limits = ckpt.limits
    return {"model": model, "path": str(ckpt.path), "pipeline": ckpt.class_name, "layout": ckpt.layout.name,
            "modality": ckpt.layout.modality, "components": parts, "vae_factor": limits.vae_factor,
            "max_frames": limits.max_frames or None, "max_seconds": limits.max_seconds or None,
            "defaults": {k: v for k, v in limits.defaults.items() if k != "name"},
            "understands": understood(limits.defaults["world"]) if limits.defaults.get("world") in WORLDS else None}


def run(args) -> int:
    info = describe(args.model, args.allow_pickle)
    lines = [f"{info['model']}: {info['pipeline']} ({info['layout']} layout, {info['modality']})"]
    for name, c in info["components"].items():
        size = f"{c['parameters'] / 1e6:.2f}M params, {c['megabytes']} MB" if "parameters" in c else ""
        ref = f" (from package {c['reference']['package']})" if "reference" in c else ""
        lines.append(f"  {name:<13} {c['class']:<30} {size}{ref}")
    limit = f"max frames {info['max_frames']}" if info["modality"] == "video" else f"max seconds {info['max_seconds']}"
    lines.append(f"  VAE factor {info['vae_factor']}, {limit}")
    lines.append("  defaults: " + ", ".join(f"{k}={v}" for k, v in info["defaults"].items() if k != "mel"))
    if info["understands"]:  # a model trained on a procedural world: the words its prompts may use
        lines.append(f"  understands ({info['defaults']['world']} world; other words are ignored):")
        lines += [f"    {k}: {', '.join(v)}" for k, v in info["understands"].items()]
    emit(args, info, "\n".join(lines))
    return 0
