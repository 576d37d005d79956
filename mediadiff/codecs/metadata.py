"""Generation settings carried by every output: MP4 tags, WAV INFO chunk, and a .json sidecar."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


from .atomic import atomic_output


def settings_json(settings: dict) -> str:
    """Compact, key-sorted JSON: the same settings always give the same bytes."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)


def sidecar_path(media: Path) -> Path:
    """The sidecar of out.mp4 is out.mp4.json (unambiguous when out.mp4 and out.wav share a stem)."""
    return media.with_name(media.name + ".json")


def write_sidecar(media: Path, settings: dict) -> Path:
    """Write the settings beside `media`, atomically."""
    path = sidecar_path(Path(media))
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(settings, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_mp4_settings(path: str | Path) -> dict:
    """Read the settings back from an MP4's comment tag with the bundled ffmpeg."""
    import imageio_ffmpeg

    out = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
        capture_output=True, text=True, check=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("comment="):
            # ffmetadata escapes '=', ';', '#', '\\' and newlines with a backslash.
            value = line[len("comment="):]
            return json.loads(_unescape_ffmetadata(value))
    return {}


def _unescape_ffmetadata(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            i += 1
        out.append(value[i])
        i += 1
    return "".join(out)


def read_wav_settings(path: str | Path) -> dict:
    """Read the settings back from a WAV's LIST/INFO comment (ICMT)."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        comment = f.copy_metadata().get("comment")
    return json.loads(comment) if comment else {}
