"""The app serves its results and nothing else from disk: no system files, no traversal, no repo, no dotfiles."""

from __future__ import annotations

import http.client
import os
import urllib.parse
from pathlib import Path

import pytest
from apphelpers import REPO, audio_args


def get(server, path: str) -> tuple[int, bytes]:
    """A raw GET (no client-side normalisation of `..` or percent escapes)."""
    u = urllib.parse.urlparse(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def planted(server):
    """Files an attacker would like: a dotfile, a sidecar and a symlink out, all inside the output folder."""
    folder = server.config.output_dir
    (folder / ".secret.partial.wav").write_bytes(b"SECRET-DOTFILE")
    (folder / "planted.wav.json").write_text('{"secret": "SECRET-SIDECAR"}')
    link = folder / "link.txt"
    if not link.exists():
        os.symlink("/etc/passwd", link)
    return folder


def forbidden(server, planted) -> list[str]:
    repo, out = str(REPO), str(planted)
    return [
        "/etc/passwd", "//etc/passwd", "/proc/self/environ", "\\etc\\passwd",
        "../../../../../../etc/passwd", "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "..%2f..%2f..%2f..%2fetc%2fpasswd",
        f"{out}/../../../etc/passwd", f"{out}/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"{repo}/README.md", f"{repo}/pyproject.toml", f"{repo}/apps/app.py", f"{repo}/.git/config",
        f"{repo}/mediadiff/__init__.py", "README.md", "apps/app.py", ".git/config", "pyproject.toml",
        f"{out}/.secret.partial.wav", f"{out}/planted.wav.json", f"{out}/link.txt",
    ]


def test_files_outside_the_results_are_refused(server, planted):
    for path in forbidden(server, planted):
        status, body = get(server, "/gradio_api/file=" + path)
        assert status in (403, 404), (path, status, body[:80])
        assert b"root:" not in body and b"SECRET" not in body and b"[project]" not in body, path


def test_results_themselves_are_served(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False, download_files=False)
    audio = client.predict(*audio_args(server, "a short beep", seed=3), api_name="/generate_audio")[0]
    path = urllib.parse.urlparse(audio["url"]).path
    status, body = get(server, path)
    assert status == 200 and body[:4] == b"RIFF"
    # What is served is Gradio's copy in its cache, not the output folder itself.
    assert not Path(audio["path"]).is_relative_to(server.config.output_dir)
    assert (server.config.output_dir / Path(audio["path"]).name).exists()
    assert server.demo.allowed_paths == []


def test_output_folder_outside_temp_and_cwd_is_the_only_allowed_path(tmp_path, monkeypatch):
    import tempfile

    from apps import common

    monkeypatch.setattr(tempfile, "gettempdir", lambda: "/nonexistent-temp")
    config = common.AppConfig(output_dir=tmp_path / "results")
    assert common.launch_kwargs(config)["allowed_paths"] == [str((tmp_path / "results").resolve())]
    assert common.launch_kwargs(config)["max_file_size"] == "5mb"
