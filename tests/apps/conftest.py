"""The apps under test: tiny random pipelines in a real Gradio server on localhost, driven by real clients."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
pytest.importorskip("gradio", reason="the apps need the `apps` extra (gradio)")

from apphelpers import launch  # noqa: E402


@pytest.fixture(scope="session")
def app_pipes(tmp_path_factory):
    """(video, audio) tiny pipelines: only the two layouts the apps need, built once."""
    from mediadiff import AudioPipeline, VideoPipeline
    from mediadiff.checkpoints import debug

    root = tmp_path_factory.mktemp("app-models")
    video = VideoPipeline.from_pretrained(debug.build("mediadiff-video", root / "tiny-video"), device="cpu")
    audio = AudioPipeline.from_pretrained(debug.build("mediadiff-audio", root / "tiny-audio"), device="cpu")
    return video, audio


@pytest.fixture(scope="session")
def server(app_pipes, tmp_path_factory):
    """The combined app (both tabs), concurrency 1, shared by the client, security, concurrency and browser tests."""
    s = launch(app_pipes, tmp_path_factory, concurrency=1, max_queue=8, cache_examples="lazy")
    yield s
    s.demo.output_store.stop()
    s.demo.close()
