"""Linear maps from the parent's residual width to the child's, one per mapped layer pair.

The paper does not say how a d_parent vector enters a d_child model; these are the options:
- ``truncate`` — first d_child coordinates, or zero-pad (our paper-compatible guess).
- ``ridge`` — W = argmin ‖H_child − H_parent·W‖² + α‖W‖² on paired last-token activations of
  the same texts (so different tokenizers do not matter); α picked by 5-fold CV, whose pooled R²
  is reported.
- ``procrustes`` — both sides reduced by PCA to r = min(d_parent, d_child, n−1) components, then
  the orthogonal map between them (a rotation: it cannot stretch the concept direction).
- ``random`` — a random semi-orthogonal map, the control.
Each returns ``M`` [d_parent, d_child] (a row vector maps as ``v @ M``) and an R² or None.

:data:`WIDTH_MAPS` is the registry :func:`lens_steer.transfer` reads: name → :class:`WidthMapSpec`.
Adding a method is one function taking :class:`WidthMapInputs` (one layer pair) plus one entry
there; the spec says whether it fits on activations, so callers know to load the source model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = [
    "WIDTH_MAPS",
    "WIDTH_METHODS",
    "WidthFit",
    "WidthMapInputs",
    "WidthMapSpec",
    "truncate_map",
    "random_map",
    "ridge_map",
    "procrustes_map",
]

_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
_FOLDS = 5


def truncate_map(d_parent: int, d_child: int) -> Float[Tensor, "d_parent d_child"]:
    return torch.eye(d_parent, d_child)


def random_map(d_parent: int, d_child: int, seed: int) -> Float[Tensor, "d_parent d_child"]:
    gen = torch.Generator().manual_seed(seed)
    big, small = max(d_parent, d_child), min(d_parent, d_child)
    q, _ = torch.linalg.qr(torch.randn(big, small, generator=gen, dtype=torch.float64))
    return (q if d_parent >= d_child else q.T).float()


def _r2(y: Tensor, y_hat: Tensor, y_mean: Tensor) -> tuple[float, float]:
    """Residual and total sums of squares (pooled over dimensions)."""
    return float(((y - y_hat) ** 2).sum()), float(((y - y_mean) ** 2).sum())


def _folds(n: int, seed: int) -> list[Tensor]:
    if n < _FOLDS:
        raise ValueError(
            f"fitting a width map needs at least {_FOLDS} anchor texts, got {n}: "
            "pass more anchor_texts"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return list(perm.chunk(_FOLDS))


def _ridge_fit(x: Tensor, y: Tensor, alpha_rel: float) -> tuple[Tensor, Tensor, Tensor]:
    """Dual-form ridge (an n×n solve, cheap when n ≪ d). Returns (B, x_mean, y_mean)."""
    xm, ym = x.mean(0, keepdim=True), y.mean(0, keepdim=True)
    xc, yc = x - xm, y - ym
    k = xc @ xc.T
    alpha = alpha_rel * float(k.diagonal().mean()) + 1e-12
    eye = torch.eye(k.shape[0], dtype=k.dtype)
    b = xc.T @ torch.linalg.solve(k + alpha * eye, yc)
    return b, xm, ym


def _cv_r2(x: Tensor, y: Tensor, seed: int, fit) -> float:
    sse = sst = 0.0
    folds = _folds(x.shape[0], seed)
    for i, test in enumerate(folds):
        train = torch.cat([f for j, f in enumerate(folds) if j != i])
        m, xm, ym = fit(x[train], y[train])
        a, b = _r2(y[test], (x[test] - xm) @ m + ym, ym)
        sse, sst = sse + a, sst + b
    return 1.0 - sse / max(sst, 1e-30)


def ridge_map(
    h_parent: Float[Tensor, "n d_parent"], h_child: Float[Tensor, "n d_child"], seed: int = 0
) -> tuple[Float[Tensor, "d_parent d_child"], float, float]:
    """Ridge map, its 5-fold CV R² and the relative α chosen."""
    x, y = h_parent.double(), h_child.double()
    scores = {a: _cv_r2(x, y, seed, lambda xt, yt, a=a: _ridge_fit(xt, yt, a)) for a in _ALPHAS}
    best = max(scores, key=lambda a: (scores[a], -a))
    b, _, _ = _ridge_fit(x, y, best)
    return b.float(), scores[best], best


def _pca_basis(x: Tensor, r: int) -> Tensor:
    xc = x - x.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(xc, full_matrices=False)
    return vh[:r].T  # [d, r]


def _procrustes_parts(x: Tensor, y: Tensor) -> tuple[Tensor, float, Tensor, Tensor]:
    """Rotation map M (no scale), the least-squares scale, and the two means."""
    r = min(x.shape[1], y.shape[1], x.shape[0] - 1)
    xm, ym = x.mean(0, keepdim=True), y.mean(0, keepdim=True)
    p, q = _pca_basis(x, r), _pca_basis(y, r)
    zx, zy = (x - xm) @ p, (y - ym) @ q
    u, s, vh = torch.linalg.svd(zx.T @ zy)
    rot = u @ vh
    scale = float(s.sum() / (zx**2).sum().clamp_min(1e-30))
    return p @ rot @ q.T, scale, xm, ym


def _procrustes_fit(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    m, scale, xm, ym = _procrustes_parts(x, y)
    return scale * m, xm, ym


def procrustes_map(
    h_parent: Float[Tensor, "n d_parent"], h_child: Float[Tensor, "n d_child"], seed: int = 0
) -> tuple[Float[Tensor, "d_parent d_child"], float]:
    """Orthogonal map between the PCA-reduced spaces, and its 5-fold CV R² (with a scale)."""
    x, y = h_parent.double(), h_child.double()
    r2 = _cv_r2(x, y, seed, _procrustes_fit)
    m, _, _, _ = _procrustes_parts(x, y)
    return m.float(), r2


@dataclass(frozen=True)
class WidthMapInputs:
    """One (child, parent) layer pair; activations are None when no map asked for them."""

    d_parent: int
    d_child: int
    child_layer: int  # lets seeded maps differ per layer
    seed: int
    h_parent: Float[Tensor, "n d_parent"] | None = None
    h_child: Float[Tensor, "n d_child"] | None = None


@dataclass(frozen=True)
class WidthFit:
    """The map and, for fitted maps, how well it fits (recorded in the transferred vectors' meta)."""

    matrix: Float[Tensor, "d_parent d_child"]
    r2: float | None = None
    ridge_alpha: float | None = None


@dataclass(frozen=True)
class WidthMapSpec:
    fn: Callable[[WidthMapInputs], WidthFit]
    needs_activations: bool  # True: the caller must read both models on anchor texts first


def _truncate(inp: WidthMapInputs) -> WidthFit:
    return WidthFit(truncate_map(inp.d_parent, inp.d_child))


def _random(inp: WidthMapInputs) -> WidthFit:
    return WidthFit(random_map(inp.d_parent, inp.d_child, inp.seed * 100_003 + inp.child_layer))


def _ridge(inp: WidthMapInputs) -> WidthFit:
    assert inp.h_parent is not None and inp.h_child is not None
    m, r2, alpha = ridge_map(inp.h_parent, inp.h_child, inp.seed)
    return WidthFit(m, r2, alpha)


def _procrustes(inp: WidthMapInputs) -> WidthFit:
    assert inp.h_parent is not None and inp.h_child is not None
    m, r2 = procrustes_map(inp.h_parent, inp.h_child, inp.seed)
    return WidthFit(m, r2)


WIDTH_MAPS: dict[str, WidthMapSpec] = {
    "truncate": WidthMapSpec(_truncate, needs_activations=False),
    "ridge": WidthMapSpec(_ridge, needs_activations=True),
    "procrustes": WidthMapSpec(_procrustes, needs_activations=True),
    "random": WidthMapSpec(_random, needs_activations=False),
}
# The built-in names as a tuple, for argparse/config ``choices`` (a snapshot of the registry).
WIDTH_METHODS = tuple(WIDTH_MAPS)
