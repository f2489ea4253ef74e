"""The study's table: every steered comparison of every finished run (λ*, ITS, the layer subset)
with its random-direction control beside it, and Holm–Bonferroni over the whole family.

    .venv/bin/python studies/offline-transfer/family.py [RESULTS_DIR ...] [-o table.md]

Written with the design, before any result: the family is what the runs hold, so a run that has
not finished is missing from it (the header says how many comparisons it adjusts over).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# (condition in metrics.json, its random-direction control)
PAIRS = (("steered", "random-direction"), ("its", "random-direction-its"))


def comparisons(run: Any) -> list[dict[str, Any]]:
    """One row per steered comparison of ``run``'s ARC task."""
    tr = run.task("arc_challenge")
    found = [(name, tr.conditions.get(name), tr.conditions.get(ctrl)) for name, ctrl in PAIRS]
    test = (tr.metrics.get("layer_search") or {}).get("test")
    if test:
        found.append(("layer subset", test["best"], test.get("random-direction")))
    return [
        {"run": run.path.name, "condition": name, "cond": cond, "control": ctrl}
        for name, cond, ctrl in found
        if cond and cond.get("vs_baseline")
    ]


def _cell(cond: dict[str, Any] | None) -> str:
    if not cond:
        return "-"
    vs = cond["vs_baseline"]
    lo, hi = vs["ci95"]
    return f"{100 * cond['accuracy']:.2f} ({100 * vs['delta']:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}])"


def table(rows: list[dict[str, Any]]) -> str:
    from lens_steer.experiment.stats import holm

    adjusted = holm([r["cond"]["vs_baseline"]["mcnemar_p"] for r in rows])
    head = ("run", "condition", "λ", "accuracy % (Δ pp [95% CI])", "McNemar p", "Holm p",
            "random control % (Δ pp [95% CI])")  # fmt: skip
    out = [f"Holm–Bonferroni over {len(rows)} comparisons\n", "| " + " | ".join(head) + " |",
           "|" + "---|" * len(head)]  # fmt: skip
    for r, q in zip(rows, adjusted, strict=True):
        c = r["cond"]
        lam = f"{c['n_votes']} votes" if c.get("n_votes") else str(c.get("lam"))
        cells = (r["run"], r["condition"], lam, _cell(c), f"{c['vs_baseline']['mcnemar_p']:.3g}",
                 f"{q:.3g}", _cell(r["control"]))  # fmt: skip
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="*", default=["studies/offline-transfer/results"])
    p.add_argument("-o", "--out")
    args = p.parse_args(argv)

    from lens_steer.analysis import load_runs

    rows = [row for run in load_runs(args.results) for row in comparisons(run)]
    text = table(rows)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return text


if __name__ == "__main__":
    main()
