"""Per-layer ablation on a tiny model: λ = 0 is the baseline everywhere, steering one layer equals
steering the vectors restricted to that layer, and the layer × λ grid agrees with both."""

from pathlib import Path

import numpy as np
import pytest
import torch

import lens_steer as ls
from lens_steer.analysis import layer_ablation
from lens_steer.analysis.ablation import ablation_entries
from lens_steer.testing import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matrices: see conftest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def setup():
    model = tiny_model("llama", d_model=32, n_layers=3, seed=0)
    gen = torch.Generator().manual_seed(0)
    d = torch.randn(3, 32, generator=gen)
    vecs = ls.SteeringVectors(d / d.norm(dim=-1, keepdim=True), (0, 1, 2))
    task = ls.get_task("arc_challenge", data_dir=DATA / "arc_challenge")
    examples = task.splits(seed=0, n_val=16).val[:16]
    return model, vecs, task, examples


# Per-token averages: summed log-probs of a random model rank options by length whatever the
# steering, which would make every comparison below trivially equal.
OPTS = {"scoring": "loglik", "choice_options": {"length_normalize": "tokens"}, "progress": False}


def test_entries():
    entries = ablation_entries(3, 0.5)
    assert entries[:2] == [("baseline", None, 0.0), ("all", None, 0.5)]
    assert ("only", 1, (0.0, 0.5, 0.0)) in entries
    assert ("all-but-one", 1, (0.5, 0.0, 0.5)) in entries
    with pytest.raises(ValueError, match="unknown ablation modes"):
        ablation_entries(3, 0.5, ("none",))


def test_zero_lambda_is_the_baseline_everywhere(setup):
    model, vecs, task, examples = setup
    res = layer_ablation(model, vecs, task, examples, 0.0, **OPTS)
    base = res.baseline.accuracy
    for rows in res.per_layer.values():
        assert [r.accuracy for r in rows] == [base] * 3
        assert all(r.lo <= r.accuracy <= r.hi and r.n == 16 for r in rows)
    assert res.all_layers.accuracy == base


def test_one_layer_equals_the_restricted_vectors(setup):
    model, vecs, task, examples = setup
    lam = 2.0
    res = layer_ablation(model, vecs, task, examples, lam, lams=[lam, 40.0], **OPTS)
    base = res.baseline.accuracy
    assert any(r.accuracy != base for r in res.per_layer["only"])  # steering does something
    for i, layer in enumerate(vecs.layers):
        alone = ls.tune_lambda(model, vecs.select([layer]), task, examples, [lam], **OPTS)
        assert res.per_layer["only"][i].accuracy == alone.best_accuracy
        assert res.grid[i, 0] == pytest.approx(alone.best_accuracy - base)
    assert res.grid.shape == (4, 2)
    assert res.grid[3, 0] == pytest.approx(res.all_layers.accuracy - base)
    fig = res.figure()
    names = [tr.name for tr in fig.data]
    assert "steer only layer" in names and "steer all but this layer" in names
    only = next(tr for tr in fig.data if tr.name == "steer only layer")
    assert list(only.y) == [r.accuracy for r in res.per_layer["only"]]
    heat = res.heatmap_figure()
    assert np.allclose(np.asarray(heat.data[0].z), 100 * res.grid)
    assert res.to_dict()["lams"] == [2.0, 40.0]
