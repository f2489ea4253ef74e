"""PC1 similarity for same and different widths: planted directions, self-similarity, CKA and the
child-space comparison after transfer, on synthetic tensors and tiny random models."""

import numpy as np
import pytest
import torch

import lens_steer as ls
from lens_steer.analysis import (
    cka_similarity,
    pc1_similarity,
    projection_similarity,
    similarity_figure,
    transfer_similarity,
    write_figure,
)
from lens_steer.analysis.similarity import projection_scores, score_correlation
from lens_steer.extract import directions_from_differences
from lens_steer.testing import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matrices: see conftest


@pytest.fixture(scope="module")
def models():
    return tiny_model("llama", d_model=32, n_layers=3, seed=0), tiny_model(
        "qwen2", d_model=48, n_layers=4, seed=1
    )


PAIRS = [
    (f"Q: {a} plus {b}? A: {a + b}.", f"Q: {a} plus {b}? A: {a + b + 3}.")
    for a, b in [
        (1, 2),
        (3, 4),
        (5, 9),
        (12, 7),
        (20, 5),
        (8, 8),
        (31, 2),
        (6, 14),
        (9, 1),
        (4, 40),
    ]
]


def _planted(strength: torch.Tensor, d: int, n_layers: int, seed: int) -> torch.Tensor:
    """Pair differences strength_i · u_l + isotropic noise of norm ≈ 1, per layer."""
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(n_layers, d, generator=gen)
    u = u / u.norm(dim=-1, keepdim=True)
    noise = torch.randn(len(strength), n_layers, d, generator=gen) / d**0.5
    return strength[:, None, None] * u[None] + noise


def test_projection_correlation_finds_a_shared_concept_across_widths():
    gen = torch.Generator().manual_seed(0)
    shared = torch.rand(200, generator=gen) * 2.0 + 0.1
    other = torch.rand(200, generator=gen) * 2.0 + 0.1
    diffs_a = _planted(shared, 32, 3, seed=1)
    diffs_b = _planted(shared, 48, 4, seed=2)
    diffs_c = _planted(other, 48, 4, seed=3)
    scores = []
    for diffs in (diffs_a, diffs_b, diffs_c):
        dirs, _, _ = directions_from_differences(diffs, "pca", seed=0)
        scores.append(projection_scores(diffs, dirs))
    same = score_correlation(scores[0], scores[1])
    unrelated = score_correlation(scores[0], scores[2])
    assert same.shape == (3, 4) and unrelated.shape == (3, 4)
    assert float(same.min()) > 0.8
    assert float(unrelated.abs().max()) < 0.3


def test_score_correlation_rejects_mismatched_items():
    with pytest.raises(ValueError, match="same n"):
        score_correlation(torch.randn(5, 2), torch.randn(6, 2))


def _vectors(rows: torch.Tensor) -> ls.SteeringVectors:
    rows = rows / rows.norm(dim=-1, keepdim=True)
    return ls.SteeringVectors(rows, tuple(range(len(rows))))


def test_pc1_cosine_same_width_planted_and_self():
    gen = torch.Generator().manual_seed(0)
    a = _vectors(torch.randn(4, 64, generator=gen))
    rows_b = torch.randn(3, 64, generator=gen)
    rows_b[1] = -2.0 * a.directions[2]  # layer 1 of B is layer 2 of A, flipped
    b = _vectors(rows_b)
    self_sim = pc1_similarity(a, a)
    assert np.allclose(self_sim.diagonal, 1.0)
    sim = pc1_similarity(a, b, labels=("A", "B"))
    assert sim.matrix.shape == (4, 3)
    assert sim.matrix[2, 1] == pytest.approx(-1.0)
    off = np.delete(sim.matrix[:, 1], 2)
    assert np.abs(off).max() < 0.5  # random 64-d directions are nearly orthogonal
    corr = pc1_similarity(a, a, measure="correlation")
    assert np.allclose(corr.diagonal, 1.0)
    fig = sim.figure()
    assert np.asarray(fig.data[0].z).shape == (4, 3)


def test_pc1_cosine_refuses_different_widths():
    a = _vectors(torch.randn(2, 32))
    b = _vectors(torch.randn(2, 48))
    with pytest.raises(ValueError, match="32 and 48.*projection_similarity"):
        pc1_similarity(a, b)


def test_projection_similarity_tiny_models_of_different_widths(models, tmp_path):
    a, b = models
    sim = projection_similarity(a, b, PAIRS, labels=("llama-32", "qwen2-48"))
    assert sim.matrix.shape == (3, 4)
    assert sim.n == len(PAIRS)
    assert np.isfinite(sim.matrix).all() and np.abs(sim.matrix).max() <= 1.0 + 1e-9
    self_sim = projection_similarity(b, b, PAIRS)
    assert np.allclose(self_sim.diagonal, 1.0)
    cka = cka_similarity(a, b, [t for pair in PAIRS for t in pair])
    assert cka.matrix.shape == (3, 4)
    assert (cka.matrix >= -1e-9).all() and (cka.matrix <= 1 + 1e-9).all()
    assert np.allclose(cka_similarity(a, a, [t for p in PAIRS for t in p]).diagonal, 1.0)
    fig = similarity_figure([sim, cka], "tiny")
    assert [tr.type for tr in fig.data] == ["heatmap", "heatmap"]
    out = write_figure(fig, tmp_path / "pc1.html")
    assert "Plotly.newPlot" in out.read_text()


def test_transfer_similarity_truncate_onto_itself_recovers_its_own_pc1(models):
    a, b = models
    vecs = ls.extract(a, PAIRS, progress=False)
    res = transfer_similarity(vecs, a, PAIRS, source_model=a, widths=("ridge", "truncate"))
    assert set(res.results) == {"ridge", "truncate"}
    # truncate between equal widths is the identity, so each vector is the child's own PC1
    assert np.allclose(res.results["truncate"].diagonal, 1.0, atol=1e-4)
    across = transfer_similarity(vecs, b, PAIRS, source_model=a, widths=("ridge", "truncate"))
    assert across.results["ridge"].matrix.shape == (3, 4)  # greedy: child layers 0-2 ← parent
    assert across.results["ridge"].col_layers == (0, 1, 2, 3)
    assert len(across.figure().data) == 2
