"""op="ablate" and "clamp" in the λ-batched engine: every λ a row of the same batch, equal to the
hook path (``with ls.steer(..., op=...)``), for generation and log-likelihood scoring; cache keys
keep ops apart; clamp at λ = 0 is a steering."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import lens_steer as ls
from lens_steer.engine.generate import generate
from lens_steer.engine.loglik import score_choices_lams
from lens_steer.engine.store import GenerationCache
from lens_steer.errors import InputError
from lens_steer.tasks import get_task, score_choices
from lens_steer.testing import tiny_hf_model, tiny_tokenizer, unit_directions

pytestmark = pytest.mark.usefixtures("one_thread")

FIX = Path(__file__).resolve().parents[1] / "data" / "tasks"
PROMPTS = ["Once upon a time", "<s><|system|>Be brief.</s><|user|>Why?", "x"]
LAMS = [0.0, 1.0, 6.0]


def _model(family: str = "llama"):
    return ls.load_model(tiny_hf_model(family), tokenizer=tiny_tokenizer(), device="cpu")


def _vecs():
    return ls.SteeringVectors(unit_directions(3, 32, seed=4) * 2.0, (0, 1, 2))


@pytest.mark.parametrize("family", ["llama", "gemma3"])
@pytest.mark.parametrize("op", ["ablate", "clamp"])
@pytest.mark.parametrize("positions", ["all", "generated"])
def test_generate_op_equals_the_hook_path(family, op, positions):
    model, vecs = _model(family), _vecs()
    outs = generate(
        model, PROMPTS, vectors=vecs, lams=LAMS, op=op, positions=positions,
        max_new_tokens=8, batch_size=4, progress=False,
    )  # fmt: skip
    for k, lam in enumerate(LAMS):
        with ls.steer(model, vecs, lam=lam, positions=positions, op=op):
            inside = generate(model, PROMPTS, max_new_tokens=8, batch_size=2, progress=False)
        assert [o[k] for o in outs] == [o[0] for o in inside], (op, lam)
    plain = generate(model, PROMPTS, max_new_tokens=8, progress=False)
    changed = [o[2] != p[0] for o, p in zip(outs, plain, strict=True)]
    assert any(changed), "λ = 6 changes nothing here: the comparison says nothing"


def test_clamp_at_zero_is_a_steering_and_ablate_at_zero_is_not():
    model, vecs = _model(), _vecs()
    plain = generate(model, PROMPTS, max_new_tokens=8, progress=False)
    ablate0 = generate(model, PROMPTS, vectors=vecs, lams=[0.0], op="ablate",
                       max_new_tokens=8, progress=False)  # fmt: skip
    assert ablate0 == plain
    with ls.steer(model, vecs, lam=0.0, op="clamp"):
        ref = generate(model, PROMPTS, max_new_tokens=8, progress=False)
    clamp0 = generate(model, PROMPTS, vectors=vecs, lams=[0.0], op="clamp",
                      max_new_tokens=8, progress=False)  # fmt: skip
    assert clamp0 == ref
    assert ref != plain, "clamp at 0 leaves this model's text unchanged: the check says nothing"


def test_graph_is_only_refused_when_something_is_steered():
    model = _model()
    out = generate(model, PROMPTS[:1], op="clamp", engine="graph", max_new_tokens=2,
                   progress=False)  # fmt: skip
    assert len(out) == 1


@pytest.mark.parametrize("op", ["ablate", "clamp"])
def test_loglik_op_equals_score_choices_under_steer(op):
    model, vecs = _model(), _vecs()
    task = get_task("arc_challenge", data_dir=FIX / "arc_challenge")
    examples = task.load("test")
    res = score_choices_lams(model, task, examples, vecs, LAMS, op=op, progress=False)
    for k, lam in enumerate(LAMS):
        with ls.steer(model, vecs, lam=lam, op=op):
            ref = score_choices(model, task, examples)
        for a, b in zip(res[k].logprobs, ref.logprobs, strict=True):
            torch.testing.assert_close(torch.tensor(a), torch.tensor(b), atol=1e-4, rtol=1e-5)


def test_cache_keys_keep_ops_apart(tmp_path):
    model, vecs = _model(), _vecs()
    task = get_task("arc_challenge", data_dir=FIX / "arc_challenge")
    examples = task.load("test")
    cache = GenerationCache(tmp_path / "c.sqlite")
    kw = dict(cache=cache, progress=False)
    add = score_choices_lams(model, task, examples, vecs, [6.0], **kw)[0]
    clamp = score_choices_lams(model, task, examples, vecs, [6.0], op="clamp", **kw)[0]
    fresh = score_choices_lams(model, task, examples, vecs, [6.0], op="clamp", progress=False)[0]
    assert clamp.logprobs == fresh.logprobs and clamp.logprobs != add.logprobs


def test_graph_engine_adds_only():
    model, vecs = _model(), _vecs()
    with pytest.raises(ValueError, match="adds at block outputs only"):
        generate(model, PROMPTS, vectors=vecs, lams=[1.0], op="clamp", engine="graph",
                 max_new_tokens=2, progress=False)  # fmt: skip
    with pytest.raises(InputError, match="share of the direction"):
        generate(model, PROMPTS, vectors=vecs, lams=[1.0], op="ablate", relative=True,
                 max_new_tokens=2, progress=False)  # fmt: skip
