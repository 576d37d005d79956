"""Guarantee 4's bounds, on a real server: uploads past max_file_size are refused, smaller ones accepted; raw
file-route requests with traversal tricks beyond tests/apps/test_app_security.py never reach a file outside."""

from __future__ import annotations

import http.client
import urllib.parse
import uuid

import pytest

pytest.importorskip("gradio", reason="the apps need the `apps` extra (gradio)")


def request(app, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
    u = urllib.parse.urlparse(app.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def upload(app, size: int) -> tuple[int, bytes]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.wav\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + b"\0" * size + f"\r\n--{boundary}--\r\n".encode()
    return request(app, "POST", "/gradio_api/upload", body,
                   {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def test_upload_size_is_bounded(app):
    status, body = upload(app, 6 * 1024 * 1024)  # past the 5 MB bound
    assert status == 413, (status, body[:200])
    status, body = upload(app, 1024)
    assert status == 200, (status, body[:200])


TRICKS = ["/gradio_api/file=%252e%252e/%252e%252e/%252e%252e/etc/passwd", "/gradio_api/file=/etc/passwd%00.wav",
          "/gradio_api/file=..%5c..%5c..%5c..%5cetc%5cpasswd", "/gradio_api/file=%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
          "/gradio_api/file=file:///etc/passwd", "/gradio_api/file=/proc/self/cmdline", "/file=/etc/passwd",
          "/gradio_api/file=~/.bashrc", "/gradio_api/file=/root/.bashrc", "/static/../../../../etc/passwd"]


@pytest.mark.parametrize("path", TRICKS)
def test_file_route_tricks_are_refused(app, path):
    status, body = request(app, "GET", path)
    assert status in (400, 403, 404, 405), (status, body[:120])
    assert b"root:" not in body and b"/bin/" not in body, body[:120]


def test_cpu_out_of_memory_is_the_out_of_memory_message():
    """torch's CPU allocator raises a RuntimeError, not MemoryError: the app still says what to lower."""
    import torch

    from apps.common import user_error

    with pytest.raises(RuntimeError) as info:
        torch.empty(2**62, dtype=torch.uint8)  # a real allocation failure
    assert user_error(info.value, "video").message == "out of memory; lower frames, width/height or steps"
