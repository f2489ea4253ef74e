"""Plotly building blocks shared by every analysis: colours, CI bands, heatmaps, HTML output.

Kept apart from the analyses so that every figure draws intervals the same way (a translucent band
for curves, error bars for points) and every HTML file is written the same way: self-contained,
with plotly.js inline so it opens offline, and atomically so a reader never sees half a file.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative

from ..formats import atomic_write

__all__ = [
    "FIGURE_CLASS",
    "PALETTE",
    "band",
    "color",
    "line",
    "covered_by",
    "figure_div",
    "figure_page",
    "fit_legend",
    "heatmap",
    "legend_height",
    "legend_rows",
    "log_grid_axis",
    "log_ticks",
    "log_y_axis",
    "rgba",
    "style",
    "wrap_title",
    "write_figure",
    "write_html",
]

FIGURE_CLASS = "ls-figure"  # every figure div carries it, so a browser test can count them
PALETTE: tuple[str, ...] = tuple(qualitative.Plotly)
TEMPLATE = "plotly_white"
TITLE_WIDTH = 90  # characters of a title line: about what a 1000 px figure shows at plotly's size
TITLE_LINE_PX = 24  # what each title line beyond the first adds to the figure's height
DASHES = ("solid", "dash", "dot", "dashdot")


def color(i: int) -> str:
    """The ``i``-th colour of the palette (cycling)."""
    return PALETTE[i % len(PALETTE)]


def line(i: int) -> dict[str, str]:
    """The ``i``-th line style: the palette's colours, then again dashed, dotted, dash-dotted, so
    that lines past the tenth (a study's 14 runs, the paper's 19 λ) do not repeat one another."""
    return {"color": color(i), "dash": DASHES[(i // len(PALETTE)) % len(DASHES)]}


def covered_by(
    series: Sequence[tuple[Sequence[Any], Sequence[float]]], rtol: float = 1e-3
) -> list[int]:
    """For each ``(x, y)`` series, how many later ones lie on it: share an x with it and, at
    every shared x, a y within ``rtol`` (NaN on NaN counts as equal).

    Plotly draws later traces on top, so a run whose line another run repeats (the same child at
    the same λ) vanishes; drawn wider underneath, it stays visible as a halo. The count is an
    upper bound on the lines stacked at any one x (two later series may cover different parts)."""
    points = [dict(zip(x, y, strict=True)) for x, y in series]

    def same(u: float, v: float) -> bool:
        return math.isclose(u, v, rel_tol=rtol) or (math.isnan(u) and math.isnan(v))

    def on(a: dict[Any, float], b: dict[Any, float]) -> bool:
        shared = a.keys() & b.keys()
        return bool(shared) and all(same(a[k], b[k]) for k in shared)

    return [sum(on(p, later) for later in points[i + 1 :]) for i, p in enumerate(points)]


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = hex_to_rgb(hex_color)
    return f"rgba({r},{g},{b},{alpha})"


def band(
    x: Sequence[Any],
    lo: Sequence[float],
    hi: Sequence[float],
    hex_color: str,
    group: str,
    name: str = "95% CI",
) -> go.Scatter:
    """A filled polygon between ``lo`` and ``hi`` (hover off; toggles with its ``group``)."""
    return go.Scatter(
        x=list(x) + list(x)[::-1],
        y=list(hi) + list(lo)[::-1],
        mode="lines",
        fill="toself",
        fillcolor=rgba(hex_color, 0.15),
        line={"width": 0},
        hoverinfo="skip",
        showlegend=False,
        legendgroup=group,
        name=name,
    )


def heatmap(
    matrix: np.ndarray,
    x: Sequence[Any],
    y: Sequence[Any],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    zlabel: str,
    zmin: float = -1.0,
    zmax: float = 1.0,
    colorscale: str = "RdBu",
) -> go.Heatmap:
    """A heatmap trace of ``matrix[row, col]`` (rows on y, cols on x) with labelled hovers."""
    z = np.asarray(matrix, dtype=float)
    return go.Heatmap(
        z=z,
        x=[str(v) for v in x],
        y=[str(v) for v in y],
        zmin=zmin,
        zmax=zmax,
        colorscale=colorscale,
        colorbar={"title": {"text": zlabel}},
        hovertemplate=f"{ylabel} %{{y}}<br>{xlabel} %{{x}}<br>{zlabel} %{{z:.3f}}<extra>{title}</extra>",
    )


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)  # plotly's own line breaks, however written


def wrap_title(text: str | None, width: int = TITLE_WIDTH) -> str:
    """``text`` broken at spaces into lines of at most ``width`` characters (``<br>``): plotly
    never wraps a title, and one naming two runs (``a → b (setting=…) vs …``) ran off the
    figure. Breaks already there (``<br>``, ``<br/>``) are kept; a word longer than ``width``
    stays whole. Plain text only: an HTML tag with spaces in it could be split."""
    lines: list[str] = []
    for part in _BREAK.split(text or ""):
        line = ""
        for word in part.split(" "):
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "<br>".join(lines)


def log_ticks(values: Sequence[float]) -> dict[str, Any]:
    """Axis settings for a log axis ticked at 1, 2, 5 × 10^k over ``values`` (10^k alone beyond
    three decades, so that labels do not collide; evenly spaced round steps when the values
    span less than a factor of 3, so that some tick falls among them) and labelled in full
    (``0.002``, not ``2e-3``): plotly's own log ticks label a narrow range with bare digits
    ("2, 3, …, 9" under "0.01"), which reads as the wrong number. Zero, negative and
    non-finite values are ignored."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v) and v > 0]
    if not vals:
        return {"type": "log"}
    low, high = min(vals), max(vals)
    span = math.log10(high / low)
    if span < math.log10(3):
        step = _round_step(((high - low) or low) / 3)
        first = math.floor(low / step + 1e-9) - 1  # a step beyond the values on each side
        last = math.ceil(high / step - 1e-9) + 1
        ticks = [float(f"{n * step:.12g}") for n in range(max(first, 1), last + 1)]
    else:
        mantissas = (1,) if span > 3 else (1, 2, 5)
        lo, hi = math.floor(math.log10(low)) - 1, math.ceil(math.log10(high))
        ticks = [float(f"{m}e{e}") for e in range(lo, hi + 1) for m in mantissas]
        ticks = [t for t in ticks if low / 2.5 <= t <= high * 2.5]
    return {"type": "log", "tickmode": "array", "tickvals": ticks,
            "ticktext": [np.format_float_positional(t, trim="-") for t in ticks]}  # fmt: skip


def log_y_axis(fig: go.Figure, title: str) -> None:
    """Every y axis of ``fig`` on a log scale ticked by :func:`log_ticks` over all it draws."""
    ys = [y for trace in fig.data for y in trace.y]
    fig.update_yaxes(title_text=title, **log_ticks(ys))


def _round_step(x: float) -> float:
    """The largest 1, 2 or 5 × 10^k not above ``x``."""
    e = math.floor(math.log10(x))
    return max(m * 10.0**e for m in (1, 2, 5) if m * 10.0**e <= x * (1 + 1e-9))


def log_grid_axis(fig: go.Figure, ticks: list[float], col: int) -> None:
    """A log λ axis ticked at every λ drawn in the column: log minor ticks would mislead. Its
    labels are thinned by :func:`_tick_labels`."""
    fig.update_xaxes(
        type="log",
        tickmode="array",
        tickvals=ticks,
        ticktext=_tick_labels(ticks),
        row=1,
        col=col,
    )


def _tick_labels(ticks: list[float], dense: int = 8, gap: float = 0.15) -> list[str]:
    """Labels for sorted log-axis ticks: all of them for a grid of at most ``dense`` values;
    otherwise the 1, 2, 5 × 10^k values (the paper's 19 λ crowd 0.05–0.1 and 0.5–1, and every
    label written ran into its neighbours) — or, in a grid with fewer than two of those, every
    value at least 0.3 decade from the last labelled — and each end unless a labelled tick is
    within ``gap`` decades of it."""
    if len(ticks) <= dense:
        return [f"{t:g}" for t in ticks]
    logs = [math.log10(t) for t in ticks]
    keep = [_round_value(t) for t in ticks]
    if sum(keep) < 2:
        keep, last = [False] * len(ticks), -math.inf
        for i, x in enumerate(logs):
            if x - last >= 0.3:
                keep[i], last = True, x
    for i in (0, len(ticks) - 1):
        near = any(k and abs(x - logs[i]) < gap for k, x in zip(keep, logs, strict=True))
        keep[i] = keep[i] or not near
    return [f"{t:g}" if k else "" for t, k in zip(ticks, keep, strict=True)]


def _round_value(t: float) -> bool:
    """Whether ``t`` is 1, 2 or 5 × 10^k (to 1e-6: values read back from float32 count)."""
    if not (t > 0 and math.isfinite(t)):
        return False
    e = round(math.log10(t))
    return any(math.isclose(t, m * 10.0**k, rel_tol=1e-6) for k in (e - 1, e) for m in (1, 2, 5))


def _title_extra(title: str) -> int:
    """The height a title's lines beyond the first add (``style`` and ``fit_legend`` agree)."""
    return TITLE_LINE_PX * len(_BREAK.findall(title))


def style(fig: go.Figure, title: str, height: int = 480) -> go.Figure:
    """The common layout: white template, a title (wrapped: each line beyond the first adds
    its height to the figure), legend below the plot."""
    text = wrap_title(title)
    extra = _title_extra(text)
    fig.update_layout(
        template=TEMPLATE,
        title={"text": text},
        height=height + extra,
        legend={"orientation": "h", "yanchor": "top", "y": -0.18},
        margin={"t": 80 + extra, "b": 40},
    )
    return fig


def legend_rows(fig: go.Figure, width: int = 840) -> int:
    """How many rows the figure's horizontal legend takes when the plot area is ``width`` px wide
    (a 1000 px figure less its margins; about 7 px a character plus the symbol), entries wrapped
    as plotly wraps them."""
    names = [t.name for t in fig.data if t.name and t.showlegend is not False]
    rows, used = (1, 0) if names else (0, 0)
    for name in names:
        w = 50 + 7 * len(name)
        if used and used + w > width:
            rows, used = rows + 1, 0
        used += w
    return rows


LEGEND_ROW_PX = 19  # one row of plotly's legend at its 12 px text
LEGEND_GROUP_GAP_PX = 10  # plotly's tracegroupgap, between the rows of separate legend groups
LEGEND_ROWS_IN_BASE = 4  # the legend rows a figure of its base height holds beside a full plot


def legend_height(fig: go.Figure, rows: int | None = None) -> int:
    """The height in px of the figure's horizontal legend with ``rows`` rows (by default
    ``legend_rows``); rows of separate legend groups are ``LEGEND_GROUP_GAP_PX`` further apart.

    An estimate, on the generous side where groups hold several entries (each entry is counted
    a gap); ``fit_legend``'s legend may take the whole figure, so a miss moves the plot's height,
    never clips the legend."""
    grouped = any(t.legendgroup for t in fig.data if t.name and t.showlegend is not False)
    rows = legend_rows(fig) if rows is None else rows
    return rows * (LEGEND_ROW_PX + (LEGEND_GROUP_GAP_PX if grouped else 0))


def fit_legend(fig: go.Figure, base: int = 480) -> go.Figure:
    """Grow the figure with its legend, so that many runs neither squeeze the plot to a strip
    nor lose their last legend rows: the plot keeps the height it has beside a legend of
    ``LEGEND_ROWS_IN_BASE`` rows.

    The legend sits at the foot of the figure, not at a fraction of the plot's height below it
    (which moves as the figure grows), and may take the whole height (plotly's default caps a
    horizontal legend at half the figure and clips the rest, in the page and in images)."""
    extra = _title_extra(fig.layout.title.text or "")  # a wrapped title's lines stay added
    more = legend_height(fig) - legend_height(fig, LEGEND_ROWS_IN_BASE)
    fig.update_layout(
        height=base + extra + max(0, more),
        legend={"yref": "container", "y": 0, "yanchor": "bottom", "maxheight": 1},
    )
    return fig


def write_html(text: str, path: str | Path) -> Path:
    """Write ``text`` to ``path`` atomically (a temp file in the same folder, then rename),
    readable by others as an ordinary file would be."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def figure_page(divs: Sequence[str], title: str, head: str = "", css: str = "") -> str:
    """A complete HTML page: plotly.js inline once in the head, then ``divs`` in order."""
    from plotly.offline import get_plotlyjs

    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{css}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script>{head}</head>\n<body>\n'
        + "\n".join(divs)
        + "\n</body></html>\n"
    )


def figure_div(fig: go.Figure, div_id: str, kind: str = "figure") -> str:
    """``fig`` as a ``<div class="ls-figure">`` fragment with a stable id (no plotly.js)."""
    inner = fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False}
    )
    return f'<div class="{FIGURE_CLASS}" data-figure="{html.escape(kind)}">{inner}</div>'


def write_figure(fig: go.Figure, path: str | Path) -> Path:
    """One figure as a standalone HTML file with plotly.js inline (opens with no network)."""
    title = fig.layout.title.text or Path(path).stem
    return write_html(figure_page([figure_div(fig, "ls-fig")], title), path)
