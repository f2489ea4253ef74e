"""evaluate on a real (tiny, random) model: log-likelihood scoring against score_choices under
ls.steer at every λ, and the generation engine's conditions against the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lens_steer.experiment.evaluate import CONTROLS, evaluate, random_directions
from lens_steer.steer import steer
from lens_steer.tasks import Example, get_task, score_choices

ARC_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "arc_challenge"


def test_loglik_arc_on_tiny_model(tiny, tiny_vectors) -> None:
    task = get_task("arc_challenge", data_dir=ARC_DIR)
    exs = task.load("test")[:4]
    vecs = tiny_vectors(tiny, seed=2)
    grid = (8.0, 2.0)
    rep = evaluate(
        tiny,
        task,
        exs,
        vectors=vecs,
        lam=2.0,
        its=True,
        grid=grid,
        controls=("random-direction",),
        scoring="loglik",
        batch_size=8,
        progress=False,
    )
    assert list(rep.conditions) == [
        "baseline",
        "steered",
        "its",
        "random-direction",
        "random-direction-its",
    ]
    plain = score_choices(tiny, task, exs, batch_size=8)
    assert [p.answer for p in rep["baseline"].predictions] == plain.predicted
    assert list(rep["baseline"].correct) == plain.correct
    picks = {}
    for lam in grid:
        with steer(tiny, vecs, lam=lam):
            picks[lam] = score_choices(tiny, task, exs, batch_size=8).predicted
    assert [p.answer for p in rep["steered"].predictions] == picks[2.0]
    its = rep["its"].predictions
    assert [p.answers for p in its] == [(picks[2.0][i], picks[8.0][i]) for i in range(4)]
    assert all(p.answer == p.answers[0] for p in its)  # 1-1 ties go to the smaller λ
    rand = random_directions(vecs, seed=0)
    with steer(tiny, rand, lam=2.0):
        rpicks = score_choices(tiny, task, exs, batch_size=8).predicted
    assert [p.answer for p in rep["random-direction"].predictions] == rpicks
    assert rep.to_dict()["conditions"]["its"]["predictions"][0]["prompt_sha256"] is None
    with pytest.raises(ValueError, match="self-consistency"):
        evaluate(tiny, task, exs, controls=("self-consistency",), scoring="loglik")


def test_real_generate_engine(tiny, tiny_vectors) -> None:
    from lens_steer.engine.generate import generate as real_generate

    task = get_task("gsm8k")
    exs = [Example(id=f"e{i}", question=f"Q{i} how many?", answer="7") for i in range(2)]
    vecs = tiny_vectors(tiny, seed=2)
    rep = evaluate(
        tiny,
        task,
        exs,
        vectors=vecs,
        lam=1.0,
        its=True,
        grid=(1.0, 4.0),
        controls=CONTROLS,
        zero_shot=True,
        max_new_tokens=3,
        batch_size=4,
        progress=False,
    )
    assert list(rep.conditions) == [
        "baseline",
        "steered",
        "its",
        "random-direction",
        "random-direction-its",
        "self-consistency",
    ]
    for cond in rep.conditions.values():
        assert cond.n == 2
        if cond.n_votes is not None:
            assert cond.n_votes == 2 and all(len(p.outputs) == 2 for p in cond.predictions)
    prompts = [task.prompt(ex, tokenizer=tiny.tokenizer, zero_shot=True) for ex in exs]
    plain = real_generate(
        tiny, prompts, max_new_tokens=3, progress=False, stop_sequences=task.stop_sequences
    )
    assert [p.outputs[0] for p in rep["baseline"].predictions] == [row[0] for row in plain]
    assert [p.outputs[0] for p in rep["steered"].predictions] == [
        p.outputs[0] for p in rep["its"].predictions
    ]
    json.dumps(rep.to_dict())
