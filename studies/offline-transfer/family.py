"""The study's tables: every steered comparison of every finished run (λ*, ITS, the layer subset)
with its random-direction control beside it and Holm–Bonferroni over the whole family; then per
run what validation chose (λ*, its Dev accuracy, the steering ratio ‖λ*·v‖ / mean ‖h‖ it implies,
the layer subset); then each run's wall time from its run.log.

    .venv/bin/python studies/offline-transfer/family.py [RESULTS_DIR ...] [-o table.md]

(by default both of the study's folders, ``results`` and ``results-extra``: the whole family)

Written with the design, before any result: the family is what the runs hold, so a run that has
not finished is missing from it (the header says how many comparisons it adjusts over).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

# (condition in metrics.json, its random-direction control)
PAIRS = (("steered", "random-direction"), ("its", "random-direction-its"))
STUDY = Path(__file__).resolve().parent


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


def _choices(run: Any) -> str:
    """One row of what Dev chose for ``run``."""
    tr = run.task("arc_challenge")
    tune, ratio = tr.tune, tr.metrics.get("steering_ratio") or {}
    r = ratio.get("ratio") or []
    ratio_text = f"{sum(r) / len(r):.3g} [{min(r):.3g}, {max(r):.3g}]" if r else "-"
    search = tr.metrics.get("layer_search")
    subset = "-"
    if search:
        best = next((s for s in search["steps"] if s["layers"] == search["best"]), None)
        subset = f"{search['best'] or 'none'}"
        if best and search["best"]:
            subset += f" ({100 * best['accuracy']:.1f} %)"
        subset += _stop(search)
    return (f"| {run.path.name} | {tune['best']} | {100 * tune['best_accuracy']:.1f} % "
            f"({tune['table'][tune['best_index']]['n_correct']}/{tune['n']}) | {ratio_text} "
            f"| {subset} |")  # fmt: skip


def _stop(search: dict[str, Any]) -> str:
    """The nearest miss of a greedy search its CI stopped (``describe_stop``)."""
    from lens_steer.experiment.layer_search import describe_stop

    return f"; {describe_stop(search)}" if search.get("stopped") == "ci" else ""


def choices_table(runs: list[Any]) -> str:
    head = ("run", "λ* (Dev)", "Dev accuracy at λ*", "steering ratio at λ*: mean [min, max]",
            "layer subset (Dev accuracy)")  # fmt: skip
    rows = [_choices(r) for r in runs if "arc_challenge" in r.tasks]
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *rows]) + "\n"


def attempts(run_log: Path) -> list[tuple[datetime, datetime, str]]:
    """Each attempt in ``run_log`` as (first line's time, last line's time, how it ended: done,
    interrupted, failed, or cut off — a hard kill, or a failure before run.log recorded failures
    (2026-12-02), whose time is then a lower bound)."""
    out: list[tuple[datetime, datetime, str]] = []
    for line in run_log.read_text(encoding="utf-8").splitlines():
        try:
            when = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        except ValueError:
            continue  # a continuation line of a multi-line message
        if " loading child " in line or not out or out[-1][2] != "cut off":  # a new attempt
            out.append((when, when, "cut off"))
        end = next((e for e in ("done", "interrupted", "failed") if f" {e}: " in line), None)
        out[-1] = (out[-1][0], when, end or out[-1][2])
    return out


def wall_table(runs: list[Any]) -> str:
    """Per run: its attempts, the hours they took together, and how the last one ended."""
    head = ("run", "attempts", "wall time (h)", "last attempt")
    rows = []
    for run in runs:
        found = attempts(run.path / "run.log") if (run.path / "run.log").is_file() else []
        hours = sum((b - a).total_seconds() for a, b, _ in found) / 3600
        last = found[-1][2] if found else "-"
        rows.append(f"| {run.path.name} | {len(found)} | {hours:.2f} | {last} |")
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *rows]) + "\n"


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "results", nargs="*", default=[str(STUDY / "results"), str(STUDY / "results-extra")]
    )
    p.add_argument("-o", "--out")
    args = p.parse_args(argv)

    from lens_steer.analysis import load_runs

    runs = load_runs(args.results)
    rows = [row for run in runs for row in comparisons(run)]
    text = table(rows) + "\nWhat validation (Dev) chose\n\n" + choices_table(runs)
    text += (
        "\nWall time per finished run (its run.log; 2 CPU cores, not always the same machine)\n\n"
    )
    text += wall_table(runs)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return text


if __name__ == "__main__":
    main()
