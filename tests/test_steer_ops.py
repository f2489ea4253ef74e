"""ls.steer(op=...): add, ablate and clamp equal plain transformers forward hooks on the same HF
decoder layers, written here from the definitions; per-row λ works for every op."""

from __future__ import annotations

import pytest
import torch

import lens_steer as ls
from lens_steer.errors import InputError
from lens_steer.testing import tiny_hf_model, tiny_model, unit_directions

pytestmark = pytest.mark.usefixtures("one_thread")

LAYERS = (0, 2)


def _vecs(d_model: int = 32) -> ls.SteeringVectors:
    return ls.SteeringVectors(unit_directions(2, d_model, seed=5) * 3.0, LAYERS)


def _reference(op: str, vecs: ls.SteeringVectors, lam: float, ids: torch.Tensor) -> torch.Tensor:
    """The definition, as forward hooks on a fresh copy of the same HF weights."""
    hf = tiny_hf_model("llama", 32, 3)

    def hook_for(v: torch.Tensor):
        unit = v / v.norm()

        def hook(module, args, output):
            h = output[0] if isinstance(output, tuple) else output
            proj = (h @ unit).unsqueeze(-1)
            if op == "add":
                new = h + lam * v
            elif op == "ablate":
                new = h - lam * proj * unit
            else:
                new = h - proj * unit + lam * unit
            return (new, *output[1:]) if isinstance(output, tuple) else new

        return hook

    handles = [hf.model.layers[k].register_forward_hook(hook_for(vecs[k])) for k in vecs.layers]
    try:
        with torch.no_grad():
            return hf(ids).logits
    finally:
        for h in handles:
            h.remove()


@pytest.mark.parametrize(
    "op, lam", [("add", 0.7), ("ablate", 1.0), ("ablate", 0.4), ("clamp", 2.0)]
)
def test_ops_equal_transformers_forward_hooks(op, lam):
    model, vecs = tiny_model("llama", 32, 3), _vecs()
    ids = model.tokenizer(["The cat sat on the mat today"], return_tensors="pt")["input_ids"]
    with torch.no_grad(), ls.steer(model, vecs, lam=lam, op=op):
        ours = model(ids)
    ref = _reference(op, vecs, lam, ids)
    plain = _reference("add", vecs, 0.0, ids)
    assert not torch.allclose(ref, plain, atol=1e-3), "the op changes nothing here"
    torch.testing.assert_close(ours, ref, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("op", ["ablate", "clamp"])
def test_per_row_lambda_equals_one_run_per_lambda(op):
    model, vecs = tiny_model("llama", 32, 3), _vecs()
    ids = model.tokenizer(["A short prompt here"], return_tensors="pt")["input_ids"]
    lams = [0.0, 0.5, 1.5]
    with torch.no_grad(), ls.steer(model, vecs, lam=torch.tensor(lams), op=op):
        batched = model(ids.repeat(3, 1))
    for i, lam in enumerate(lams):
        with torch.no_grad(), ls.steer(model, vecs, lam=lam, op=op):
            torch.testing.assert_close(batched[i], model(ids)[0], atol=2e-5, rtol=1e-5)


def test_clamp_uses_the_unit_direction_and_relative_scales_the_value():
    model, vecs = tiny_model("llama", 32, 3), _vecs()
    ids = model.tokenizer(["Clamp me"], return_tensors="pt")["input_ids"]
    with torch.no_grad(), ls.steer(model, vecs, lam=1.0, op="clamp"):
        a = model(ids)
    with torch.no_grad(), ls.steer(model, vecs.normalized() * 10, lam=1.0, op="clamp"):
        b = model(ids)
    torch.testing.assert_close(a, b)  # the vector's norm does not matter for clamp
    norms = torch.tensor([2.0, 4.0])
    with (
        torch.no_grad(),
        ls.steer(model, vecs, lam=0.5, op="clamp", relative=True, reference_norms=norms) as st,
    ):
        c = model(ids)
    assert st.coefficients[:, 0].tolist() == [1.0, 2.0]
    with torch.no_grad(), ls.steer(model, vecs, lam=[1.0, 2.0], op="clamp"):
        torch.testing.assert_close(c, model(ids))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"op": "scale"}, "unknown op"),
        ({"op": "ablate", "relative": True}, "share of the direction"),
    ],
)
def test_bad_ops_fail_clearly(kwargs, match):
    model = tiny_model("llama", 32, 3)
    with pytest.raises(InputError, match=match):
        with ls.steer(model, _vecs(), **kwargs):
            pass


def test_zero_vector_cannot_be_ablated():
    model = tiny_model("llama", 32, 3)
    zero = ls.SteeringVectors(torch.zeros(1, 32), (1,))
    with pytest.raises(InputError, match="zero vectors"):
        with ls.steer(model, zero, op="ablate"):
            pass
