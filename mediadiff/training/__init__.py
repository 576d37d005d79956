"""Training: modality-agnostic stages (vae, vocoder, denoiser) on accelerate, driven by a YAML config."""
