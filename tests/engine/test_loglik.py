"""λ-batched log-likelihood scoring equals score_choices under steer, λ by λ, and caches."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

import lens_steer.engine.loglik as loglik_mod
from lens_steer import Options, SteeringVectors, steer
from lens_steer.engine.loglik import score_choices_lams
from lens_steer.engine.store import GenerationCache
from lens_steer.experiment.lambda_sweep import choice_columns
from lens_steer.tasks import get_task, score_choices
from lens_steer.testing import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matrices: see conftest

FIX = Path(__file__).resolve().parents[1] / "data" / "tasks"
LAMS = [0.0, 0.5, 3.0]


@pytest.fixture(scope="module")
def task():
    return get_task("arc_challenge", data_dir=FIX / "arc_challenge")


@pytest.fixture(scope="module")
def examples(task):
    return task.load("test") + task.load("dev")[:2]


@pytest.fixture(scope="module")
def llama():
    return tiny_model("llama")


def _vectors(model, seed: int = 0) -> SteeringVectors:
    g = torch.Generator().manual_seed(seed)
    n, d = model.cfg.n_layers, model.cfg.d_model
    dirs = torch.nn.functional.normalize(torch.randn(n, d, generator=g), dim=-1)
    return SteeringVectors(dirs, tuple(range(n)))


def _reference(model, task, examples, vecs, lam, relative=False, **opts):
    if lam == 0.0:
        return score_choices(model, task, examples, batch_size=4, **opts)
    with steer(model, vecs, lam=lam, relative=relative):
        return score_choices(model, task, examples, batch_size=4, **opts)


@pytest.mark.parametrize("family", ["llama", "qwen3", "gemma3"])
@pytest.mark.parametrize("batch_size", [3, 64])
def test_equals_score_choices_under_steer(task, examples, family, batch_size) -> None:
    model = tiny_model(family)
    vecs = _vectors(model)
    got = score_choices_lams(
        model, task, examples, vecs, LAMS, batch_size=batch_size, progress=False
    )
    assert len(got) == len(LAMS)
    for lam, res in zip(LAMS, got, strict=True):
        ref = _reference(model, task, examples, vecs, lam)
        for a, b in zip(res.logprobs, ref.logprobs, strict=True):
            assert a == pytest.approx(b, abs=2e-4)
        assert res.predicted == ref.predicted
        assert res.correct == ref.correct


def test_steering_changes_scores(llama, task, examples) -> None:
    res = score_choices_lams(llama, task, examples, _vectors(llama), [0.0, 3.0], progress=False)
    assert res[0].logprobs != res[1].logprobs


def test_shared_context_path_is_taken(llama, task, examples, monkeypatch) -> None:
    """One example per batch: the question is computed once per λ (a shared prefix), by
    prefill or, when rows share lower blocks too (few layers here), by the trunk."""
    import lens_steer.engine.prefill as prefill_mod
    import lens_steer.engine.trunk as trunk_mod

    seen = []
    real, real_trunk = prefill_mod.prefill, trunk_mod.trunk_logits

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(out.shared)
        return out

    def spy_trunk(*args, **kwargs):
        out = real_trunk(*args, **kwargs)
        if out is not None:
            seen.append("trunk")
        return out

    monkeypatch.setattr(prefill_mod, "prefill", spy)
    monkeypatch.setattr(trunk_mod, "trunk_logits", spy_trunk)
    score_choices_lams(llama, task, examples, _vectors(llama), LAMS, progress=False)
    assert len(seen) == len(examples)  # 4 options × 3 λ fit one batch per example
    assert all(s == "trunk" or s >= 8 for s in seen)
    monkeypatch.setattr(trunk_mod, "trunk_logits", lambda *a, **k: None)
    seen.clear()
    score_choices_lams(llama, task, examples, _vectors(llama, seed=1), LAMS, progress=False)
    assert len(seen) == len(examples) and min(seen) >= 8


@pytest.mark.parametrize("opts", [{"length_normalize": "tokens"}, {"target": "label"}])
def test_relative_and_options(llama, task, examples, opts) -> None:
    vecs = _vectors(llama, seed=1)
    got = score_choices_lams(
        llama, task, examples, vecs, [0.2], relative=True, progress=False, **opts
    )[0]
    ref = _reference(llama, task, examples, vecs, 0.2, relative=True, **opts)
    for a, b in zip(got.scores, ref.scores, strict=True):
        assert a == pytest.approx(b, abs=2e-4)


def test_hooks_engine_equals_plain(llama, task, examples) -> None:
    vecs = _vectors(llama)
    plain = score_choices_lams(llama, task, examples, vecs, LAMS, progress=False)
    hooks = score_choices_lams(llama, task, examples, vecs, LAMS, progress=False, engine="hooks")
    for a, b in zip(plain, hooks, strict=True):
        for x, y in zip(a.logprobs, b.logprobs, strict=True):
            assert x == pytest.approx(y, abs=2e-4)


def test_cache_serves_every_row_and_resumes_exactly(llama, task, examples, tmp_path, monkeypatch):
    vecs = _vectors(llama)
    whole = score_choices_lams(
        llama,
        task,
        examples,
        vecs,
        LAMS,
        cache=GenerationCache(tmp_path / "a.sqlite"),
        progress=False,
    )
    # A run killed after the first examples: its cache holds whole examples (one batch each).
    part = GenerationCache(tmp_path / "b.sqlite")
    score_choices_lams(llama, task, examples[:2], vecs, LAMS, cache=part, progress=False)
    resumed = score_choices_lams(llama, task, examples, vecs, LAMS, cache=part, progress=False)
    assert [r.logprobs for r in resumed] == [r.logprobs for r in whole]  # exact floats

    def boom(*args, **kwargs):
        raise AssertionError("a cached row was recomputed")

    monkeypatch.setattr(loglik_mod, "_prefill", boom)
    again = score_choices_lams(llama, task, examples, vecs, LAMS, cache=part, progress=False)
    assert [r.logprobs for r in again] == [r.logprobs for r in whole]


def test_unsteered_without_vectors(llama, task, examples) -> None:
    got = score_choices_lams(llama, task, examples, None, [0.0], progress=False)[0]
    ref = score_choices(llama, task, examples)
    for a, b in zip(got.logprobs, ref.logprobs, strict=True):
        assert a == pytest.approx(b, abs=2e-4)


def test_choice_columns_per_layer_entry(llama, task, examples) -> None:
    vecs = _vectors(llama)
    per_layer = (0.5, 0.0, 2.0)
    picks, ok = choice_columns(
        llama,
        task,
        examples,
        vecs,
        [None, 0.5, per_layer],
        Options(relative=False, batch_size=16),
        choice_options=None,
    )
    with steer(llama, vecs, lam=list(per_layer)):
        ref = score_choices(llama, task, examples)
    assert [row[2] for row in picks] == ref.predicted
    assert [row[2] for row in ok] == ref.correct
    assert [row[0] for row in picks] == score_choices(llama, task, examples).predicted


def test_bad_input(llama, task, examples) -> None:
    vecs = _vectors(llama)
    with pytest.raises(ValueError, match="lams is empty"):
        score_choices_lams(llama, task, examples, vecs, [], progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        score_choices_lams(llama, task, examples, vecs, [1.0], batch_size=0, progress=False)
    with pytest.raises(ValueError, match="no examples"):
        score_choices_lams(llama, task, [], vecs, [1.0], progress=False)
    with pytest.raises(ValueError, match="length_normalize"):
        score_choices_lams(llama, task, examples, vecs, [1.0], length_normalize="bytes")
    with pytest.raises(ValueError, match="unknown choice_options"):
        choice_columns(
            llama,
            task,
            examples,
            vecs,
            [1.0],
            Options(relative=False, batch_size=8),
            choice_options={"prompts": ["x"]},
        )
