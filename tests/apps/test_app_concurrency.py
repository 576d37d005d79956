"""Several clients at once: all complete, each gets its own output, the queue is first in first out and bounded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from apphelpers import audio_args, launch, video_args


def test_four_clients_at_once_each_get_their_own_output_in_queue_order(server):
    from gradio_client.utils import Status

    from mediadiff.codecs.frames import read_video

    clients = [server.client() for _ in range(4)]
    assert len({c.session_hash for c in clients}) == 4
    jobs = []
    for i, client in enumerate(clients):  # video and audio requests, one running and the rest waiting
        args = video_args(server, f"client {i}: a circle", seed=100 + i, frames=3 + i) if i % 2 == 0 else \
            audio_args(server, f"client {i}: a beep", seed=100 + i, seconds=0.25 * i)
        jobs.append(client.submit(*args, api_name="/generate_video" if i % 2 == 0 else "/generate_audio"))
        deadline = time.time() + 30
        while jobs[-1].status().code in (Status.STARTING, Status.JOINING_QUEUE):  # in the queue before the next
            assert time.time() < deadline
            time.sleep(0.01)
    results = [job.result(timeout=300) for job in jobs]
    for i, (media, _, settings, download, seed) in enumerate(results):
        assert settings["prompt"].startswith(f"client {i}:") and settings["seed"] == seed == 100 + i
        if i % 2 == 0:
            assert settings["frames"] == 3 + i and len(read_video(media)[0]) == 3 + i
        else:
            assert settings["seconds"] == 0.25 * i
    assert len({r[0] for r in results}) == 4  # four distinct files
    # The server wrote them in arrival order: one shared queue, concurrency 1, video and audio alike (FIFO).
    written = [(server.config.output_dir / Path(r[0]).name).stat().st_mtime_ns for r in results]
    assert written == sorted(written)


def test_past_max_queue_new_requests_get_the_busy_answer(app_pipes, tmp_path_factory):
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    small = launch(app_pipes, tmp_path_factory, concurrency=1, max_queue=1)
    try:
        clients = [small.client() for _ in range(4)]
        jobs = [c.submit(*video_args(small, f"busy {i}", seed=i, steps=3), api_name="/generate_video")
                for i, c in enumerate(clients)]
        outcomes = []
        for job in jobs:
            try:
                job.result(timeout=300)
                outcomes.append("ok")
            except (QueueError, AppError, ValueError) as e:
                outcomes.append(str(e))
        assert outcomes.count("ok") >= 1 and any("Queue is full" in o for o in outcomes), outcomes
        # Once the queue drains, the app answers again.
        assert small.client().predict(*audio_args(small, "after the rush", seed=1),
                                      api_name="/generate_audio")[2]["prompt"] == "after the rush"
    finally:
        small.demo.output_store.stop()
        small.demo.close()


@pytest.mark.parametrize("concurrency", [2])
def test_concurrency_limit_is_configurable(app_pipes, tmp_path_factory, concurrency):
    two = launch(app_pipes, tmp_path_factory, concurrency=concurrency, max_queue=4)
    try:
        fns = [f for f in two.demo.fns.values() if f.api_name in ("generate_video", "generate_audio")]
        assert {f.concurrency_limit for f in fns} == {concurrency} and {f.concurrency_id for f in fns} == {"generate"}
        jobs = [two.client().submit(*audio_args(two, f"pair {i}", seed=i), api_name="/generate_audio")
                for i in range(2)]
        assert [job.result(timeout=300)[2]["prompt"] for job in jobs] == ["pair 0", "pair 1"]
    finally:
        two.demo.output_store.stop()
        two.demo.close()
