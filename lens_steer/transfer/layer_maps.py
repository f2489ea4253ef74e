"""Which parent layer's vector each child layer receives.

- ``greedy`` — the paper's n → n: child layer n gets parent layer n; layers beyond the shallower
  model's depth are not steered.
- ``proportional`` — every child layer gets the parent layer at the same relative depth.
- ``cka`` — every child layer gets the parent layer whose last-token activations on shared texts
  have the highest linear CKA with its own (width-free, so it works across families).
A map is a tuple of ``(child_layer, parent_layer)`` pairs, sorted by child layer.

:data:`LAYER_MAPS` is the registry :func:`lens_steer.transfer` reads: name → :class:`LayerMapSpec`.
Adding a map is one function taking :class:`LayerMapInputs` plus one entry there; the spec says
whether the map reads activations, so callers know whether the source model must be loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from ..errors import InputError

__all__ = [
    "LAYER_MAPS",
    "LayerMapInputs",
    "LayerMapSpec",
    "greedy_map",
    "proportional_map",
    "explicit_map",
    "linear_cka",
    "cka_matrix",
    "cka_map",
    "explicit_spec",
]

LayerMap = tuple[tuple[int, int], ...]


def greedy_map(parent_layers: Sequence[int], n_child_layers: int) -> LayerMap:
    return tuple((layer, layer) for layer in sorted(parent_layers) if layer < n_child_layers)


def proportional_map(
    parent_layers: Sequence[int], n_parent_layers: int, n_child_layers: int
) -> LayerMap:
    """Child layer c ← the available parent layer nearest to depth c/(Lc−1) of the parent."""
    available = sorted(parent_layers)
    pairs = []
    for c in range(n_child_layers):
        depth = c / max(n_child_layers - 1, 1) * (n_parent_layers - 1)
        pairs.append((c, min(available, key=lambda p: (abs(p - depth), p))))
    return tuple(pairs)


def linear_cka(x: Float[Tensor, "n a"], y: Float[Tensor, "n b"]) -> float:
    """Linear CKA (Kornblith et al. 2019) between two views of the same n inputs."""
    x = x.double() - x.double().mean(dim=0, keepdim=True)
    y = y.double() - y.double().mean(dim=0, keepdim=True)
    # Gram form ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) computed through n×n kernels: cheap when n ≪ d.
    kx, ky = x @ x.T, y @ y.T
    hsic = (kx * ky).sum()
    denom = kx.norm() * ky.norm()
    return float(hsic / denom) if denom > 0 else 0.0


def cka_matrix(
    child_acts: Float[Tensor, "n n_child d_child"],
    parent_acts: Float[Tensor, "n n_parent d_parent"],
) -> Float[Tensor, "n_child n_parent"]:
    if child_acts.shape[0] != parent_acts.shape[0]:
        raise InputError("CKA needs activations of the same texts in both models")
    return torch.tensor(
        [
            [linear_cka(child_acts[:, c], parent_acts[:, p]) for p in range(parent_acts.shape[1])]
            for c in range(child_acts.shape[1])
        ]
    )


def cka_map(scores: Float[Tensor, "n_child n_parent"], parent_layers: Sequence[int]) -> LayerMap:
    """Per child layer, the parent layer (among ``parent_layers``) with the highest CKA."""
    allowed = torch.full((scores.shape[1],), float("-inf"))
    allowed[list(parent_layers)] = 0.0
    best = (scores + allowed).argmax(dim=1)
    return tuple((c, int(best[c])) for c in range(scores.shape[0]))


def explicit_map(
    mapping: Mapping[int, int], parent_layers: Sequence[int], n_child_layers: int
) -> LayerMap:
    """A user-given ``{child_layer: parent_layer}`` dict, validated."""
    pairs = tuple(sorted((int(c), int(p)) for c, p in mapping.items()))
    for c, p in pairs:
        if not 0 <= c < n_child_layers:
            raise InputError(f"child layer {c} out of range (child has {n_child_layers} layers)")
        if p not in parent_layers:
            raise InputError(f"parent layer {p} has no vector; available: {sorted(parent_layers)}")
    return pairs


@dataclass(frozen=True)
class LayerMapInputs:
    """Everything a registered layer map may use; activations are None when no map asked for them."""

    parent_layers: tuple[int, ...]  # the layers that have a vector, in the vectors' order
    n_child_layers: int
    source_n_layers: int | None  # the source model's depth, when it was passed
    vector_meta: Mapping[str, Any]  # the vectors' metadata
    h_parent: Float[Tensor, "n n_vec d_parent"] | None = None  # rows follow parent_layers
    h_child: Float[Tensor, "n n_child d_child"] | None = None

    @property
    def n_parent_layers(self) -> int:
        """The parent's depth: the source model's, else the vectors' meta, else deepest layer + 1.

        A property so that maps which never ask for it never fail on an odd meta value.
        """
        if self.source_n_layers is not None:
            return self.source_n_layers
        return int(self.vector_meta.get("model_n_layers", max(self.parent_layers) + 1))


# A map returns its pairs and any extra metadata worth recording next to them.
LayerMapFn = Callable[[LayerMapInputs], tuple[LayerMap, dict[str, Any]]]


@dataclass(frozen=True)
class LayerMapSpec:
    fn: LayerMapFn
    needs_activations: bool  # True: the caller must read both models on anchor texts first


def _greedy(inp: LayerMapInputs) -> tuple[LayerMap, dict[str, Any]]:
    return greedy_map(inp.parent_layers, inp.n_child_layers), {}


def _proportional(inp: LayerMapInputs) -> tuple[LayerMap, dict[str, Any]]:
    return proportional_map(inp.parent_layers, inp.n_parent_layers, inp.n_child_layers), {}


def _cka(inp: LayerMapInputs) -> tuple[LayerMap, dict[str, Any]]:
    """CKA over parent-layer indices; layers without a vector score NaN and can never win."""
    assert inp.h_parent is not None and inp.h_child is not None
    full = torch.full((inp.n_child_layers, max(inp.parent_layers) + 1), float("nan"))
    full[:, list(inp.parent_layers)] = cka_matrix(inp.h_child, inp.h_parent)
    pairs = cka_map(full.nan_to_num(float("-inf")), inp.parent_layers)
    return pairs, {"cka": [round(float(full[c, p]), 6) for c, p in pairs]}


def explicit_spec(mapping: Mapping[int, int]) -> LayerMapSpec:
    """A user's ``{child_layer: parent_layer}`` dict as a spec, so it runs like a named map."""
    return LayerMapSpec(
        lambda inp: (explicit_map(mapping, inp.parent_layers, inp.n_child_layers), {}),
        needs_activations=False,
    )


LAYER_MAPS: dict[str, LayerMapSpec] = {
    "greedy": LayerMapSpec(_greedy, needs_activations=False),
    "proportional": LayerMapSpec(_proportional, needs_activations=False),
    "cka": LayerMapSpec(_cka, needs_activations=True),
}
