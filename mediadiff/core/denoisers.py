"""How each diffusers denoiser takes its conditioning: the one place that knows their call conventions."""

from __future__ import annotations

import torch

from .sampling import ModelFn

VIDEO_DENOISERS = {"UNet3DConditionModel", "UNetMotionModel"}
AUDIO_DENOISERS = {"UNet2DConditionModel"}


def conditions_by_class_label(unet) -> bool:
    """AudioLDM-style UNets take the pooled text embedding as a class embedding, not cross-attention."""
    return getattr(unet.config, "class_embed_type", None) == "simple_projection"


def kind(unet) -> str:
    """How `unet` takes text: "motion" (one row per frame), "class_label" (pooled, AudioLDM) or "cross_attention"."""
    if type(unet).__name__ == "UNetMotionModel":
        return "motion"
    return "class_label" if conditions_by_class_label(unet) else "cross_attention"


def for_window(unet, embeddings: torch.Tensor, per_frame: bool, window: slice) -> torch.Tensor:
    """The text a window of frames (or latent rows) receives. A per-frame schedule (B, F, ...) (prompt travel)
    becomes one row per frame for a motion UNet, (B * Fw, ...), and its mean over the window for a UNet that
    takes one row per clip; constant embeddings (B, ...) pass as they are."""
    if not per_frame:
        return embeddings
    rows = embeddings[:, window]  # (B, Fw, ...)
    return rows.flatten(0, 1) if kind(unet) == "motion" else rows.mean(1)


class Conditioned(torch.nn.Module):
    """The UNet as forward(x, t, embeddings) -> prediction: tensors in, a tensor out (so it can be traced)."""

    def __init__(self, unet: torch.nn.Module):
        super().__init__()
        self.unet = unet
        self.kind = kind(unet)

    def forward(self, x: torch.Tensor, t: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        if self.kind == "motion":
            # UNetMotionModel folds frames into the batch and expects one text row per frame (for_window may have
            # given them already).
            per_frame = (embeddings if embeddings.shape[0] != x.shape[0]
                         else embeddings.repeat_interleave(x.shape[2], dim=0))  # x: (B, C, F, H, W) -> (B*F, L, D)
            return self.unet(x, t, encoder_hidden_states=per_frame, return_dict=False)[0]
        if self.kind == "class_label":
            return self.unet(x, t, encoder_hidden_states=None, class_labels=embeddings, return_dict=False)[0]
        return self.unet(x, t, encoder_hidden_states=embeddings, return_dict=False)[0]


def bind(unet, embeddings: torch.Tensor, forward=None) -> ModelFn:
    """model_fn(x, t) for `unet` with the (guidance-stacked) text `embeddings` bound in.

    `forward(x, t, embeddings)` replaces the eager call (a frozen graph of the same UNet, core.frozen)."""
    forward = forward or Conditioned(unet)

    def model_fn(x: torch.Tensor, t) -> torch.Tensor:
        return forward(x, t, embeddings)

    return model_fn
