"""lens_steer's transfer across width and depth between TransformerLens 3.x ``HookedTransformer``s."""

import pytest
import torch
from tl3_models import PAIRS, TEXT, L, hook_count, ids_of, model_of

import lens_steer as ls


@pytest.fixture(scope="module")
def parent():
    return model_of("llama", d_model=48, n_layers=4, seed=3)


@pytest.fixture(scope="module")
def child():
    return model_of("gpt2", d_model=32, n_layers=6, seed=4)


@pytest.fixture(scope="module")
def parent_vecs(parent):
    return ls.extract(parent, PAIRS, method="mean-diff", progress=False)


@pytest.mark.parametrize("width", ["ridge", "procrustes"])
def test_transfer_across_width_and_depth_then_steer_the_child(parent, child, parent_vecs, width):
    assert parent_vecs.d_model == 48 and parent_vecs.layers == (0, 1, 2, 3)
    out = ls.transfer(
        parent_vecs, child, source_model=parent, width=width, layer_map="cka", progress=False
    )
    assert out.d_model == 32 and out.layers == tuple(range(6))
    assert torch.allclose(out.directions.norm(dim=-1), torch.ones(6), atol=1e-5)
    assert torch.isfinite(out.directions).all()
    meta = out.meta
    assert meta["width"] == width and meta["layer_map_method"] == "cka"
    assert meta["target_model"] == child.cfg.model_name == "tiny-gpt2-32x6"
    assert meta["source_model"] == parent.cfg.model_name == "tiny-llama-48x4"
    assert [c for c, _ in meta["layer_map"]] == list(range(6))
    assert all(p in parent_vecs.layers for _, p in meta["layer_map"])
    assert len(meta["cka"]) == 6 and all(0 <= c <= 1 + 1e-6 for c in meta["cka"])
    assert len(meta["width_r2"]) == 6 and all(r <= 1 for r in meta["width_r2"])
    raw = ls.transfer(
        parent_vecs,
        child,
        source_model=parent,
        width=width,
        layer_map="cka",
        normalize=False,
        progress=False,
    )
    raw_norms = raw.directions.norm(dim=-1, keepdim=True)
    assert torch.allclose(raw.directions / raw_norms, out.directions, atol=1e-5)
    if width == "procrustes":  # a 48 → 32 map with orthonormal columns can only shrink a vector
        assert (raw_norms <= 1 + 1e-5).all()

    # The child takes the transferred vectors: λ·v lands at every mapped layer's residual.
    ids = ids_of(child, TEXT)
    with torch.no_grad():
        plain = child(ids)
        _, base = child.run_with_cache(ids)
        with ls.steer(child, out, lam=1.5):
            steered = child(ids)
        single = ls.SteeringVectors(out.directions[4:5], (4,))
        with ls.steer(child, single, lam=1.5):
            _, cache = child.run_with_cache(ids)
    delta = cache[L.format(4)][0] - base[L.format(4)][0]
    assert torch.allclose(delta, 1.5 * out.directions[4].expand_as(delta), atol=1e-5)
    assert (steered - plain).abs().max() > 1e-3
    assert hook_count(child) == 0


def test_cka_map_of_a_hooked_model_onto_itself_is_the_identity(parent, parent_vecs):
    out = ls.transfer(parent_vecs, parent, source_model=parent, layer_map="cka", progress=False)
    assert out.meta["layer_map"] == [[0, 0], [1, 1], [2, 2], [3, 3]]
    assert out.meta["cka"] == pytest.approx([1.0] * 4)
    assert torch.allclose(out.directions, parent_vecs.directions)
