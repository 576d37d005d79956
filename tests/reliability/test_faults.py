"""Fault injection: whatever goes wrong, the requested path holds the complete file or nothing, no temp file is
left beside it, the user gets one clear line and the documented exit code.

Faults: an exception in the step loop, in the VAE decode and in the file encoders (MP4 through ffmpeg, WAV through
soundfile); a real allocation failure; SIGINT and SIGTERM sent to a running `python -m mediadiff video`; writing
into a full filesystem (a small tmpfs, and a file-size limit via `ulimit -f`).
"""

from __future__ import annotations

import errno
import os
import re
import resource
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch
from conftest import CHILD_ENV, leftovers, mediadiff_cmd, one_line

from mediadiff.cli import main

TINY_VIDEO = ["--frames", "2", "--height", "8", "--width", "8", "--steps", "2", "--seed", "3"]
TINY_AUDIO = ["--seconds", "0.5", "--steps", "2", "--seed", "3"]


def cli(capsys, kind, out, model, extra) -> tuple[int, str]:
    code = main([kind, "x", "-o", str(out), "--model", str(model), "--quiet", *extra])
    return code, capsys.readouterr().err


# --- exceptions inside the pipeline and the encoders (the real CLI entry point, in-process) -----------------------

def test_exception_in_the_step_loop_leaves_nothing(rel_models, tmp_path, monkeypatch):
    import diffusers

    calls = []
    real_step = diffusers.DPMSolverMultistepScheduler.step

    def failing_step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("injected fault in step 2")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(diffusers.DPMSolverMultistepScheduler, "step", failing_step)
    with pytest.raises(RuntimeError, match="injected fault in step 2"):  # a bug is reported as itself
        main(["video", "x", "-o", str(tmp_path / "out.mp4"), "--model", str(rel_models["mediadiff-video"]),
              "--quiet", *TINY_VIDEO])
    assert len(calls) == 2 and leftovers(tmp_path) == []


def test_cancel_in_the_step_loop_leaves_nothing(rel_pipes, tmp_path):
    import threading

    from mediadiff import Cancelled

    video, _ = rel_pipes
    flag = threading.Event()
    with pytest.raises(Cancelled, match="at step 1"):
        video("x", frames=2, height=8, width=8, steps=4, seed=1, cancel=flag,
              callback=lambda i, n, latents: flag.set()).save(tmp_path / "out.mp4")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fault,code,message", [
    ("gpu-oom", 1, "mediadiff: error: the GPU ran out of memory; lower --frames, --height/--width or --num-outputs, "
                   "or use --dtype fp16"),
    ("cpu-oom", 1, "mediadiff: error: out of memory; lower --frames, --height/--width or --num-outputs"),
])
def test_out_of_memory_in_the_vae_decode(rel_models, tmp_path, monkeypatch, capsys, fault, code, message):
    import diffusers

    def decode(self, *args, **kwargs):
        if fault == "cpu-oom":
            torch.empty(2**62, dtype=torch.uint8)  # a real allocation failure from torch's CPU allocator
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(diffusers.AutoencoderKL, "decode", decode)
    got, err = cli(capsys, "video", tmp_path / "out.mp4", rel_models["mediadiff-video"], TINY_VIDEO)
    assert (got, one_line(err)) == (code, message)
    assert leftovers(tmp_path) == []


def fake_ffmpeg(folder: Path) -> Path:
    """An ffmpeg that writes half a file to its output, complains and fails, like one hitting a broken disk."""
    script = folder / "ffmpeg"
    script.write_text('#!/bin/sh\nfor last; do :; done\ncat > /dev/null\nprintf "\\000\\000\\000\\030ftypisom" > "$last"\n'
                      'echo "av_interleaved_write_frame(): Input/output error" >&2\nexit 1\n')
    script.chmod(0o755)
    return script


def test_mp4_encoder_failure_removes_the_half_written_file(rel_models, tmp_path, monkeypatch, capsys):
    import imageio_ffmpeg

    bin_dir = tmp_path.parent / f"bin-{uuid.uuid4().hex[:6]}"
    bin_dir.mkdir()
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(fake_ffmpeg(bin_dir)))
    code, err = cli(capsys, "video", tmp_path / "out.mp4", rel_models["mediadiff-video"], TINY_VIDEO)
    assert code == 1
    assert one_line(err) == "mediadiff: error: ffmpeg could not write out.mp4: " \
                            "av_interleaved_write_frame(): Input/output error"
    assert leftovers(tmp_path) == []


def test_wav_encoder_failure_leaves_nothing(rel_models, tmp_path, monkeypatch, capsys):
    import soundfile

    real_write = soundfile.SoundFile.write

    def write_half_then_fail(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(soundfile.SoundFile, "write", write_half_then_fail)
    code, err = cli(capsys, "audio", tmp_path / "out.wav", rel_models["mediadiff-audio"], TINY_AUDIO)
    assert code == 1 and one_line(err) == f"mediadiff: error: cannot write the output: {os.strerror(errno.ENOSPC)}"
    assert leftovers(tmp_path) == []


def test_an_existing_file_survives_a_failed_overwrite(rel_models, tmp_path, monkeypatch, capsys):
    """Atomic replace: a failed run leaves the previous complete file untouched, not a mix."""
    import imageio_ffmpeg

    out = tmp_path / "out.mp4"
    assert cli(capsys, "video", out, rel_models["mediadiff-video"], TINY_VIDEO)[0] == 0
    before = out.read_bytes()
    bin_dir = tmp_path.parent / f"bin-{uuid.uuid4().hex[:6]}"
    bin_dir.mkdir()
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", lambda: str(fake_ffmpeg(bin_dir)))
    assert cli(capsys, "video", out, rel_models["mediadiff-video"], [*TINY_VIDEO[:-1], "4"])[0] == 1
    assert out.read_bytes() == before and leftovers(tmp_path) == ["out.mp4", "out.mp4.json"]


# --- signals to a real `python -m mediadiff video` --------------------------------------------------------------

SIGNALS = {"SIGINT": (signal.SIGINT, 130, "mediadiff: interrupted; no partial output was left"),
           "SIGTERM": (signal.SIGTERM, 143, "mediadiff: terminated; no partial output was left")}
CASES = [("SIGTERM", "denoising"), ("SIGINT", "writing")]  # each signal once, each phase once


def slow_disk_ffmpeg(folder: Path) -> Path:
    """The real ffmpeg, then a long stall before returning, as on a slow disk: the temp file is there, unrenamed."""
    import imageio_ffmpeg

    script = folder / "ffmpeg-slow-disk"
    script.write_text(f'#!/bin/sh\n"{imageio_ffmpeg.get_ffmpeg_exe()}" "$@" || exit $?\nexec sleep 120\n')
    script.chmod(0o755)
    return script


class Run:
    """One `python -m mediadiff video` to be signalled once it reaches `phase`."""

    def __init__(self, models, root: Path, name: str, phase: str):
        self.name, self.phase = name, phase
        self.folder = root / f"{name}-{phase}"
        self.folder.mkdir()
        self.stderr_path = root / f"{name}-{phase}.stderr"
        env = dict(CHILD_ENV)
        if phase == "writing":
            env["IMAGEIO_FFMPEG_EXE"] = str(slow_disk_ffmpeg(root))
        steps = 1000 if phase == "denoising" else 1  # many cheap steps: the signal lands inside the step loop
        cmd = mediadiff_cmd("video", "a red circle", "-o", self.folder / "out.mp4", "--model",
                            models["mediadiff-video"], "--seed", 1, "--frames", 2, "--height", 8, "--width", 8,
                            "--steps", steps)
        self.stderr = open(self.stderr_path, "wb")
        # SIGINT at its default, as in a terminal: a suite started in the background (`pytest &` from a script)
        # inherits an ignored SIGINT, which Python, like any program, keeps ignoring.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.stderr, env=env,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.signalled = False

    def text(self) -> str:
        return self.stderr_path.read_bytes().decode(errors="replace")

    def ready(self) -> bool:
        if self.phase == "denoising":  # the progress bar has counted at least one step
            return re.search(r"\| [1-9]\d*/1000", self.text()) is not None
        return any(".partial" in n for n in leftovers(self.folder))  # ffmpeg has written the temp file


def test_signals_to_running_generations(rel_models, tmp_path):
    """SIGTERM while denoising (after the first step), SIGINT while the MP4's temp file is written; both commands
    run at once."""
    runs = [Run(rel_models, tmp_path, name, phase) for name, phase in CASES]
    deadline = time.time() + 180
    try:
        while not all(r.signalled for r in runs):
            assert time.time() < deadline, "timed out waiting for the runs to reach their phase"
            for r in runs:
                if not r.signalled:
                    assert r.proc.poll() is None, f"{r.name}/{r.phase} exited early: {r.text()[-2000:]}"
                    if r.ready():
                        os.kill(r.proc.pid, SIGNALS[r.name][0])
                        r.signalled = True
            time.sleep(0.005)
        for r in runs:
            r.proc.wait(timeout=60)
    finally:
        for r in runs:
            if r.proc.poll() is None:
                r.proc.kill()
            r.stderr.close()
    for r in runs:
        _, code, message = SIGNALS[r.name]
        err = r.text()
        last = err.replace("\r", "\n").strip().splitlines()[-1]
        assert "Traceback" not in err, err[-3000:]
        assert (r.proc.returncode, last) == (code, message), (r.name, r.phase, err[-2000:])
        assert leftovers(r.folder) == [], (r.name, r.phase)


# --- a full filesystem -----------------------------------------------------------------------------------------

def can_mount_tmpfs(tmp_path: Path) -> bool:
    probe = tmp_path / "probe-mount"
    probe.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True).returncode
    if ok == 0:
        subprocess.run(["umount", "-l", str(probe)], capture_output=True)
    probe.rmdir()
    return ok == 0


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs with ~8 KiB left (needs mount rights: root, or skipped)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}); the ulimit -f test covers a full disk")
    try:
        with open(mnt / "filler", "wb") as f:
            try:
                f.write(b"\0" * (1024 * 1024 - 8 * 1024))
            except OSError:
                pass
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _no_space_runs(models, folder: Path, kinds=("video", "audio"), **popen) -> list[tuple[str, subprocess.Popen]]:
    runs = [("out.mp4", ["video", "x", "-o", folder / "out.mp4", "--model", models["mediadiff-video"], "--quiet",
                         "--frames", "16", "--height", "64", "--width", "64", "--steps", "1", "--seed", "1"]),
            ("out.wav", ["audio", "x", "-o", folder / "out.wav", "--model", models["mediadiff-audio"], "--quiet",
                         *TINY_AUDIO])]
    return [(name, subprocess.Popen(mediadiff_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=CHILD_ENV, **popen)) for name, args in runs if args[0] in kinds]


def test_full_filesystem(rel_models, full_disk):
    for name, proc in _no_space_runs(rel_models, full_disk):
        _, err = proc.communicate(timeout=240)
        line = one_line(err)
        assert proc.returncode == 1, err
        assert line.startswith("mediadiff: error: ") and "No space left on device" in line, line
        assert leftovers(full_disk) == ["filler"], name


def test_file_size_limit(rel_models, tmp_path):
    """`ulimit -f 8` (8 KiB) in the child: ffmpeg is killed by SIGXFSZ (without a tmpfs, Python's EFBIG too)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (8 * 1024, 8 * 1024))

    kinds = ("video",) if can_mount_tmpfs(tmp_path) else ("video", "audio")  # else the tmpfs test covers WAV
    for name, proc in _no_space_runs(rel_models, tmp_path, kinds, preexec_fn=limit):
        _, err = proc.communicate(timeout=240)
        line = one_line(err)
        assert proc.returncode == 1, err
        assert line.startswith("mediadiff: error: ") and ("File too large" in line or "file size limit" in line), line
        assert leftovers(tmp_path) == [], name


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
