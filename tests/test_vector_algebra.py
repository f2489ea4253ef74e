"""Vector algebra on SteeringVectors: new values with the composition in their provenance, and a
clear error when the operands cannot be combined."""

from __future__ import annotations

import json

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
    a = _vecs(0, model_n_layers=6, source_model="m", data_hash="aa")
    b = _vecs(1, model_n_layers=6, source_model="m", data_hash="bb")
    s = a - 0.5 * b
    assert s.meta["kind"] == "composed" and s.meta["composition"]["op"] == "-"
    left, right = s.meta["composition"]["operands"]
    assert left["method"] == "pca" and left["data_hash"] == "aa" and len(left["fingerprint"]) == 16
    assert right["op"] == "scale" and "data_hash" not in right  # a composed operand: its op
    assert s.meta["model_n_layers"] == 6 and s.meta["source_model"] == "m"
    assert s.explained_variance is None and s.sign_agreement is None


def test_provenance_does_not_grow_with_repeated_composition():
    x = _vecs(0)
    x = x + x
    x = x + x
    size = len(json.dumps(dict(x.meta)))
    for _ in range(20):
        x = x + x
    assert len(json.dumps(dict(x.meta))) == size


def test_sum_of_a_list():
    a, b, c = _vecs(0), _vecs(1), _vecs(2)
    assert torch.equal(sum([a, b, c]).directions, a.directions + b.directions + c.directions)


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
        (_vecs(1, hook_point="hook_mlp_out"), "different hook_point"),
        (_vecs(1, coordinates="processed"), "different coordinates"),
        (_vecs(1, model_n_layers=4), "different model_n_layers"),
        (_vecs(1, coordinates="raw", model_n_layers=6, hook_point="hook_attn_out"), "hook_point"),
    ],
)
def test_incompatible_operands_fail_clearly(other, match):
    left = _vecs(0, coordinates="raw", model_n_layers=6)
    with pytest.raises(InputError, match=match):
        left + other


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
    with pytest.raises(InputError, match="divide"):
        a / float("inf")
