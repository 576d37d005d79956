"""Mel analysis, vocoders and WAV files."""

import numpy as np
import soundfile as sf
import torch

from mediadiff.codecs.mel import MelConfig, griffin_lim, log_mel, vocode, write_wav
from mediadiff.codecs.metadata import read_wav_settings


def _tone(sr=16000, seconds=1.0, hz=440.0):
    t = torch.arange(int(sr * seconds)) / sr
    return 0.5 * torch.sin(2 * torch.pi * hz * t)[None]


def test_log_mel_layout_and_griffin_lim_round_trip():
    cfg = MelConfig()
    mel = log_mel(_tone(), cfg)  # (1, T, 64)
    assert mel.shape == (1, 101, 64)
    wave = griffin_lim(mel[:, None], cfg)
    assert wave.shape[-1] == 101 * cfg.hop_length
    spectrum = np.abs(np.fft.rfft(wave[0].numpy()))
    assert abs(np.argmax(spectrum) * 16000 / len(wave[0]) - 440) < 15  # the pitch survives phase reconstruction


def test_hifigan_vocoder_hop():
    from mediadiff.checkpoints.debug import vocoder

    out = vocode(vocoder(16), torch.zeros(2, 1, 50, 16))
    assert out.shape[0] == 2 and 50 * 160 <= out.shape[1] <= 50 * 160 + 64 and out.dtype == torch.float32


def test_wav_has_rate_length_and_settings(tmp_path):
    settings = {"prompt": "three short beeps", "seed": 3, "mediadiff_version": "0"}
    path = write_wav(tmp_path / "o.wav", _tone()[0].numpy(), 16000, settings)
    data, sr = sf.read(path)
    assert sr == 16000 and len(data) == 16000 and sf.info(path).subtype == "PCM_16"
    assert read_wav_settings(path) == settings
    assert list(tmp_path.iterdir()) == [path]
