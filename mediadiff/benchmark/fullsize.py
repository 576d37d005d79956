"""The published ModelScope text-to-video architecture with random weights, for GPU benchmarks without a download.

`python -m mediadiff.benchmark.fullsize DIR [--scale 1.0] [--dtype fp16]` saves a TextToVideoSDPipeline folder:
UNet3D with `UNet3DConditionModel()`'s defaults (320/640/1280/1280, 1,411M parameters), the SD VAE
(128/256/512/512, factor 8), a 23-layer 1024-wide CLIP text encoder (OpenCLIP ViT-H's size) over mediadiff's tiny
byte-level tokenizer (77 tokens). `--scale` shrinks every width (0.1 for a CPU smoke test; UNet3D reads
`attention_head_dim` as the head count, 64 in the published config, so a scaled copy uses 4).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def _width(channels: int, scale: float, groups: int = 32) -> int:
    """Scaled width, still divisible by the group-norm groups."""
    return max(groups, int(round(channels * scale / groups)) * groups)


def build(directory: str | Path, scale: float = 1.0, dtype: str = "fp16", seed: int = 0) -> Path:
    """Save the full-size (or scaled) ModelScope layout with random weights to `directory`."""
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from ..checkpoints.debug import byte_vocab

    torch.manual_seed(seed)
    text_dim = _width(1024, scale, 64)
    heads = 64 if scale >= 1 else 4  # UNet3D's attention_head_dim is a head count; 4 divides every scaled width
    unet = UNet3DConditionModel(block_out_channels=tuple(_width(c, scale) for c in (320, 640, 1280, 1280)),
                                cross_attention_dim=text_dim, attention_head_dim=heads)
    vae = AutoencoderKL(block_out_channels=tuple(_width(c, scale) for c in (128, 256, 512, 512)),
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        layers_per_block=2, latent_channels=4, sample_size=256)
    tok = CLIPTokenizer(vocab=byte_vocab(["<|startoftext|>", "<|endoftext|>"]), merges=[], model_max_length=77)
    vocab = len(tok)
    text = CLIPTextModel(CLIPTextConfig(
        hidden_size=text_dim, intermediate_size=4 * text_dim, num_hidden_layers=23 if scale >= 1 else 2,
        num_attention_heads=max(1, text_dim // 64), vocab_size=vocab, max_position_embeddings=77,
        bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1, projection_dim=text_dim))
    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                              clip_sample=False, set_alpha_to_one=False)
    pipe = TextToVideoSDPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=scheduler)
    pipe.to(dtype={"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[dtype])
    pipe.save_pretrained(str(directory))
    return Path(directory)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("directory")
    p.add_argument("--scale", type=float, default=1.0, help="width multiplier (1.0: the published size)")
    p.add_argument("--dtype", default="fp16", choices=("fp16", "bf16", "fp32"))
    args = p.parse_args()
    path = build(args.directory, args.scale, args.dtype)
    print(f"wrote a random ModelScope-architecture pipeline (scale {args.scale:g}, {args.dtype}) to {path}")


if __name__ == "__main__":
    main()
