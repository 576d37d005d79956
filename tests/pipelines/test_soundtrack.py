"""A clip with its soundtrack: one seed, the audio pipeline's own sound as long as the clip, muxed as AAC."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from mediadiff.codecs.frames import read_video
from mediadiff.codecs.metadata import read_mp4_settings
from mediadiff.errors import ValidationError

# AAC at 128 kb/s is lossy: a decoded soundtrack is compared with the samples muxed by signal-to-error ratio.
# Measured: 25.6 dB on the half-second 440 Hz tone below, resampled to 48 kHz and cut off abruptly (AAC's pre-echo
# at the cut); 43.7 dB on a steady 16 kHz tone; the shipped models' sounds: tests/cli/test_sound_cli.py. (The tiny
# random audio model's output is near silence, about 1e-9: there only lengths and streams are checked.)
MIN_SNR_DB = 20.0
AAC_FRAME = 1024  # samples: one AAC frame, the granularity of the audio stream's duration


def streams(path) -> list[str]:
    """The stream lines the bundled ffmpeg prints for a file."""
    import imageio_ffmpeg

    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                          text=True)
    return [line.strip() for line in proc.stderr.splitlines() if line.strip().startswith("Stream #")]


def decoded_audio(path, rate: int) -> np.ndarray:
    """The file's audio stream decoded by the bundled ffmpeg to mono float32 at `rate`."""
    import imageio_ffmpeg

    proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a",
                           "-f", "f32le", "-ac", "1", "-ar", str(rate), "-"], capture_output=True, check=True)
    return np.frombuffer(proc.stdout, dtype="<f4")


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    n = min(len(reference), len(decoded))
    error = reference[:n] - decoded[:n]
    return float(10 * np.log10(np.sum(reference[:n] ** 2) / max(np.sum(error ** 2), 1e-20)))


def test_sound_is_the_audio_pipelines_own_for_the_clips_seed(video_pipe, audio_pipe, tmp_path):
    out = video_pipe("a red circle", steps=2, seed=5, frames=12, fps=8, sound=audio_pipe, sound_prompt="beeps")
    seconds = 12 / 8
    assert out.sound.shape == (1, round(seconds * out.sample_rate))
    alone = audio_pipe("beeps", seconds=seconds, seed=5)
    n = min(alone.waveforms.shape[1], out.sound.shape[1])
    assert np.array_equal(out.sound[0, :n], alone.waveforms[0, :n])
    assert out.settings["seed"] == 5 and out.settings["sound"]["seed"] == 5
    assert out.settings["sound"]["prompt"] == "beeps" and out.settings["sound"]["seconds"] == seconds

    path = out.save(tmp_path / "clip.mp4")[0]
    lines = streams(path)
    assert sum("Video:" in line for line in lines) == 1 and sum("Audio: aac" in line for line in lines) == 1, lines
    frames, fps = read_video(path)
    decoded = decoded_audio(path, out.sample_rate)
    assert abs(len(decoded) / out.sample_rate - len(frames) / fps) <= AAC_FRAME / out.sample_rate
    record = read_mp4_settings(path)
    assert record["sound"]["seed"] == 5 and record["sound"]["model"] == audio_pipe.name


def test_several_clips_each_get_the_sound_of_their_seed(video_pipe, audio_pipe, tmp_path):
    out = video_pipe("a red circle", steps=2, seed=7, frames=8, num_outputs=2, sound=audio_pipe)
    second = audio_pipe("a red circle", seconds=1.0, seed=8)
    n = min(second.waveforms.shape[1], out.sound.shape[1])
    # A batch of two vs one: the same draws, float sums in another order.
    scale = np.abs(second.waveforms).max()
    np.testing.assert_allclose(out.sound[1, :n], second.waveforms[0, :n], rtol=0, atol=1e-4 * scale)
    paths = out.save(tmp_path / "clip.mp4")
    assert read_mp4_settings(paths[1])["sound"]["seed"] == 8 and read_mp4_settings(paths[1])["seed"] == 8


def test_given_sound_is_resampled_and_fitted_to_the_clip(video_pipe, tmp_path):
    import soundfile as sf

    rate = 7000  # AAC does not take 7 kHz: resampled to 48 kHz
    t = np.arange(rate // 2) / rate  # half a second of 440 Hz, stereo: padded to the clip's second
    sf.write(tmp_path / "given.wav", np.stack([np.sin(2 * np.pi * 440 * t)] * 2, axis=1) * 0.5, rate)
    out = video_pipe("a red circle", steps=2, seed=1, frames=8, fps=8, sound_file=tmp_path / "given.wav")
    assert out.sample_rate == 48000 and out.sound.shape == (1, 48000)
    assert np.abs(out.sound[0, 30000:]).max() == 0  # padded with silence past the given half second
    assert out.settings["sound"]["file"]["name"] == "given.wav"
    path = out.save(tmp_path / "clip.mp4")[0]
    snr = snr_db(out.sound[0], decoded_audio(path, 48000))
    print(f"AAC signal-to-error on a 440 Hz tone: {snr:.1f} dB")
    assert snr >= MIN_SNR_DB


def test_sound_needs_an_integer_seed_and_an_mp4(video_pipe, audio_pipe, tmp_path):
    import torch

    with pytest.raises(ValidationError, match="seed"):
        video_pipe("a red circle", steps=2, seed=torch.Generator().manual_seed(0), sound=audio_pipe)
    out = video_pipe("a red circle", steps=2, seed=1, frames=8, sound=audio_pipe)
    with pytest.raises(Exception, match="only an .mp4"):
        out.save(tmp_path / "clip.gif")
    assert not list(tmp_path.iterdir())
