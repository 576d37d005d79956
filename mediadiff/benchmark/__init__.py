"""Benchmarks: per-stage timing, peak memory, FLOP counting, and diffusers' reference pipelines run alongside."""
