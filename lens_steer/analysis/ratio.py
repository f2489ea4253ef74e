"""Steering ratio from a model: ‖λ·v‖ / mean‖h‖ per layer, for several λ at once.

The same λ means very different things at different depths, because residual norms grow through
the network (on SmolLM2-135M the median norm goes from ~43 to ~791). Plotting the ratio for each λ
of a grid shows which λ are a negligible nudge and which rewrite the residual stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from ..activations import residual_norms
from ..anchors import ANCHOR_TEXTS
from ..vectors import SteeringVectors
from .plots import line, log_y_axis, style

__all__ = ["steering_ratio_curves"]


def steering_ratio_curves(
    model: Any,
    vectors: SteeringVectors,
    lams: Sequence[float],
    texts: Sequence[str] | None = None,
    batch_size: int = 8,
) -> go.Figure:
    """‖λ·v‖ / mean‖h‖ per steered layer of ``model``, one line per λ (norms measured once)."""
    if not lams:
        raise ValueError("give at least one λ")
    norms = residual_norms(model, list(texts or ANCHOR_TEXTS), vectors.layers, batch_size)
    vnorm = vectors.directions.float().norm(dim=-1).cpu()
    fig = go.Figure()
    for k, lam in enumerate(lams):
        ratio = abs(float(lam)) * vnorm / norms
        fig.add_trace(
            go.Scatter(
                x=list(vectors.layers),
                y=ratio.tolist(),
                mode="lines+markers",
                line=line(k),
                name=f"λ={float(lam):g}",
            )
        )
    fig.update_xaxes(title_text="layer")
    log_y_axis(fig, "‖λ·v‖ / mean ‖h‖")
    return style(fig, "Steering ratio per layer for each λ")
