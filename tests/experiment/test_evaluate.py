"""Algorithm 3 + controls: every condition's numbers from a generator with known answers per λ."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from lens_steer.experiment import stats
from lens_steer.experiment.conditions import plan_conditions
from lens_steer.experiment.evaluate import CONTROLS, evaluate, random_directions
from lens_steer.tasks import Example, get_task
from lens_steer.vectors import SteeringVectors

ARC_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "arc_challenge"
N = 8
GRID = (0.1, 0.01, 0.05)  # deliberately not sorted: ITS must vote in ascending-λ order
LAM = 0.05
# answers of example i (gold "7") at each λ with the real vectors; None = nothing parseable
REAL = {
    0.0: ["7", "7", "1", "1", "1", "1", None, "1"],
    0.01: ["7", "1", "7", "2", None, None, None, "3"],
    0.05: ["7", "7", "7", "7", "7", None, None, "7"],
    0.1: ["1", "1", "7", "2", "2", "7", None, "3"],
}
# ITS (order 0.01, 0.05, 0.1): e0 7 | e1 1 | e2 7 | e3 2 | e4 tie 7@0.05 vs 2@0.1 → 7 |
# e5 only 7 votes → 7 | e6 all None → None | e7 3
ITS_ANSWERS = ["7", "1", "7", "2", "7", "7", None, "3"]
ITS_VOTES = [(2, 3), (2, 3), (3, 3), (2, 3), (1, 2), (1, 1), (0, 0), (2, 3)]
RANDOM = {lam: ["7"] + ["1"] * (N - 1) for lam in (0.01, 0.05, 0.1)}  # only e0 right
RANDOM[0.1] = ["5"] * N


def sc_answer(i: int, s: int) -> str:
    return "7" if (i + s) % 2 == 0 else "5"  # 3 samples: even i → 7,5,7; odd i → 5,7,5


class Model:
    tokenizer = None


class FakeGen:
    def __init__(self):
        self.calls: list[dict] = []

    def __call__(
        self, model, prompts, *, vectors=None, lams=None, temperature=0.0, n_samples=1, seed=0, **kw
    ):
        self.calls.append(
            dict(
                vectors=vectors,
                lams=lams,
                temperature=temperature,
                n_samples=n_samples,
                seed=seed,
                **kw,
            )
        )
        idx = [int(re.search(r"Q(\d+)", p).group(1)) for p in prompts]
        if lams is None and temperature > 0:
            return [[self.text(sc_answer(i, s)) for s in range(n_samples)] for i in idx]
        if lams is None:
            return [[self.text(REAL[0.0][i])] for i in idx]
        table = RANDOM if vectors.meta.get("control") == "random-direction" else REAL
        return [[self.text(table[lam][i]) for lam in lams] for i in idx]

    @staticmethod
    def text(ans):
        return "I am not sure." if ans is None else f"Work.\n#### The final answer is: {ans}"


def _vectors(n_layers: int = 3, d: int = 8) -> SteeringVectors:
    g = torch.Generator().manual_seed(0)
    d_ = torch.nn.functional.normalize(torch.randn(n_layers, d, generator=g), dim=-1)
    return SteeringVectors(d_, tuple(range(n_layers)), meta={"source_model": "fake"})


def _examples(n: int = N) -> list[Example]:
    return [Example(id=f"e{i}", question=f"Q{i} how many?", answer="7") for i in range(n)]


@pytest.fixture
def task():
    return get_task("gsm8k")


def _run(task, **kw):
    gen = FakeGen()
    args = dict(
        vectors=_vectors(),
        lam=LAM,
        its=True,
        grid=GRID,
        zero_shot=True,
        generate_fn=gen,
        progress=False,
    )
    args.update(kw)
    return evaluate(Model(), task, _examples(), **args), gen


def _check_paired(cond, base) -> None:
    correct = list(cond.correct)
    assert (cond.accuracy, cond.lo, cond.hi) == stats.accuracy_ci(correct)
    assert (cond.delta, cond.delta_lo, cond.delta_hi) == stats.paired_bootstrap(base, correct)
    assert cond.mcnemar_p == stats.mcnemar(base, correct)
    assert cond.only_baseline == sum(b and not c for b, c in zip(base, correct, strict=True))
    assert cond.only_condition == sum(c and not b for b, c in zip(base, correct, strict=True))


def test_every_condition(task) -> None:
    rep, gen = _run(task, controls=CONTROLS, seed=0, temperature=0.9)
    assert list(rep.conditions) == [
        "baseline",
        "steered",
        "its",
        "random-direction",
        "random-direction-its",
        "self-consistency",
    ]
    # three generate calls: real λ-batch (baseline row λ=0 + λ* + grid), random λ-batch, sampling
    assert len(gen.calls) == 3
    assert gen.calls[0]["lams"] == [0.0, 0.05, 0.1, 0.01]
    assert gen.calls[1]["lams"] == [0.05, 0.1, 0.01]
    assert gen.calls[1]["vectors"].layers == (0, 1, 2)
    sc = gen.calls[2]
    assert sc["lams"] is None and sc["vectors"] is None
    assert (sc["n_samples"], sc["temperature"], sc["seed"]) == (3, 0.9, 0)

    base = rep["baseline"]
    assert base.correct == (True, True) + (False,) * 6 and base.delta is None
    assert [p.answer for p in base.predictions] == REAL[0.0]
    assert rep["steered"].correct == tuple(a == "7" for a in REAL[0.05])
    assert rep["steered"].lam == 0.05 and rep["steered"].n_votes is None
    its = rep["its"]
    assert [p.answer for p in its.predictions] == ITS_ANSWERS
    assert [(p.votes, p.n_votes) for p in its.predictions] == ITS_VOTES
    assert its.n_correct == 4 and its.n_votes == 3 and its.lam == GRID
    assert its.predictions[4].answers == (None, "7", "2")  # ascending λ
    assert rep["random-direction"].n_correct == 1
    r_its = rep["random-direction-its"]
    assert r_its.n_votes == 3 and [p.answer for p in r_its.predictions] == ["7"] + ["1"] * 7
    sc_cond = rep["self-consistency"]
    assert sc_cond.n_votes == 3 and sc_cond.n_correct == 4
    assert all(len(p.outputs) == 3 for p in sc_cond.predictions)
    assert [p.votes for p in sc_cond.predictions] == [2] * N
    for name, cond in rep.conditions.items():
        assert cond.n == N
        if name != "baseline":
            _check_paired(cond, list(base.correct))
    pred = its.predictions[0]
    assert pred.id == "e0" and len(pred.prompt_sha256) == 16 and len(pred.outputs) == 3


def test_report_serialisation(task) -> None:
    rep, _ = _run(task, controls=CONTROLS)
    d = rep.to_dict()
    again, _ = _run(task, controls=CONTROLS)
    assert json.dumps(d) == json.dumps(again.to_dict())  # byte-stable
    assert list(d) == ["task", "scoring", "n", "config", "conditions"]
    st = d["conditions"]["steered"]
    assert list(st)[:8] == [
        "description",
        "lam",
        "n_votes",
        "n",
        "n_correct",
        "accuracy",
        "ci95",
        "vs_baseline",
    ]
    assert st["accuracy"] == 0.75 and st["vs_baseline"]["delta"] == 0.5
    assert st["vs_baseline"]["only_condition"] == 4 and st["vs_baseline"]["only_baseline"] == 0
    for cond in d["conditions"].values():
        for x in (*cond["ci95"], cond["accuracy"]):
            assert x == round(x, 6)
    assert d["conditions"]["its"]["lam"] == [0.1, 0.01, 0.05]
    assert d["conditions"]["its"]["predictions"][6] | {"outputs": None} == {
        "id": "e6",
        "prompt_sha256": rep["its"].predictions[6].prompt_sha256,
        "outputs": None,
        "answers": [None, None, None],
        "votes": 0,
        "n_votes": 0,
        "answer": None,
        "correct": False,
    }
    assert "predictions" not in rep.to_dict(predictions=False)["conditions"]["baseline"]
    assert d["config"]["controls"] == list(CONTROLS) and d["config"]["n_self_consistency"] == 3
    assert d["config"]["vectors"]["meta"] == {"source_model": "fake"}
    table = rep.summary_table()
    assert "self-consistency" in table and "3 votes" in table and "+0.500" in table


def test_baseline_only_and_lam_outside_grid(task) -> None:
    gen = FakeGen()
    rep = evaluate(Model(), task, _examples(), zero_shot=True, generate_fn=gen, progress=False)
    assert list(rep.conditions) == ["baseline"] and gen.calls[0]["lams"] is None
    assert rep["baseline"].n_correct == 2
    rep, gen = _run(task, lam=0.01, its=False)
    assert list(rep.conditions) == ["baseline", "steered"] and gen.calls[0]["lams"] == [0.0, 0.01]
    assert rep.config["grid"] is None


def test_per_layer_lam_gets_its_own_call(task) -> None:
    seen = []

    def gen(model, prompts, *, vectors=None, lams=None, **kw):
        seen.append((vectors, lams))
        return [["#### 7"] * len(lams) for _ in prompts]

    v = _vectors()
    rep = evaluate(
        Model(),
        task,
        _examples(2),
        vectors=v,
        lam=[0.1, 0.2, 0.3],
        zero_shot=True,
        generate_fn=gen,
        progress=False,
    )
    assert [lams for _, lams in seen] == [[0.0], [1.0]]
    assert torch.allclose(seen[1][0].directions, v.directions * torch.tensor([[0.1], [0.2], [0.3]]))
    assert rep["steered"].lam == (0.1, 0.2, 0.3) and rep.to_dict()["config"]["lam"] == [
        0.1,
        0.2,
        0.3,
    ]


def test_its_without_lam_reads_shifted_columns(task) -> None:
    # no λ*: the grid starts right after the baseline column, and the random directions' call
    # holds the grid alone; self-consistency takes an explicit vote count instead of len(grid)
    rep, gen = _run(task, lam=None, controls=CONTROLS, n_self_consistency=5, seed=2)
    assert [c["lams"] for c in gen.calls[:2]] == [[0.0, 0.1, 0.01, 0.05], [0.1, 0.01, 0.05]]
    assert gen.calls[2]["n_samples"] == 5 and gen.calls[2]["seed"] == 2
    assert list(rep.conditions) == [
        "baseline",
        "its",
        "random-direction-its",
        "self-consistency",
    ]
    assert [p.answer for p in rep["its"].predictions] == ITS_ANSWERS
    assert rep["its"].predictions[4].answers == (None, "7", "2")  # ascending λ
    assert [p.answer for p in rep["random-direction-its"].predictions] == ["7"] + ["1"] * 7
    sc = rep["self-consistency"]
    assert sc.n_votes == 5 and [p.votes for p in sc.predictions] == [3] * N
    assert {name: c.description for name, c in rep.conditions.items()} == {
        "baseline": "unsteered model",
        "its": "ITS: mode over 3 λ",
        "random-direction-its": "ITS over 3 λ with random unit directions (seed 2)",
        "self-consistency": "unsteered, 5 samples at T=0.7, majority vote",
    }
    assert rep.to_dict()["config"] == {
        "lam": None,
        "its": True,
        "grid": [0.1, 0.01, 0.05],
        "controls": list(CONTROLS),
        "scoring": "generate",
        "positions": "all",
        "relative": False,
        "op": "add",
        "max_new_tokens": 256,
        "prompting": "zero-shot",
        "temperature": 0.7,
        "n_self_consistency": 5,
        "seed": 2,
        "choice_options": None,
        "vectors": {"layers": [0, 1, 2], "d_model": 8, "meta": {"source_model": "fake"}},
    }


def test_plan_conditions_columns() -> None:
    steer, conds = plan_conditions(
        0.05, (0.1, 0.01, 0.05), CONTROLS, seed=0, n_sc=2, temperature=0.5
    )
    assert steer == [0.05, 0.1, 0.01, 0.05]  # λ*, then the grid as given
    # the real table has the baseline in column 0; ITS reads the grid in ascending λ
    assert [(c.name, c.source, c.columns, c.n_votes) for c in conds] == [
        ("baseline", "real", (0,), None),
        ("steered", "real", (1,), None),
        ("its", "real", (3, 4, 2), 3),
        ("random-direction", "random", (0,), None),
        ("random-direction-its", "random", (2, 3, 1), 3),
        ("self-consistency", "samples", (0, 1), 2),
    ]
    steer, conds = plan_conditions(None, None, (), seed=0, n_sc=0, temperature=0.5)
    assert steer == [] and [c.name for c in conds] == ["baseline"]


def test_random_directions() -> None:
    v = _vectors()
    r = random_directions(v, seed=3)
    assert r.layers == v.layers and r.directions.shape == v.directions.shape
    assert torch.allclose(r.directions.norm(dim=-1), torch.ones(3))
    assert torch.equal(r.directions, random_directions(v, seed=3).directions)
    assert not torch.equal(r.directions, random_directions(v, seed=4).directions)
    assert r.meta["control"] == "random-direction" and r.meta["source_model"] == "fake"


def test_errors(task) -> None:
    with pytest.raises(ValueError, match="grid is empty"):
        _run(task, grid=())
    with pytest.raises(ValueError, match="finite"):
        _run(task, lam=math.nan)
    with pytest.raises(ValueError, match="finite"):
        _run(task, grid=(0.1, math.inf))
    with pytest.raises(ValueError, match="no examples"):
        evaluate(Model(), task, [], generate_fn=FakeGen())
    with pytest.raises(ValueError, match="its=True needs steering vectors"):
        _run(task, vectors=None, lam=None)
    with pytest.raises(ValueError, match="lam needs steering vectors"):
        _run(task, vectors=None, its=False)
    with pytest.raises(
        ValueError,
        match=r"unknown control\(s\) \['shuffled'\]: choose from \['random-direction', 'self-consistency'\]",
    ):
        _run(task, controls=("random-direction", "shuffled"))
    with pytest.raises(ValueError, match="nothing would be steered"):
        _run(task, lam=None, its=False)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        _run(task, controls=("self-consistency",), temperature=0.0)
    with pytest.raises(ValueError, match="multiple-choice"):
        _run(task, scoring="loglik")
