"""Each stage learns: a few optimizer steps lower its loss on fixed held batches."""

from __future__ import annotations

import copy
import re

import pytest
import torch

from mediadiff.training import stages as st
from mediadiff.training.loop import train


def _held_loss(stage, batches: list, seed: int = 123) -> float:
    """The stage's loss on fixed batches with fixed randomness (noise, timesteps, KL samples)."""
    torch.manual_seed(seed)
    stage.model.eval()
    with torch.no_grad():
        return sum(float(stage.loss(stage.model, b)) for b in batches) / len(batches)


def _fixed_batches(stage, n: int = 2, size: int = 8) -> list:
    torch.manual_seed(7)
    loader = torch.utils.data.DataLoader(stage.dataset, batch_size=min(size, len(stage.dataset) // n), shuffle=True)
    it = iter(loader)
    return [next(it) for _ in range(n)]


def _train_lowers_loss(stage, tmp_path, steps: int = 30) -> tuple[float, float]:
    stage.settings = copy.deepcopy(stage.settings) | {"steps": steps, "checkpoint_every": steps, "warmup": 2,
                                                      "lr": 3e-3}
    stage.sample = None
    batches = _fixed_batches(stage)
    before = _held_loss(stage, batches)
    train(stage, tmp_path, progress=False, log=lambda line: None)
    after = _held_loss(stage, batches)
    return before, after


def test_vae_steps_lower_the_loss(tiny_audio, tmp_path):
    cfg, data = tiny_audio
    before, after = _train_lowers_loss(st.vae_stage(cfg, data), tmp_path)
    assert after < 0.9 * before, (before, after)
    assert (tmp_path / "vae" / "final" / "config.json").exists()


def test_vae_final_records_the_latent_scale(tiny_audio, tmp_path):
    from diffusers import AutoencoderKL

    cfg, data = tiny_audio
    stage = st.vae_stage(cfg, data)
    stage.settings = stage.settings | {"steps": 2, "checkpoint_every": 2}
    train(stage, tmp_path, progress=False, log=lambda line: None)
    vae = AutoencoderKL.from_pretrained(str(tmp_path / "vae" / "final"))
    z = st.encode_latents(vae, data, "audio")  # (N, C, t, m), scaled
    assert vae.config.scaling_factor != 0.18215
    assert 0.5 < float(z[:64].std()) < 2.0


def test_vocoder_steps_lower_the_loss(tiny_audio, tmp_path):
    cfg, data = tiny_audio
    before, after = _train_lowers_loss(st.vocoder_stage(cfg, data), tmp_path, steps=20)
    assert after < before, (before, after)


def test_denoiser_steps_lower_the_loss(tiny_audio, tmp_path):
    from mediadiff.training.data import caption_bank

    cfg, data = tiny_audio
    vae = st.build_vae(cfg).eval()
    latents = st.encode_latents(vae, data, "audio")  # (N, C, t, m)
    latents = latents / latents.std()
    bank, rows = caption_bank(data.captions, int(cfg["text"]["max_length"]))
    assert bank.shape[1:] == (cfg["text"]["max_length"], 384)
    stage = st.denoiser_stage(cfg, data.captions[0][0], latents, bank, rows, make_pipeline=None)
    before, after = _train_lowers_loss(stage, tmp_path, steps=30)
    assert after < before, (before, after)


def test_paired_denoiser_trains_each_clip_beside_its_reversal(tiny_audio, tmp_path):
    from mediadiff.training.data import caption_bank, reversed_captions

    cfg, data = tiny_audio
    cfg = copy.deepcopy(cfg)
    cfg["denoiser"]["p_uncond"] = 0.0
    vae = st.build_vae(cfg).eval()
    latents = st.encode_latents(vae, data, "audio")  # (N, C, t, m)
    backwards = reversed_captions("audio", data.captions, seed=0)
    bank, rows = caption_bank(data.captions + backwards, int(cfg["text"]["max_length"]))
    reversal = (st.reversed_latents(vae, data, "audio", latents), rows[len(data.captions):])
    stage = st.denoiser_stage(cfg, data.captions[0][0], latents / latents.std(), bank, rows[:len(data.captions)],
                              make_pipeline=None, reversal=(reversal[0] / latents.std(), reversal[1]))
    assert stage.samples_per_item == 2 and len(stage.dataset) == sum(bool(b) for b in backwards)
    pair, pair_rows = stage.dataset[0]
    i = stage.dataset.index[0]
    assert pair.shape == (2, *latents.shape[1:])
    assert torch.equal(pair[1], reversal[0][i] / latents.std()) and torch.equal(pair[0], latents[i] / latents.std())
    assert pair_rows[1] in rows[len(data.captions) + i] and pair_rows[0] in rows[i]

    seen = {}
    hook = stage.model.register_forward_pre_hook(lambda m, args: seen.update(noisy=args[0], t=args[1]))
    batch = next(iter(torch.utils.data.DataLoader(stage.dataset, batch_size=3)))  # (3, 2, C, t, m), (3, 2)
    stage.loss(stage.model, batch)
    hook.remove()
    t, (first, second) = seen["t"], seen["noisy"].chunk(2)  # clips, then their reversals in the same order
    assert torch.equal(t[:3], t[3:])
    scale = stage_scheduler_alpha(cfg, t[:3])
    torch.testing.assert_close(second - first, scale * (batch[0][:, 1] - batch[0][:, 0]), atol=1e-5, rtol=1e-4)
    before, after = _train_lowers_loss(stage, tmp_path, steps=30)
    assert after < before, (before, after)
    log = (tmp_path / "denoiser" / "log.jsonl").read_text().splitlines()
    assert '"samples": 240' in log[-1]  # 30 steps x batch 8: pairs count as two samples each


def stage_scheduler_alpha(cfg, t):
    """sqrt(alpha_bar_t) of the training schedule, shaped to broadcast over (B, C, ...)."""
    return st.train_scheduler(cfg).alphas_cumprod[t].sqrt()[:, None, None, None]


def test_paired_run_trains_video_end_to_end(tiny_config, tmp_path):
    """pair_reversed through `run`: the bank holds the reversed captions and the pipeline is assembled."""
    from mediadiff.training.config import load_config
    from mediadiff.training.run import run

    cfg = load_config(tiny_config(tmp_path / "v.yaml", "video", denoiser={"pair_reversed": True}), "video")
    summary = run(cfg, tmp_path / "run", progress=False, log=lambda line: None)
    assert summary["pipeline"] and [s["step"] for s in summary["stages"]] == [4, 4]
    from safetensors.torch import load_file

    from mediadiff.training.data import load_or_build

    forward = {c for cs in load_or_build(cfg, tmp_path / "run").captions for c in cs}
    bank = load_file(str(tmp_path / "run" / "data" / "captions.safetensors"))["bank"]
    assert bank.shape[0] > len(forward) + 1  # the empty prompt, the clips' captions and their reversals'


def test_video_stages_build_and_step(tiny_config, tmp_path):
    """The video path (frame VAE, UNetMotionModel on (B, C, F, h, w) latents) trains through the same loop."""
    from mediadiff.training.config import load_config
    from mediadiff.training.data import build, caption_bank

    cfg = load_config(tiny_config(tmp_path / "v.yaml", "video"), "video")
    data = build(cfg)
    assert tuple(data.media.shape) == (12, 4, 16, 16, 3)
    before, after = _train_lowers_loss(st.vae_stage(cfg, data), tmp_path, steps=20)
    assert after < before
    vae = st.build_vae(cfg).eval()
    latents = st.encode_latents(vae, data, "video")  # (N, C, F, h, w)
    assert tuple(latents.shape) == (12, 4, 4, 8, 8)
    bank, rows = caption_bank(data.captions, 12)
    stage = st.denoiser_stage(cfg, data.captions[0][0], latents / latents.std(), bank, rows, make_pipeline=None)
    assert type(stage.model).__name__ == "UNetMotionModel"
    stage.settings = stage.settings | {"steps": 2, "checkpoint_every": 2}
    stage.sample = None
    train(stage, tmp_path, progress=False, log=lambda line: None)
    assert (tmp_path / "denoiser" / "final" / "config.json").exists()


def test_video_denoiser_set_is_streamed_into_latents(tiny_config, tmp_path):
    """denoiser.clips: a fresh clip set rendered in chunks and kept only as latents, cached for a resumed run."""
    from mediadiff.training.config import load_config
    from mediadiff.training.run import run
    from mediadiff.worlds import shapes

    config = tiny_config(tmp_path / "v.yaml", "video",
                               vae={"loss": "mse", "mid_attention": True, "betas": [0.9, 0.99]},
                               denoiser={"clips": 7, "betas": [0.9, 0.99], "weight_decay": 0.01})
    cfg = load_config(config, "video")
    summary = run(cfg, tmp_path / "run", progress=False, log=lambda line: None)
    assert summary["pipeline"] and [s["step"] for s in summary["stages"]] == [4, 4]
    cache = tmp_path / "run" / "data" / "latents"
    latents, captions = st.stream_latents(None, cfg, cache)  # read back from the cache: no VAE needed
    assert tuple(latents.shape) == (7, 4, 4, 8, 8) and len(captions) == 7
    from mediadiff.training.data import shapes_chunks

    again = [c for _, chunk in shapes_chunks(cfg, 7, seed=int(cfg["seed"]) + 1) for c in chunk]
    assert captions == again  # the set's own seed, not the stored set's: rendered again, the same clips
    held_out = {(s.colour, s.shape, s.motion) for s in map(shapes.parse_caption, (c for cs in captions for c in cs))}
    assert not held_out & set(shapes.HELD_OUT)


@pytest.mark.parametrize("section,message", [
    ({"vae": {"loss": "huber"}}, "invalid vae.loss='huber'"),
    ({"denoiser": {"clips": 0}}, "invalid denoiser.clips=0"),
    ({"denoiser": {"betas": [0.9]}}, "invalid denoiser.betas=[0.9]"),
    ({"denoiser": {"pair_reversed": "yes"}}, "invalid denoiser.pair_reversed='yes'"),
    ({"denoiser": {"pair_reversed": True, "batch": 5}}, "invalid denoiser.batch=5"),
])
def test_video_options_are_checked(tiny_config, tmp_path, section, message):
    from mediadiff.errors import ValidationError
    from mediadiff.training.config import load_config

    with pytest.raises(ValidationError, match=re.escape(message)):
        load_config(tiny_config(tmp_path / "v.yaml", "video", **section), "video")


def test_sentence_token_run_trains_and_ships_a_pipeline_that_uses_it(tiny_config, tmp_path):
    """text.sentence_token through `run`: a bank one token longer, the flag in model_index, and a pipeline
    whose encoder appends the same token, so the shipped model sees what it was trained on."""
    import json

    from safetensors.torch import load_file

    from mediadiff.pipelines import AudioPipeline
    from mediadiff.training.config import load_config
    from mediadiff.training.data import load_or_build
    from mediadiff.training.run import run

    text = {"max_length": 12, "sentence_token": True, "p_sentence_only": 0.5}
    cfg = load_config(tiny_config(tmp_path / "a.yaml", "audio", text=text,
                                        data={"pattern_weights": {"beeps": 3}}), "audio")
    summary = run(cfg, tmp_path / "run", progress=False, log=lambda line: None)
    bank = load_file(str(tmp_path / "run" / "data" / "captions.safetensors"))["bank"]
    assert bank.shape[1:] == (13, 384)
    index = json.loads((tmp_path / "run" / "pipeline" / "model_index.json").read_text())
    assert index["defaults"]["text_sentence_token"] is True and summary["pipeline"]
    pipe = AudioPipeline.from_pretrained(tmp_path / "run" / "pipeline")
    captions = sorted({c for cs in load_or_build(cfg, tmp_path / "run").captions for c in cs})
    encoded = pipe.text.encode([captions[0]])  # (1, L + 1, D)
    assert encoded.shape == (1, 13, 384)
    torch.testing.assert_close(encoded[0].half(), bank[1], atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(pipe.text.encode([""])[0].half(), bank[0], atol=2e-3, rtol=2e-3)  # the negative
    assert pipe("two low beeps", seed=0).waveforms[0].shape[-1] > 0


def test_sentence_only_keeps_the_sentence_token_and_blanks_the_words():
    torch.manual_seed(0)
    emb = torch.randn(64, 5, 3)  # (B, L + 1, D)
    empty = torch.randn(5, 3)  # (L + 1, D)
    out = st.sentence_only(emb, empty, 0.5)
    swapped = (out[:, :-1] == empty[:-1]).all(-1).all(-1)  # (B,)
    assert 10 < int(swapped.sum()) < 54
    assert torch.equal(out[:, -1], emb[:, -1]) and torch.equal(out[~swapped], emb[~swapped])
    assert torch.equal(st.sentence_only(emb, empty, 0.0), emb)
