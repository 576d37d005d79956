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


def test_limit_peak_scales_only_waveforms_past_the_ceiling():
    from mediadiff.codecs.mel import PEAK_CEILING, limit_peak

    t = np.linspace(0, 1, 1600, dtype=np.float32)
    loud, quiet = 1.4 * np.sin(40 * t), 0.5 * np.sin(40 * t)
    out = limit_peak(np.stack([loud, quiet]))
    assert np.isclose(np.abs(out[0]).max(), PEAK_CEILING)
    assert np.allclose(out[0], loud * PEAK_CEILING / np.abs(loud).max())  # scaled as a whole
    assert np.array_equal(out[1], quiet)  # under the ceiling: untouched


def test_spectrogram_figure_has_labelled_axes():
    from mediadiff.codecs import pictures
    from mediadiff.codecs.mel import MelConfig, bin_frequencies

    cfg = MelConfig(n_mels=48, hop_length=256)
    hz = bin_frequencies(cfg)
    assert hz[0] > 0 and np.all(np.diff(hz) > 0) and hz[-1] <= cfg.f_max
    image = pictures.spectrogram_figure(np.zeros((250, 48)), 4.0, hz, "a title", scale=2)
    assert image.shape[0] > 2 * 48 and image.shape[1] > 2 * 250  # margins around the 2x body
    assert (image[:, :35].min(axis=2) < 100).any()  # tick labels left of it (Hz)
    assert (image[-14:].min(axis=2) < 100).any()  # and under it (seconds)
