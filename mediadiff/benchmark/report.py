"""The bench result as a table for people."""

from __future__ import annotations

from .runner import STAGES

LABELS = {"load": "model load", "text": "text encoding", "denoise": "denoising", "step": "  per step",
          "decode": "VAE decode", "vocoder": "vocoder", "file": "file encoding", "other": "other (Python)",
          "total": "end to end", "peak_mib": "peak memory*", "output_bytes": "output size"}


def _fmt(key: str, s: dict | None) -> str:
    """'median (spread ±x%)' in the stage's unit."""
    if not s:
        return "-"
    m = s["median"]
    if key == "peak_mib":
        value = f"{m:.0f} MiB"
    elif key == "output_bytes":
        value = f"{m / 1024:.1f} KiB"
    else:
        value = f"{m * 1000:.1f} ms" if m < 1 else f"{m:.2f} s"
    return value + (f" ±{s['spread'] * 50:.0f}%" if s.get("n", 1) > 1 else "")


def _ratio(s: dict | None) -> str:
    return "-" if not s else f"{s['median']:.2f}x [{s['min']:.2f}-{s['max']:.2f}]"


def table(result: dict) -> str:
    """Stages x (mediadiff, diffusers, ratio), then the compute bound and the decode memory."""
    s = result["settings"]
    what = (f"{s['frames']} frames {s['width']}x{s['height']}" if "frames" in s else f"{s['seconds']:g} s audio")
    lines = [f"{result['device']} {result['dtype']}, {what}, {s['steps']} steps {s['scheduler']}, guidance "
             f"{s['guidance']:g}, {result['repeat']} interleaved runs (median ±half the range)"
             + (f", step cache {result['cache_steps']} ({result.get('cache_branch', 'block')} branch)"
                if result["cache_steps"] > 1 else "")
             + (f", compiled ({result['compile']})" if result["compile"] else "")
             + (", jit (frozen UNet)" if result.get("jit") else "")]
    ours, theirs, ratio = result["mediadiff"], result.get("diffusers"), result.get("ratio", {})
    lines.append(f"{'stage':<16}{'mediadiff':>18}" + (f"{'diffusers':>18}{'ratio':>22}" if theirs else ""))
    for key in (*STAGES, "peak_mib", "output_bytes"):
        if key not in ours and not (theirs and key in theirs):
            continue
        row = f"{LABELS[key]:<16}{_fmt(key, ours.get(key)):>18}"
        if theirs:
            row += f"{_fmt(key, theirs.get(key)):>18}{_ratio(ratio.get(key)):>22}"
        lines.append(row)
    if result.get("first_call_s"):
        lines.append("first call (warm-up, not in the medians): " + ", ".join(
            f"{k} {v:.2f} s" for k, v in result["first_call_s"].items()))
    lines.append(f"outside the denoiser: {result['outside_denoiser_share'] * 100:.1f}% of mediadiff's end to end")
    c = result["compute"]
    lines.append(f"compute bound: {c['flops_per_forward'] / 1e9:.3g} GFLOP per denoiser forward x {c['forwards']}, "
                 f"matmul {c['matmul_flops_per_s'] / 1e9:.4g} GFLOP/s -> ideal denoising "
                 f"{c['ideal_denoise_s'] * 1000:.1f} ms; efficiency {c['efficiency'] * 100:.1f}%")
    d = result.get("decode_memory")
    if d:
        rows = ", ".join(f"{r['frames']} frames {r['extra_mib']:.1f} MiB" for r in d["rows"])
        ratio_text = f" ({d['ratio']:.2f}x)" if d["ratio"] else ""
        lines.append(f"VAE decode extra memory (beyond latents and output): {rows}{ratio_text}")
    lines.append("* peak memory: the pipeline's weights plus the most the run added (RSS on the CPU, allocated on CUDA)")
    if result.get("max_abs_diff") is not None:
        rel = result.get("max_rel_diff")
        lines.append(f"largest |mediadiff - diffusers| output difference: {result['max_abs_diff']:.2g}"
                     + (f" ({rel:.2g} of the reference's largest value)" if rel is not None else ""))
    return "\n".join(lines)
