"""The one training loop every stage uses: accelerate, EMA, atomic resumable checkpoints, progress, samples.

Run folder of a stage (`RUN/<stage>/`):
  checkpoint/ema/        EMA weights in the diffusers layout (safetensors): a usable model at any time
  checkpoint/state/      accelerate's save_state: raw weights, optimizer, LR schedule, RNG
  checkpoint/trainer.json  step, samples seen, wall time over all sittings
  samples/step-NNNNNN.*  a sample (WAV/MP4) and its picture written at each checkpoint
  snapshots/step-NNNNNN/ the EMA weights every `snapshot_every` steps (the denoiser's: a whole pipeline), kept
  final/                 the EMA weights when the stage is complete (what the next stages load)
  log.jsonl              one line per checkpoint (step, loss, samples/s)
A killed run continues from its last checkpoint with --resume: it loses at most one checkpoint interval.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from ..codecs.atomic import atomic_output
from ..errors import MediadiffError

LossFn = Callable[[torch.nn.Module, Any], torch.Tensor]
SampleFn = Callable[[torch.nn.Module, int, Path], None]  # (model with EMA weights, step, folder)


@dataclass
class Stage:
    """One trainable stage: its model, data, loss, settings (cfg section) and checkpoint sample writer."""

    name: str
    model: torch.nn.Module
    dataset: torch.utils.data.Dataset
    loss: LossFn
    settings: dict
    sample: SampleFn | None = None
    finish: Callable[[torch.nn.Module], None] | None = None  # e.g. record the VAE's latent scale before saving
    samples_per_item: int = 1  # training samples in one dataset item (2: a clip and its time reversal)
    snapshot: SampleFn | None = None  # writes a snapshot into its folder; default: the model's save_pretrained


class RunExists(MediadiffError):
    """A stage folder that already holds a checkpoint, run without --resume."""

    exit_code = 2


class WithLoss(torch.nn.Module):
    """The stage's model with its loss as forward(): what accelerate wraps (DDP syncs gradients in forward)."""

    def __init__(self, model: torch.nn.Module, loss: LossFn):
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, batch) -> torch.Tensor:
        return self.loss(self.model, batch)


def stage_dir(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / name


def final_dir(run_dir: Path, name: str) -> Path:
    """Where a completed stage's EMA weights live (diffusers layout)."""
    return stage_dir(run_dir, name) / "final"


def read_trainer_state(folder: Path) -> dict:
    """Step, samples and wall time of a stage checkpoint ({} when there is none)."""
    file = folder / "checkpoint" / "trainer.json"
    return json.loads(file.read_text()) if file.exists() else {}


def _accelerator(settings: dict):
    from accelerate import Accelerator

    # cpu=True on a GPU-less machine lets `accelerate launch --multi_gpu` / torchrun give real CPU ranks (gloo).
    return Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=settings["mixed_precision"],
                       gradient_accumulation_steps=int(settings["grad_accumulation"]))


def _loader(dataset, settings: dict, seed: int, step: int, samples_per_item: int = 1):
    """A shuffling loader whose order depends on the step it starts from (a resumed run sees new batches);
    `batch` counts training samples, so items that hold several get a smaller loader batch."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    batch = min(int(settings["batch"]) // samples_per_item, len(dataset))
    return torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True, generator=g)


def _device_batches(dataset, settings: dict, seed: int, step: int, samples_per_item: int, device, rank: int):
    """Endless random batches drawn on `device` from a dataset kept there whole (`data_on_device`): no loader,
    no host copies, every step pure model compute. Each rank and each resumed step draws its own."""
    dataset = dataset.to(device)
    g = torch.Generator(device=device).manual_seed(seed * 1_000_003 + step * 7_919 + rank)
    batch = min(int(settings["batch"]) // samples_per_item, len(dataset))
    while True:
        yield dataset.gather(torch.randint(len(dataset), (batch,), generator=g, device=device), g)


def lr_schedule(optimizer, warmup: int, total: int, floor: float = 0.0):
    """Linear warm-up, then cosine decay (Loshchilov & Hutter 2017) to `floor` x lr; floor 0 is diffusers'
    get_cosine_schedule_with_warmup step for step."""

    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))  # stays at the floor past `total`
        return floor + (1.0 - floor) * max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _ema(model: torch.nn.Module, settings: dict):
    """EMA of the weights (diffusers' EMAModel); with `ema_warmup` the decay ramps up, so short runs are not
    dominated by the initial weights."""
    from diffusers.training_utils import EMAModel

    return EMAModel(model.parameters(), decay=float(settings["ema_decay"]), use_ema_warmup=bool(settings["ema_warmup"]),
                    power=0.75, foreach=True)


def save_model(model: torch.nn.Module, folder: Path) -> Path:
    """The model as its own diffusers/transformers folder (safetensors), written atomically."""
    with atomic_output(folder) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
    return folder


def _save_ema(ema, model: torch.nn.Module, target: Path) -> None:
    """Write the EMA weights into `target` as the model's own diffusers/transformers folder."""
    params = list(model.parameters())
    ema.store(params)
    ema.copy_to(params)
    try:
        model.save_pretrained(str(target), safe_serialization=True)
    finally:
        ema.restore(params)


def _load_ema(ema, model: torch.nn.Module, folder: Path, step: int) -> None:
    """Restore EMA shadow weights saved by _save_ema."""
    from safetensors.torch import load_file

    weights = {}
    for file in sorted(folder.glob("*.safetensors")):
        weights.update(load_file(str(file)))
    names = [n for n, _ in model.named_parameters()]
    missing = [n for n in names if n not in weights]
    if missing:
        raise MediadiffError(f"cannot resume: {folder} lacks EMA weights for {missing[0]}")
    device = ema.shadow_params[0].device
    ema.shadow_params = [weights[n].to(device, torch.float32) for n in names]
    ema.optimization_step = step


def _write_checkpoint(folder: Path, accelerator, ema, model, state: dict) -> None:
    """One atomic checkpoint: EMA weights (diffusers layout), accelerate state (every rank), trainer.json.
    Called on every process: accelerate's save_state waits for all ranks."""
    staging = folder / ".state-next"
    accelerator.save_state(str(staging), safe_serialization=True)
    if accelerator.is_main_process:
        with atomic_output(folder / "checkpoint") as tmp:
            tmp.mkdir(parents=True)
            os.replace(staging, tmp / "state")
            _save_ema(ema, model, tmp / "ema")
            (tmp / "trainer.json").write_text(json.dumps(state, indent=2) + "\n")
    accelerator.wait_for_everyone()


def _with_ema(ema, model, fn: Callable[[], None]) -> None:
    """Run fn with the EMA weights swapped into `model`."""
    params = list(model.parameters())
    ema.store(params)
    ema.copy_to(params)
    try:
        fn()
    finally:
        ema.restore(params)


def _log(folder: Path, record: dict) -> None:
    with open(folder / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def _batches(stage: Stage, accelerator, seed: int, step: int):
    """Endless batches: drawn on the device (`data_on_device`), or from a loader with one fresh shuffle per epoch."""
    if stage.settings["data_on_device"]:
        yield from _device_batches(stage.dataset, stage.settings, seed, step, stage.samples_per_item,
                                   accelerator.device, accelerator.process_index)
    epoch = 0
    while True:
        loader = _loader(stage.dataset, stage.settings, seed + epoch, step, stage.samples_per_item)
        loader = accelerator.prepare(loader)
        yield from loader
        epoch += 1


def _out_of_time(deadline: float | None, accelerator) -> bool:
    """Whether the sitting's time is up, agreed by every rank (they must checkpoint at the same step)."""
    if deadline is None or accelerator.num_processes == 1:
        return deadline is not None and time.perf_counter() > deadline
    late = torch.tensor([float(time.perf_counter() > deadline)], device=accelerator.device)
    return bool(accelerator.reduce(late, "max").item())


def _snapshot(stage: Stage, model, step: int, folder: Path) -> None:
    """Keep the current (EMA) weights in snapshots/step-NNNNNN: the stage's own writer, or save_pretrained."""
    target = folder / "snapshots" / f"step-{step:06d}"
    if stage.snapshot is not None:
        stage.snapshot(model, step, target)
    else:
        save_model(model, target)


def train(stage: Stage, run_dir: Path, *, resume: bool = False, seed: int = 0, stop_after: int | None = None,
          progress: bool = True, log: Callable[[str], None] = print) -> Path:
    """Train `stage` to settings['steps'] optimizer steps; returns the folder of its final EMA weights.
    A sitting ends early after `stop_after` steps or settings['minutes'] of training, with a checkpoint."""
    from tqdm.auto import tqdm

    folder = stage_dir(run_dir, stage.name)
    final = final_dir(run_dir, stage.name)
    state = read_trainer_state(folder)
    if state and not resume:
        raise RunExists(f"{folder} already holds a {stage.name} checkpoint at step {state['step']}; "
                        "pass --resume to continue it, or choose another --out")
    s = stage.settings
    total = int(s["steps"])
    if final.exists() and state.get("step", 0) >= total:
        log(f"{stage.name}: complete at step {state['step']} ({folder}); skipped")
        return final
    accelerator = _accelerator(s)
    torch.manual_seed(seed + accelerator.process_index)  # each rank its own noise, timesteps and dropout
    stage.model.train()
    model = WithLoss(stage.model, stage.loss)
    # fused: one kernel over all tensors; the per-tensor loop cost a small model's step several percent on CPU
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=float(s["lr"]),
                                  betas=tuple(float(b) for b in s["betas"]), weight_decay=float(s["weight_decay"]),
                                  fused=True)
    # accelerate steps a prepared schedule once per process for every optimizer step: count in those steps
    ranks = accelerator.num_processes
    schedule = lr_schedule(optimizer, int(s["warmup"]) * ranks, total * ranks, float(s["lr_floor"]))
    model, optimizer, schedule = accelerator.prepare(model, optimizer, schedule)
    unwrapped = accelerator.unwrap_model(model).model
    ema = _ema(unwrapped, s)
    ema.to(accelerator.device)
    step, samples, wall = 0, 0, 0.0
    if state:
        accelerator.load_state(str(folder / "checkpoint" / "state"))
        step, samples, wall = int(state["step"]), int(state["samples"]), float(state["wall_s"])
        _load_ema(ema, unwrapped, folder / "checkpoint" / "ema", step)
        log(f"{stage.name}: resumed at step {step} of {total}")
    folder.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=total, initial=step, desc=stage.name, unit="step", file=sys.stderr, dynamic_ncols=True,
               disable=not progress or not accelerator.is_main_process)
    started, interval_loss, interval_n, interval_start, interval_samples = time.perf_counter(), 0.0, 0, time.perf_counter(), 0
    stop_at = min(total, step + stop_after) if stop_after else total
    deadline = time.perf_counter() + 60 * float(s["minutes"]) if s["minutes"] else None
    batches = _batches(stage, accelerator, seed, step)
    while step < stop_at:
        batch = next(batches)
        with accelerator.accumulate(model):
            loss = model(batch)
            accelerator.backward(loss)
            if accelerator.sync_gradients and float(s["grad_clip"]) > 0:
                accelerator.clip_grad_norm_(model.parameters(), float(s["grad_clip"]))
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
        n = _batch_size(batch) * stage.samples_per_item * accelerator.num_processes
        samples += n
        interval_samples += n
        if not accelerator.sync_gradients:
            continue
        ema.step(unwrapped.parameters())
        step += 1
        value = float(loss.detach())
        if not math.isfinite(value):
            raise MediadiffError(f"{stage.name}: the loss became {value} at step {step}; lower {stage.name}.lr "
                                 f"(now {s['lr']}) and --resume from the last checkpoint")
        interval_loss, interval_n = interval_loss + value, interval_n + 1
        rate = interval_samples / max(time.perf_counter() - interval_start, 1e-9)
        bar.set_postfix(loss=f"{value:.4f}", samples_s=f"{rate:.1f}")
        bar.update(1)
        if _out_of_time(deadline, accelerator):
            stop_at = step  # the sitting's minutes are spent: checkpoint here, --resume continues
        if s["snapshot_every"] and step % int(s["snapshot_every"]) == 0 and accelerator.is_main_process:
            unwrapped.eval()
            _with_ema(ema, unwrapped, lambda: _snapshot(stage, unwrapped, step, folder))
            unwrapped.train()
        if step % int(s["checkpoint_every"]) == 0 or step == stop_at:
            now = time.perf_counter()
            wall += now - started
            started = now
            record = {"step": step, "samples": samples, "wall_s": round(wall, 1),
                      "loss": interval_loss / max(interval_n, 1), "samples_per_s": round(rate, 2)}
            _write_checkpoint(folder, accelerator, ema, unwrapped, record)
            if accelerator.is_main_process:
                _log(folder, record)
                if stage.sample is not None:
                    unwrapped.eval()
                    _with_ema(ema, unwrapped, lambda: stage.sample(unwrapped, step, folder / "samples"))
                    unwrapped.train()
            accelerator.wait_for_everyone()
            interval_loss, interval_n, interval_start, interval_samples = 0.0, 0, time.perf_counter(), 0
    bar.close()
    if step >= total and accelerator.is_main_process:
        unwrapped.eval()
        def save_final():
            if stage.finish is not None:
                stage.finish(unwrapped)
            save_model(unwrapped, final)
        _with_ema(ema, unwrapped, save_final)
        log(f"{stage.name}: done, {step} steps, {samples} samples, {wall:.0f} s of training -> {final}")
    elif step < total:
        log(f"{stage.name}: stopped at step {step} of {total}; continue with --resume")
    accelerator.wait_for_everyone()  # the final weights exist for every rank before the next stage loads them
    return final


def _batch_size(batch) -> int:
    first = batch[0] if isinstance(batch, (list, tuple)) else batch
    return int(first.shape[0])
