"""A long-running app does not leak: a real `mediadiff serve` process (tiny models) serves 50 generations through
gradio_client; its resident memory after 50 is within 10% of its memory after 5."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CHILD_ENV, mediadiff_cmd

pytest.importorskip("gradio", reason="the apps need the `apps` extra (gradio)")

GENERATIONS, BASELINE = 50, 5


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident memory from /proc")
def test_memory_after_50_generations_within_10_percent_of_after_5(rel_models, tmp_path):
    from gradio_client import Client

    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen(mediadiff_cmd("serve", "--video-model", rel_models["mediadiff-video"], "--audio-model",
                                          rel_models["mediadiff-audio"], "--port", port, "--output-dir",
                                          tmp_path / "out", "--no-cache-examples"),
                            stdout=log, stderr=subprocess.STDOUT, env=CHILD_ENV)
    try:
        url, deadline, client = f"http://127.0.0.1:{port}/", time.time() + 180, None
        while client is None:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.time() < deadline, "the app did not start"
            try:
                client = Client(url, verbose=False, download_files=False)
            except Exception:  # noqa: BLE001 (not listening yet)
                time.sleep(0.5)
        samples = {}
        for i in range(1, GENERATIONS + 1):
            if i % 2:
                out = client.predict(f"a circle {i}", "", "mediadiff-video", 2, 8, 16, 16, 1, 4.0, "dpm++", False,
                                     i, api_name="/generate_video")
            else:
                out = client.predict(f"a beep {i}", "", "mediadiff-audio", 0.25, 1, 2.5, "dpm++", False, i,
                                     api_name="/generate_audio")
            assert out[2]["seed"] == i
            if i in (BASELINE, GENERATIONS):
                time.sleep(0.5)  # let the request's buffers be released
                samples[i] = rss_bytes(proc.pid)
        growth = samples[GENERATIONS] / samples[BASELINE] - 1
        print(f"\nleak check: RSS after {BASELINE}: {samples[BASELINE] / 2**20:.0f} MiB, after {GENERATIONS}: "
              f"{samples[GENERATIONS] / 2**20:.0f} MiB ({growth:+.1%})")
        assert growth <= 0.10, f"memory grew {growth:.1%} between generation {BASELINE} and {GENERATIONS}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
