"""Reliability tests: tiny pipelines (only the two layouts these tests need), real subprocesses, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for extra in (REPO, HERE.parent / "apps"):  # apphelpers (launching the app on localhost) lives in tests/apps
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

# Two shared CPU cores: every child process gets one thread.
CHILD_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
             "TRANSFORMERS_VERBOSITY": "error", "DIFFUSERS_VERBOSITY": "error", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread in this process too: on shared cores, more threads spin against each other (measured:
    a 3-job batch takes 115 s with 2 threads beside other work, 18 s with 1)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def rel_models(tmp_path_factory) -> dict[str, Path]:
    """mediadiff-video and mediadiff-audio tiny random pipelines, built once."""
    from mediadiff.checkpoints import debug

    root = tmp_path_factory.mktemp("rel-models")
    return {name: debug.build(name, root / name) for name in ("mediadiff-video", "mediadiff-audio")}


@pytest.fixture(scope="session")
def rel_pipes(rel_models):
    from mediadiff import AudioPipeline, VideoPipeline

    return (VideoPipeline.from_pretrained(rel_models["mediadiff-video"], device="cpu"),
            AudioPipeline.from_pretrained(rel_models["mediadiff-audio"], device="cpu"))


def mediadiff_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "mediadiff", *map(str, args)]


def run_cli(*args, timeout=240, **kwargs) -> subprocess.CompletedProcess:
    """`python -m mediadiff ARGS` as a user runs it."""
    return subprocess.run(mediadiff_cmd(*args), capture_output=True, text=True, timeout=timeout, env=CHILD_ENV,
                          **kwargs)


def leftovers(folder: Path) -> list[str]:
    """Everything in `folder` a failed write could have left: temp files, partial media, sidecars."""
    return sorted(p.name for p in Path(folder).iterdir())


def one_line(stderr: str) -> str:
    """The user-facing error: exactly one non-empty line and no traceback."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="session")
def app(rel_pipes, tmp_path_factory):
    """The combined app on localhost with the tiny pipelines (concurrency 1, queue 16)."""
    pytest.importorskip("gradio", reason="the apps need the `apps` extra (gradio)")
    from apphelpers import launch

    server = launch(rel_pipes, tmp_path_factory, concurrency=1, max_queue=16)
    server.video_model, server.audio_model = (Path(p.name).name for p in rel_pipes)  # the tabs' model names
    yield server
    server.demo.output_store.stop()
    server.demo.close()
