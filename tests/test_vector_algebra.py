"""Vector algebra on SteeringVectors: new values with the composition in their provenance, and a
clear error when the operands cannot be combined."""

from __future__ import annotations

import pytest
import torch

from lens_steer import SteeringVectors
from lens_steer.errors import InputError
from lens_steer.testing import unit_directions


def _vecs(seed: int, layers=(1, 2, 3), d: int = 8, **meta) -> SteeringVectors:
    d_ = unit_directions(len(layers), d, seed=seed) * (seed + 1)
    return SteeringVectors(
        d_,
        layers,
        explained_variance=torch.full((len(layers),), 0.5),
        sign_agreement=torch.ones(len(layers)),
        meta={"kind": "extracted", "method": "pca", "hook_point": "hook_resid_post", **meta},
    )


def test_sum_difference_negation_scaling():
    a, b = _vecs(0), _vecs(1)
    assert torch.equal((a + b).directions, a.directions + b.directions)
    assert torch.equal((a - b).directions, a.directions - b.directions)
    assert torch.equal((-a).directions, -a.directions)
    assert torch.equal((2.5 * a).directions, 2.5 * a.directions)
    assert torch.equal((a * 2.5).directions, (2.5 * a).directions)
    assert torch.allclose((a / 4).directions, a.directions / 4)
    assert a.directions.equal(_vecs(0).directions)  # operands untouched


def test_composition_is_recorded_and_extraction_stats_dropped():
    a, b = _vecs(0, model_n_layers=6), _vecs(1, model_n_layers=6)
    s = a - 0.5 * b
    assert s.meta["kind"] == "composed" and s.meta["composition"]["op"] == "-"
    left, right = s.meta["composition"]["operands"]
    assert left["method"] == "pca" and right["composition"] == {
        "op": "scale",
        "operands": [dict(b.meta)],
        "factor": 0.5,
    }
    assert s.meta["model_n_layers"] == 6 and s.explained_variance is None
    assert s.sign_agreement is None


def test_operands_are_aligned_by_layer_not_row():
    a = _vecs(0, layers=(1, 2, 3))
    b = _vecs(1, layers=(1, 2, 3)).select([3, 1, 2])
    assert torch.equal((a + b)[3], a[3] + b[3])


def test_normalized_keeps_direction_and_statistics():
    a = _vecs(2)
    n = a.normalized()
    assert torch.allclose(n.directions.norm(dim=-1), torch.ones(3))
    assert torch.allclose(n.directions * 3, a.directions)
    assert n.explained_variance is not None and n.meta["normalized"] is True
    with pytest.raises(InputError, match="zero"):
        (a - a).normalized()


@pytest.mark.parametrize(
    "other, match",
    [
        (_vecs(1, layers=(1, 2)), "select the same layers"),
        (_vecs(1, d=4), "width 8 and 4"),
        (_vecs(1, hook_point="hook_mlp_out"), "different hook points"),
    ],
)
def test_incompatible_operands_fail_clearly(other, match):
    with pytest.raises(InputError, match=match):
        _vecs(0) + other


def test_wrong_types_are_type_errors():
    a = _vecs(0)
    with pytest.raises(TypeError):
        a + 1.0
    with pytest.raises(TypeError):
        a * a
    with pytest.raises(TypeError):
        True * a
    with pytest.raises(InputError, match="scale"):
        a * float("inf")
    with pytest.raises(InputError, match="divide"):
        a / 0
