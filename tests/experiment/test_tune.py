"""Algorithm 2 (λ tuning): the grid, λ-batched generation, the accuracy table and the tie rule."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from lens_steer.experiment import stats
from lens_steer.experiment.tune import PAPER_LAMBDA_GRID, TuneResult, tune_lambda
from lens_steer.steer import steer
from lens_steer.tasks import Example, get_task, score_choices
from lens_steer.vectors import SteeringVectors

ARC_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "arc_challenge"


class Model:
    """Stand-in for a model: the fake generators below never run it."""

    tokenizer = None


class FakeGen:
    """Deterministic generator: ``answer(i, lam)`` is example i's answer at scalar λ ``lam``.

    A per-layer call arrives as vectors scaled layer by layer at ``lams=[1.0]``; it is looked up
    by the tuple of its row norms (the original vectors are unit norm).
    """

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[dict] = []

    def __call__(self, model, prompts, *, vectors=None, lams=None, **kw):
        self.calls.append({"n": len(prompts), "vectors": vectors, "lams": lams, **kw})
        idx = [int(re.search(r"Q(\d+)", p).group(1)) for p in prompts]
        if lams == [1.0] and vectors is not None and vectors.meta.get("scaled"):
            keys = [tuple(round(float(x), 6) for x in vectors.directions.norm(dim=-1))]
        else:
            keys = list(lams) if lams is not None else [None]
        return [[self._text(self.answer(i, k)) for k in keys] for i in idx]

    @staticmethod
    def _text(ans):
        return "no idea" if ans is None else f"Some steps.\n#### The final answer is: {ans}"


def _vectors(n_layers: int = 2, d: int = 8) -> SteeringVectors:
    d_ = torch.nn.functional.normalize(
        torch.randn(n_layers, d, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    return SteeringVectors(d_, tuple(range(n_layers)), meta={"source_model": "fake"})


def _examples(n: int) -> list[Example]:
    return [Example(id=f"e{i}", question=f"Q{i} how many?", answer="7") for i in range(n)]


@pytest.fixture
def task():
    return get_task("gsm8k")  # no data_dir: nothing is loaded, prompts are zero-shot


def test_paper_grid() -> None:
    assert len(PAPER_LAMBDA_GRID) == 19
    assert PAPER_LAMBDA_GRID[:9] == (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09)
    assert PAPER_LAMBDA_GRID[9:] == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert all(
        type(x) is float and repr(x) == str(x) and len(str(x)) <= 4 for x in PAPER_LAMBDA_GRID
    )


def test_tune_table_tie_rule_and_one_call(task) -> None:
    # accuracy: λ=0.5 → 4/6, λ=0.02 → 4/6 (tie, smaller wins), λ=0.05 → 2/6, λ=1.0 → 0/6
    right = {0.5: {0, 1, 2, 3}, 0.02: {2, 3, 4, 5}, 0.05: {0, 5}, 1.0: set()}
    gen = FakeGen(lambda i, lam: "7" if i in right[lam] else ("3" if i % 2 else None))
    res = tune_lambda(
        Model(),
        _vectors(),
        task,
        _examples(6),
        grid=(0.5, 0.02, 0.05, 1.0),
        zero_shot=True,
        generate_fn=gen,
        progress=False,
        max_new_tokens=17,
        batch_size=5,
    )
    assert isinstance(res, TuneResult)
    assert res.best == 0.02 and res.best_index == 1 and res.best_accuracy == pytest.approx(4 / 6)
    assert len(gen.calls) == 1  # λ-batched: the whole grid in one generate call
    call = gen.calls[0]
    assert call["lams"] == [0.5, 0.02, 0.05, 1.0] and call["n"] == 6
    assert call["max_new_tokens"] == 17 and call["batch_size"] == 5
    assert call["stop_sequences"] == task.stop_sequences and call["positions"] == "all"
    assert res.correct.shape == (6, 4) and res.correct.dtype == bool
    for k, row in enumerate(res.table):
        col = [i in right[res.grid[k]] for i in range(6)]
        assert (row.accuracy, row.lo, row.hi) == stats.accuracy_ci(col)
        assert (row.n_correct, row.n) == (sum(col), 6)
        assert res.correct[:, k].tolist() == col
    assert res.answers[2][1] == "7" and res.answers[0][1] is None and res.answers[1][3] == "3"
    assert "#### The final answer is: 7" in res.outputs[0][0]
    d = res.to_dict()
    assert json.dumps(d) == json.dumps(res.to_dict())
    assert d["best"] == 0.02 and d["table"][0]["ci95"] == [
        round(res.table[0].lo, 6),
        round(res.table[0].hi, 6),
    ]
    assert d["examples"][0]["id"] == "e0" and len(d["examples"][0]["outputs"]) == 4
    assert "examples" not in res.to_dict(outputs=False)
    assert "*" in res.summary_table().splitlines()[2]


def test_tune_all_zero_accuracy_picks_smallest(task) -> None:
    gen = FakeGen(lambda i, lam: "1")
    res = tune_lambda(
        Model(),
        _vectors(),
        task,
        _examples(3),
        grid=PAPER_LAMBDA_GRID[::-1],
        zero_shot=True,
        generate_fn=gen,
        progress=False,
    )
    assert res.best == 0.01 and res.best_accuracy == 0.0


def test_tune_per_layer_grid(task) -> None:
    vecs = _vectors().replace(meta={"scaled": True})
    grid = [(0.3, 0.2), 0.5, (0.1, 0.4), (0.1, 0.1)]
    right = {(0.3, 0.2): {0, 1}, 0.5: {0}, (0.1, 0.4): {1, 2}, (0.1, 0.1): {2}}
    gen = FakeGen(lambda i, lam: "7" if i in right[lam] else "5")
    res = tune_lambda(
        Model(),
        vecs,
        task,
        _examples(3),
        grid=grid,
        zero_shot=True,
        generate_fn=gen,
        progress=False,
    )
    assert res.grid == ((0.3, 0.2), 0.5, (0.1, 0.4), (0.1, 0.1))
    assert res.best == (0.3, 0.2)  # tied with (0.1, 0.4): first in grid order
    assert [r.n_correct for r in res.table] == [2, 1, 2, 1]
    # one λ-batched call for the scalar entries, one per per-layer entry on scaled vectors
    assert [c["lams"] for c in gen.calls] == [[0.5], [1.0], [1.0], [1.0]]
    scaled = gen.calls[1]["vectors"]
    assert torch.allclose(scaled.directions, vecs.directions * torch.tensor([[0.3], [0.2]]))
    assert res.to_dict()["best"] == [0.3, 0.2]


def test_tune_errors(task) -> None:
    gen = FakeGen(lambda i, lam: "7")
    kw = dict(zero_shot=True, generate_fn=gen, progress=False)
    v, exs = _vectors(), _examples(2)
    with pytest.raises(ValueError, match="grid is empty"):
        tune_lambda(Model(), v, task, exs, grid=(), **kw)
    with pytest.raises(ValueError, match="finite"):
        tune_lambda(Model(), v, task, exs, grid=(0.1, math.nan), **kw)
    with pytest.raises(ValueError, match="finite"):
        tune_lambda(Model(), v, task, exs, grid=(0.1, (0.2, math.inf)), **kw)
    with pytest.raises(ValueError, match="3 per-layer values .* 2 layers"):
        tune_lambda(Model(), v, task, exs, grid=((0.1, 0.2, 0.3),), **kw)
    with pytest.raises(ValueError, match="no examples"):
        tune_lambda(Model(), v, task, [], **kw)
    with pytest.raises(ValueError, match="unknown scoring"):
        tune_lambda(Model(), v, task, exs, scoring="vibes", **kw)
    with pytest.raises(ValueError, match="multiple-choice"):
        tune_lambda(Model(), v, task, exs, scoring="loglik", **kw)
    assert gen.calls == []


# ---- real models --------------------------------------------------------------------------


def test_tune_loglik_arc_on_tiny_model(tiny, tiny_vectors) -> None:
    task = get_task("arc_challenge", data_dir=ARC_DIR)
    exs = task.load("test")[:3]
    vecs = tiny_vectors(tiny, seed=1)
    grid = (0.0, 4.0, (8.0, 0.0, 2.0))
    res = tune_lambda(
        tiny, vecs, task, exs, grid=grid, scoring="loglik", batch_size=4, progress=False
    )
    for k, lam in enumerate(grid):
        with steer(tiny, vecs, lam=lam):
            ref = score_choices(tiny, task, exs, batch_size=4)
        assert [row[k] for row in res.outputs] == ref.predicted
        assert res.correct[:, k].tolist() == ref.correct
    assert res.best in grid and np.isclose(res.best_accuracy, res.correct.mean(axis=0).max())
    rel = tune_lambda(
        tiny, vecs, task, exs, grid=(0.5,), scoring="loglik", relative=True, progress=False
    )
    with steer(tiny, vecs, lam=0.5, relative=True):
        assert [row[0] for row in rel.outputs] == score_choices(tiny, task, exs).predicted
    with pytest.raises(ValueError, match="positions='all'"):
        tune_lambda(tiny, vecs, task, exs, grid=grid, scoring="loglik", positions="generated")


def test_tune_real_generate_engine(tiny, tiny_vectors) -> None:
    from lens_steer.engine.generate import generate as real_generate

    task = get_task("gsm8k")
    vecs = tiny_vectors(tiny, seed=1)
    exs = _examples(2)
    grid = (0.0, 1.0, (2.0, 0.0, 1.0))
    res = tune_lambda(
        tiny,
        vecs,
        task,
        exs,
        grid=grid,
        zero_shot=True,
        max_new_tokens=3,
        batch_size=4,
        progress=False,
    )
    assert len(res.outputs) == 2 and all(len(row) == 3 for row in res.outputs)
    prompts = [task.prompt(ex, tokenizer=tiny.tokenizer, zero_shot=True) for ex in exs]
    plain = real_generate(
        tiny, prompts, max_new_tokens=3, progress=False, stop_sequences=task.stop_sequences
    )
    assert [row[0] for row in res.outputs] == [row[0] for row in plain]  # λ = 0 is unsteered
    with steer(tiny, vecs, lam=[2.0, 0.0, 1.0]):  # per-layer λ folded into scaled vectors
        hooked = real_generate(
            tiny, prompts, max_new_tokens=3, progress=False, stop_sequences=task.stop_sequences
        )
    assert [row[2] for row in res.outputs] == [row[0] for row in hooked]
