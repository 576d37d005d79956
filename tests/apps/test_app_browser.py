"""End to end in a real browser: Debian's headless Chromium driven by Playwright (no browser download).

Type a prompt, click Generate, wait until the page's <video> / <audio> element has a source that plays
(duration > 0), and keep screenshots in test-artifacts/ (app-video.png, app-audio.png, and app.png with both).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from apphelpers import REPO

CHROMIUM = os.environ.get("MEDIADIFF_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--autoplay-policy=no-user-gesture-required"]  # the player autoplays, with its sound
ARTIFACTS = REPO / "test-artifacts"
PLAYS = """sel => { const m = document.querySelector(sel); return !!m && !!m.currentSrc && m.duration > 0; }"""


@pytest.fixture(scope="module")
def page(server):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no system Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    from playwright.sync_api import sync_playwright  # in the test extra: missing is a failure, not a skip

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url, wait_until="domcontentloaded")
        page.errors = errors
        yield page
        browser.close()


def _generate(page, tab: str, prompt: str, media: str) -> dict:
    page.get_by_role("tab", name=tab.capitalize()).click()
    page.locator(f"#{tab}-prompt textarea").fill(prompt)
    page.locator(f"#{tab}-generate").click()
    selector = f"#{tab}-output {media}"
    page.wait_for_function(PLAYS, arg=selector, timeout=180_000)
    return page.evaluate("sel => { const m = document.querySelector(sel); "
                         "return {src: m.currentSrc, duration: m.duration, error: m.error && m.error.code}; }",
                         selector)


def test_video_then_audio_play_in_chromium(page, server):
    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    video = _generate(page, "video", "a red circle moving right", "video")
    assert video["duration"] > 0 and video["error"] is None
    assert "/gradio_api/file=" in video["src"] and video["src"].endswith(".mp4")
    assert page.locator("#video-output").get_by_text("Error").count() == 0
    page.screenshot(path=str(ARTIFACTS / "app-video.png"), full_page=True)

    audio = _generate(page, "audio", "three short high beeps", "audio")
    assert audio["duration"] > 0 and audio["error"] is None and audio["src"].endswith(".wav")
    page.screenshot(path=str(ARTIFACTS / "app-audio.png"), full_page=True)
    assert page.errors == []

    # One picture with both results, side by side.
    shots = [Image.open(ARTIFACTS / f"app-{tab}.png").convert("RGB") for tab in ("video", "audio")]
    both = Image.new("RGB", (sum(s.width for s in shots), max(s.height for s in shots)), "white")
    both.paste(shots[0], (0, 0))
    both.paste(shots[1], (shots[0].width, 0))
    both.save(ARTIFACTS / "app.png")


def test_video_with_sound_plays_its_sound_in_chromium(page, server):
    """Tick "With sound": the MP4 the page plays carries audio that Chromium decodes."""
    page.get_by_role("tab", name="Video").click()
    page.get_by_text("Sound", exact=True).first.click()  # open the accordion
    page.locator("#video-with-sound input").check()
    played = _generate(page, "video", "a blue square growing", "video")
    assert played["duration"] > 0 and played["error"] is None
    page.wait_for_function("sel => { const m = document.querySelector(sel); m.muted = false; m.play(); "
                           "return m.webkitAudioDecodedByteCount > 0; }", arg="#video-output video", timeout=30_000)
    page.locator("#video-with-sound input").uncheck()
    assert page.errors == []


def test_bad_input_shows_the_one_line_error_in_the_page(page, server):
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-prompt textarea").fill("   ")
    page.locator("#video-generate").click()
    toast = page.get_by_text(re.compile(r"^invalid prompt='\s*': must be a non-empty text$"))
    toast.first.wait_for(timeout=60_000)
    assert page.get_by_text("Traceback").count() == 0
