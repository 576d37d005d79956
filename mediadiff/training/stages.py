"""The three stages, for audio (mel spectrograms) and video (frames / clips): models, data views, losses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..codecs.frames import frame_strip, to_uint8
from ..codecs.mel import MelConfig, griffin_lim, log_mel, write_wav
from ..codecs.pictures import spectrogram_rows, write_png
from . import losses
from .data import Prepared, mel_config
from .loop import Stage

TEXT_DIM = 384  # MiniLM's hidden size


# --------------------------------------------------------------------------- datasets (views of the prepared set)


class MelCrops(torch.utils.data.Dataset):
    """Random crops (1, crop, M) of the log-mels, for the mel VAE."""

    def __init__(self, mels: torch.Tensor, crop: int):
        self.mels, self.crop = mels, min(crop, mels.shape[1]) // 4 * 4

    def __len__(self) -> int:
        return len(self.mels)

    def __getitem__(self, i: int) -> torch.Tensor:
        start = int(torch.randint(0, self.mels.shape[1] - self.crop + 1, ()))
        return self.mels[i, start:start + self.crop].float()[None]  # (1, crop, M)


class Frames(torch.utils.data.Dataset):
    """Single frames (3, H, W) in [-1, 1] of the clips, for the frame VAE."""

    def __init__(self, clips: torch.Tensor):
        self.clips = clips  # (N, F, H, W, 3) uint8

    def __len__(self) -> int:
        return self.clips.shape[0] * self.clips.shape[1]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.gather(torch.tensor([i]))[0]  # (3, H, W)

    def to(self, device) -> "Frames":
        self.clips = self.clips.to(device)  # uint8 on the device: 4x smaller than floats
        return self

    def gather(self, idx: torch.Tensor, generator=None) -> torch.Tensor:
        """The frames at `idx` (B,) as one batch (B, 3, H, W), on the clips' device."""
        frames = self.clips[idx // self.clips.shape[1], idx % self.clips.shape[1]]  # (B, H, W, 3)
        return frames.permute(0, 3, 1, 2).float() / 127.5 - 1.0


class WaveSegments(torch.utils.data.Dataset):
    """Random aligned waveform segments (segment * hop samples), for the vocoder."""

    def __init__(self, waves: torch.Tensor, segment_frames: int, hop: int):
        self.waves, self.length = waves, segment_frames * hop
        self.hop = hop

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, i: int) -> torch.Tensor:
        start = int(torch.randint(0, (self.waves.shape[1] - self.length) // self.hop + 1, ())) * self.hop
        return self.waves[i, start:start + self.length].float()  # (samples,)


class Captioned(torch.utils.data.Dataset):
    """(latents, caption row) pairs; a random caption of the clip, or the empty prompt with p_uncond."""

    def __init__(self, latents: torch.Tensor, rows: list[list[int]], p_uncond: float):
        self.latents, self.rows, self.p_uncond = latents, rows, p_uncond

    def __len__(self) -> int:
        return len(self.latents)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if float(torch.rand(())) < self.p_uncond:
            return self.latents[i], 0  # row 0 is the empty prompt (classifier-free guidance)
        return self.latents[i], _pick(self.rows[i])

    def to(self, device) -> "Captioned":
        """The set on `device` for gather, with the caption rows as a table (N, K) and their counts (N,)."""
        self.latents = self.latents.to(device)
        self.table, self.counts = (t.to(device) for t in caption_table(self.rows))
        return self

    def gather(self, idx: torch.Tensor, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The clips at `idx` (B,) with a random caption row each (0 with p_uncond): (B, C, ...), (B,)."""
        return self.latents[idx], draw_rows(self.table, self.counts, idx, self.p_uncond, generator)


def _pick(options: list[int]) -> int:
    """One caption row of a clip, uniformly (torch's RNG, so each loader worker draws its own)."""
    return options[int(torch.randint(0, len(options), ()))]


def caption_table(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-clip caption rows as a padded table (N, K) and their counts (N,); clips with none get the empty row 0."""
    width = max([len(r) for r in rows] + [1])
    table = torch.tensor([(r or [0]) + [(r or [0])[0]] * (width - len(r or [0])) for r in rows], dtype=torch.long)
    return table.reshape(len(rows), width), torch.tensor([max(len(r), 1) for r in rows], dtype=torch.long)


def draw_rows(table: torch.Tensor, counts: torch.Tensor, idx: torch.Tensor, p_uncond: float, generator,
              drop: torch.Tensor | None = None) -> torch.Tensor:
    """One uniformly drawn caption row (B,) per clip of `idx`; row 0 (the empty prompt) where `drop`, which is
    drawn with probability p_uncond when not given (caption dropout for classifier-free guidance)."""
    n = len(idx)
    pick = (torch.rand(n, generator=generator, device=idx.device) * counts[idx]).long()  # (B,) in [0, count)
    if drop is None:
        drop = torch.rand(n, generator=generator, device=idx.device) < p_uncond
    return torch.where(drop, 0, table[idx, pick])


# --------------------------------------------------------------------------- models


def build_vae(cfg: dict):
    """AutoencoderKL on 1-channel log-mels (audio) or RGB frames (video); factor 2 per level after the first."""
    from diffusers import AutoencoderKL

    v = cfg["vae"]
    channels = 1 if cfg["modality"] == "audio" else 3
    levels = len(v["block_out_channels"])
    return AutoencoderKL(
        in_channels=channels, out_channels=channels, latent_channels=int(v["latent_channels"]),
        block_out_channels=tuple(v["block_out_channels"]), layers_per_block=int(v["layers_per_block"]),
        down_block_types=("DownEncoderBlock2D",) * levels, up_block_types=("UpDecoderBlock2D",) * levels,
        norm_num_groups=int(v["norm_num_groups"]), mid_block_add_attention=bool(v["mid_attention"]),
        sample_size=int(cfg["data"]["size"]) if cfg["modality"] == "video" else 64,
    )


def normalise_vae(vae, mean: float, std: float) -> None:
    """Start the VAE as if its input were standardised: conv_in sees (x - mean) / std, conv_out emits
    std * y + mean. Log-mels sit near -10; without this the first thousand steps only learn that offset."""
    with torch.no_grad():
        conv_in, conv_out = vae.encoder.conv_in, vae.decoder.conv_out
        conv_in.bias -= conv_in.weight.sum(dim=(1, 2, 3)) * mean / std
        conv_in.weight /= std
        conv_out.weight *= std
        conv_out.bias.mul_(std).add_(mean)


def build_vocoder(cfg: dict):
    """A small HiFi-GAN generator (Kong et al. 2020) whose upsampling equals the mel hop."""
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    mel = mel_config(cfg)
    rates = {160: [5, 4, 2, 2, 2], 256: [8, 8, 2, 2], 200: [5, 5, 4, 2]}.get(mel.hop_length)
    if rates is None:
        from ..errors import ValidationError

        raise ValidationError("mel.hop_length", mel.hop_length, "the vocoder supports hops of 160, 200 or 256")
    return SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=mel.n_mels, sampling_rate=mel.sample_rate,
        upsample_initial_channel=int(cfg["vocoder"]["upsample_initial_channel"]), upsample_rates=rates,
        upsample_kernel_sizes=[2 * r for r in rates], resblock_kernel_sizes=[3, 7],
        resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]], normalize_before=True,
    ))


def build_unet(cfg: dict, latent_channels: int, sample_size):
    """UNet2DConditionModel over MiniLM tokens (audio) or UNetMotionModel (video, AnimateDiff layout)."""
    from diffusers import UNet2DConditionModel, UNetMotionModel

    d = cfg["denoiser"]
    widths = tuple(d["block_out_channels"])
    n = len(widths)
    common = dict(in_channels=latent_channels, out_channels=latent_channels, block_out_channels=widths,
                  layers_per_block=int(d["layers_per_block"]), cross_attention_dim=TEXT_DIM,
                  norm_num_groups=int(d["norm_num_groups"]), sample_size=sample_size)
    if cfg["modality"] == "audio":
        # No attention at full resolution (costly on a CPU); cross-attention on the coarser levels.
        down = ("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1)
        up = ("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",)
        return UNet2DConditionModel(down_block_types=down, up_block_types=up,
                                    attention_head_dim=int(d["attention_head_dim"]), **common)
    down = ("CrossAttnDownBlockMotion",) * (n - 1) + ("DownBlockMotion",)
    up = ("UpBlockMotion",) + ("CrossAttnUpBlockMotion",) * (n - 1)
    return UNetMotionModel(down_block_types=down, up_block_types=up, num_attention_heads=int(d["attention_head_dim"]),
                           motion_num_attention_heads=int(d["motion_heads"]), motion_max_seq_length=32, **common)


COMPONENT_OF = {"vae": "vae", "vocoder": "vocoder", "denoiser": "unet"}  # a stage's folder in a pipeline


def init_folder(stage: str, path: str) -> Path:
    """The component folder a stage's `init` names: the folder itself, or a pipeline folder's component."""
    from ..errors import ValidationError

    folder, part = Path(path), COMPONENT_OF[stage]
    folder = folder / part if (folder / part / "config.json").exists() else folder
    if not (folder / "config.json").exists():
        raise ValidationError(f"{stage}.init", str(path), f"must be a {part} folder or a pipeline folder with {part}/")
    return folder


def init_model(stage: str, path: str):
    """The weights a stage starts from (`init`): AutoencoderKL, SpeechT5HifiGan, or the denoiser's UNet class."""
    import json

    from diffusers import AutoencoderKL, UNet2DConditionModel, UNetMotionModel
    from transformers import SpeechT5HifiGan

    folder = init_folder(stage, path)
    if stage == "denoiser":
        name = json.loads((folder / "config.json").read_text()).get("_class_name")
        cls = UNetMotionModel if name == "UNetMotionModel" else UNet2DConditionModel
    else:
        cls = AutoencoderKL if stage == "vae" else SpeechT5HifiGan
    return cls.from_pretrained(str(folder)).float()  # shipped weights may be fp16 on disk


def train_scheduler(cfg: dict):
    """The DDPM noise schedule training samples from (its add_noise / get_velocity)."""
    from diffusers import DDPMScheduler

    d = cfg["denoiser"]
    return DDPMScheduler(num_train_timesteps=int(d["num_train_timesteps"]), beta_schedule=d["beta_schedule"],
                         prediction_type=d["prediction_type"])


def sampling_scheduler(cfg: dict):
    """The scheduler shipped in the pipeline: DPM-Solver++ on the same schedule and prediction type."""
    from diffusers import DPMSolverMultistepScheduler

    d = cfg["denoiser"]
    return DPMSolverMultistepScheduler(num_train_timesteps=int(d["num_train_timesteps"]),
                                       beta_schedule=d["beta_schedule"], prediction_type=d["prediction_type"])


# --------------------------------------------------------------------------- stage: vae


def _audio_media(mel: MelConfig, mels: list[np.ndarray], waves: list[torch.Tensor], stem: Path) -> None:
    """A WAV of the first waveform and a spectrogram PNG of every mel, at `stem`.wav / .png."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_wav(stem.with_suffix(".wav"), waves[0].numpy(), mel.sample_rate)
    write_png(stem.with_suffix(".png"), spectrogram_rows(mels))


def vae_stage(cfg: dict, data: Prepared) -> Stage:
    """Train the mel VAE (or frame VAE) to reconstruct; the latent scale is measured at the end."""
    v = cfg["vae"]
    vae = init_model("vae", v["init"]) if v["init"] else build_vae(cfg)
    if cfg["modality"] == "audio":
        sample = data.media[:256].float()  # (n, T, M)
        if not v["init"]:
            normalise_vae(vae, float(sample.mean()), float(sample.std()))
        dataset = MelCrops(data.media, int(v["crop_frames"]))
        probe = data.media[:64].float()[:, None]  # (n, 1, T, M)
    else:
        dataset = Frames(data.media)
        probe = torch.stack([dataset[i] for i in range(0, min(len(dataset), 64 * data.media.shape[1]),
                                                         data.media.shape[1])])  # (n, 3, H, W)

    def loss(model, x):
        return losses.vae_loss(model, x, float(v["kl_weight"]), v["loss"])

    def sample(model, step: int, folder: Path) -> None:
        device = next(model.parameters()).device
        with torch.no_grad():
            x = probe[:1].to(device)
            recon = model.decode(model.encode(x).latent_dist.mode()).sample.float().cpu()  # like x
        if cfg["modality"] == "audio":
            mel = mel_config(cfg)
            _audio_media(mel, [x[0, 0].cpu().numpy(), recon[0, 0].numpy()],
                         [griffin_lim(recon, mel)[0]], folder / f"step-{step:06d}")
        else:
            pair = torch.cat([x.cpu(), recon]).permute(0, 2, 3, 1).numpy() / 2 + 0.5  # (2, H, W, 3)
            write_png(folder / f"step-{step:06d}.png", frame_strip(to_uint8(pair), 2))

    def finish(model) -> None:
        with torch.no_grad():
            device = next(model.parameters()).device
            z = torch.cat([model.encode(probe[i:i + 8].to(device)).latent_dist.mode() for i in range(0, len(probe), 8)])
        model.register_to_config(scaling_factor=float(1.0 / z.float().std()))

    return Stage("vae", vae, dataset, loss, v, sample, finish)


# --------------------------------------------------------------------------- stage: vocoder


def vocoder_stage(cfg: dict, data: Prepared) -> Stage:
    """Train the HiFi-GAN generator with mel L1 + multi-resolution STFT losses (no discriminator: CPU budget)."""
    v = cfg["vocoder"]
    mel = mel_config(cfg)
    model = init_model("vocoder", v["init"]) if v["init"] else build_vocoder(cfg)
    if not v["init"]:
        with torch.no_grad():  # HiFi-GAN standardises its input mel with these buffers (saved with the weights)
            sample = data.media[:256].float()  # (n, T, M)
            model.mean.copy_(sample.mean(dim=(0, 1)))
            model.scale.copy_(sample.std(dim=(0, 1)).clamp(min=1e-3))
    dataset = WaveSegments(data.waves, int(v["segment_frames"]), mel.hop_length)

    def loss(voc, wave):
        target_mel = log_mel(wave, mel)[:, : wave.shape[1] // mel.hop_length]  # (B, T, M)
        pred = voc(target_mel)  # (B, samples)
        pred_mel = log_mel(pred, mel)[:, : wave.shape[1] // mel.hop_length]  # (B, T, M)
        return torch.nn.functional.l1_loss(pred_mel, target_mel) + losses.stft_loss(pred, wave)

    def sample(voc, step: int, folder: Path) -> None:
        device = next(voc.parameters()).device
        m = data.media[:1].float()  # (1, T, M)
        with torch.no_grad():
            wave = voc(m.to(device)).float().cpu()  # (1, samples)
        _audio_media(mel, [m[0].numpy(), log_mel(wave, mel)[0].numpy()], [wave[0]], folder / f"step-{step:06d}")

    return Stage("vocoder", model, dataset, loss, v, sample)


class PairedCaptioned(torch.utils.data.Dataset):
    """(clip and its time reversal (2, C, ...), their caption rows (2,)) for clips that have a reversal; with
    p_uncond both captions are dropped together, so the pair keeps one noisy start and differs only in the words."""

    def __init__(self, latents: torch.Tensor, backwards: torch.Tensor, rows: list[list[int]],
                 reversed_rows: list[list[int]], p_uncond: float):
        self.latents, self.backwards, self.rows, self.reversed_rows = latents, backwards, rows, reversed_rows
        self.index = [i for i, r in enumerate(reversed_rows) if r]
        self.p_uncond = p_uncond

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = self.index[k]
        pair = torch.stack([self.latents[i], self.backwards[i]])  # (2, C, ...)
        if float(torch.rand(())) < self.p_uncond:
            return pair, torch.zeros(2, dtype=torch.long)  # row 0: the empty prompt, for both
        return pair, torch.tensor([_pick(self.rows[i]), _pick(self.reversed_rows[i])])

    def to(self, device) -> "PairedCaptioned":
        """The pairs on `device` for gather, with both directions' caption rows as tables."""
        self.latents, self.backwards = self.latents.to(device), self.backwards.to(device)
        self.tables = tuple((t.to(device), c.to(device)) for t, c in map(caption_table, (self.rows,
                                                                                        self.reversed_rows)))
        self.index = torch.as_tensor(self.index, dtype=torch.long).to(device)
        return self

    def gather(self, k: torch.Tensor, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Pairs `k` (B,) as (B, 2, C, ...) with their caption rows (B, 2); a dropped caption drops both."""
        i = self.index[k]  # (B,)
        drop = torch.rand(len(i), generator=generator, device=i.device) < self.p_uncond
        rows = [draw_rows(table, counts, i, self.p_uncond, generator, drop) for table, counts in self.tables]
        return torch.stack([self.latents[i], self.backwards[i]], 1), torch.stack(rows, 1)


def reversed_latents(vae, data: Prepared, modality: str, latents: torch.Tensor) -> torch.Tensor:
    """Latents of every clip played backwards: the frame VAE codes frames one by one, so video reverses its
    latent frames exactly; the mel VAE's convolutions mix time steps, so audio encodes the reversed log-mels."""
    if modality == "video":
        return latents.flip(2)  # (N, C, F, h, w)
    return encode_latents(vae, Prepared(data.media.flip(1), data.captions), modality)  # (N, C, t, m)


# --------------------------------------------------------------------------- stage: denoiser


@torch.no_grad()
def encode_latents(vae, data: Prepared, modality: str, batch: int = 32) -> torch.Tensor:
    """The whole set through the trained VAE once: (N, C, t, m) audio, (N, C, F, h, w) video; scaled."""
    device = next(vae.parameters()).device
    out = []
    for start in range(0, len(data.media), batch):
        chunk = data.media[start:start + batch]
        if modality == "audio":
            x = chunk.float()[:, None].to(device)  # (b, 1, T, M)
            out.append(vae.encode(x).latent_dist.mode().cpu())  # (b, C, t, m)
        else:
            b, f = chunk.shape[:2]
            x = (chunk.reshape(b * f, *chunk.shape[2:]).permute(0, 3, 1, 2).float() / 127.5 - 1).to(device)
            z = vae.encode(x).latent_dist.mode().cpu()  # (b*F, C, h, w)
            out.append(z.reshape(b, f, *z.shape[1:]).permute(0, 2, 1, 3, 4))  # (b, C, F, h, w)
    return torch.cat(out) * vae.config.scaling_factor


@torch.no_grad()
def stream_latents(vae, cfg: dict, folder: Path) -> tuple[torch.Tensor, list[list[str]]]:
    """The denoiser's own clip set (`denoiser.clips` fresh world clips), rendered in chunks and encoded as it goes.

    Only latents are kept: 120,000 clips are 100 MB of latents but 24 GB of frames. Cached in `folder`, so a
    resumed run does not encode again."""
    import json

    from safetensors.torch import load_file, save_file

    from ..codecs.atomic import atomic_output
    from .data import shapes_chunks

    count = int(cfg["denoiser"]["clips"])
    meta = json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").exists() else {}
    if meta.get("clips") == count:
        return load_file(str(folder / "latents.safetensors"))["latents"].float(), meta["captions"]
    latents, captions = [], []
    for clips, caps in shapes_chunks(cfg, count, seed=int(cfg["seed"]) + 1):  # not the stored set's seed
        latents.append(encode_latents(vae, Prepared(clips, caps), "video").half())  # (n, C, F, h, w)
        captions += caps
    latents = torch.cat(latents)
    with atomic_output(folder) as tmp:
        tmp.mkdir(parents=True)
        save_file({"latents": latents.contiguous()}, str(tmp / "latents.safetensors"))
        (tmp / "meta.json").write_text(json.dumps({"clips": count, "captions": captions}))
    return latents.float(), captions


def sentence_only(emb: torch.Tensor, empty: torch.Tensor, p: float) -> torch.Tensor:
    """Swap the word tokens of a random share `p` of the samples for the empty prompt's, keeping their last
    (sentence) token: the denoiser must also follow a caption from its sentence embedding alone, the part of
    MiniLM that generalises to phrasings the grammar never used."""
    only = torch.rand(emb.shape[0], device=emb.device) < p  # (B,)
    out = emb.clone()
    out[only, :-1] = empty[:-1]  # (n, L, D) <- (L, D)
    return out


def denoiser_stage(cfg: dict, sample_prompt: str, latents: torch.Tensor, bank: torch.Tensor, rows: list[list[int]],
                   make_pipeline, reversal: tuple[torch.Tensor, list[list[int]]] | None = None,
                   save_pipeline=None) -> Stage:
    """Train the text-conditioned denoiser on fixed latents with v-prediction and min-SNR weighting;
    `reversal` (latents and caption rows of the clips played backwards) trains each clip beside its reversal;
    `save_pipeline(unet, step, folder)` writes a snapshot as a whole pipeline."""
    from ..core.denoisers import bind

    d = cfg["denoiser"]
    unet = init_model("denoiser", d["init"]) if d["init"] else build_unet(cfg, latents.shape[1],
                                                                          list(latents.shape[-2:]))
    scheduler = train_scheduler(cfg)
    paired = reversal is not None
    if paired:
        dataset = PairedCaptioned(latents, reversal[0], rows, reversal[1], float(d["p_uncond"]))
    else:
        dataset = Captioned(latents, rows, float(d["p_uncond"]))
    gamma, kind, t_min = float(d["min_snr_gamma"]), d["prediction_type"], int(d["t_min"])
    p_sentence_only = float(cfg["text"]["p_sentence_only"])
    device_bank = {}

    def loss(model, batch):
        x0, row = batch  # (B, C, ...), (B,); paired: (B/2, 2, C, ...), (B/2, 2)
        if paired:  # clips first, then their reversals in the same order
            x0, row = torch.cat([x0[:, 0], x0[:, 1]]), torch.cat([row[:, 0], row[:, 1]])
        if x0.device not in device_bank:
            device_bank[x0.device] = bank.to(x0.device)
        emb = device_bank[x0.device][row].float()  # (B, L, D)
        if p_sentence_only:
            emb = sentence_only(emb, device_bank[x0.device][0].float(), p_sentence_only)
        return losses.diffusion_loss(bind(model, emb), scheduler, x0, gamma, kind, paired, t_min)

    def sample(model, step: int, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        out = make_pipeline(model)(d["sample_prompt"] or sample_prompt, seed=0)
        if cfg["modality"] == "audio":
            write_wav(folder / f"step-{step:06d}.wav", out.waveforms[0], out.sample_rate)
            write_png(folder / f"step-{step:06d}.png", spectrogram_rows([out.mel[0]]))
        else:
            out.save(folder / f"step-{step:06d}.mp4")
            write_png(folder / f"step-{step:06d}.png", frame_strip(to_uint8(out.frames[0])))

    return Stage("denoiser", unet, dataset, loss, d, sample, samples_per_item=2 if paired else 1,
                 snapshot=save_pipeline)
