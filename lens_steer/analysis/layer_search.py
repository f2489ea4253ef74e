"""The layer search drawn: which of the steered layers carry the effect of λ*?

A run with ``tasks[].layer_search`` records its search in ``metrics.json`` (and
``TASK/layer_search.json``); :func:`run_layer_search` runs one on any run directory afterwards
with the run's own settings. :func:`layer_search_figure` draws either: a greedy path as
validation accuracy per step (the layer each step added on the axis) over every candidate that
round scored (grey; the round that stopped the search is the last column), or the single /
leave-one-out map as accuracy per layer beside the reference set (no layers / all layers), each
with Wilson 95 % CIs; when the chosen set was tested, its test accuracy and the test baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from ..experiment.layer_search import LayerSearch, search_layers
from .ablation import run_setting
from .plots import color, style

__all__ = ["layer_search_figure", "run_layer_search"]


def _labels(strategy: str, steps: list[Mapping[str, Any]]) -> list[str]:
    """An x label per step: the layer a greedy step added, the layer a map row steers / drops."""
    if strategy == "greedy-forward":
        out, before = [], set()
        for s in steps:
            added = sorted(set(s["layers"]) - before)
            out.append("none" if not s["layers"] else "+" + ",".join(f"L{k}" for k in added))
            before = set(s["layers"])
        return out
    ref = "none" if strategy == "single" else "all"
    full = set(steps[0]["layers"])
    rest = [
        f"L{s['layers'][0]}" if strategy == "single" else f"−L{min(full - set(s['layers']))}"
        for s in steps[1:]
    ]
    return [ref, *rest]


def _errors(steps: list[Mapping[str, Any]]) -> dict[str, Any]:
    acc = [s["accuracy"] for s in steps]
    return {
        "type": "data",
        "symmetric": False,
        "array": [s["ci95"][1] - a for s, a in zip(steps, acc, strict=True)],
        "arrayminus": [a - s["ci95"][0] for s, a in zip(steps, acc, strict=True)],
    }


def _candidates(rounds: list[Mapping[str, Any]], x: list[str]) -> go.Scatter:
    """Every greedy round's candidates as grey dots in the column of the step it decided (a
    round not kept gets a column of its own: ``stop``)."""
    xs, ys, hover = [], [], []
    for r, rnd in enumerate(rounds):
        col = x[r + 1] if rnd["kept"] else "stop"
        for c in rnd["candidates"]:
            xs.append(col)
            ys.append(c["n_correct"] / rnd["n"])
            hover.append(f"{list(rnd['base'])} + L{c['added']}<br>{c['n_correct']}/{rnd['n']}")
    return go.Scatter(
        x=xs, y=ys, mode="markers", name="candidates of each round",
        marker={"color": "#9a9a9a", "size": 5, "opacity": 0.6}, hovertext=hover,
        hoverinfo="text",
    )  # fmt: skip


def layer_search_figure(search: LayerSearch | Mapping[str, Any], title: str = "") -> go.Figure:
    """Validation accuracy of every searched set (95 % CI), the best set starred, and — when the
    record has a ``test`` section — the best set's test accuracy beside the test baseline."""
    rec = search.to_dict() if isinstance(search, LayerSearch) else dict(search)
    steps, strategy = list(rec["steps"]), rec["strategy"]
    if not steps:
        raise ValueError("the layer search has no steps to draw")
    x = _labels(strategy, steps)
    hover = [
        f"layers {s['layers']}<br>{s['n_correct']}/{s['n']} correct" for s in steps
    ]  # fmt: skip
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x, y=[s["accuracy"] for s in steps], error_y=_errors(steps),
            mode="lines+markers" if strategy == "greedy-forward" else "markers",
            marker={"color": color(0), "size": 9}, name="validation (searched)",
            hovertext=hover, hoverinfo="text+y",
        )
    )  # fmt: skip
    if rec.get("rounds"):
        fig.add_trace(_candidates(rec["rounds"], x))
    best = [i for i, s in enumerate(steps) if list(s["layers"]) == list(rec["best"])]
    if best:
        i = best[0]
        fig.add_trace(
            go.Scatter(
                x=[x[i]], y=[steps[i]["accuracy"]], mode="markers", name="best set",
                marker={"symbol": "star", "size": 16, "color": color(1)},
            )
        )  # fmt: skip
    test = rec.get("test")
    if test and best:
        b, base = test["best"], test["baseline"]
        fig.add_trace(
            go.Scatter(
                x=[x[best[0]]], y=[b["accuracy"]], error_y=_errors([b]), mode="markers",
                marker={"symbol": "diamond", "size": 12, "color": color(2)},
                name=f"best set on test (n={b['n']})",
            )
        )  # fmt: skip
        fig.add_hline(
            y=base["accuracy"], line={"dash": "dot", "color": "#555555"},
            annotation_text=f"test baseline {base['accuracy']:.3f}",
        )  # fmt: skip
    fig.update_xaxes(
        title="step (layer added)" if strategy == "greedy-forward" else "layer set",
        type="category",
    )
    fig.update_yaxes(title="accuracy")
    kept = ", ".join(f"L{i}" for i in rec["best"]) or "no layer (unsteered)"
    head = f"layer search ({strategy}, λ = {rec['lam']:g}); best: {kept}"
    return style(fig, f"{title}: {head}" if title else head)


def run_layer_search(
    run: Any,
    task: str,
    *,
    strategy: str = "greedy-forward",
    max_layers: int | None = None,
    lam: float | None = None,
    split: str = "val",
    n: int | None = None,
    model: Any = None,
    progress: bool = False,
) -> LayerSearch:
    """:func:`lens_steer.experiment.search_layers` on a run directory's child vectors with the
    run's settings (see :func:`~lens_steer.analysis.ablation.run_setting`); ``lam`` defaults to
    λ*. Search on ``val``: a set chosen on ``test`` is not a test result."""
    s = run_setting(run, task, lam=lam, split=split, n=n, model=model, progress=progress)
    return search_layers(
        s.model, s.vectors, s.task, s.examples, s.lam,
        strategy=strategy, max_layers=max_layers, scoring=s.scoring, options=s.options,
    )  # fmt: skip
