"""The shared denoising core: schedulers, noise, guidance, text encoding and the one sampling loop."""
