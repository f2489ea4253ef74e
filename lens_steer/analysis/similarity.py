"""How alike are two models' concept directions, layer by layer (paper Fig. 2, for any widths).

The paper correlates the PC1 vectors of two parents, which only means something when both live in
the same space (same width, and even then different models' bases are unrelated). Three measures:

- :func:`pc1_similarity` — cosine (or Pearson correlation) of the PC1 vectors themselves: the
  paper's measure; same width only. Useful for vectors in one model's space (a model against
  itself across layers, or vectors transferred into the same child).
- :func:`projection_similarity` — width-free: run both models on the same contrastive pairs,
  project each pair's difference on each model's PC1 per layer, and correlate the per-pair scores.
  High correlation means both directions rank the pairs alike, i.e. they encode the same concept.
- :func:`cka_similarity` — linear CKA of the last-token activations on the same texts: whether the
  representations as a whole are alike, independent of any steering direction.

:func:`transfer_similarity` compares vectors carried into the child (per width map) with the
child's own PC1 on the same pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from einops import einsum
from jaxtyping import Float
from plotly.subplots import make_subplots
from torch import Tensor

from ..activations import last_token_activations
from ..extract import directions_from_differences, extract, pair_texts
from ..transfer.layer_maps import cka_matrix
from ..vectors import SteeringVectors
from .plots import heatmap, style

__all__ = [
    "SimilarityResult",
    "TransferSimilarity",
    "pc1_similarity",
    "pair_differences",
    "projection_scores",
    "score_correlation",
    "projection_similarity",
    "cka_similarity",
    "transfer_similarity",
    "similarity_figure",
]


@dataclass(frozen=True)
class SimilarityResult:
    """``matrix[i, j]``: similarity of ``row_layers[i]`` (model A) and ``col_layers[j]`` (B)."""

    matrix: np.ndarray
    row_layers: tuple[int, ...]
    col_layers: tuple[int, ...]
    row_label: str
    col_label: str
    measure: str
    n: int | None = None  # pairs or texts behind the measure

    @property
    def diagonal(self) -> np.ndarray:
        """Similarity of equal layer indices present on both sides."""
        common = [x for x in self.row_layers if x in self.col_layers]
        return np.array(
            [self.matrix[self.row_layers.index(x), self.col_layers.index(x)] for x in common]
        )

    def trace(self) -> go.Heatmap:
        lo = 0.0 if self.measure == "linear CKA" else -1.0
        return heatmap(
            self.matrix,
            self.col_layers,
            self.row_layers,
            title=self.measure,
            xlabel=f"{self.col_label} layer",
            ylabel=f"{self.row_label} layer",
            zlabel=self.measure,
            zmin=lo,
            colorscale="Viridis" if lo == 0.0 else "RdBu",
        )

    def figure(self, title: str | None = None) -> go.Figure:
        n = f", n={self.n}" if self.n else ""
        fig = go.Figure(self.trace())
        fig.update_xaxes(title_text=f"{self.col_label} layer")
        fig.update_yaxes(title_text=f"{self.row_label} layer")
        return style(fig, title or f"{self.measure}: {self.row_label} × {self.col_label}{n}", 560)

    def to_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "rows": self.row_label,
            "cols": self.col_label,
            "row_layers": list(self.row_layers),
            "col_layers": list(self.col_layers),
            "n": self.n,
            "matrix": np.round(self.matrix, 6).tolist(),
        }


def similarity_figure(results: Sequence[SimilarityResult], title: str) -> go.Figure:
    """Several similarity heatmaps side by side (each with its own colour bar)."""
    fig = make_subplots(rows=1, cols=len(results), subplot_titles=[r.measure for r in results])
    for col, r in enumerate(results, 1):
        tr = r.trace()
        domain = fig.layout[f"xaxis{col if col > 1 else ''}"].domain
        tr.colorbar.update(x=domain[1] + 0.005, len=0.85, thickness=12, title={"text": ""})
        fig.add_trace(tr, 1, col)
        fig.update_xaxes(title_text=f"{r.col_label} layer", row=1, col=col)
        fig.update_yaxes(title_text=f"{r.row_label} layer", row=1, col=col)
    return style(fig, title, 520)


def _unit(x: Tensor) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def pc1_similarity(
    vectors_a: SteeringVectors,
    vectors_b: SteeringVectors,
    *,
    measure: str = "cosine",
    labels: tuple[str, str] = ("A", "B"),
) -> SimilarityResult:
    """Layer × layer cosine (or ``measure="correlation"``: Pearson) of two same-width vector sets."""
    if vectors_a.d_model != vectors_b.d_model:
        raise ValueError(
            f"PC1 vectors of widths {vectors_a.d_model} and {vectors_b.d_model} cannot be compared "
            "directly: use projection_similarity or cka_similarity (width-free, need the models)"
        )
    if measure not in ("cosine", "correlation"):
        raise ValueError(f"measure must be 'cosine' or 'correlation', got {measure!r}")
    a, b = vectors_a.directions.double(), vectors_b.directions.double()
    if measure == "correlation":
        a, b = a - a.mean(-1, keepdim=True), b - b.mean(-1, keepdim=True)
    sim = einsum(_unit(a), _unit(b), "la d, lb d -> la lb")
    return SimilarityResult(
        sim.numpy(), vectors_a.layers, vectors_b.layers, labels[0], labels[1], f"PC1 {measure}"
    )


def pair_differences(
    model: Any,
    pairs: Sequence[Any],
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
    progress: bool = False,
) -> Float[Tensor, "n_pairs n_layers d_model"]:
    """h(s⁺) − h(s⁻) at the last token of each pair, per layer (what Algorithm 1 starts from)."""
    pos, neg, _ = pair_texts(pairs)
    acts = last_token_activations(model, pos + neg, layers, batch_size, progress)
    return acts[: len(pos)] - acts[len(pos) :]


def projection_scores(
    diffs: Float[Tensor, "n_pairs n_layers d_model"],
    directions: Float[Tensor, "n_layers d_model"],
) -> Float[Tensor, "n_pairs n_layers"]:
    """Each pair's unit-normalised difference projected on its layer's direction."""
    return einsum(_unit(diffs.double()), directions.double(), "n l d, l d -> n l")


def score_correlation(
    scores_a: Float[Tensor, "n la"], scores_b: Float[Tensor, "n lb"]
) -> Float[Tensor, "la lb"]:
    """Pearson correlation across the n items of every column of A with every column of B
    (NaN where a column is constant)."""
    if scores_a.shape[0] != scores_b.shape[0] or scores_a.shape[0] < 3:
        raise ValueError(
            f"need the same n ≥ 3 items on both sides, got {scores_a.shape[0]} and "
            f"{scores_b.shape[0]}"
        )
    a = scores_a.double() - scores_a.double().mean(0)
    b = scores_b.double() - scores_b.double().mean(0)
    sa, sb = a.norm(dim=0), b.norm(dim=0)
    corr = (a.T @ b) / (sa[:, None] * sb[None, :])
    return torch.where((sa[:, None] > 1e-12) & (sb[None, :] > 1e-12), corr, torch.nan)


def projection_similarity(
    model_a: Any,
    model_b: Any,
    pairs: Sequence[Any],
    *,
    method: str = "pca",
    layers_a: Sequence[int] | None = None,
    layers_b: Sequence[int] | None = None,
    seed: int = 0,
    batch_size: int = 8,
    progress: bool = False,
    labels: tuple[str, str] = ("A", "B"),
) -> SimilarityResult:
    """Width-free PC1 similarity: correlation over ``pairs`` of the projection scores on each
    model's own PC1 (extracted from the same pairs with ``method``), layer × layer."""
    la = list(range(int(model_a.cfg.n_layers))) if layers_a is None else list(layers_a)
    lb = list(range(int(model_b.cfg.n_layers))) if layers_b is None else list(layers_b)
    scores = []
    for model, layers in ((model_a, la), (model_b, lb)):
        diffs = pair_differences(model, pairs, layers, batch_size, progress)
        dirs, _, _ = directions_from_differences(diffs, method, seed)  # type: ignore[arg-type]
        scores.append(projection_scores(diffs, dirs))
    corr = score_correlation(scores[0], scores[1])
    return SimilarityResult(
        corr.numpy(),
        tuple(la),
        tuple(lb),
        labels[0],
        labels[1],
        "projection correlation",
        len(pairs),
    )


def cka_similarity(
    model_a: Any,
    model_b: Any,
    texts: Sequence[str],
    *,
    layers_a: Sequence[int] | None = None,
    layers_b: Sequence[int] | None = None,
    batch_size: int = 8,
    progress: bool = False,
    labels: tuple[str, str] = ("A", "B"),
) -> SimilarityResult:
    """Linear CKA of last-token activations on ``texts``, layer × layer (any widths)."""
    if len(texts) < 3:
        raise ValueError(f"CKA needs at least 3 texts, got {len(texts)}")
    acts_a = last_token_activations(model_a, list(texts), layers_a, batch_size, progress)
    acts_b = last_token_activations(model_b, list(texts), layers_b, batch_size, progress)
    la = tuple(range(int(model_a.cfg.n_layers))) if layers_a is None else tuple(layers_a)
    lb = tuple(range(int(model_b.cfg.n_layers))) if layers_b is None else tuple(layers_b)
    m = cka_matrix(acts_a, acts_b).numpy()
    return SimilarityResult(m, la, lb, labels[0], labels[1], "linear CKA", len(texts))


@dataclass(frozen=True)
class TransferSimilarity:
    """Per width map: cosine of each transferred vector with the child's own PC1 per layer."""

    results: dict[str, SimilarityResult] = field(default_factory=dict)
    child_vectors: SteeringVectors | None = None

    def figure(self, title: str | None = None) -> go.Figure:
        return similarity_figure(
            list(self.results.values()),
            title or "Transferred vectors vs the child's own PC1 (cosine), per width map",
        )


def transfer_similarity(
    parent_vectors: SteeringVectors,
    child: Any,
    pairs: Sequence[Any],
    *,
    source_model: Any = None,
    widths: Sequence[str] = ("ridge", "truncate"),
    layer_map: str = "greedy",
    anchor_texts: Sequence[str] | None = None,
    method: str = "pca",
    seed: int = 0,
    batch_size: int = 8,
    progress: bool = False,
) -> TransferSimilarity:
    """Carry ``parent_vectors`` into ``child`` with each width map and compare them (cosine, child
    layer × child layer) with the child's own PC1 extracted from the same ``pairs``."""
    from ..transfer import transfer

    own = extract(child, pairs, method=method, seed=seed, batch_size=batch_size, progress=progress)
    out = {}
    for width in widths:
        mapped = transfer(
            parent_vectors,
            child,
            source_model=source_model,
            layer_map=layer_map,
            width=width,
            anchor_texts=anchor_texts,
            seed=seed,
            batch_size=batch_size,
            progress=progress,
        )
        sim = pc1_similarity(
            mapped, own, labels=(f"child ({width}-transferred)", "child's own PC1")
        )
        out[width] = SimilarityResult(
            sim.matrix,
            sim.row_layers,
            sim.col_layers,
            sim.row_label,
            sim.col_label,
            f"cosine, {width}",
            len(pairs),
        )
    return TransferSimilarity(out, own)
