"""The shapes recipe at toy size: both stages run, and the export is a normal mediadiff checkpoint."""

import json

from mediadiff.recipes.shapes_video import Recipe, _render_chunk, direction_probe, train


def test_render_chunk_is_seeded_and_never_held_out():
    from mediadiff.worlds import shapes

    clips, captions = _render_chunk((5, 3, 4, 32))
    again, same = _render_chunk((5, 3, 4, 32))
    assert clips.shape == (3, 4, 32, 32, 3) and (clips == again).all() and captions == same
    assert not any(shapes.parse_caption(c).triple in shapes.HELD_OUT for c in captions)


def test_tiny_recipe_exports_a_loadable_pipeline(tmp_path):
    import torch

    from mediadiff import VideoPipeline

    train(Recipe.tiny(), tmp_path, torch.device("cpu"), workers=1, snapshots=True)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert any(r.get("stage") == "vae" and r.get("done") for r in log)
    assert list((tmp_path / "snapshots").iterdir())
    out = VideoPipeline.from_pretrained(str(tmp_path / "model"), device="cpu")("a red circle moving right", seed=0)
    assert out.frames.shape == (1, 4, 32, 32, 3)

    rows = direction_probe(str(tmp_path / "model"), seeds=2)  # words vs noise at the noisiest step
    assert [r["seed"] for r in rows] == [0, 1] and all(len(r["read_as"]) == 3 for r in rows)
    labels = {"left", "right", "up", "down", "growing", "shrinking", "still", "none"}
    assert all(set(r["read_as"]) <= labels and 0 < r["left_vs_right"] < 10 for r in rows)


def test_training_needs_an_out_folder(capsys):
    import pytest

    from mediadiff.recipes.shapes_video import main

    with pytest.raises(SystemExit) as stop:
        main(["--tiny"])
    assert stop.value.code == 2 and "--out is required" in capsys.readouterr().err
