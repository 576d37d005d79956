"""The shapes recipe at toy size: both stages run, and the export is a normal mediadiff checkpoint."""

import json

import pytest
import torch

from mediadiff.recipes.shapes_video import (
    ClipSet,
    Recipe,
    _render_chunk,
    build_scheduler,
    build_unet,
    denoiser_step,
    direction_probe,
    draw_batch,
    train,
)
from mediadiff.worlds import shapes


def test_render_chunk_is_seeded_and_never_held_out():
    clips, captions, backwards = _render_chunk((5, 3, 4, 32))
    again, same, same_backwards = _render_chunk((5, 3, 4, 32))
    assert clips.shape == (3, 4, 32, 32, 3) and (clips == again).all() and captions == same
    assert backwards == same_backwards
    assert not any(shapes.parse_caption(c).triple in shapes.HELD_OUT for c in captions)


def test_reversed_captions_name_the_reversed_motion_and_skip_held_out():
    _, captions, backwards = _render_chunk((11, 300, 2, 16))
    skipped = 0
    for caption, backward in zip(captions, backwards):
        spec = shapes.parse_caption(caption)
        if backward is None:
            assert shapes.is_held_out(shapes.time_reversed(spec))
            skipped += 1
            continue
        got = shapes.parse_caption(backward)
        assert (got.colour, got.shape, got.motion) == shapes.time_reversed(spec).triple
        assert not shapes.is_held_out(got)
    assert 0 < skipped < 30  # 5 of the world's 147 combinations reverse into a held-out one


def _paired_set(n: int = 6) -> ClipSet:
    gen = torch.Generator().manual_seed(0)
    latents = torch.randn(n, 4, 4, 2, 2, generator=gen).to(torch.bfloat16)  # (N, C, F, h, w)
    return ClipSet(latents, torch.randn(n, 3, 8).to(torch.bfloat16), torch.randn(n, 3, 8).to(torch.bfloat16),
                   torch.tensor([True, False] * (n // 2)))


def test_paired_batch_is_each_clip_and_its_reversal():
    data, recipe = _paired_set(), Recipe(batch=8, pair_reversed=True)
    latents, cond = draw_batch(data, recipe, torch.Generator().manual_seed(1))
    first, second = latents.chunk(2)
    assert latents.shape == (8, 4, 4, 2, 2) and torch.equal(second, first.flip(2))
    for x, c, c_back in zip(first, *cond.chunk(2)):  # every drawn clip is a reversible one, with its captions
        i = next(i for i in range(6) if torch.equal(data.latents[i].float(), x))
        assert data.reversible[i]
        assert torch.equal(c, data.embeddings[i].float()) and torch.equal(c_back, data.backwards[i].float())


def test_paired_step_shares_noise_timestep_and_dropout():
    recipe = Recipe(frames=4, size=16, vae_channels=(8, 16), unet_channels=(16, 32), layers_per_block=1, heads=2,
                    batch=8, pair_reversed=True, p_uncond=0.5)
    unet, scheduler = build_unet(recipe, 8), build_scheduler()
    seen = {}

    def record(module, args, kwargs):
        seen.update(sample=args[0], t=args[1], text=kwargs["encoder_hidden_states"])

    unet.register_forward_pre_hook(record, with_kwargs=True)
    latents, cond = draw_batch(_paired_set(), recipe, torch.Generator().manual_seed(2))
    uncond = torch.zeros(1, 3, 8)
    loss = denoiser_step(unet, scheduler, latents, cond, uncond, recipe, torch.Generator().manual_seed(3))
    assert torch.isfinite(loss)
    t = seen["t"]
    assert torch.equal(t[:4], t[4:])
    alpha = scheduler.alphas_cumprod[t[:4]].sqrt()[:, None, None, None, None]
    first, second = seen["sample"].chunk(2)  # same noise: the noisy inputs differ only by the scaled clips
    torch.testing.assert_close(second - first, alpha * (latents[4:] - latents[:4]), atol=1e-5, rtol=1e-5)
    dropped = (seen["text"].unflatten(0, (8, 4))[:, 0] == 0).flatten(1).all(1)  # (B,)
    assert torch.equal(dropped[:4], dropped[4:])


def test_paired_recipe_needs_an_even_batch(tmp_path):
    recipe = Recipe.tiny()
    recipe.pair_reversed, recipe.batch = True, 5
    with pytest.raises(ValueError, match="batch=5"):
        train(recipe, tmp_path, torch.device("cpu"), workers=1)


@pytest.mark.parametrize("paired", [False, True])
def test_tiny_recipe_exports_a_loadable_pipeline(tmp_path, paired):
    from mediadiff import VideoPipeline

    recipe = Recipe.tiny()
    recipe.pair_reversed = paired
    train(recipe, tmp_path, torch.device("cpu"), workers=1, snapshots=True)
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
    from mediadiff.recipes.shapes_video import main

    with pytest.raises(SystemExit) as stop:
        main(["--tiny"])
    assert stop.value.code == 2 and "--out is required" in capsys.readouterr().err
