"""lm-evaluation-harness's own ``steered`` model, offline, on an exported steer file: the same
per-choice log-likelihoods, picks and accuracy on 30 ARC-Challenge test questions as
``ls.score_choices`` under ``ls.steer`` at the same λ — six layers in one file, so a hook that
bound another layer's vector would show."""

from __future__ import annotations

import pytest

from lens_steer.models import hf_directory

pytestmark = pytest.mark.integration


def test_lm_eval_steered_model_equals_lens_steer(
    smollm2, lens_steer_cache, interop, concept, tmp_path
):
    hf_dir = hf_directory(interop.SMOLLM2, lens_steer_cache)
    res = interop.lm_eval_agreement(smollm2, hf_dir, concept, 4.0, tmp_path, n=30)
    assert res["effect"] > 0.5, "λ too small to tell steered from unsteered"
    assert res["picks changed by λ"] >= 1
    assert res["max |Δ loglik|"] < 1e-3, res  # float32 both sides: measured 4e-5
    assert res["picks equal"], res
    assert res["acc lm-eval"] == pytest.approx(res["acc lens_steer"])
