"""Helpers for the app tests: launching the combined app on a free localhost port, request arguments."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Small, fast settings for every generation in these tests.
VIDEO = dict(frames=4, fps=8, width=32, height=32, steps=2, guidance=4.0, scheduler="dpm++")
AUDIO = dict(seconds=0.5, steps=2, guidance=2.5, scheduler="dpm++")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    demo: object
    url: str
    config: object
    video_model: str
    audio_model: str

    def client(self):
        from gradio_client import Client

        return Client(self.url, verbose=False, download_files=True)


def launch(app_pipes, tmp_path_factory, **config_kwargs) -> Server:
    from apps import common
    from apps.app import build_demo

    config = common.AppConfig(output_dir=tmp_path_factory.mktemp("app-outputs"), **config_kwargs)
    demo = build_demo(*app_pipes, config=config)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True,
                            **common.launch_kwargs(config, "127.0.0.1", free_port()))
    return Server(demo, url, config, "tiny-video", "tiny-audio")


def video_args(server: Server, prompt: str, seed=None, **overrides) -> tuple:
    v = VIDEO | overrides
    return (prompt, overrides.get("negative_prompt", ""), server.video_model, v["frames"], v["fps"], v["width"],
            v["height"], v["steps"], v["guidance"], v["scheduler"], seed is None, 0 if seed is None else seed)


def audio_args(server: Server, prompt: str, seed=None, **overrides) -> tuple:
    a = AUDIO | overrides
    return (prompt, overrides.get("negative_prompt", ""), server.audio_model, a["seconds"], a["steps"],
            a["guidance"], a["scheduler"], seed is None, 0 if seed is None else seed)
