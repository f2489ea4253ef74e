"""``report.html``: one self-contained page per run (or set of runs) that opens with no network.

It holds the summary table (Table 1), every test condition with its statistics, every figure that
the runs' files support, and the config and provenance behind them. plotly.js is inlined once in
the head; each figure is a ``<div class="ls-figure" data-figure=KEY>`` fragment drawn by it, with a
stable id, so the page is the same bytes for the same runs and a browser test can count figures.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import torch

from ..experiment.lambda_sweep import entry_str
from .figures import GAIN_CONDITIONS, its_gains, lambda_curve, steering_ratio_figure, vectors_figure
from .layer_search import layer_search_figure
from .plots import FIGURE_CLASS, figure_div, figure_page, write_html
from .rundir import Run, as_list, is_sweep_dir, load_runs, read_sweep, task_names
from .similarity import pc1_similarity
from .table1 import TABLE_CSS, table1

__all__ = ["FIGURE_CLASS", "ReportFigure", "report_figures", "report_html", "write_report"]

_CAPTIONS = {
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
    kind: str  # one of the _CAPTIONS keys
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


def _vectors(run: Run, task: str, which: str) -> Any:
    path = run.tasks[task].path / "vectors" / f"{which}.safetensors"
    return run.tasks[task].vectors(which) if path.is_file() else None


def _same(a: Any, b: Any) -> bool:
    return a.layers == b.layers and torch.equal(a.directions, b.directions)


def _distinct_parents(runs: Sequence[Run], task: str) -> list[tuple[Run, Any]]:
    """Runs with ``task`` and their parent vectors, the first of each distinct set only: a
    sweep's runs often share one extraction, which would draw the same heatmap many times."""
    out: list[tuple[Run, Any]] = []
    for r in (r for r in runs if task in r.tasks):
        v = _vectors(r, task, "parent")
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
            a, b = _vectors(first, task, "child"), _vectors(r, task, "child")
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


def _conditions_table(run: Run, task: str) -> str:
    head = [
        "condition",
        "λ",
        "n",
        "accuracy [95% CI]",
        "Δ vs baseline [95% CI]",
        "McNemar p",
        "what",
    ]
    rows = []
    for name, c in run.task(task).conditions.items():
        if c.get("n_votes") is not None:
            lam = f"{c['n_votes']} votes"
        else:
            lam = (
                "-"
                if c.get("lam") is None
                else entry_str(tuple(c["lam"]) if isinstance(c["lam"], list) else c["lam"])
            )
        acc = f"{c['accuracy']:.3f} [{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]"
        vs = c.get("vs_baseline") or {}
        delta = f"{vs['delta']:+.3f} [{vs['ci95'][0]:+.3f}, {vs['ci95'][1]:+.3f}]" if vs else ""
        p = f"{vs['mcnemar_p']:.3g}" if vs else ""
        cells = [name, lam, str(c["n"]), acc, delta, p, c.get("description", "")]
        rows.append("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
    ths = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table class="ls-table"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


_META_KEYS = (
    "source_model",
    "target_model",
    "method",
    "pair_strategy",
    "n_pairs",
    "data_hash",
    "coordinates",
    "layer_map_method",
    "width",
    "normalized",
    "n_anchor_texts",
)


def _provenance(run: Run) -> str:
    parts = [
        f"<h3>{html.escape(run.label)}</h3>",
        f"<p>run directory <code>{html.escape(str(run.path))}</code>, config hash "
        f'<code class="ls-config-hash">{html.escape(run.config_hash)}</code></p>',
    ]
    env = run.metrics.get("environment", {})
    if env:
        items = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in env.items()
        )
        parts.append(f'<table class="ls-table ls-kv">{items}</table>')
    for t in run.tasks:
        child = _vectors(run, t, "child")
        if child is not None:
            meta = dict(child.meta)
            rows = "".join(
                f"<tr><th>{k}</th><td>{html.escape(json.dumps(meta[k]))}</td></tr>"
                for k in _META_KEYS
                if k in meta
            )
            parts.append(
                f'<h4>{html.escape(t)}: child vectors</h4><table class="ls-table ls-kv">{rows}</table>'
            )
            full = html.escape(json.dumps(meta, indent=2, ensure_ascii=False))
            parts.append(
                f"<details><summary>full vector provenance</summary><pre>{full}</pre></details>"
            )
    cfg = html.escape(json.dumps(dict(run.config), indent=2, ensure_ascii=False))
    parts.append(f"<details><summary>config.json</summary><pre>{cfg}</pre></details>")
    log = run.path / "run.log"
    if log.is_file():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
        parts.append(
            f"<details><summary>run.log (last 60 lines)</summary><pre>{html.escape(tail)}</pre></details>"
        )
    return "\n".join(parts)


_NOT_HERE = (
    "Two analyses need the models rather than the run files and are not drawn here: per-layer "
    "ablation (analyses/layer_ablation.py RUN_DIR --task TASK) and the width-free PC1 similarity "
    "of two models (analyses/pc1_similarity.py: projection-score correlation and linear CKA)."
)

_CSS = (
    "body{font:14px system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}"
    ".ls-caption{color:#555;max-width:70em}pre{background:#f6f6f6;padding:.6em;overflow:auto}"
    "section.ls-section{margin:1.5em 0}.ls-kv th{text-align:left}"
)


def _figure_html(f: ReportFigure) -> str:
    div = figure_div(f.figure, f"ls-fig-{f.key}", f.kind)
    return (
        f'<section class="ls-section" id="{html.escape(f.key)}"><h3>{html.escape(f.title)}</h3>'
        f'<p class="ls-caption">{html.escape(_CAPTIONS[f.kind])}</p>{div}</section>'
    )


def _sweep_dirs(runs: Sequence[Run | str | Path] | str | Path | Run) -> list[Path]:
    return [Path(p).expanduser().resolve() for p in as_list(runs) if is_sweep_dir(p)]


def _sweep_section(root: Path) -> str:
    """Every run of a sweep with its varied values, status and wall time (failed ones too)."""
    head = "".join(f"<th>{h}</th>" for h in ("run", "varied values", "status", "wall s", "error"))
    rows = []
    for name, e in read_sweep(root).items():
        values = ", ".join(f"{k}={v}" for k, v in e.get("values", {}).items())
        wall = "" if e.get("wall_s") is None else f"{e['wall_s']:.1f}"
        cells = [name, values, e.get("status", "?") + (" (reused)" if e.get("reused") else ""),
                 wall, e.get("error", "")]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return (
        f"<h2>Sweep <code>{html.escape(str(root))}</code></h2>"
        f'<table class="ls-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
    )


def report_html(runs: Sequence[Run | str | Path] | str | Path) -> str:
    """The report page for ``runs`` (run or sweep directories) as one HTML string (plotly.js
    inline, once)."""
    return _page(load_runs(runs), _sweep_dirs(runs), _only_a_sweep(runs))


def _only_a_sweep(runs: Sequence[Run | str | Path] | str | Path) -> bool:
    paths = as_list(runs)
    return len(paths) == 1 and is_sweep_dir(paths[0])


def _page(
    rs: Sequence[Run], sweeps: Sequence[Path], only_a_sweep: bool,
    figures: Sequence[ReportFigure] | None = None,
) -> str:  # fmt: skip
    from .. import __version__

    if only_a_sweep:
        title = f"lens_steer report: sweep {sweeps[0].name} ({len(rs)} finished run(s))"
    else:
        title = f"lens_steer report: {rs[0].label if len(rs) == 1 else f'{len(rs)} runs'}"
    body = [f"<h1>{html.escape(title)}</h1>", *map(_sweep_section, sweeps)]
    body += ["<h2>Summary (Table 1)</h2>", table1(rs).to_html()]
    body.append("<h2>Test conditions</h2>")
    for r in rs:
        for t in r.tasks:
            body.append(
                f"<h3>{html.escape(r.label)}: {html.escape(t)}</h3>{_conditions_table(r, t)}"
            )
    figures = report_figures(rs) if figures is None else figures
    links = "".join(
        f'<li><a href="#{html.escape(f.key)}">{html.escape(f.title)}</a></li>' for f in figures
    )
    body += ["<h2>Figures</h2>", f"<nav><ul>{links}</ul></nav>", f"<p>{_NOT_HERE}</p>"]
    body += [_figure_html(f) for f in figures]
    body.append("<h2>Config and provenance</h2>")
    body += [_provenance(r) for r in rs]
    body.append(f"<footer><p>made by lens_steer {__version__}</p></footer>")
    return figure_page(body, title, css=_CSS + TABLE_CSS)


def write_report(
    run_dirs: Sequence[Run | str | Path] | str | Path,
    out_path: str | Path | None = None,
    figures: Sequence[ReportFigure] | None = None,
) -> Path:
    """Write the report of ``run_dirs`` to ``out_path`` atomically; returns the path written.
    The default is ``DIR/report.html`` for a single run directory or a single sweep directory.
    ``figures``: :func:`report_figures` of the same runs, when already drawn (to export too)."""
    rs, sweeps, only_a_sweep = load_runs(run_dirs), _sweep_dirs(run_dirs), _only_a_sweep(run_dirs)
    if out_path is None:
        if only_a_sweep:
            out_path = sweeps[0] / "report.html"
        elif len(rs) == 1:
            out_path = rs[0].path / "report.html"
        else:
            raise ValueError(
                f"{len(rs)} runs given: say where the combined report goes (out_path / -o)"
            )
    return write_html(_page(rs, sweeps, only_a_sweep, figures), out_path)
