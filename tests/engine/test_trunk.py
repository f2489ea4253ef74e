"""The shared trunk (engine/trunk.py): rows steering different layer subsets compute the plain
blocks below their first steered layer once, and every score and token equals the plain
batched pass (trunk off) and ls.steer's hook path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import lens_steer as ls
import lens_steer.engine.trunk as trunk_mod
from lens_steer.engine.generate import generate
from lens_steer.engine.loglik import score_choices_lams
from lens_steer.engine.trunk import _classes
from lens_steer.tasks import get_task, score_choices
from lens_steer.testing import tiny_model, unit_directions

pytestmark = pytest.mark.usefixtures("one_thread")

ARC = Path(__file__).resolve().parents[3] / "shared" / "data" / "arc_challenge"
N = 4
#: the plain model, each layer alone, two pairs: a greedy step's rows
ROWS = [tuple(0.0 for _ in range(N))] + [
    tuple(6.0 if k == j else 0.0 for k in range(N)) for j in range(N)
] + [(0.0, 6.0, 0.0, 6.0), (0.0, 0.0, 6.0, 6.0)]  # fmt: skip


@pytest.fixture(scope="module")
def setup():
    model = tiny_model("llama", 32, N)
    vecs = ls.SteeringVectors(unit_directions(N, 32, seed=5), tuple(range(N)))
    return model, vecs


def _counted(monkeypatch, name: str) -> list[bool]:
    """Wrap ``trunk.<name>``; the list records, per call, whether it returned something."""
    real, calls = getattr(trunk_mod, name), []

    def counted(*args, **kwargs):
        got = real(*args, **kwargs)
        calls.append(got is not None)
        return got

    monkeypatch.setattr(trunk_mod, name, counted)
    return calls


@pytest.fixture
def spy(monkeypatch):
    """Count trunk passes, or switch the trunk off."""
    return _counted(monkeypatch, "trunk_for"), monkeypatch


def test_classes_split_at_each_rows_first_difference():
    coefs = torch.tensor(ROWS).T  # [layer, group]
    got = _classes(coefs)
    assert got[0] == [0, 1, 0, 0, 0, 0, 0]  # only "layer 0 alone" leaves the plain trunk
    assert got[1] == [0, 1, 2, 0, 0, 2, 0]
    assert got[3] == [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("op", ["add", "ablate"])
def test_loglik_rows_equal_the_plain_pass_and_the_hook_path(setup, spy, op):
    model, vecs = setup
    made, monkeypatch = spy
    task = get_task("arc_challenge", data_dir=ARC)
    exs = task.load("dev")[:5]
    lams = ROWS if op == "add" else [tuple(x / 6 for x in r) for r in ROWS]
    kw = dict(op=op, batch_size=64, progress=False)
    scored = _counted(monkeypatch, "trunk_logits")
    with_trunk = score_choices_lams(model, task, exs, vecs, lams, **kw)
    assert any(made) and sum(scored) >= 3  # the context and the options through the trunk
    monkeypatch.setattr(trunk_mod, "trunk_for", lambda *a, **k: None)
    without = score_choices_lams(model, task, exs, vecs, lams, **kw)
    for a, b, lam in zip(with_trunk, without, lams, strict=True):
        torch.testing.assert_close(torch.tensor(a.logprobs), torch.tensor(b.logprobs),
                                   atol=1e-4, rtol=1e-5)  # fmt: skip
        with ls.steer(model, vecs, lam=list(lam), op=op):
            ref = score_choices(model, task, exs, batch_size=16)
        torch.testing.assert_close(torch.tensor(a.logprobs), torch.tensor(ref.logprobs),
                                   atol=2e-4, rtol=1e-5)  # fmt: skip


def test_a_sweep_of_vectors_above_the_first_block_shares_the_blocks_below(setup, spy):
    """generate's λ columns of vectors at layers 2-3 share blocks 0-1; tokens are unchanged."""
    model, vecs = setup
    made, _ = spy
    upper = vecs.select([2, 3])
    stem = "Question: which of these is a mammal, a fish or a bird? Answer with one word."
    prompts = [f"{stem} First try", f"{stem} Second"]
    lams = [0.0, 3.0, -3.0, 6.0]
    outs = generate(model, prompts, vectors=upper, lams=lams, max_new_tokens=5, progress=False)
    assert any(made)
    for k, lam in enumerate(lams):
        with ls.steer(model, upper, lam=lam):
            ref = generate(model, prompts, max_new_tokens=5, progress=False)
        assert [o[k] for o in outs] == [r[0] for r in ref]


def test_the_trunk_is_taken_only_when_it_saves_a_tenth():
    from types import SimpleNamespace

    from lens_steer.engine.trunk import trunk_for

    def adder(coefs, layers, **kw):
        base = dict(positions="all", point="hook_resid_post", op="add",
                    dirs=torch.zeros(len(layers), 8))  # fmt: skip
        return SimpleNamespace(coefs=torch.tensor(coefs).T, layers=layers, **{**base, **kw})

    plain = SimpleNamespace(name="plain", attn="sdpa", decoder_layers=[None] * 30)
    sweep = [[lam] * 30 for lam in (1.0, 2.0, 4.0)]  # splits at block 0: saves 2 of 90 rows
    assert trunk_for(adder(sweep, tuple(range(30))), plain, "cpu") is None
    single = [[1.0 if k == j else 0.0 for k in range(30)] for j in range(30)]
    assert trunk_for(adder(single, tuple(range(30))), plain, "cpu") is not None
    assert trunk_for(adder(single, tuple(range(30)), positions="generated"), plain, "cpu") is None
    assert trunk_for(adder(single, tuple(range(30)), point="hook_mlp_out"), plain, "cpu") is None
    upper = [[lam] * 6 for lam in (1.0, 2.0)]  # vectors at 20-25 share blocks 0-19
    assert trunk_for(adder(upper, tuple(range(20, 26))), plain, "cpu") is not None
    graph = SimpleNamespace(name="plain", attn="lens_steer_sdpa", decoder_layers=[None] * 30)
    assert trunk_for(adder(single, tuple(range(30))), graph, "cpu") is None


@pytest.mark.parametrize("op", ["add", "ablate", "clamp"])
def test_generate_takes_per_layer_rows(setup, op):
    """A layer search's rows in generate: each equals ls.steer with that per-layer λ."""
    model, vecs = setup
    stem = "Question: which of these is a mammal, a fish or a bird? Answer with one word."
    prompts = [f"{stem} First try", f"{stem} Second"]
    rows = ROWS[:4] if op == "add" else [tuple(x / 3 for x in r) for r in ROWS[:4]]
    outs = generate(model, prompts, vectors=vecs, lams=[*rows, 2.0], op=op, max_new_tokens=5,
                    progress=False)  # fmt: skip
    for k, lam in enumerate([*rows, 2.0]):
        with ls.steer(model, vecs, lam=list(lam) if isinstance(lam, tuple) else lam, op=op):
            ref = generate(model, prompts, max_new_tokens=5, progress=False)
        assert [o[k] for o in outs] == [r[0] for r in ref]
    as_tensor = generate(model, prompts, vectors=vecs, lams=torch.tensor(rows), op=op,
                         max_new_tokens=5, progress=False)  # fmt: skip
    assert as_tensor == [o[:4] for o in outs]  # a 2-D tensor is rows, not flattened λ
    with pytest.raises(ValueError, match="one finite λ per steered layer"):
        generate(model, prompts, vectors=vecs, lams=[(1.0, 2.0)], max_new_tokens=2,
                 progress=False)  # fmt: skip


@pytest.mark.parametrize("family", ["qwen2", "gemma3"])
def test_other_families_score_per_layer_rows_as_the_hook_path(family, monkeypatch):
    """Qwen2 runs through the trunk like Llama; Gemma 3's sliding-window layers keep the plain
    pass (their caches are not pre-allocated). Both equal ls.steer's hook path."""
    used = _counted(monkeypatch, "trunk_logits")
    model = tiny_model(family, 32, N)
    vecs = ls.SteeringVectors(unit_directions(N, 32, seed=6), tuple(range(N)))
    task = get_task("arc_challenge", data_dir=ARC)
    exs = task.load("dev")[:3]
    got = score_choices_lams(model, task, exs, vecs, ROWS, batch_size=64, progress=False)
    for res, lam in zip(got, ROWS, strict=True):
        with ls.steer(model, vecs, lam=list(lam)):
            ref = score_choices(model, task, exs, batch_size=16)
        torch.testing.assert_close(torch.tensor(res.logprobs), torch.tensor(ref.logprobs),
                                   atol=2e-4, rtol=1e-5)  # fmt: skip
    assert any(used) == (family == "qwen2")
