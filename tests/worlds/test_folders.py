"""A folder of the user's own sounds: bad files are named and skipped, training runs on the rest."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from mediadiff.errors import ValidationError
from mediadiff.worlds import tones
from mediadiff.worlds.folders import read_folder


def _sound_folder(root, good: int = 4):
    root.mkdir()
    for i in range(good):
        spec = tones.sample_spec(np.random.default_rng(i))
        sf.write(str(root / f"sound{i}.wav"), tones.render(spec, seconds=2.0, rng=i), 16000)
        (root / f"sound{i}.txt").write_text(tones.canonical_caption(spec) + "\n")
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav file")
    (root / "broken.txt").write_text("a broken file")
    sf.write(str(root / "uncaptioned.wav"), np.zeros(16000, dtype=np.float32), 16000)
    sf.write(str(root / "fast.wav"), np.zeros(22050, dtype=np.float32), 22050)
    (root / "fast.txt").write_text("a quiet hum")
    return root


def test_read_folder_names_and_skips_bad_files(tmp_path):
    folder = _sound_folder(tmp_path / "sounds")
    found = read_folder(folder, "audio", sample_rate=16000, seconds=2.5)
    assert sorted(name for _, _, name in found.items) == [f"sound{i}.wav" for i in range(4)]
    for wave, caption, name in found.items:  # the file's own samples and caption, padded to 2.5 s with silence
        written, _ = sf.read(str(folder / name), dtype="float32")
        assert wave.shape == (40000,) and np.array_equal(wave[:32000], written) and not wave[32000:].any(), name
        assert caption == (folder / name).with_suffix(".txt").read_text().strip(), name
    cut = read_folder(folder, "audio", sample_rate=16000, seconds=1.0).items[0]
    assert np.array_equal(cut[0], sf.read(str(folder / cut[2]), dtype="float32")[0][:16000])
    reasons = dict(line.split(": ", 1) for line in found.skipped)
    assert set(reasons) == {"broken.wav", "uncaptioned.wav", "fast.wav"}
    assert "unreadable" in reasons["broken.wav"]
    assert "uncaptioned.txt" in reasons["uncaptioned.wav"]
    assert "22050" in reasons["fast.wav"] and "16000" in reasons["fast.wav"]


def test_folder_with_nothing_usable_is_refused_in_one_line(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    (root / "broken.wav").write_bytes(b"junk")
    with pytest.raises(ValidationError, match="data.folder.*broken.wav"):
        read_folder(root, "audio")


def test_training_on_a_folder_with_a_broken_file(tiny_config, tmp_path):
    """The CLI trains the VAE on the good files and names the broken one, without a traceback."""
    folder = _sound_folder(tmp_path / "sounds")
    config = tiny_config(tmp_path / "folder.yaml", "audio", data={"world": None, "folder": str(folder)},
                         vae={"steps": 2, "checkpoint_every": 2})
    cmd = [sys.executable, "-m", "mediadiff", "train", "audio", "--config", str(config), "--out",
           str(tmp_path / "run"), "--stage", "vae"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "skipped broken.wav: unreadable audio" in done.stderr
    assert "Traceback" not in done.stderr
    meta = json.loads((tmp_path / "run" / "data" / "meta.json").read_text())
    assert len(meta["captions"]) == 4 and any("broken.wav" in s for s in meta["skipped"])
    assert (tmp_path / "run" / "vae" / "final" / "config.json").exists()
    assert list((tmp_path / "run" / "vae" / "samples").glob("*.png"))
