"""More broken and hostile checkpoints (the first corpus is tests/checkpoints/test_loading.py::BROKEN, on the
ModelScope layout): these damage mediadiff's own layouts, tamper with safetensors headers and tensors, and try to
get code run. Each fails with one line naming the file and the problem, or (data-only changes) loads without
running anything.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
from conftest import run_cli, one_line
from safetensors.torch import load_file, save_file

from mediadiff import AudioPipeline, CheckpointError, VideoPipeline

UNET = Path("unet/diffusion_pytorch_model.safetensors")
VAE = Path("vae/diffusion_pytorch_model.safetensors")
TEXT = Path("text_encoder/model.safetensors")


def _header(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def _write_header(path: Path, header: dict, body: bytes) -> None:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)


def header_length(f: Path, n: int):
    data = bytearray((f / VAE).read_bytes())
    data[:8] = n.to_bytes(8, "little")
    (f / VAE).write_bytes(bytes(data))


def offsets_past_the_end(f: Path):
    header, body = _header(f / VAE)
    name = next(k for k in header if k != "__metadata__")
    start, end = header[name]["data_offsets"]
    header[name]["data_offsets"] = [start, end + 10**6]
    _write_header(f / VAE, header, body)


def header_garbage(f: Path):
    data = bytearray((f / VAE).read_bytes())
    data[8:40] = b"\xff" * 32
    (f / VAE).write_bytes(bytes(data))


def edit_tensors(f: Path, file: Path, change):
    state = load_file(f / file)
    change(state)
    save_file(state, f / file)


def drop_first(state):
    del state[sorted(state)[0]]


def halve_first(state):
    key = sorted(state)[0]
    state[key] = state[key].reshape(-1)[: max(1, state[key].numel() // 2)].clone()


def write(f: Path, rel: str, data: bytes):
    (f / rel).write_bytes(data)


def edit_json(f: Path, rel: str, **changes):
    data = json.loads((f / rel).read_text())
    data.update(changes)
    (f / rel).write_text(json.dumps(data))


# case -> (layout, damage, message regex, the file the message must name)
BROKEN = {
    "index: invalid JSON": ("mediadiff-video", lambda f: write(f, "model_index.json", b'{"_class_name": '),
                            "invalid JSON", "model_index.json"),
    "index: empty file": ("mediadiff-video", lambda f: write(f, "model_index.json", b""), "invalid JSON",
                          "model_index.json"),
    "index: a list, not an object": ("mediadiff-video", lambda f: write(f, "model_index.json", b"[1, 2]"),
                                     "must hold a JSON object", "model_index.json"),
    "config: not UTF-8": ("mediadiff-video", lambda f: write(f, "vae/config.json", b"\xff\xfe{\x00"), "invalid JSON",
                          "vae/config.json"),
    "index: component not [library, class]": (
        "mediadiff-video", lambda f: edit_json(f, "model_index.json", vae="AutoencoderKL"),
        r"component 'vae' must be \[library, class\]", "model_index.json"),
    "index: class from an unknown library (remote code)": (
        "mediadiff-video", lambda f: edit_json(f, "model_index.json", unet=["my_package.pipeline", "UNetMotionModel"]),
        r"unsupported class my_package\.pipeline\.UNetMotionModel", "model_index.json"),
    "index: a diffusers class outside the allow-list": (
        "mediadiff-video", lambda f: edit_json(f, "model_index.json", scheduler=["diffusers", "DiffusionPipeline"]),
        r"unsupported class diffusers\.DiffusionPipeline", "model_index.json"),
    "safetensors: empty file": ("mediadiff-video", lambda f: write(f, str(VAE), b""), "not a valid safetensors file",
                                str(VAE)),
    "safetensors: header length past the end": ("mediadiff-video", lambda f: header_length(f, 2**40),
                                                "not a valid safetensors file", str(VAE)),
    "safetensors: header not JSON": ("mediadiff-video", header_garbage, "not a valid safetensors file", str(VAE)),
    "safetensors: tensor offsets past the end": ("mediadiff-video", offsets_past_the_end,
                                                 "not a valid safetensors file", str(VAE)),
    "tensors: a UNet tensor missing": ("mediadiff-video", lambda f: edit_tensors(f, UNET, drop_first),
                                       r"tensor\(s\) missing", str(UNET)),
    "tensors: a text encoder tensor missing": ("mediadiff-video", lambda f: edit_tensors(f, TEXT, drop_first),
                                               r"tensor\(s\) missing", str(TEXT)),
    "tensors: wrong shape in the file": ("mediadiff-video", lambda f: edit_tensors(f, UNET, halve_first),
                                         "expected shape", str(UNET)),
    "scheduler: config values of the wrong type": (
        "mediadiff-video", lambda f: edit_json(f, "scheduler/scheduler_config.json", num_train_timesteps="many"),
        ".", "scheduler/scheduler_config.json"),
    "reference: package not installed": (
        "mediadiff-video", lambda f: write(f, "tokenizer/reference.json", b'{"package": "no_such_pkg_4711"}'),
        "not installed", "tokenizer/reference.json"),
    "reference: a module, not a package": (
        "mediadiff-video", lambda f: write(f, "tokenizer/reference.json", b'{"package": "json.decoder"}'),
        "not installed", "tokenizer/reference.json"),
    "audio: vocoder folder missing": ("mediadiff-audio", lambda f: shutil.rmtree(f / "vocoder"),
                                      "component folder 'vocoder' is missing", "vocoder"),
    "audio: vocoder tensor missing": ("mediadiff-audio",
                                      lambda f: edit_tensors(f, Path("vocoder/model.safetensors"), drop_first),
                                      r"tensor\(s\) missing", "vocoder/model.safetensors"),
    "audio: unet config shapes do not match the weights": (
        "mediadiff-audio", lambda f: edit_json(f, "unet/config.json", block_out_channels=[8, 24]),
        ".", "unet/diffusion_pytorch_model.safetensors"),
}


@pytest.fixture
def copy(rel_models, tmp_path):
    def make(layout: str) -> Path:
        return shutil.copytree(rel_models[layout], tmp_path / layout)
    return make


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_checkpoint_names_file_and_problem(copy, case):
    layout, damage, message, file = BROKEN[case]
    folder = copy(layout)
    damage(folder)
    cls = VideoPipeline if layout.endswith("video") else AudioPipeline
    with pytest.raises(CheckpointError, match=message) as info:
        cls.from_pretrained(folder, device="cpu")
    text = str(info.value)
    assert "\n" not in text and text.startswith("cannot load checkpoint ")
    assert info.value.path == str(folder / file), text


def test_config_cannot_make_loading_run_code(copy, tmp_path):
    """auto_map + a .py file beside the weights (transformers' remote code), a foreign `_class_name` in a component
    config, and a pickle with a payload next to the safetensors even with allow_pickle: nothing runs."""
    folder = copy("mediadiff-video")
    marker = tmp_path / "code-ran"
    payload = f"open({str(marker)!r}, 'w').write('pwned')\n"
    (folder / "text_encoder" / "evil.py").write_text(payload + "from transformers import BertModel as EvilModel\n")
    edit_json(folder, "text_encoder/config.json", auto_map={"AutoModel": "evil.EvilModel"}, trust_remote_code=True)
    (folder / "unet" / "evil.py").write_text(payload)
    edit_json(folder, "unet/config.json", _class_name="evil.EvilModel")

    class Payload:
        def __reduce__(self):
            return (exec, (payload,))

    torch.save({"x": Payload()}, folder / "vae" / "diffusion_pytorch_model.bin")
    pipe = VideoPipeline.from_pretrained(folder, device="cpu", allow_pickle=True)
    assert type(pipe.text_encoder).__name__ == "BertModel" and type(pipe.unet).__name__ == "UNetMotionModel"
    pipe("x", frames=1, height=8, width=8, steps=1, seed=0)
    assert not marker.exists()


def test_broken_checkpoint_from_the_command_line(copy, tmp_path):
    folder = copy("mediadiff-video")
    edit_tensors(folder, UNET, drop_first)
    r = run_cli("video", "x", "-o", tmp_path / "out.mp4", "--model", folder, "--frames", 1, "--height", 8,
                "--width", 8, "--steps", 1)
    line = one_line(r.stderr)
    assert r.returncode == 2 and line.startswith(f"mediadiff: error: cannot load checkpoint {folder / UNET}: ")
    assert "tensor(s) missing" in line and not (tmp_path / "out.mp4").exists()
