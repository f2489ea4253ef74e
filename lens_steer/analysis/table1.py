"""Table 1 of the paper, with the statistics it lacked: baseline and λ* accuracy (and ITS) for
every parent → child pair and task, each with its 95 % CI, and for the steered conditions the
paired Δ vs baseline with its bootstrap CI, the exact McNemar p, and that p adjusted
(Holm–Bonferroni) over every comparison in the table, the family a reader scans for a win.

Numbers are read from ``metrics.json`` as the run wrote them (nothing recomputed), and shown in
percent with two decimals like the paper.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from ..experiment.lambda_sweep import entry_str
from ..experiment.stats import holm
from .rundir import Run, load_runs

__all__ = ["Cell", "Table1Row", "Table1", "table1"]


@dataclass(frozen=True)
class Cell:
    """One condition: accuracy and CI; for steered conditions Δ vs baseline, its CI, McNemar p."""

    accuracy: float
    lo: float
    hi: float
    delta: float | None = None
    delta_lo: float | None = None
    delta_hi: float | None = None
    p: float | None = None
    holm: float | None = None  # p adjusted over every comparison of the table (Holm–Bonferroni)

    @classmethod
    def from_metrics(cls, cond: Mapping[str, Any] | None) -> Cell | None:
        if cond is None:
            return None
        vs = cond.get("vs_baseline") or {}
        lo, hi = cond["ci95"]
        dlo, dhi = vs.get("ci95", (None, None))
        return cls(cond["accuracy"], lo, hi, vs.get("delta"), dlo, dhi, vs.get("mcnemar_p"))

    def acc_text(self) -> str:
        return f"{100 * self.accuracy:.2f} [{100 * self.lo:.2f}, {100 * self.hi:.2f}]"

    def delta_text(self) -> str:
        if self.delta is None:
            return ""
        return f"{100 * self.delta:+.2f} [{100 * self.delta_lo:+.2f}, {100 * self.delta_hi:+.2f}]"

    def p_text(self) -> str:
        return "" if self.p is None else f"{self.p:.3g}"

    def holm_text(self) -> str:
        return "" if self.holm is None else f"{self.holm:.3g}"


@dataclass(frozen=True)
class Table1Row:
    parent: str
    child: str
    task: str
    n: int
    best_lambda: Any
    baseline: Cell
    steered: Cell | None
    its: Cell | None
    run: str

    def cells(self) -> list[str]:
        lam = "-" if self.best_lambda is None else entry_str(_entry(self.best_lambda))
        out = [self.parent, self.child, self.task, str(self.n), self.baseline.acc_text(), lam]
        for cell in (self.steered, self.its):
            out += (
                ["", "", "", ""]
                if cell is None
                else [cell.acc_text(), cell.delta_text(), cell.p_text(), cell.holm_text()]
            )
        return out


def _entry(value: Any) -> float | tuple[float, ...]:
    return tuple(value) if isinstance(value, list) else float(value)


HEADER = [
    "parent",
    "child",
    "task",
    "n",
    "baseline % [95% CI]",
    "λ*",
    "λ* % [95% CI]",
    "Δ pp [95% CI]",
    "McNemar p",
    "Holm p",
    "ITS % [95% CI]",
    "ITS Δ pp [95% CI]",
    "ITS McNemar p",
    "ITS Holm p",
]


@dataclass(frozen=True)
class Table1:
    """Rows grouped by parent (first-seen order), then child and task."""

    rows: tuple[Table1Row, ...]

    def to_markdown(self) -> str:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(r.cells()) + " |" for r in self.rows]
        return "\n".join(lines) + "\n"

    def to_html(self, table_class: str = "ls-table") -> str:
        """An HTML ``<table>`` (a fragment); parent groups as spanning header rows."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
        body, parent = [], None
        for r in self.rows:
            if r.parent != parent:
                parent = r.parent
                body.append(
                    f'<tr class="ls-group"><th colspan="{len(HEADER)}">'
                    f"parent: {html.escape(parent)}</th></tr>"
                )
            tds = "".join(f"<td>{html.escape(c)}</td>" for c in r.cells())
            body.append(f"<tr>{tds}</tr>")
        return (
            f'<table class="{table_class}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )

    def figure(self) -> go.Figure:
        cols = list(zip(*(r.cells() for r in self.rows), strict=True)) if self.rows else []
        fig = go.Figure(go.Table(header={"values": HEADER}, cells={"values": cols}))
        fig.update_layout(title={"text": "Table 1: baseline vs λ* (and ITS), 95% CIs"})
        return fig

    def write(self, path: str | Path) -> Path:
        """Markdown for ``.md``, else a standalone HTML page."""
        from .plots import write_html

        path = Path(path)
        if path.suffix == ".md":
            return write_html(self.to_markdown(), path)
        page = (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Table 1</title>'
            f"<style>{TABLE_CSS}</style></head><body>{self.to_html()}</body></html>\n"
        )
        return write_html(page, path)


TABLE_CSS = (
    "table.ls-table{border-collapse:collapse;font:13px system-ui,sans-serif}"
    ".ls-table th,.ls-table td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    ".ls-table td:nth-child(-n+3){text-align:left}.ls-group th{background:#eef;text-align:left}"
)


def table1(runs: Sequence[str | Path | Run] | str | Path | Run) -> Table1:
    """Table 1 for every task of every run in ``runs`` (run directories or loaded runs)."""
    rs = load_runs(runs)
    parents = list(dict.fromkeys(r.parent for r in rs))
    rows = []
    # stable: runs of one parent and child keep their given (sweep) order
    for r in sorted(rs, key=lambda r: (parents.index(r.parent), r.child)):
        for name, tr in r.tasks.items():
            conds = tr.conditions
            rows.append(
                Table1Row(
                    parent=r.parent,
                    child=r.arm,
                    task=name,
                    n=conds["baseline"]["n"],
                    best_lambda=tr.best_lambda,
                    baseline=Cell.from_metrics(conds["baseline"]),  # type: ignore[arg-type]
                    steered=Cell.from_metrics(conds.get("steered")),
                    its=Cell.from_metrics(conds.get("its")),
                    run=str(r.path),
                )
            )
    return Table1(tuple(_with_holm(rows)))


def _with_holm(rows: list[Table1Row]) -> list[Table1Row]:
    """Every λ* and ITS comparison of the table is one family: each McNemar p gets its
    Holm–Bonferroni adjusted value beside it."""
    family = [(i, w) for i, r in enumerate(rows) for w in ("steered", "its")
              if getattr(r, w) is not None and getattr(r, w).p is not None]  # fmt: skip
    adjusted = holm([getattr(rows[i], w).p for i, w in family])
    for (i, w), q in zip(family, adjusted, strict=True):
        rows[i] = replace(rows[i], **{w: replace(getattr(rows[i], w), holm=q)})
    return rows
