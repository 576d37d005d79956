"""The shared denoising core: schedulers, noise, guidance, text encoding and the one sampling loop."""

MAX_SEED = 2**32 - 1  # 32-bit seeds stay portable across generators, UIs and JSON
