"""Accuracy as a function of λ, on validation (from tuning) and on test (from the ITS votes).

The λ sweep of tuning already has a per-λ accuracy with a CI, but on the validation slice that
also chose λ*, so it flatters λ*. The test split has an unbiased per-λ curve for free: ITS
answered every test question at every λ of the grid, and the random-direction ITS control did the
same with random vectors. ``predictions.json`` keeps those per-λ answers; grading them against the
gold answers (re-read from the run's data) gives the steered and the control curve on test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..experiment import stats
from ..experiment.its import answer_matches, ascending_order
from ..experiment.lambda_sweep import entry_str
from .rundir import Run

__all__ = ["CurvePoint", "LambdaCurves", "lambda_curves", "per_lambda_correct"]


@dataclass(frozen=True)
class CurvePoint:
    """Accuracy at one λ with its Wilson 95 % interval over ``n`` items."""

    lam: float | tuple[float, ...]
    accuracy: float
    lo: float
    hi: float
    n: int

    @property
    def label(self) -> str:
        return entry_str(self.lam)


@dataclass(frozen=True)
class LambdaCurves:
    """Everything a λ-robustness plot of one run and task needs (``None``: not in the run)."""

    run: str
    task: str
    scoring: str
    best_lambda: Any
    validation: tuple[CurvePoint, ...]
    test: tuple[CurvePoint, ...] | None
    random: tuple[CurvePoint, ...] | None
    baseline: tuple[float, float, float] | None
    steered: tuple[float, float, float] | None
    note: str | None = None  # why a test curve is missing

    @property
    def scalar(self) -> bool:
        """Whether every λ is a number (a numeric, log-scaled x axis) rather than per-layer."""
        points = self.validation + (self.test or ())
        return all(isinstance(p.lam, float) for p in points)


def _entry(value: Any) -> float | tuple[float, ...]:
    return tuple(float(x) for x in value) if isinstance(value, list) else float(value)


def _point(lam: Any, correct: Sequence[bool]) -> CurvePoint:
    acc, lo, hi = stats.accuracy_ci(list(correct))
    return CurvePoint(_entry(lam), acc, lo, hi, len(correct))


def _ci(cond: Mapping[str, Any] | None) -> tuple[float, float, float] | None:
    if cond is None:
        return None
    return cond["accuracy"], cond["ci95"][0], cond["ci95"][1]


def per_lambda_correct(
    condition: Mapping[str, Any], task: Any, examples: Mapping[str, Any]
) -> tuple[list[float | tuple[float, ...]], np.ndarray]:
    """λ of each vote column and ``correct[i, k]`` of a voting condition's per-λ answers.

    A voting condition stores its answers in voting order — ascending λ for a scalar grid
    (:func:`lens_steer.experiment.its.ascending_order`) — while its ``lam`` lists the grid as configured.
    """
    entries = [_entry(e) for e in condition["lam"]]
    lams = [entries[k] for k in ascending_order(entries)]
    rows = []
    for pred in condition["predictions"]:
        ex = examples.get(pred["id"])
        if ex is None:
            raise ValueError(
                f"test example {pred['id']!r} is not in the task's test split: was the data "
                "changed since the run?"
            )
        rows.append([answer_matches(task, a, ex) for a in pred["answers"]])
    return lams, np.array(rows, dtype=bool).reshape(len(rows), len(lams))


def _test_curves(
    run: Run, task: str
) -> tuple[tuple[CurvePoint, ...] | None, tuple[CurvePoint, ...] | None, str | None]:
    preds = run.task(task).predictions
    conds = (preds or {}).get("conditions", {})
    if "its" not in conds:
        return None, None, "no test curve: the run has no ITS condition (its: false)"
    try:
        t, examples = run.test_set(task)
    except (ValueError, OSError, ImportError) as err:
        return None, None, f"no test curve: the task data could not be read ({err})"
    curves = []
    for name in ("its", "random-direction-its"):
        if name not in conds:
            curves.append(None)
            continue
        lams, correct = per_lambda_correct(conds[name], t, examples)
        curves.append(tuple(_point(lam, correct[:, k]) for k, lam in enumerate(lams)))
    return curves[0], curves[1], None


def lambda_curves(run: Run, task: str) -> LambdaCurves:
    """Validation and test accuracy per λ, the baseline and λ* of ``task`` in ``run``."""
    tr = run.task(task)
    table = tr.metrics.get("tune", {}).get("table", [])
    validation = tuple(
        CurvePoint(_entry(r["lam"]), r["accuracy"], r["ci95"][0], r["ci95"][1], r["n"])
        for r in table
    )
    test, random, note = _test_curves(run, task)
    conds = tr.conditions
    return LambdaCurves(
        run=run.label,
        task=task,
        scoring=tr.metrics["test"].get("scoring", "?"),
        best_lambda=tr.best_lambda,
        validation=validation,
        test=test,
        random=random,
        baseline=_ci(conds.get("baseline")),
        steered=_ci(conds.get("steered")),
        note=note,
    )
