"""The shared denoising core: schedulers, noise, guidance, text encoding and the one sampling loop."""

MAX_SEED = 2**32 - 1  # 32-bit seeds stay portable across generators, UIs and JSON


def draw_seed() -> int:
    """A fresh random seed, recorded with the output so that the run can be replayed."""
    import random

    return random.SystemRandom().randint(0, MAX_SEED)
