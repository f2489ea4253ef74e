"""Which parent layer's vector each child layer receives.

- ``greedy`` — the paper's n → n: child layer n gets parent layer n; layers beyond the shallower
  model's depth are not steered.
- ``proportional`` — every child layer gets the parent layer at the same relative depth.
- ``cka`` — every child layer gets the parent layer whose last-token activations on shared texts
  have the highest linear CKA with its own (width-free, so it works across families).
A map is a tuple of ``(child_layer, parent_layer)`` pairs, sorted by child layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from jaxtyping import Float
from torch import Tensor

from .errors import InputError

__all__ = [
    "LAYER_MAPS",
    "greedy_map",
    "proportional_map",
    "explicit_map",
    "linear_cka",
    "cka_matrix",
    "cka_map",
]

LAYER_MAPS = ("greedy", "proportional", "cka")
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
