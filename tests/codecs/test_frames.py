"""Video files: MP4/GIF/PNG written through ffmpeg decode back with the right frames, size, fps and settings."""

import numpy as np
import pytest
from PIL import Image

from mediadiff.codecs.frames import frame_strip, read_video, to_uint8, write_video
from mediadiff.codecs.metadata import read_mp4_settings, sidecar_path
from mediadiff.errors import MediadiffError


def _clip(frames=12, h=48, w=64):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 128)], -1).astype(np.uint8)  # smooth gradient
    clip = np.repeat(base[None], frames, axis=0)
    for i in range(frames):
        clip[i, 8:16, i:i + 8] = 255  # a white block moving right
    return clip


def test_mp4_decodes_back_with_frames_size_fps_and_settings(tmp_path):
    settings = {"prompt": 'a "quoted" prompt; with = signs\nand a newline', "seed": 7}
    path = write_video(tmp_path / "out.mp4", _clip(), fps=12, settings=settings)
    frames, fps = read_video(path)
    assert frames.shape == (12, 48, 64, 3) and fps == 12
    assert np.abs(frames.astype(int) - _clip().astype(int)).mean() < 4  # lossy H.264, same picture
    assert read_mp4_settings(path) == settings
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_mp4_pixel_format_is_yuv420p(tmp_path):
    import subprocess

    import imageio_ffmpeg

    path = write_video(tmp_path / "o.mp4", _clip(4, 32, 32), fps=8)
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(path)], capture_output=True, text=True).stderr
    assert "h264" in info and "yuv420p" in info


def test_gif_and_png_folder(tmp_path):
    gif = write_video(tmp_path / "o.gif", _clip(5, 32, 32), fps=5)
    frames, _ = read_video(gif)
    assert frames.shape == (5, 32, 32, 3)
    assert np.array_equal(frames.min(-1) > 240, _clip(5, 32, 32).min(-1) == 255)  # the white block, frame by frame
    folder = write_video(tmp_path / "frames", _clip(5, 32, 32), fps=5)
    assert sorted(p.name for p in folder.iterdir()) == [f"frame_{i:04d}.png" for i in range(1, 6)]
    for i in range(5):  # lossless, in order
        png = np.asarray(Image.open(folder / f"frame_{i + 1:04d}.png").convert("RGB"))
        assert np.array_equal(png, _clip(5, 32, 32)[i]), i


def test_failed_write_leaves_nothing(tmp_path):
    bad = np.zeros((3, 31, 31, 3), np.uint8)  # odd sizes: yuv420p refuses them
    with pytest.raises(MediadiffError, match="ffmpeg could not write"):
        write_video(tmp_path / "o.mp4", bad, fps=8)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_survives_a_failed_overwrite(tmp_path):
    good = write_video(tmp_path / "o.mp4", _clip(3, 32, 32), fps=8)
    before = good.read_bytes()
    with pytest.raises(MediadiffError, match="ffmpeg could not write"):
        write_video(tmp_path / "o.mp4", np.zeros((3, 31, 31, 3), np.uint8), fps=8)
    assert good.read_bytes() == before and list(tmp_path.iterdir()) == [good]


def test_helpers():
    assert to_uint8(np.array([0.0, 0.5, 1.0, 2.0])).tolist() == [0, 128, 255, 255]
    clip = _clip(10, 16, 16)  # the white block moves: every frame differs
    assert np.array_equal(frame_strip(clip, count=4), np.concatenate([clip[0], clip[3], clip[6], clip[9]], axis=1))
    assert np.array_equal(frame_strip(clip[:2], count=4), np.concatenate([clip[0], clip[1]], axis=1))  # at most all
    assert sidecar_path(__import__("pathlib").Path("a/b.mp4")).name == "b.mp4.json"
