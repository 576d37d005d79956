"""Evaluation: analysers that measure generated media against their prompts."""
