"""Procedural training worlds (synthetic captioned media)."""
