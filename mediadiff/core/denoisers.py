"""How each diffusers denoiser takes its conditioning: the one place that knows their call conventions."""

from __future__ import annotations

import torch

from .sampling import ModelFn

VIDEO_DENOISERS = {"UNet3DConditionModel", "UNetMotionModel"}
AUDIO_DENOISERS = {"UNet2DConditionModel"}


def conditions_by_class_label(unet) -> bool:
    """AudioLDM-style UNets take the pooled text embedding as a class embedding, not cross-attention."""
    return getattr(unet.config, "class_embed_type", None) == "simple_projection"


def bind(unet, embeddings: torch.Tensor) -> ModelFn:
    """model_fn(x, t) for `unet` with the (guidance-stacked) text `embeddings` bound in."""
    kind = type(unet).__name__

    if kind == "UNetMotionModel":
        def model_fn(x: torch.Tensor, t) -> torch.Tensor:
            # UNetMotionModel folds frames into the batch and expects one text row per frame.
            frames = x.shape[2]  # x: (B, C, F, H, W)
            per_frame = embeddings.repeat_interleave(frames, dim=0)  # (B*F, L, D)
            return unet(x, t, encoder_hidden_states=per_frame, return_dict=False)[0]
        return model_fn

    if conditions_by_class_label(unet):
        def model_fn(x: torch.Tensor, t) -> torch.Tensor:
            return unet(x, t, encoder_hidden_states=None, class_labels=embeddings, return_dict=False)[0]
        return model_fn

    def model_fn(x: torch.Tensor, t) -> torch.Tensor:
        return unet(x, t, encoder_hidden_states=embeddings, return_dict=False)[0]
    return model_fn
