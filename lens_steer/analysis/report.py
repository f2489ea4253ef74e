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
from pathlib import Path

from ..experiment.lambda_sweep import entry_str
from .gallery import CAPTIONS, ReportFigure, report_figures, saved_vectors
from .plots import FIGURE_CLASS, figure_div, figure_page, write_html
from .rundir import Run, as_list, is_sweep_dir, load_runs, read_sweep
from .table1 import TABLE_CSS, table1

__all__ = ["FIGURE_CLASS", "ReportFigure", "report_figures", "report_html", "write_report"]


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
        child = saved_vectors(run, t, "child")
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
        f'<p class="ls-caption">{html.escape(CAPTIONS[f.kind])}</p>{div}</section>'
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
