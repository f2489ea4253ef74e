"""search_layers: each candidate set's accuracy equals score_choices under ls.steer with that
set's per-layer λ (one λ-batched pass per step), and the greedy rule finds the one layer that
matters on a synthetic scorer and stops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lens_steer as ls
from lens_steer.errors import InputError
from lens_steer.experiment.layer_search import (
    LayerSearch,
    describe_stop,
    greedy_forward,
    search_layers,
)
from lens_steer.tasks import get_task, score_choices
from lens_steer.testing import tiny_model, unit_directions

pytestmark = pytest.mark.usefixtures("one_thread")

ARC_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "arc_challenge"
LAM = 6.0


@pytest.fixture(scope="module")
def setup():
    model = tiny_model("llama", 32, 4)
    vecs = ls.SteeringVectors(unit_directions(4, 32, seed=3), (0, 1, 2, 3))
    task = get_task("arc_challenge", data_dir=ARC_DIR)
    return model, vecs, task, task.load("dev")[:12]


def _reference(model, vecs, task, exs, layers) -> float:
    lam = [LAM if k in layers else 0.0 for k in vecs.layers]
    with ls.steer(model, vecs, lam=lam):
        return float(np.mean(score_choices(model, task, exs, batch_size=16).correct))


@pytest.mark.parametrize("strategy", ["single", "leave-one-out"])
def test_every_set_equals_steering_it_alone(setup, strategy):
    model, vecs, task, exs = setup
    res = search_layers(model, vecs, task, exs, LAM, strategy=strategy, progress=False)
    assert len(res.steps) == 5
    for step in res.steps:
        assert step.accuracy == pytest.approx(_reference(model, vecs, task, exs, step.layers))
    assert res.best in [s.layers for s in res.steps]
    assert res.to_dict()["strategy"] == strategy


def test_one_step_costs_one_batched_call(setup, monkeypatch):
    import lens_steer.engine.loglik as loglik

    model, vecs, task, exs = setup
    calls = []
    real = loglik.score_choices_lams

    def spy(*args, **kw):
        calls.append(len(args[4]))
        return real(*args, **kw)

    monkeypatch.setattr(loglik, "score_choices_lams", spy)
    search_layers(model, vecs, task, exs, LAM, strategy="single", progress=False)
    assert calls == [5]  # the plain model and four single layers, one pass


def test_greedy_finds_the_one_layer_that_matters_and_stops():
    rng = np.random.default_rng(0)
    n = 200
    truth = rng.random(n) < 0.3  # plain accuracy 0.3

    boost = rng.random(n) < 0.5  # only layer 2 helps: these items become right with it

    def score(sets):
        return np.array([truth | boost if 2 in s else truth for s in sets]).T

    path, rounds = greedy_forward(score, [0, 1, 2, 3], max_layers=4)
    assert [s.layers for s in path] == [(), (2,)]
    assert path[1].delta[1] > 0
    # round 1 kept layer 2; round 2 scored the three pairs with it, none better: the stop
    assert [r.kept for r in rounds] == [True, False]
    assert rounds[0].added == (0, 1, 2, 3) and rounds[0].best == 2
    assert rounds[0].n_correct == (truth.sum(), truth.sum(), (truth | boost).sum(), truth.sum())
    assert rounds[1].base == (2,) and rounds[1].added == (0, 1, 3)
    assert rounds[1].n_correct == ((truth | boost).sum(),) * 3 and rounds[1].delta[0] == 0


def _search(score, layers, max_layers):
    steps, rounds = greedy_forward(score, layers, max_layers)
    return LayerSearch("greedy-forward", 1.0, tuple(steps), steps[-1].layers, tuple(rounds))


def test_a_search_that_stops_at_once_keeps_its_nearest_miss():
    """Every layer helps a little, none enough for the CI: the record still names the layer that
    came closest, its count and its Δ CI (reaching 0), and says the CI stopped it."""
    n = 100
    truth = np.zeros(n, bool)
    truth[:30] = True

    def score(sets):
        cols = []
        for s in sets:
            c = truth.copy()
            c[30 : 30 + sum(1 + k for k in s)] = True  # layer k adds k + 1 right answers
            cols.append(c)
        return np.array(cols).T

    res = _search(score, [0, 1, 2], 3)
    assert [s.layers for s in res.steps] == [()] and res.stopped == "ci"
    (miss,) = res.rounds
    assert not miss.kept and miss.best == 2 and miss.n_correct == (31, 32, 33)
    assert miss.delta[0] == pytest.approx(0.03) and miss.delta[1] <= 0 < miss.delta[2]
    rec = res.to_dict()
    assert rec["stopped"] == "ci"
    assert rec["rounds"][0]["candidates"] == [
        {"added": 0, "n_correct": 31}, {"added": 1, "n_correct": 32}, {"added": 2, "n_correct": 33}
    ]  # fmt: skip
    words = describe_stop(rec)
    assert words.startswith("stopped: best addition to [] L2, 33/100, Δ +3.0 pp [+0.0, +")
    assert words.endswith("]: its CI reaches 0")


def test_the_nearest_miss_counts_its_ties_and_never_prints_minus_zero():
    cands = [{"added": k, "n_correct": c} for k, c in [(3, 71), (5, 74), (9, 74)]]
    rec = {"stopped": "ci", "rounds": [{"base": [1], "candidates": cands, "n": 299, "best": 5,
                                        "delta": [0.01, -0.0003, 0.023], "kept": False}]}  # fmt: skip
    assert describe_stop(rec) == (
        "stopped: best addition to [1] L5 (tied with 1 more), 74/299, Δ +1.0 pp [+0.0, +2.3]:"
        " its CI reaches 0"
    )
    assert describe_stop({"stopped": "max_layers"}) == "stopped: max_layers reached"
    assert describe_stop({"steps": []}) == ""  # a map, or a record from before rounds


def _gains(n_layers, n=400, seed=1):
    rng = np.random.default_rng(seed)
    gain = [rng.random(n) < 0.3 for _ in range(n_layers)]  # each layer makes its own items right

    def score(sets):
        return np.array([np.any([np.zeros(n, bool), *(gain[k] for k in s)], 0) for s in sets]).T

    return score


@pytest.mark.parametrize(
    "max_layers, stopped",
    [(1, "max_layers"), (2, "max_layers"), (3, "exhausted"), (5, "exhausted")],
)
def test_a_search_that_keeps_adding_says_why_it_ended(max_layers, stopped):
    res = _search(_gains(3), [0, 1, 2], max_layers)
    k = min(max_layers, 3)
    assert len(res.steps) == k + 1 and len(res.rounds) == k and all(r.kept for r in res.rounds)
    assert res.stopped == stopped and res.to_dict()["stopped"] == stopped
    for r, before, after in zip(res.rounds, res.steps[:-1], res.steps[1:], strict=True):
        assert r.base == before.layers  # later rounds start from several layers
        assert r.added == tuple(x for x in (0, 1, 2) if x not in before.layers)
        assert after.layers == tuple(sorted((*r.base, r.best)))
        assert r.n_correct[r.added.index(r.best)] == after.n_correct


def test_greedy_path_on_a_model_is_validated(setup):
    model, vecs, task, exs = setup
    res = search_layers(model, vecs, task, exs, LAM, max_layers=2, progress=False)
    assert res.steps[0].layers == ()
    for step in res.steps:
        assert step.accuracy == pytest.approx(_reference(model, vecs, task, exs, step.layers))
    first = res.rounds[0]  # every candidate of the first round, against steering it alone
    for k, count in zip(first.added, first.n_correct, strict=True):
        assert count / len(exs) == pytest.approx(_reference(model, vecs, task, exs, (k,)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"strategy": "random"}, InputError, "unknown strategy"),
        ({"op": "clamp"}, InputError, "leave a layer alone"),
        ({"max_layers": 0}, InputError, "max_layers"),
        ({"scoring": "vote"}, ValueError, "unknown scoring"),
    ],
)
def test_bad_searches_fail_clearly(setup, kwargs, error, match):
    model, vecs, task, exs = setup
    with pytest.raises(error, match=match):
        search_layers(model, vecs, task, exs, LAM, progress=False, **kwargs)


@pytest.mark.parametrize("op", ["add", "ablate"])
def test_generate_scoring_grades_each_set_as_ls_steer_would(op):
    """scoring="generate": each set is a per-layer λ row of one generate call; its verdicts equal
    generating under ls.steer with that set's λ and grading with the task."""
    from lens_steer.engine.generate import generate

    model = tiny_model("llama", 32, 3)
    vecs = ls.SteeringVectors(unit_directions(3, 32, seed=4), (0, 1, 2))
    task = get_task("gsm8k", data_dir=ARC_DIR.parent / "gsm8k")
    exs = task.load("test")[:4]
    lam = 6.0 if op == "add" else 40.0  # ablate: reflect and amplify the component along v̂
    opts = dict(zero_shot=True, max_new_tokens=8, op=op, progress=False)
    res = search_layers(model, vecs, task, exs, lam, strategy="single", scoring="generate", **opts)
    prompts = [task.prompt(ex, tokenizer=model.tokenizer, zero_shot=True) for ex in exs]
    outputs = set()
    for step in res.steps:
        per_layer = [lam if k in step.layers else 0.0 for k in vecs.layers]
        with ls.steer(model, vecs, lam=per_layer, op=op):
            outs = generate(model, prompts, max_new_tokens=8, stop_sequences=task.stop_sequences,
                            progress=False)  # fmt: skip
        outputs.add(tuple(o[0] for o in outs))
        want = np.mean([task.is_correct(o[0], ex) for o, ex in zip(outs, exs, strict=True)])
        assert step.accuracy == pytest.approx(want, abs=1e-6)
    assert len(outputs) > 1  # the sets steered the generations differently
