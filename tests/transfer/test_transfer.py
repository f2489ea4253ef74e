import pytest
import torch

import lens_steer as ls
from lens_steer.transfer import width_maps as wm
from lens_steer.transfer.layer_maps import cka_map, greedy_map, linear_cka, proportional_map


def test_unequal_width_without_method_names_both(vecs, child):
    with pytest.raises(ValueError, match="vector width 48 ≠ child d_model 32"):
        ls.transfer(vecs, child)


def test_equal_width_identity(child):
    d = torch.nn.functional.normalize(torch.randn(6, 32), dim=-1)
    v = ls.SteeringVectors(d, tuple(range(6)))
    out = ls.transfer(v, child)
    assert torch.allclose(out.directions, d) and out.layers == tuple(range(6))
    assert out.meta["width"] == "identity"


@pytest.mark.parametrize("width", ["truncate", "ridge", "procrustes", "random"])
@pytest.mark.parametrize("layer_map", ["greedy", "proportional", "cka"])
def test_every_method_gives_unit_child_vectors(vecs, parent, child, width, layer_map):
    out = ls.transfer(
        vecs, child, source_model=parent, width=width, layer_map=layer_map, progress=False
    )
    assert out.d_model == 32
    assert torch.allclose(out.directions.norm(dim=-1), torch.ones(len(out)), atol=1e-5)
    assert out.meta["width"] == width and out.meta["layer_map_method"] == layer_map
    assert [c for c, _ in out.meta["layer_map"]] == list(out.layers)
    assert out.meta["parent"]["source_model"] == "p"
    if width in ("ridge", "procrustes"):
        assert len(out.meta["width_r2"]) == len(out) and all(r <= 1 for r in out.meta["width_r2"])
    if layer_map == "greedy":
        assert out.layers == (0, 1, 2, 3)  # the child's two extra layers are not steered
    else:
        assert out.layers == tuple(range(6))


def test_truncate_and_zero_pad():
    m = wm.truncate_map(5, 3)
    v = torch.arange(1.0, 6.0)
    assert torch.equal(v @ m, torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(
        torch.tensor([1.0, 2.0]) @ wm.truncate_map(2, 4), torch.tensor([1.0, 2.0, 0, 0])
    )


def test_transfer_without_renormalising_keeps_truncated_norm(vecs, child):
    out = ls.transfer(vecs, child, width="truncate", normalize=False)
    assert torch.allclose(out.directions, vecs.directions[:, :32])


def test_ridge_recovers_a_linear_map():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20, 12, generator=gen)
    x = torch.randn(200, 20, generator=gen)
    y = x @ a + 0.01 * torch.randn(200, 12, generator=gen)
    m, r2, alpha = wm.ridge_map(x, y)
    assert r2 > 0.99 and alpha in wm._ALPHAS
    v = torch.randn(20, generator=gen)
    assert torch.nn.functional.cosine_similarity(v @ m, v @ a, dim=0) > 0.99


def test_procrustes_recovers_a_rotation():
    gen = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(16, 16, generator=gen))
    x = torch.randn(100, 16, generator=gen)
    m, r2 = wm.procrustes_map(x, x @ q)
    assert r2 > 0.999
    assert torch.allclose(m, q, atol=1e-4)


def test_random_map_is_semi_orthogonal_and_seeded():
    m = wm.random_map(40, 16, seed=3)
    assert torch.allclose(m.T @ m, torch.eye(16), atol=1e-5)
    assert torch.equal(m, wm.random_map(40, 16, seed=3))
    assert not torch.equal(m, wm.random_map(40, 16, seed=4))
    w = wm.random_map(16, 40, seed=3)
    assert torch.allclose(w @ w.T, torch.eye(16), atol=1e-5)


def test_layer_maps():
    assert greedy_map(range(4), 6) == ((0, 0), (1, 1), (2, 2), (3, 3))
    assert greedy_map(range(6), 4) == ((0, 0), (1, 1), (2, 2), (3, 3))
    prop = proportional_map(range(18), 18, 30)
    assert prop[0] == (0, 0) and prop[-1] == (29, 17) and len(prop) == 30
    parents = [p for _, p in prop]
    assert parents == sorted(parents)
    scores = torch.tensor([[0.1, 0.9, 0.2], [0.8, 0.3, 0.95]])
    assert cka_map(scores, [0, 1, 2]) == ((0, 1), (1, 2))
    assert cka_map(scores, [0, 1]) == ((0, 1), (1, 0))


def test_linear_cka_invariances():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(50, 10, generator=gen)
    q, _ = torch.linalg.qr(torch.randn(10, 10, generator=gen))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3 * x @ q) == pytest.approx(1.0)  # rotation and scale invariant
    assert linear_cka(x, torch.randn(50, 7, generator=gen)) < 0.5


def test_cka_map_of_a_model_onto_itself_is_the_identity(parent):
    torch.manual_seed(0)
    v = ls.SteeringVectors(torch.nn.functional.normalize(torch.randn(4, 48), dim=-1), (0, 1, 2, 3))
    out = ls.transfer(v, parent, source_model=parent, layer_map="cka", progress=False)
    assert out.meta["layer_map"] == [[0, 0], [1, 1], [2, 2], [3, 3]]
    assert out.meta["cka"] == pytest.approx([1.0] * 4)


def test_explicit_layer_map(vecs, child):
    out = ls.transfer(vecs, child, width="truncate", layer_map={5: 3, 0: 0})
    assert out.layers == (0, 5) and out.meta["layer_map"] == [[0, 0], [5, 3]]
    with pytest.raises(ValueError, match="out of range"):
        ls.transfer(vecs, child, width="truncate", layer_map={9: 0})
    with pytest.raises(ValueError, match="has no vector"):
        ls.transfer(vecs, child, width="truncate", layer_map={0: 7})


def test_bad_arguments(vecs, parent, child):
    with pytest.raises(ValueError, match="unknown width"):
        ls.transfer(vecs, child, width="magic")
    with pytest.raises(ValueError, match="unknown layer_map"):
        ls.transfer(vecs, child, width="truncate", layer_map="diagonal")
    with pytest.raises(ValueError, match="pass source_model"):
        ls.transfer(vecs, child, width="ridge")
    with pytest.raises(ValueError, match="source_model d_model 32"):
        ls.transfer(vecs, child, width="ridge", source_model=child)
    with pytest.raises(ValueError, match="at least 8 anchor texts"):
        ls.transfer(vecs, child, width="ridge", source_model=parent, anchor_texts=["a", "b"])


def test_transferred_vectors_roundtrip_with_provenance(tmp_path, vecs, parent, child):
    out = ls.transfer(vecs, child, source_model=parent, width="ridge", progress=False)
    back = ls.SteeringVectors.load(out.save(tmp_path / "child.safetensors"))
    assert back.meta["width_r2"] == out.meta["width_r2"]
    assert back.meta["kind"] == "transferred"


def test_layer_beyond_the_parent_is_an_error_not_dropped(parent, child):
    """Greedy n→n used to drop layer 999 without a word: it does not exist in the parent."""
    d = torch.nn.functional.normalize(torch.randn(2, 48), dim=-1)
    stray = ls.SteeringVectors(d, (0, 999), meta={"source_model": "p"})
    with pytest.raises(ValueError, match=r"vector layers \[999\] do not exist .* 4 layers"):
        ls.transfer(stray, child, source_model=parent, width="truncate")
    with pytest.raises(ValueError, match=r"layer indices \[999\] do not exist"):
        ls.SteeringVectors(d, (0, 999), meta={"model_n_layers": 4})
