"""The repository is a valid Gradio Space: README front matter, requirements file, an app file that builds."""

from __future__ import annotations

import importlib
import re
import tomllib

import pytest
import yaml
from apphelpers import REPO

FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def front_matter() -> dict:
    text = (REPO / "README.md").read_text()
    match = FRONT_MATTER.match(text)
    assert match, "README.md must start with the Spaces YAML front matter (---\\nsdk: gradio\\n...\\n---)"
    return yaml.safe_load(match.group(1))


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def pin(requirements: list[str], name: str) -> str | None:
    for r in requirements:
        m = re.match(rf"^{re.escape(name)}==(\S+)$", r.strip(), re.I)
        if m:
            return m.group(1)
    return None


def test_front_matter_makes_a_gradio_space():
    import gradio

    meta = front_matter()
    assert meta["sdk"] == "gradio"
    assert str(meta["sdk_version"]) == gradio.__version__  # the version this suite runs (and pins)
    assert pin(pyproject()["project"]["optional-dependencies"]["apps"], "gradio") == str(meta["sdk_version"])
    assert meta["app_file"] == "apps/app.py" and (REPO / meta["app_file"]).is_file()
    python = str(meta["python_version"])
    minimum = re.match(r">=\s*(\d+)\.(\d+)", pyproject()["project"]["requires-python"]).groups()
    assert re.fullmatch(r"3\.\d+", python) and tuple(map(int, python.split("."))) >= tuple(map(int, minimum))
    for key in ("title", "colorFrom", "colorTo"):
        assert key in meta, key


def test_requirements_file_matches_the_package():
    lines = [ln.strip() for ln in (REPO / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    project = pyproject()["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["apps"]
    assert sorted(lines, key=str.lower) == sorted(wanted, key=str.lower)


def test_app_file_builds_with_and_without_models(app_pipes, tmp_path):
    import gradio as gr

    from apps import common

    module = importlib.import_module("apps.app")  # the front matter's app_file (checked above)
    demo = module.build_demo(*app_pipes, config=common.AppConfig(output_dir=tmp_path / "a"))
    assert isinstance(demo, gr.Blocks)
    names = {f.api_name for f in demo.fns.values()}
    assert {"generate_video", "generate_audio", "stop_video", "stop_audio"} <= names
    # A Space whose shipped models are not there yet still builds, and says why a tab is empty.
    empty = module.build_demo(config=common.AppConfig(output_dir=tmp_path / "b"), notes=["No video model: x."])
    assert "generate_video" not in {f.api_name for f in empty.fns.values()}
    demo.output_store.stop()
    empty.output_store.stop()


def test_shipped_default_missing_is_a_note_not_a_crash(monkeypatch, tmp_path):
    from apps import app
    from mediadiff.pipelines import VideoPipeline

    monkeypatch.setenv("MEDIADIFF_HOME", str(tmp_path))  # a checkout without assets/models
    pipe, note = app.load(VideoPipeline, "video", None, "cpu", "fp32")
    assert pipe is None and note.startswith("No video model: ") and "pass --video-model" in note


@pytest.mark.parametrize("module_name", ["apps.video_app", "apps.audio_app"])
def test_single_apps_build(app_pipes, tmp_path, module_name):
    import gradio as gr

    from apps import common

    module = importlib.import_module(module_name)
    pipe = app_pipes[0] if "video" in module_name else app_pipes[1]
    demo = module.build_demo(pipe, config=common.AppConfig(output_dir=tmp_path))
    kind, other = ("video", "audio") if "video" in module_name else ("audio", "video")
    names = {f.api_name for f in demo.fns.values()}
    assert isinstance(demo, gr.Blocks) and {f"generate_{kind}", f"stop_{kind}"} <= names
    assert f"generate_{other}" not in names  # only its own modality's tab
    demo.output_store.stop()
