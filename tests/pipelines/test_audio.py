"""AudioPipeline through the Python API: length, rate, vocoder and Griffin-Lim, WAV files."""

import numpy as np
import soundfile as sf

from mediadiff import AudioPipeline
from mediadiff.codecs.metadata import read_wav_settings


def test_waveform_length_follows_seconds(audio_pipe):
    for seconds in (0.25, 1.3):
        out = audio_pipe("three short beeps", seconds=seconds, steps=2, seed=1)
        assert out.waveforms.shape == (1, int(seconds * 16000)) and out.sample_rate == 16000
        assert np.isfinite(out.waveforms).all()
    assert out.mel.shape[0] == 1 and out.mel.shape[2] == 16  # (N, T, n_mels) for the spectrogram view


def test_seed_reproducible_bit_for_bit(audio_pipe):
    a = audio_pipe("a low hum", seconds=0.5, steps=3, seed=4)
    b = audio_pipe("a low hum", seconds=0.5, steps=3, seed=4)
    assert np.array_equal(a.waveforms, b.waveforms)


def test_wav_file_and_metadata(audio_pipe, tmp_path):
    out = audio_pipe("a drum hit", seconds=0.5, steps=2, seed=8)
    (path,) = out.save(tmp_path / "o.wav")
    data, sr = sf.read(path)
    assert sr == 16000 and len(data) == 8000
    meta = read_wav_settings(path)
    assert meta["prompt"] == "a drum hit" and meta["seed"] == 8 and meta["seconds"] == 0.5


def test_griffin_lim_when_no_vocoder(tmp_path):
    from mediadiff.checkpoints import debug

    folder = debug.build("mediadiff-audio", tmp_path / "novocoder", with_vocoder=False)
    pipe = AudioPipeline.from_pretrained(folder, device="cpu")
    assert "vocoder" not in pipe.components
    out = pipe("noise", seconds=0.5, steps=2, seed=1)
    assert out.waveforms.shape == (1, 8000) and "vocoder" in out.timings
