"""`mediadiff serve` and `python apps/app.py`: options, clear errors, a real server from the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from apphelpers import REPO, free_port


def test_serve_is_a_subcommand_with_its_options():
    from mediadiff.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["serve", "--video-model", "v", "--audio-model", "a", "--host", "0.0.0.0", "--port",
                              "7861", "--share", "--concurrency", "2", "--max-queue", "5", "--jit"])
    assert (args.video_model, args.audio_model, args.host, args.port, args.share, args.concurrency,
            args.max_queue, args.jit) == ("v", "a", "0.0.0.0", 7861, True, 2, 5, True)
    assert args.run.__module__ == "mediadiff.cli.serve"


def test_serve_without_any_model_says_what_to_pass(monkeypatch, tmp_path, capsys):
    from mediadiff.checkpoints import presets
    from mediadiff.cli import main

    monkeypatch.setenv("MEDIADIFF_HOME", str(tmp_path))  # a checkout where the shipped models are missing
    presets.reload()
    try:
        code = main(["serve", "--output-dir", str(tmp_path / "out")])
    finally:
        presets.reload()
    err = capsys.readouterr().err
    assert code == 1 and "mediadiff: error: no model to serve" in err
    assert "pass --video-model" in err and "pass --audio-model" in err and "Traceback" not in err


@pytest.mark.parametrize("flag,value,message", [("--concurrency", "0", "invalid concurrency=0"),
                                                ("--max-queue", "-1", "invalid max_queue=-1")])
def test_serve_rejects_bad_queue_settings(app_pipes, tmp_path, capsys, flag, value, message):
    from mediadiff.cli import main

    code = main(["serve", "--no-video", "--audio-model", app_pipes[1].source, flag, value,
                 "--output-dir", str(tmp_path)])
    assert code == 2 and message in capsys.readouterr().err


def test_local_checkpoints_from_configs_join_the_model_menu_and_load_on_first_use(app_pipes, tmp_path, monkeypatch):
    from apps import common
    from apps.video_app import VideoTab
    from mediadiff.checkpoints import debug, presets
    from mediadiff.pipelines import VideoPipeline

    debug.build("mediadiff-video", tmp_path / "models" / "mine", seed=1)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "presets.yaml").write_text("mine:\n  path: models/mine\nmissing:\n  path: models/nope\n")
    monkeypatch.setenv("MEDIADIFF_HOME", str(tmp_path))
    presets.reload()
    try:
        found = common.local_models("video")
        assert found == {"mine": "mine"} and common.local_models("audio") == {}
        config = common.AppConfig(output_dir=tmp_path / "out", device="cpu", jit=True)
        models = common.model_set(VideoPipeline, "video", app_pipes[0], found, config)
        assert models.names == ["tiny-video", "mine"]
        assert models.limits("mine").vae_factor == 2 and not models.is_loaded("mine")  # not loaded yet
        tab = VideoTab(models, common.OutputStore(config.output_dir, 60, 60), config)
        path, _, settings, _, seed = tab.generate("a circle", "", "mine", 2, 8, 16, 16, 1, 1.0, "ddim", False, 5)
        assert settings["model"] == "mine" and seed == 5 and models.is_loaded("mine")
        assert isinstance(models.get("mine"), VideoPipeline) and len(models.get("mine").frozen.graphs) == 1  # --jit: loaded with a frozen UNet, used
    finally:
        presets.reload()


def test_python_apps_app_py_serves_the_combined_app(app_pipes, tmp_path):
    """The Space's entry point, as Spaces runs it: `python apps/app.py` in the checkout."""
    from gradio_client import Client

    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "apps/app.py", "--video-model", app_pipes[0].source, "--audio-model",
           app_pipes[1].source, "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
           "--output-dir", str(tmp_path / "out"), "--max-age", "600"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if urllib.request.urlopen(url + "config", timeout=2).status == 200:
                    break
            except OSError:
                pass
            assert time.time() < deadline, "the app did not come up in 120 s"
            time.sleep(0.5)
        client = Client(url, verbose=False)
        audio, _, settings, _, seed = client.predict("a beep", "", "tiny-audio", 0.25, 1, 2.5, "dpm++", False, 9,
                                                     api_name="/generate_audio")
        assert settings["seed"] == seed == 9 and (tmp_path / "out" / os.path.basename(audio)).exists()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_on_a_taken_port_is_one_line(app_pipes, tmp_path, capsys):
    import socket

    from mediadiff.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--no-video", "--audio-model", app_pipes[1].source, "--host", "127.0.0.1",
                     "--port", str(port), "--output-dir", str(tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and f"mediadiff: error: cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err
