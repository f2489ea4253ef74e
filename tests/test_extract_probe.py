"""method="probe": scikit-learn's own LogisticRegression (defaults: L2, C = 1) is the reference
for the directions; held-out accuracy and convergence are recorded per layer."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import lens_steer as ls
from lens_steer.extract import probe_directions
from lens_steer.testing import tiny_model

PAIRS = [
    ("The answer is right and correct.", "The answer is wrong and false."),
    ("Yes, that is true.", "No, that is untrue."),
    ("A careful, correct result.", "A sloppy, incorrect result."),
    ("Correct: four.", "Incorrect: five."),
    ("It is accurate.", "It is inaccurate."),
    ("True statement here.", "False statement here."),
    ("The sum is right.", "The sum is wrong."),
    ("Exactly so.", "Not so at all."),
]


def _reference(model, layers):
    pos = [p for p, _ in PAIRS]
    neg = [n for _, n in PAIRS]
    acts = ls.last_token_activations(model, pos + neg, layers, 8, False)
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    out = []
    for i in range(len(layers)):
        coef = LogisticRegression().fit(acts[:, i].double().numpy(), y).coef_[0]
        out.append(coef / np.linalg.norm(coef))
    return np.stack(out)


def test_probe_directions_are_sklearns_coefficients():
    model = tiny_model("llama", 32, 3)
    vecs = ls.extract(model, PAIRS, method="probe", progress=False)
    ref = _reference(model, [0, 1, 2])
    np.testing.assert_allclose(vecs.directions.numpy(), ref, atol=1e-6)
    assert vecs.meta["method"] == "probe" and len(vecs.meta["probe_accuracy"]) == 3
    assert all(0.0 <= a <= 1.0 for a in vecs.meta["probe_accuracy"])
    assert all(isinstance(c, bool) for c in vecs.meta["probe_converged"])
    assert (vecs.sign_agreement >= 0.5).all()


def test_planted_direction_is_found_and_held_out_accuracy_is_perfect():
    gen = torch.Generator().manual_seed(0)
    n, d = 40, 16
    v = torch.nn.functional.normalize(torch.randn(d, generator=gen), dim=0)
    base = torch.randn(n, 1, d, generator=gen) * 0.3
    pos, neg = base + 2.0 * v, base - 2.0 * v
    dirs, accuracy, converged = probe_directions(pos, neg, seed=0)
    assert float(dirs[0] @ v) > 0.95
    assert accuracy == [1.0] and converged == [True]


def test_few_pairs_have_no_held_out_accuracy():
    pos, neg = torch.randn(3, 2, 8), torch.randn(3, 2, 8)
    _, accuracy, _ = probe_directions(pos, neg)
    assert accuracy == [None, None]


@pytest.mark.integration
def test_probe_on_smollm2_equals_sklearn(smollm2):
    vecs = ls.extract(smollm2, PAIRS, method="probe", layers=[5, 20], progress=False)
    np.testing.assert_allclose(vecs.directions.numpy(), _reference(smollm2, [5, 20]), atol=1e-5)


def test_an_unconverged_probe_is_recorded_and_said(monkeypatch):
    """Outlier dimensions of large norm, as LLM residual streams have, stop lbfgs early."""
    gen = torch.Generator().manual_seed(0)
    scale = torch.ones(64)
    scale[:3] = 1e3
    pos = torch.randn(16, 1, 64, generator=gen) * scale
    neg = torch.randn(16, 1, 64, generator=gen) * scale
    _, _, converged = probe_directions(pos, neg)
    assert converged == [False]
    model = tiny_model("llama", 32, 2)
    acts = torch.cat([pos, neg])[:, :, :32].expand(-1, 2, -1)
    ex = importlib.import_module("lens_steer.extract")  # ls.extract is the function
    monkeypatch.setattr(ex, "last_token_activations", lambda *a, **k: acts)
    pairs = [(f"good {i}", f"bad {i}") for i in range(16)]
    with pytest.warns(UserWarning, match=r"did not converge at layers \[0, 1\]"):
        vecs = ls.extract(model, pairs, method="probe", progress=False)
    assert vecs.meta["probe_converged"] == [False, False]
