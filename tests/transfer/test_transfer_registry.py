"""Layer and width maps are registries: a new map is one function plus one entry, and whether the
source model's activations are needed is read from the entries, nowhere else."""

import itertools

import pytest
import torch

import lens_steer as ls
from lens_steer.transfer import layer_maps as lm
from lens_steer.transfer import needs_source_activations
from lens_steer.transfer import width_maps as wm


def _reversed(inp: lm.LayerMapInputs) -> tuple[lm.LayerMap, dict]:
    """Child layer c ← parent layer (depth − 1 − c): deliberately unlike any built-in map."""
    depth = inp.n_parent_layers
    return tuple((c, depth - 1 - c) for c in range(min(depth, inp.n_child_layers))), {"note": "rev"}


def _negated_truncate(inp: wm.WidthMapInputs) -> wm.WidthFit:
    return wm.WidthFit(-wm.truncate_map(inp.d_parent, inp.d_child))


def _fitted_truncate(inp: wm.WidthMapInputs) -> wm.WidthFit:
    assert inp.h_parent is not None and inp.h_child is not None  # it asked for activations
    return wm.WidthFit(wm.truncate_map(inp.d_parent, inp.d_child), r2=0.5)


def test_a_newly_registered_map_works_through_transfer(monkeypatch, vecs, child):
    monkeypatch.setitem(lm.LAYER_MAPS, "reversed", lm.LayerMapSpec(_reversed, False))
    monkeypatch.setitem(wm.WIDTH_MAPS, "neg", wm.WidthMapSpec(_negated_truncate, False))
    assert not needs_source_activations("reversed", "neg")
    out = ls.transfer(vecs, child, layer_map="reversed", width="neg", progress=False)
    assert out.layers == (0, 1, 2, 3)
    assert out.meta["layer_map"] == [[0, 3], [1, 2], [2, 1], [3, 0]]
    assert out.meta["layer_map_method"] == "reversed" and out.meta["note"] == "rev"
    assert out.meta["width"] == "neg" and out.meta["width_r2"] is None
    assert out.meta["n_anchor_texts"] == 0
    want = -torch.nn.functional.normalize(vecs.directions[[3, 2, 1, 0], :32], dim=-1)
    assert torch.allclose(out.directions, want, atol=1e-6)


def test_a_registered_fitted_map_gets_activations_and_reports_r2(monkeypatch, vecs, parent, child):
    monkeypatch.setitem(wm.WIDTH_MAPS, "fitted", wm.WidthMapSpec(_fitted_truncate, True))
    assert needs_source_activations("greedy", "fitted")
    with pytest.raises(ValueError, match="pass source_model"):
        ls.transfer(vecs, child, width="fitted")
    out = ls.transfer(vecs, child, source_model=parent, width="fitted", progress=False)
    assert out.meta["width_r2"] == [0.5] * 4 and out.meta["ridge_alpha"] is None
    assert out.meta["n_anchor_texts"] > 0


def test_needs_source_activations_agrees_with_every_registry_entry():
    for name, spec in lm.LAYER_MAPS.items():
        assert needs_source_activations(name, None) is spec.needs_activations
    for name, spec in wm.WIDTH_MAPS.items():
        assert needs_source_activations({0: 0}, name) is spec.needs_activations
    for (ln, lspec), (wn, wspec) in itertools.product(lm.LAYER_MAPS.items(), wm.WIDTH_MAPS.items()):
        assert needs_source_activations(ln, wn) is (
            lspec.needs_activations or wspec.needs_activations
        )
    # the built-ins, as the pipeline has always decided it
    assert {n for n, s in wm.WIDTH_MAPS.items() if s.needs_activations} == {"ridge", "procrustes"}
    assert {n for n, s in lm.LAYER_MAPS.items() if s.needs_activations} == {"cka"}
    assert wm.WIDTH_METHODS == tuple(wm.WIDTH_MAPS)


def test_unknown_names_list_the_registry_including_new_entries(monkeypatch, vecs, child):
    monkeypatch.setitem(lm.LAYER_MAPS, "reversed", lm.LayerMapSpec(_reversed, False))
    with pytest.raises(ValueError, match=r"unknown layer_map 'diag'.*'cka', 'reversed'\)"):
        ls.transfer(vecs, child, width="truncate", layer_map="diag")
    with pytest.raises(ValueError, match=r"unknown width method 'magic'.*'random'\)"):
        needs_source_activations("greedy", "magic")


def test_the_registries_are_importable_from_the_subpackage():
    """``ls.transfer`` is the function; the maps come from ``lens_steer.transfer`` by name."""
    from lens_steer.transfer import LAYER_MAPS, WIDTH_MAPS
    from lens_steer.transfer import transfer as fn

    assert fn is ls.transfer and callable(ls.transfer)
    assert LAYER_MAPS is lm.LAYER_MAPS and WIDTH_MAPS is wm.WIDTH_MAPS
    assert {"greedy", "proportional", "cka"} <= set(LAYER_MAPS)
    assert {"truncate", "ridge", "procrustes", "random"} <= set(WIDTH_MAPS)
