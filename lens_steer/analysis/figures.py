"""The run-level figures: λ robustness (paper Fig. 3), ITS gains (Fig. 1/4), steering ratio and
vector diagnostics — each from run directories alone, one subplot per task.

Every accuracy carries its 95 % interval, and every steered number sits next to its control: the
random-direction curve beside the λ curve, random-direction and self-consistency bars beside the
steered and ITS bars. Without the controls a gain cannot be told apart from "any nudge helps" or
"any voting helps".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..experiment.lambda_sweep import entry_str
from .curves import CurvePoint, LambdaCurves, lambda_curves
from .plots import band, color, covered_by, fit_legend, line, log_grid_axis, log_y_axis, style
from .rundir import Run, load_runs, task_names

__all__ = [
    "GAIN_CONDITIONS",
    "lambda_curve",
    "lambda_curve_figure",
    "its_gains",
    "steering_ratio_figure",
    "vectors_figure",
]

RunsLike = Sequence[str | Path | Run] | str | Path | Run

# Conditions compared with the baseline, steered ones first, each control after what it controls.
GAIN_CONDITIONS = ("steered", "random-direction", "its", "random-direction-its", "self-consistency")
_CONTROL = {"random-direction", "random-direction-its", "self-consistency"}
_LABEL_CHAR_PX = 7  # a character of a 12 px axis label
_PLOT_PX = 720  # the plot's width in a 1000 px figure, less its-gains' legend at the right
_HALOS = 2  # at most this many rings under a line others repeat: wider ones only hide the plot


def _grid(tasks: Sequence[str], title: str, height: int = 480) -> go.Figure:
    fig = make_subplots(rows=1, cols=len(tasks), subplot_titles=list(tasks))
    return style(fig, title, height)


def _xs(points: Sequence[CurvePoint], scalar: bool) -> list[Any]:
    return [p.lam if scalar else p.label for p in points]


def _curve(fig, points, scalar, hex_color, name, group, dash, col, show_band=True) -> None:
    x = _xs(points, scalar)
    if show_band:
        fig.add_trace(
            band(x, [p.lo for p in points], [p.hi for p in points], hex_color, group), 1, col
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[p.accuracy for p in points],
            mode="lines+markers",
            line={"color": hex_color, "dash": dash},
            name=name,
            legendgroup=group,
            showlegend=False,
            customdata=[[p.lo, p.hi, p.n] for p in points],
            hovertemplate="λ %{x}<br>acc %{y:.3f} [%{customdata[0]:.3f}, %{customdata[1]:.3f}]"
            "<br>n %{customdata[2]}<extra>" + name + "</extra>",
        ),
        1,
        col,
    )


def _hline(fig, x, value, hex_color, name, group, col) -> None:
    acc, lo, hi = value
    ends = [x[0], x[-1]]
    fig.add_trace(band(ends, [lo, lo], [hi, hi], hex_color, group), 1, col)
    fig.add_trace(
        go.Scatter(
            x=ends,
            y=[acc, acc],
            mode="lines",
            line={"color": hex_color, "dash": "longdash", "width": 1.5},
            name=name,
            legendgroup=group,
            showlegend=False,
            hovertemplate=f"{name}: {acc:.3f} [{lo:.3f}, {hi:.3f}]<extra></extra>",
        ),
        1,
        col,
    )


def lambda_curve_figure(curves: Sequence[LambdaCurves]) -> go.Figure:
    """Accuracy vs λ: test (band), random-direction control (dashed), validation (dotted),
    the test baseline as a line with its band, and λ* marked."""
    tasks = list(dict.fromkeys(c.task for c in curves))
    fig = _grid(tasks, "Accuracy vs λ (95% CI bands): steered, random-direction control, baseline")
    who_order = list(dict.fromkeys(c.run for c in curves))
    notes: list[str] = []
    grids: dict[int, set[float] | None] = {}  # a column's λ; None: a run there can't go on log
    for c in curves:
        col, hue = tasks.index(c.task) + 1, color(who_order.index(c.run))
        points = c.test or c.validation
        if not points:
            notes.append(f"{c.run} / {c.task}: no λ sweep recorded")
            continue
        _sweep_traces(fig, c, hue, col)
        _best_marker(fig, c, hue, col)
        if c.note:
            notes.append(f"{c.run} / {c.task}: {c.note}")
        every = _every_point(c)
        loggable = c.scalar and all(p.lam > 0 for p in every)
        grids[col] = grids.get(col, set()) | {p.lam for p in every} if loggable else None
    for col, grid in grids.items():  # one axis per column, ticked at every run's λ
        if grid:
            log_grid_axis(fig, sorted(grid), col)
    _legend_key(fig, [(who, color(i)) for i, who in enumerate(who_order)])
    fit_legend(fig)
    fig.update_xaxes(title_text="λ")
    fig.update_yaxes(title_text="accuracy", col=1)
    if notes:
        fig.add_annotation(
            text="<br>".join(notes),
            xref="paper",
            yref="paper",
            x=0,
            y=1.12,
            showarrow=False,
            align="left",
        )
    return fig


def _every_point(c: LambdaCurves) -> list[CurvePoint]:
    """Test and validation points together: ITS may test a sub-grid of the tuning grid, and the
    axis and the baseline span every λ drawn."""
    return [*(c.test or []), *(c.validation or [])]


def _sweep_traces(fig: go.Figure, c: LambdaCurves, hue: str, col: int) -> None:
    """The test, random-direction and validation curves of one run and task, and its baseline."""
    who = c.run
    if c.test:
        _curve(fig, c.test, c.scalar, hue, f"{who}: steered (test)", who, "solid", col)
    if c.random:
        name = f"{who}: random direction (test)"
        _curve(fig, c.random, c.scalar, hue, name, who, "dash", col)
    if c.validation:
        name = f"{who}: steered (validation)"
        _curve(fig, c.validation, c.scalar, hue, name, who, "dot", col, show_band=False)
    if c.scalar:  # the baseline spans every λ drawn
        x = sorted(set(_xs(_every_point(c), True)))
    else:
        x = _xs(c.test or c.validation, False)
    if c.baseline:
        _hline(fig, x, c.baseline, hue, f"{who}: baseline (test)", who, col)


def _best_marker(fig: go.Figure, c: LambdaCurves, hue: str, col: int) -> None:
    """λ* as a star at its test accuracy, with the interval as error bars."""
    if not (c.steered and c.best_lambda is not None):
        return
    acc, lo, hi = c.steered
    lam = c.best_lambda if c.scalar else entry_str(tuple(c.best_lambda))
    fig.add_trace(
        go.Scatter(
            x=[lam],
            y=[acc],
            mode="markers",
            marker={"symbol": "star", "size": 13, "color": hue},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [hi - acc],
                "arrayminus": [acc - lo],
            },
            name=f"{c.run}: λ* (test)",
            legendgroup=c.run,
            showlegend=False,
            hovertemplate=f"λ* %{{x}}: {acc:.3f} [{lo:.3f}, {hi:.3f}]<extra>{c.run}</extra>",
        ),
        1,
        col,
    )


_KEY_STYLE = {  # what each kind of curve looks like, for the legend's key
    "steered (test)": {"mode": "lines+markers", "line": {"dash": "solid"}},
    "random direction (test)": {"mode": "lines+markers", "line": {"dash": "dash"}},
    "steered (validation)": {"mode": "lines+markers", "line": {"dash": "dot"}},
    "baseline (test)": {"mode": "lines", "line": {"dash": "longdash", "width": 1.5}},
    "λ* (test)": {"mode": "markers", "marker": {"symbol": "star", "size": 13}},
}


def _legend_key(fig: go.Figure, runs: Sequence[tuple[str, str]]) -> None:
    """One legend entry per kind of curve drawn (its line style, in grey: a key, which a click
    does not hide) and one per run drawn (its colour; a click shows or hides all its curves and
    bands, which share its legend group): a legend that grows with runs + kinds, not with their
    product, so that four runs of five curves each stay readable."""
    drawn = {t.name.rsplit(": ", 1)[-1] for t in fig.data if t.name}  # a label may hold ": "
    groups = {t.legendgroup for t in fig.data}
    for kind in (k for k in _KEY_STYLE if k in drawn):
        style_ = {k: dict(v) for k, v in _KEY_STYLE[kind].items() if k != "mode"}
        for part in ("line", "marker"):
            style_.setdefault(part, {})["color"] = "#555555"
        fig.add_trace(go.Scatter(x=[None], y=[None], mode=_KEY_STYLE[kind]["mode"], name=kind,
                                 legendgroup=f"key: {kind}", hoverinfo="skip", **style_), 1, 1)  # fmt: skip
    for who, hue in ((w, h) for w, h in runs if w in groups):  # not a run with no λ sweep
        stroke = {"color": hue, "width": 3}
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=stroke, name=who,
                                 legendgroup=who), 1, 1)  # fmt: skip


def lambda_curve(runs: RunsLike, task: str | None = None) -> go.Figure:
    """λ robustness (paper Fig. 3) of every run, one subplot per task. The line style says the
    kind of curve, the colour the run: past ten runs colours repeat (the report draws at most four
    runs a figure)."""
    rs = load_runs(runs)
    return lambda_curve_figure(
        [lambda_curves(r, t) for t in task_names(rs, task) for r in rs if t in r.tasks]
    )


def its_gains(runs: RunsLike, task: str | None = None) -> go.Figure:
    """Δ accuracy vs baseline (points) of λ*, ITS and their controls per child, grouped by parent,
    with the paired bootstrap 95 % CI as error bars and McNemar p in the hover."""
    rs = load_runs(runs)
    tasks = task_names(rs, task)
    fig = _grid(tasks, "Δ accuracy vs baseline (percentage points, paired bootstrap 95% CI)")
    for col, t in enumerate(tasks, 1):
        with_task = [r for r in rs if t in r.tasks]
        arms, axis_title = _arms(with_task)
        x = [[r.parent for r in with_task], arms]
        fig.update_xaxes(title_text=axis_title, row=1, col=col)
        for k, name in enumerate(GAIN_CONDITIONS):
            conds = [r.task(t).conditions.get(name) for r in with_task]
            if not any(c and c.get("vs_baseline") for c in conds):
                continue
            ys, up, down, hover = zip(*(_gain(c) for c in conds), strict=True)
            fig.add_trace(
                go.Bar(
                    x=x,
                    y=list(ys),
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    marker={
                        "color": color(k),
                        "pattern": {"shape": "/" if name in _CONTROL else ""},
                    },
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": list(up),
                        "arrayminus": list(down),
                    },
                    hovertext=list(hover),
                    hoverinfo="text+name",
                ),
                1,
                col,
            )
        fig.add_hline(y=0, line={"color": "black", "width": 1}, row=1, col=col)
    # the legend (a few short names) at the right: below, rotated group labels would run into it
    legend = {"orientation": "v", "y": 1, "yanchor": "top"}
    grow = max(_label_room(_arms([r for r in rs if t in r.tasks])[0], len(tasks)) for t in tasks)
    fig.update_layout(barmode="group", legend=legend, height=fig.layout.height + grow)
    return fig.update_yaxes(title_text="Δ accuracy (pp)", col=1)


def _label_room(arms: Sequence[str], columns: int) -> int:
    """The height bar-group labels take when plotly stands them on end (they do not fit their
    slots side by side): the figure grows by it, so the plot keeps (most of) its height."""
    slot = _PLOT_PX / columns / max(1, len(arms))
    longest = max(map(len, arms), default=0) * _LABEL_CHAR_PX
    return longest if longest > slot else 0


def _arms(runs: Sequence[Run]) -> tuple[list[str], str]:
    """Each run's bar-group label under its parent, and the x-axis title saying what they are.

    A child more runs share than any other is named once, in the title; a run with another child
    names it in its own label (every run does when no child is shared). The rest of a label is
    the run's varied values: the values alone ("paper", not "setting=paper") when the runs vary
    one key, short enough for plotly to keep them horizontal."""
    top = Counter(r.child for r in runs).most_common(2)
    main = top[0][0] if len(top) == 1 or top[0][1] > max(1, top[1][1]) else None
    shared = {tuple(r.varied) for r in runs}
    keys = shared.pop() if len(shared) == 1 else ()  # the varied keys, when all runs vary the same
    one_key = keys[0] if len(keys) == 1 else None
    what = one_key or ("varied values" if any(r.varied for r in runs) else "")
    unless = " unless named" if main and any(r.child != main for r in runs) else ""
    title = f"child {main}{unless}: parent" if main else "parent"
    title += f" and {what}" if what else ""
    labels = []
    for r in runs:
        own = r.varied[one_key] if one_key else r.variant
        other = f"child {r.child}" if r.child != main else ""
        labels.append(", ".join(x for x in (own, other) if x) or r.child)
    return labels, title


def _gain(cond: dict[str, Any] | None) -> tuple[float | None, float, float, str]:
    """A condition's Δ vs baseline in percentage points: (Δ, CI up, CI down, hover text)."""
    vs = (cond or {}).get("vs_baseline")
    if not vs:
        return None, 0.0, 0.0, ""
    d, (lo, hi) = vs["delta"], vs["ci95"]
    hover = (
        f"Δ {100 * d:+.2f} pp [{100 * lo:+.2f}, {100 * hi:+.2f}]<br>"
        f"acc {cond['accuracy']:.3f}, n {cond['n']}, McNemar p {vs['mcnemar_p']:.3g}"
    )
    return 100 * d, 100 * (hi - d), 100 * (d - lo), hover


def steering_ratio_figure(runs: RunsLike, task: str | None = None) -> go.Figure:
    """‖λ*·v‖ / mean‖h‖ per steered child layer: how large the chosen nudge is at each depth."""
    rs = load_runs(runs)
    tasks = task_names(rs, task)
    fig = _grid(tasks, "Steering ratio ‖λ*·v‖ / mean ‖h‖ per child layer")
    for col, t in enumerate(tasks, 1):
        drawn = [(i, r, sr) for i, r in enumerate(rs) if (sr := _ratio(r, t))]
        halo = covered_by([(sr["layers"], sr["ratio"]) for _, _, sr in drawn])
        for (i, r, sr), h in zip(drawn, halo, strict=True):
            fig.add_trace(
                go.Scatter(
                    x=sr["layers"],
                    y=sr["ratio"],
                    mode="lines+markers",
                    line={**line(i), "width": 2 + 4 * min(h, _HALOS)},
                    marker={"size": 6 + 6 * min(h, _HALOS)},
                    name=f"{r.label} (λ*={entry_str(_lam(sr['lambda']))})",
                    legendgroup=r.label,
                    showlegend=col == 1 or len(rs) > 1,
                ),
                1,
                col,
            )
    log_y_axis(fig, "‖λ·v‖ / ‖h‖")
    fig.update_xaxes(title_text="child layer")
    return fit_legend(fig)


def _ratio(run: Run, task: str) -> dict[str, Any] | None:
    return run.tasks[task].metrics.get("steering_ratio") if task in run.tasks else None


def _lam(value: Any) -> float | tuple[float, ...]:
    return tuple(value) if isinstance(value, list) else float(value)


def vectors_figure(runs: RunsLike, task: str | None = None) -> go.Figure:
    """Per layer: the parent PC1's explained variance and the width map's held-out R² per child
    layer — how much of the concept one direction captures, and how well it crosses over."""
    rs = load_runs(runs)
    tasks = task_names(rs, task)
    titles = [
        f"{t}: {what}"
        for t in tasks
        for what in ("parent PC1 explained variance", "width map held-out R²")
    ]
    fig = make_subplots(rows=len(tasks), cols=2, subplot_titles=titles)
    style(fig, "Steering vectors: PC1 explained variance and width-map R²", 360 * len(tasks) + 120)
    for row, t in enumerate(tasks, 1):
        for i, r in enumerate(rs):
            if t not in r.tasks:
                continue
            vec = r.tasks[t].metrics.get("vectors", {})
            evr = vec.get("parent_explained_variance") or []
            common = {"line": line(i), "legendgroup": r.label, "mode": "lines+markers"}
            fig.add_trace(
                go.Scatter(
                    x=list(range(len(evr))), y=evr, name=r.label, showlegend=row == 1, **common
                ),
                row,
                1,
            )
            r2, lmap = vec.get("width_r2"), vec.get("layer_map") or []
            if r2:
                fig.add_trace(
                    go.Scatter(
                        x=[c for c, _ in lmap],
                        y=r2,
                        name=r.label,
                        showlegend=False,
                        customdata=[p for _, p in lmap],
                        hovertemplate="child layer %{x} ← parent %{customdata}<br>R² %{y:.3f}<extra></extra>",
                        **common,
                    ),
                    row,
                    2,
                )
        fig.update_xaxes(title_text="parent layer", row=row, col=1)
        fig.update_xaxes(title_text="child layer", row=row, col=2)
    return fit_legend(fig, base=360 * len(tasks) + 120)
