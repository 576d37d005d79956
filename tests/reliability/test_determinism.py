"""Same seed, same settings, same device: the same WAV bytes and the same decoded MP4 frames, across runs (one
process, twice, with warm caches) and across processes (`python -m mediadiff` subprocesses and this process)."""

from __future__ import annotations

import subprocess

import numpy as np
from conftest import CHILD_ENV, mediadiff_cmd

from mediadiff.codecs.frames import read_video

VIDEO = dict(frames=3, height=16, width=16, steps=3, guidance=4.0, scheduler="euler-a", seed=1234)  # euler-a: noise
AUDIO = dict(seconds=0.5, steps=3, guidance=2.5, scheduler="ddpm", seed=4321)  # ddpm: fresh noise at every step


def cli_args(kind: str, out, model, settings: dict) -> list[str]:
    args = [kind, "a red circle moving right" if kind == "video" else "three short beeps", "-o", str(out),
            "--model", str(model), "--quiet"]
    for k, v in settings.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return args


def test_same_seed_same_bytes_and_frames_across_runs_and_processes(rel_models, rel_pipes, tmp_path):
    video_pipe, audio_pipe = rel_pipes
    # Another process per modality, started together.
    procs = {}
    for kind, settings in (("video", VIDEO), ("audio", AUDIO)):
        out = tmp_path / f"{kind}-process1.{'mp4' if kind == 'video' else 'wav'}"
        procs[out] = subprocess.Popen(mediadiff_cmd(*cli_args(kind, out, rel_models[f"mediadiff-{kind}"], settings)),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=CHILD_ENV)
    # Meanwhile, this process: each twice (the second run with warm text caches and scheduler state).
    for n in (1, 2):
        video_pipe("a red circle moving right", **VIDEO).save(tmp_path / f"video-here{n}.mp4")
        audio_pipe("three short beeps", **AUDIO).save(tmp_path / f"audio-here{n}.wav")
    for out, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    # The settings tags name the model as given: the same folder everywhere, so whole files can be compared.
    wavs = [(tmp_path / f"audio-{w}.wav").read_bytes() for w in ("process1", "here1", "here2")]
    assert all(w == wavs[0] for w in wavs), "WAV bytes differ between runs or processes"
    clips = [read_video(tmp_path / f"video-{w}.mp4")[0] for w in ("process1", "here1", "here2")]
    assert clips[0].shape == (3, 16, 16, 3)
    assert all(np.array_equal(c, clips[0]) for c in clips), "decoded MP4 frames differ between runs or processes"
    # Not vacuous: another seed gives other frames and other bytes.
    other = video_pipe("a red circle moving right", **{**VIDEO, "seed": 1235}).save(tmp_path / "video-other.mp4")
    assert not np.array_equal(read_video(other[0])[0], clips[0])
    audio_pipe("three short beeps", **{**AUDIO, "seed": 4322}).save(tmp_path / "audio-other.wav")
    assert (tmp_path / "audio-other.wav").read_bytes() != wavs[0]
