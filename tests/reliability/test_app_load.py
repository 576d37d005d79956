"""Load test of the app on localhost: 8 concurrent gradio_client clients x 5 requests against tiny models.

Zero failed requests, every output distinct and valid; past the queue bound, new requests get Gradio's clean
"Queue is full" answer and the app keeps serving. p50/p95 latency is printed (a benchmark figure, not asserted).
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio", reason="the apps need the `apps` extra (gradio)")

from apphelpers import audio_args, launch, video_args  # noqa: E402

CLIENTS, REQUESTS = 8, 5
VIDEO = dict(frames=2, width=16, height=16, steps=1)
AUDIO = dict(seconds=0.25, steps=1)


def start(rel_pipes, tmp_path_factory, **config):
    server = launch(rel_pipes, tmp_path_factory, **config)
    server.video_model, server.audio_model = (Path(p.name).name for p in rel_pipes)  # the tabs' model names
    return server


def close(server) -> None:
    server.demo.output_store.stop()
    server.demo.close()


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values), q))


def test_eight_clients_five_requests_each(rel_pipes, tmp_path_factory, capsys):
    import soundfile

    from mediadiff.codecs.frames import read_video

    server = start(rel_pipes, tmp_path_factory, concurrency=1, max_queue=16)
    results, errors, latencies = {}, [], []
    lock = threading.Lock()

    def client_loop(c: int) -> None:
        try:
            client = server.client()
        except Exception as e:  # noqa: BLE001
            errors.append(f"client {c}: {type(e).__name__}: {e}")
            return
        for r in range(REQUESTS):
            seed, video = 1000 * c + r, (c + r) % 2 == 0
            args = video_args(server, f"client {c} request {r}", seed=seed, **VIDEO) if video else \
                audio_args(server, f"client {c} request {r}", seed=seed, **AUDIO)
            start = time.perf_counter()
            try:
                out = client.predict(*args, api_name="/generate_video" if video else "/generate_audio")
            except Exception as e:  # noqa: BLE001 (every failure is counted)
                errors.append(f"client {c} request {r}: {type(e).__name__}: {e}")
                continue
            with lock:
                latencies.append(time.perf_counter() - start)
                results[(c, r)] = (video, seed, out)

    threads = [threading.Thread(target=client_loop, args=(c,)) for c in range(CLIENTS)]
    started = time.perf_counter()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        wall = time.perf_counter() - started
    finally:
        close(server)
    assert errors == [] and len(results) == CLIENTS * REQUESTS, errors[:5]
    digests = set()
    for (c, r), (video, seed, (media, _, settings, download, used_seed)) in results.items():
        assert settings["prompt"] == f"client {c} request {r}" and settings["seed"] == used_seed == seed
        data = Path(media).read_bytes()
        digests.add(hashlib.sha256(data).hexdigest())
        if video:
            frames, fps = read_video(media)
            assert frames.shape == (VIDEO["frames"], VIDEO["height"], VIDEO["width"], 3) and fps == 8
        else:
            wave, rate = soundfile.read(media)
            assert rate == 16000 and len(wave) == int(AUDIO["seconds"] * rate) and np.isfinite(wave).all()
    assert len(digests) == CLIENTS * REQUESTS  # every output distinct: no response went to the wrong client
    with capsys.disabled():
        print(f"\nload test: {CLIENTS} clients x {REQUESTS} requests, concurrency 1: "
              f"p50 {percentile(latencies, 50):.2f} s, p95 {percentile(latencies, 95):.2f} s, "
              f"{len(latencies) / wall:.2f} requests/s, {wall:.1f} s in all")


def test_queue_full_is_answered_cleanly_under_a_burst(rel_pipes, tmp_path_factory):
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    server = start(rel_pipes, tmp_path_factory, concurrency=1, max_queue=2)
    try:
        clients = [server.client() for _ in range(CLIENTS)]
        jobs = [c.submit(*video_args(server, f"burst {i}", seed=i, **{**VIDEO, "steps": 3}),
                         api_name="/generate_video") for i, c in enumerate(clients)]
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(("ok", job.result(timeout=300)[2]["prompt"]))
            except (QueueError, AppError, ValueError) as e:
                outcomes.append(("refused", str(e)))
        refused = [text for kind, text in outcomes if kind == "refused"]
        assert refused and all("Queue is full" in text for text in refused), outcomes
        assert any(kind == "ok" for kind, _ in outcomes)
        assert all(text.startswith("burst ") for kind, text in outcomes if kind == "ok")
        # The app is not wedged: once the burst has drained, it answers again.
        assert server.client().predict(*audio_args(server, "after the burst", seed=1, **AUDIO),
                                       api_name="/generate_audio")[2]["prompt"] == "after the burst"
    finally:
        close(server)
