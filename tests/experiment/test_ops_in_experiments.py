"""op= through tune_lambda, evaluate and run configs: each condition equals the hook path
(``with ls.steer(..., op=...)``); under clamp the baseline is still the plain model."""

from __future__ import annotations

from pathlib import Path

import pytest

import lens_steer as ls
from lens_steer.errors import InputError
from lens_steer.pipeline.config import config_hash, validate_config
from lens_steer.tasks import get_task, score_choices
from lens_steer.testing import unit_directions

pytestmark = pytest.mark.usefixtures("one_thread")

ARC_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "arc_challenge"
GSM_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k"


def _vecs(model) -> ls.SteeringVectors:
    return ls.SteeringVectors(unit_directions(3, model.cfg.d_model, seed=2) * 2, (0, 1, 2))


@pytest.mark.parametrize("op", ["ablate", "clamp"])
def test_evaluate_loglik_with_an_op(tiny, op):
    task = get_task("arc_challenge", data_dir=ARC_DIR)
    exs, vecs = task.load("test")[:6], _vecs(tiny)
    rep = ls.evaluate(tiny, task, exs, vectors=vecs, lam=4.0, scoring="loglik", op=op,
                      batch_size=8, progress=False)  # fmt: skip
    plain = score_choices(tiny, task, exs, batch_size=8)
    assert [p.answer for p in rep["baseline"].predictions] == plain.predicted
    with ls.steer(tiny, vecs, lam=0.0, op=op):
        at_zero = score_choices(tiny, task, exs, batch_size=8)
    assert (at_zero.logprobs != plain.logprobs) == (op == "clamp")  # clamp at 0 still steers
    with ls.steer(tiny, vecs, lam=4.0, op=op):
        steered = score_choices(tiny, task, exs, batch_size=8)
    assert [p.answer for p in rep["steered"].predictions] == steered.predicted


@pytest.mark.parametrize("op", ["ablate", "clamp"])
def test_tune_and_evaluate_generate_with_an_op(tiny, op):
    task = get_task("gsm8k", data_dir=GSM_DIR)
    exs, vecs = task.load("test")[:3], _vecs(tiny)
    opts = ls.Options(op=op, max_new_tokens=6, zero_shot=True, progress=False)
    tuned = ls.tune_lambda(tiny, vecs, task, exs, grid=[0.0, 3.0], options=opts)
    prompts = [task.prompt(ex, tokenizer=tiny.tokenizer, zero_shot=True) for ex in exs]
    for k, lam in enumerate([0.0, 3.0]):
        with ls.steer(tiny, vecs, lam=lam, op=op):
            ref = ls.generate(tiny, prompts, max_new_tokens=6, stop_sequences=task.stop_sequences,
                              progress=False)  # fmt: skip
        assert [row[k] for row in tuned.outputs] == [r[0] for r in ref], (op, lam)
    rep = ls.evaluate(tiny, task, exs, vectors=vecs, lam=3.0, options=opts)
    plain = ls.generate(tiny, prompts, max_new_tokens=6, stop_sequences=task.stop_sequences,
                        progress=False)  # fmt: skip
    assert [p.outputs[0] for p in rep["baseline"].predictions] == [r[0] for r in plain]
    calls = []

    def spy(model, prompts, **kw):
        calls.append((kw.get("vectors") is not None, kw.get("lams")))
        return ls.generate(model, prompts, **kw)

    ls.evaluate(tiny, task, exs, vectors=vecs, lam=3.0, options=opts, generate_fn=spy)
    # the baseline: λ = 0 in the steered batch for ablate, a call without vectors for clamp
    assert calls == ([(False, None), (True, [3.0])] if op == "clamp" else [(True, [0.0, 3.0])])
    with ls.steer(tiny, vecs, lam=3.0, op=op):
        ref = ls.generate(tiny, prompts, max_new_tokens=6, stop_sequences=task.stop_sequences,
                          progress=False)  # fmt: skip
    assert [p.outputs[0] for p in rep["steered"].predictions] == [r[0] for r in ref]


def test_per_layer_grids_need_add(tiny):
    task = get_task("arc_challenge", data_dir=ARC_DIR)
    with pytest.raises(InputError, match="op='add' only"):
        ls.tune_lambda(tiny, _vecs(tiny), task, task.load("test")[:2], grid=[[1.0, 2.0, 3.0]],
                       scoring="loglik", op="ablate", progress=False)  # fmt: skip


def test_run_config_takes_an_op_and_old_hashes_hold():
    base = {"parent": "p", "child": "c", "tasks": [{"name": "gsm8k"}]}
    cfg = validate_config(base)
    assert cfg["steer"]["op"] == "add"
    old = {**cfg, "steer": {"positions": "all", "relative": False}}  # written before ops
    assert config_hash(cfg) == config_hash(old)
    ablate = validate_config({**base, "steer": {"op": "ablate"}})
    assert config_hash(ablate) != config_hash(cfg)
    with pytest.raises(ValueError, match="op"):
        validate_config({**base, "steer": {"op": "scale"}})


def test_op_settings_are_refused_before_any_work(tiny):
    task = get_task("gsm8k", data_dir=GSM_DIR)
    calls = []

    def spy(model, prompts, **kw):
        calls.append(kw)
        return ls.generate(model, prompts, **kw)

    grid = [1.0, [1.0, 2.0, 3.0]]  # a scalar first: it must not be generated before the refusal
    with pytest.raises(InputError, match="op='add' only"):
        ls.tune_lambda(tiny, _vecs(tiny), task, task.load("test")[:2], grid=grid, op="clamp",
                       generate_fn=spy, progress=False)  # fmt: skip
    with pytest.raises(InputError, match="share of the direction"):
        ls.evaluate(tiny, task, task.load("test")[:2], vectors=_vecs(tiny), lam=1.0,
                    op="ablate", relative=True, generate_fn=spy, progress=False)  # fmt: skip
    assert calls == []


@pytest.mark.parametrize(
    "steer, grid, match",
    [
        ({"op": "ablate", "relative": True}, None, "set relative: false"),
        ({"op": "clamp"}, [1.0, [1.0, 2.0]], "grid: per-layer λ entries work with steer.op 'add'"),
        ({"op": "ablate"}, ("its_grid", [[1.0, 2.0]]), "its_grid: per-layer λ entries work"),
    ],
)
def test_run_config_refuses_what_an_op_cannot_take(steer, grid, match):
    key, grid = grid if isinstance(grid, tuple) else ("grid", grid)
    task = {"name": "gsm8k", **({key: grid} if grid else {})}
    with pytest.raises(ValueError, match=match):
        validate_config({"parent": "p", "child": "c", "steer": steer, "tasks": [task]})


def test_steering_ratio_per_op(tiny):
    from lens_steer.pipeline.run import _steering_ratio

    vecs = _vecs(tiny)  # norm 2 per layer
    add = _steering_ratio(tiny, vecs, 0.5, True, "add")
    clamp = _steering_ratio(tiny, vecs, 0.5, True, "clamp")
    assert add["ratio"] == pytest.approx([1.0] * 3) and clamp["ratio"] == pytest.approx([0.5] * 3)
    assert _steering_ratio(tiny, vecs, 0.5, False, "ablate") is None
