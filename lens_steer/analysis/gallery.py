"""The figures a report draws: every figure the runs' files support, keyed and captioned.

:func:`report_figures` decides which figures a set of runs can have (a λ sweep, ITS gains, a
steering ratio, a layer search, vector diagnostics, PC1 heatmaps) and draws each once; the page
(:mod:`.report`) and the image export (:mod:`.export`) both take them from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import torch

from .figures import GAIN_CONDITIONS, its_gains, lambda_curve, steering_ratio_figure, vectors_figure
from .layer_search import layer_search_figure
from .rundir import Run, load_runs, task_names
from .similarity import pc1_similarity

__all__ = ["CAPTIONS", "ReportFigure", "report_figures"]


CAPTIONS = {
    "lambda-curve": "Accuracy per λ on the test split (from the ITS answers at every λ) with 95% "
    "Wilson bands, the random-direction control at the same λ (dashed), the validation sweep that "
    "chose λ* (dotted), the unsteered baseline (long dashes) and λ* (star).",
    "its-gains": "Δ accuracy vs the baseline on the same test items, with paired bootstrap 95% "
    "CIs; hatched bars are controls (random directions at the same λ; unsteered self-consistency "
    "with as many votes as ITS). Hover for McNemar p.",
    "steering-ratio": "‖λ*·v‖ / mean ‖h‖ per steered child layer: the size of the nudge relative "
    "to the residual stream it is added to.",
    "layer-search": "The run's layer search at λ*: validation accuracy (95% Wilson CI) of each "
    "set it scored — for greedy-forward the layer added at each step, for single / leave-one-out "
    "each layer alone / all but it beside the reference set — the chosen set (star), and that set "
    "on the test split (diamond) beside the test baseline (dotted); selection saw validation only.",
    "vectors": "Share of variance the parent's PC1 explains per layer, and the held-out R² of the "
    "width map per child layer.",
    "pc1-self": "Cosine of the parent's PC1 vectors between its layers: how the concept direction "
    "drifts with depth (the diagonal is 1).",
    "pc1-cross": "Cosine of two runs' PC1 vectors layer × layer (the paper's Fig. 2 measure; same "
    "width only). For models of different widths use analyses/pc1_similarity.py, which correlates "
    "projection scores and CKA.",
}


@dataclass(frozen=True)
class ReportFigure:
    key: str  # unique in the report, also the figure's element id
    kind: str  # one of the CAPTIONS keys
    title: str
    figure: go.Figure


def _has_sweep(runs: Sequence[Run], task: str) -> bool:
    for r in runs:
        tr = r.tasks.get(task)
        if tr and (tr.metrics.get("tune", {}).get("table") or "its" in tr.conditions):
            return True
    return False


def _has_gains(runs: Sequence[Run], task: str) -> bool:
    return any(
        (r.tasks[task].conditions.get(c) or {}).get("vs_baseline")
        for r in runs
        if task in r.tasks
        for c in GAIN_CONDITIONS
    )


def saved_vectors(run: Run, task: str, which: str) -> Any:
    """The run's ``which`` ("parent" or "child") vectors for ``task``; None where not saved."""
    path = run.tasks[task].path / "vectors" / f"{which}.safetensors"
    return run.tasks[task].vectors(which) if path.is_file() else None


def _same(a: Any, b: Any) -> bool:
    return a.layers == b.layers and torch.equal(a.directions, b.directions)


def _distinct_parents(runs: Sequence[Run], task: str) -> list[tuple[Run, Any]]:
    """Runs with ``task`` and their parent vectors, the first of each distinct set only: a
    sweep's runs often share one extraction, which would draw the same heatmap many times."""
    out: list[tuple[Run, Any]] = []
    for r in (r for r in runs if task in r.tasks):
        v = saved_vectors(r, task, "parent")
        if v is None or not any(seen is not None and _same(v, seen) for _, seen in out):
            out.append((r, v))
    return out


def _pc1_figures(runs: Sequence[Run], task: str) -> list[ReportFigure]:
    out = []
    distinct = _distinct_parents(runs, task)
    with_task, parents = [r for r, _ in distinct], [v for _, v in distinct]
    for i, (r, v) in enumerate(zip(with_task, parents, strict=True)):
        if v is not None:
            sim = pc1_similarity(v, v, labels=(r.parent, r.parent))
            title = f"{task}: PC1 cosine across {r.parent}'s layers ({r.label})"
            out.append(ReportFigure(f"pc1-self-{task}-{i}", "pc1-self", title, sim.figure(title)))
    first, v0 = (with_task[0], parents[0]) if with_task else (None, None)
    for j, (r, v) in enumerate(zip(with_task[1:], parents[1:], strict=True), 1):
        if first is None or v is None or v0 is None:
            continue
        if v.d_model == v0.d_model:
            a, b, where = v0, v, "parent space"
        else:
            a, b = saved_vectors(first, task, "child"), saved_vectors(r, task, "child")
            if a is None or b is None or a.d_model != b.d_model:
                continue
            where = "child space, after transfer"
        sim = pc1_similarity(a, b, labels=(first.label, r.label))
        title = f"{task}: PC1 cosine, {first.label} vs {r.label} ({where})"
        out.append(ReportFigure(f"pc1-cross-{task}-{j}", "pc1-cross", title, sim.figure(title)))
    return out


_RUNS_PER_CURVE = 4  # 5 traces each: more runs on one λ axis stop being readable


def _relative(run: Run) -> bool:
    return bool((run.config.get("steer") or {}).get("relative"))


def _curve_parts(runs: Sequence[Run]) -> list[tuple[str, bool, list[Run], str]]:
    """(child, relative λ, runs, "k of n") per figure: runs that share a child and a unit of λ,
    at most ``_RUNS_PER_CURVE`` at a time, in the runs' order."""
    groups: dict[tuple[str, bool], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.child, _relative(r)), []).append(r)
    parts = []
    for (child, rel), rs in groups.items():
        n = -(-len(rs) // _RUNS_PER_CURVE)
        for k in range(n):
            chunk = rs[k * _RUNS_PER_CURVE : (k + 1) * _RUNS_PER_CURVE]
            parts.append((child, rel, chunk, f" ({k + 1} of {n})" if n > 1 else ""))
    return parts


def _lambda_curves(runs: Sequence[Run], task: str) -> list[ReportFigure]:
    """λ curves, one figure per child and unit of λ (absolute, or a fraction of each layer's
    mean ‖h‖: never on one axis), at most four runs each."""
    parts = _curve_parts(runs)
    several_children = len({child for child, *_ in parts}) > 1
    both_units = len({rel for _, rel, *_ in parts}) > 1
    out = []
    for j, (child, rel, rs, part) in enumerate(parts):
        fig = lambda_curve(rs, task)
        if rel:
            fig.update_xaxes(title_text="λ (fraction of the layer's mean ‖h‖)")
        title = f"{task}: accuracy vs λ" + (f", child {child}" if several_children else "")
        title += (", λ relative to ‖h‖" if rel and both_units else "") + part
        key = f"lambda-curve-{task}" if len(parts) == 1 else f"lambda-curve-{task}-{j}"
        out.append(ReportFigure(key, "lambda-curve", title, fig))
    return out


def report_figures(runs: Sequence[Run | str | Path]) -> list[ReportFigure]:
    """Every figure the runs' files support, in report order (per task: λ curve, gains, steering
    ratio, vector diagnostics, PC1 heatmaps)."""
    rs = load_runs(runs)
    out = []
    for t in task_names(rs):
        with_task = [r for r in rs if t in r.tasks]
        if _has_sweep(with_task, t):
            out.extend(_lambda_curves(with_task, t))
        if _has_gains(with_task, t):
            out.append(
                ReportFigure(
                    f"its-gains-{t}",
                    "its-gains",
                    f"{t}: gains over the baseline",
                    its_gains(with_task, t),
                )
            )
        if any(r.tasks[t].metrics.get("steering_ratio") for r in with_task):
            out.append(
                ReportFigure(
                    f"steering-ratio-{t}",
                    "steering-ratio",
                    f"{t}: steering ratio",
                    steering_ratio_figure(with_task, t),
                )
            )
        for i, r in enumerate(with_task):
            search = r.tasks[t].metrics.get("layer_search")
            if search:
                title = f"{t} ({r.label})"
                fig = layer_search_figure(search, title)
                out.append(ReportFigure(f"layer-search-{t}-{i}", "layer-search", title, fig))
        if any(
            r.tasks[t].metrics.get("vectors", {}).get("parent_explained_variance")
            for r in with_task
        ):
            out.append(
                ReportFigure(
                    f"vectors-{t}",
                    "vectors",
                    f"{t}: steering vectors",
                    vectors_figure(with_task, t),
                )
            )
        out.extend(_pc1_figures(with_task, t))
    return out
