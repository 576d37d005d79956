"""The eval runner: real generation through the pipeline, analysed media, a per-split accuracy table."""

from __future__ import annotations

import json
import re

import pytest

from mediadiff.errors import ValidationError
from mediadiff.evaluation.audio import analyse, score
from mediadiff.evaluation.runner import SPLITS, TONES_TARGETS, evaluate, read_prompts, suite, world_items


def test_tiny_model_gives_a_well_formed_table(audio_pipe):
    items = world_items(suite("audio"), SPLITS, limit=1)
    assert [i.split for i in items] == list(SPLITS)
    report = evaluate(audio_pipe, items, seeds=2, seed=5)
    assert len(report.results) == 6 and [r["seed"] for r in report.results[:2]] == [5, 6]
    tally = report.tally()
    assert set(tally) == set(SPLITS)
    for split in SPLITS:  # each split counts its own two results, not the whole report's six
        hits = [r["score"]["pattern"] for r in report.results if r["split"] == split]
        assert tally[split]["pattern"] == {"correct": sum(hits), "total": 2, "accuracy": sum(hits) / 2}
    lines = report.table().splitlines()
    assert lines[0].split()[:6] == ["split", "samples", "pattern", "pitch", "timbre", "beeps"]
    assert [l.split()[0] for l in lines[2:5]] == list(SPLITS)
    data = json.loads(json.dumps(report.to_json()))
    assert {t["attribute"] for t in data["targets"]} <= {a for _, a, _ in TONES_TARGETS}
    # Each result measures its own seed's clip: the first prompt's two clips, generated and analysed here.
    again = audio_pipe(items[0].prompt, seed=5, num_outputs=2)
    for i in range(2):
        measured = analyse(again.waveforms[i], again.sample_rate)
        result = data["results"][i]
        assert result["measured"]["pattern"] == measured["pattern"]
        assert result["measured"]["peak"] == round(measured["peak"], 4)
        assert result["score"] == score(measured, items[0].spec)


def test_scores_come_from_the_analysers_of_real_media(audio_pipe):
    """The runner measures each output's own media: a stand-in that renders the prompt's tone for even seeds and
    silence for odd ones scores 100% on the even seeds, 0% on the odd ones, 50% in all."""
    import numpy as np

    from mediadiff.pipelines.outputs import AudioOutput
    from mediadiff.validation import Limits
    from mediadiff.worlds import tones

    class Renderer:
        modality, name = "audio", "renderer"
        limits = Limits("audio", vae_factor=4, max_seconds=10.0)

        def generate(self, request):
            return self(request.prompt, seed=request.seed, num_outputs=request.num_outputs)

        def __call__(self, prompt, seed=0, num_outputs=1, **kw):
            spec = tones.parse_caption(prompt)
            waves = np.stack([tones.render(spec, seconds=4.0, rng=seed + i) if (seed + i) % 2 == 0
                              else np.zeros(4 * 16000, np.float32) for i in range(num_outputs)])
            return AudioOutput(waves, 16000, waves[:, :10], seed, {})

    items = [i for i in world_items(suite("audio"), ("grammar",)) if i.spec.pattern in ("beeps", "rising")][:4]
    report = evaluate(Renderer(), items, seeds=2)
    assert [r["seed"] for r in report.results] == [0, 1] * 4
    for r in report.results:
        rendered = r["seed"] % 2 == 0
        assert r["measured"]["pattern"] == (r["spec"]["pattern"] if rendered else "silence"), r
        assert all(r["score"].values()) if rendered else not any(r["score"].values()), r
    assert report.accuracy("grammar", "pattern") == 0.5
    assert report.accuracy("grammar", "pitch") == 0.5


def test_prompt_files(tmp_path):
    s = suite("audio")
    txt = tmp_path / "p.txt"
    txt.write_text("# mine\nthree short high pure beeps\n\na loud drum hit\n")
    items = read_prompts(s, txt)
    assert [(i.split, i.spec.pattern, i.spec.beeps) for i in items] == [("custom", "beeps", 3), ("custom", "drum", None)]
    jl = tmp_path / "p.jsonl"
    jl.write_text(json.dumps({"prompt": "a hum", "spec": {"pattern": "steady", "pitch": "low"}, "split": "mine"}) + "\n")
    assert read_prompts(s, jl)[0].spec.pitch == "low"
    bad = tmp_path / "bad.txt"
    bad.write_text("a drum hit\nsomething unrelated\n")
    with pytest.raises(ValidationError, match=r"bad.txt:2"):
        read_prompts(s, bad)
    jl.write_text(json.dumps({"prompt": "x", "spec": {"pattern": "wobble"}}) + "\n")
    with pytest.raises(ValidationError, match=r"p.jsonl:1.*invalid spec"):
        read_prompts(s, jl)


# A small fixed prompt set for the shipped model: every pitched pattern at every pitch, the unpitched ones,
# every held-out combination and a third of the paraphrases; one seed each (the full eval is `mediadiff eval`).
# All eight beep prompts are in it, so the count target rests on eight samples rather than the three a third of
# the grammar holds (where one miss is 67%).
def _shipped_items():
    s = suite("audio")
    grammar = world_items(s, ("grammar",))
    third = grammar[::3]
    beeps = [item for item in grammar if item.spec.beeps and item not in third]
    return third + beeps + world_items(s, ("held_out",))[::2] + world_items(s, ("paraphrase",))[::3]


def test_shipped_tones_model_meets_the_targets():
    """The issue's targets on a fixed 31-prompt set at the default settings (about 20 s on 2 CPU cores)."""
    from mediadiff import AudioPipeline
    from mediadiff.checkpoints.presets import repo_path

    if not (repo_path("assets/models/tones") / "model_index.json").exists():
        pytest.skip("the tones model is not in this checkout")
    pipe = AudioPipeline.from_pretrained(None, device="cpu")  # the default audio model
    report = evaluate(pipe, _shipped_items(), seeds=1, seed=0)
    missed = [t for t in report.targets() if not t["met"]]
    assert len(report.targets()) == len(TONES_TARGETS)
    assert not missed, report.table()


def test_the_blind_tones_prompts_load_and_lie_outside_the_wide_grammar():
    """configs/eval/tones-fresh-paraphrases.jsonl: free prompts written without seeing the grammar (the card)."""
    from mediadiff.checkpoints.presets import repo_path
    from mediadiff.worlds import tones

    items = read_prompts(suite("audio"), repo_path("configs/eval/tones-fresh-paraphrases.jsonl"))
    assert len(items) == 24 and {item.split for item in items} == {"fresh_paraphrase"}
    assert set(tones.PATTERNS) <= {item.spec.pattern for item in items}
    vocabulary = tones.vocabulary("wide")
    for item in items:
        assert set(re.findall(r"[a-z]+(?:-[a-z]+)*", item.prompt.lower())) - vocabulary, item.prompt


@pytest.mark.parametrize("name,count", [("shapes-directions.txt", 6), ("shapes-colour-words.jsonl", 29)])
def test_the_shapes_prompt_files_in_configs_eval_load(name, count):
    from mediadiff.checkpoints.presets import repo_path

    assert len(read_prompts(suite("video"), repo_path(f"configs/eval/{name}"))) == count
