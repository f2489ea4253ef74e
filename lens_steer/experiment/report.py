"""What :func:`lens_steer.evaluate` returns: per-condition accuracy, paired statistics, predictions.

Every condition carries n, accuracy with a Wilson 95 % interval and — against the baseline on the
same items — a paired bootstrap Δ with its 95 % interval and an exact McNemar p. ``to_dict`` is
JSON-ready with a fixed key order and every float rounded to 6 decimals, so writing the same run
twice gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import stats
from .lambda_sweep import GridEntry, entry_json, entry_str, rnd

__all__ = ["Prediction", "ConditionResult", "EvalReport", "condition_result"]


@dataclass(frozen=True)
class Prediction:
    """One example under one condition. Voting conditions keep every vote's output and answer."""

    id: str
    prompt_sha256: str | None
    outputs: tuple[str, ...]
    answers: tuple[str | None, ...]
    answer: str | None
    correct: bool
    votes: int | None = None  # answers agreeing with the winner (voting conditions)
    n_votes: int | None = None  # answers that parsed and so took part in the vote

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "prompt_sha256": self.prompt_sha256}
        if self.votes is None:
            out["output"] = self.outputs[0]
        else:
            out["outputs"] = list(self.outputs)
            out["answers"] = list(self.answers)
            out["votes"] = self.votes
            out["n_votes"] = self.n_votes
        out["answer"] = self.answer
        out["correct"] = self.correct
        return out


@dataclass(frozen=True)
class ConditionResult:
    """Accuracy of one condition and, except for the baseline itself, its paired Δ vs baseline."""

    name: str
    description: str
    lam: GridEntry | tuple[GridEntry, ...] | None  # λ, or the λ grid voted over
    n_votes: int | None  # answers per question for voting conditions
    predictions: tuple[Prediction, ...]
    n: int
    n_correct: int
    accuracy: float
    lo: float
    hi: float
    delta: float | None = None
    delta_lo: float | None = None
    delta_hi: float | None = None
    mcnemar_p: float | None = None
    only_baseline: int | None = None  # items the baseline got right and this condition wrong
    only_condition: int | None = None  # items this condition got right and the baseline wrong

    @property
    def correct(self) -> tuple[bool, ...]:
        return tuple(p.correct for p in self.predictions)

    def to_dict(self, predictions: bool = True) -> dict[str, Any]:
        lam: Any
        if isinstance(self.lam, tuple) and self.n_votes is not None:
            lam = [entry_json(e) for e in self.lam]
        else:
            lam = entry_json(self.lam)  # type: ignore[arg-type]
        out: dict[str, Any] = {
            "description": self.description,
            "lam": lam,
            "n_votes": self.n_votes,
            "n": self.n,
            "n_correct": self.n_correct,
            "accuracy": rnd(self.accuracy),
            "ci95": [rnd(self.lo), rnd(self.hi)],
            "vs_baseline": None,
        }
        if self.delta is not None:
            out["vs_baseline"] = {
                "delta": rnd(self.delta),
                "ci95": [rnd(self.delta_lo), rnd(self.delta_hi)],
                "mcnemar_p": rnd(self.mcnemar_p, 8),
                "only_baseline": self.only_baseline,
                "only_condition": self.only_condition,
            }
        if predictions:
            out["predictions"] = [p.to_dict() for p in self.predictions]
        return out


def condition_result(
    name: str,
    description: str,
    lam: Any,
    predictions: Sequence[Prediction],
    baseline: Sequence[bool] | None,
    n_votes: int | None = None,
    seed: int = 0,
) -> ConditionResult:
    """Score ``predictions``; with ``baseline`` (same items, same order) add the paired stats."""
    correct = [p.correct for p in predictions]
    acc, lo, hi = stats.accuracy_ci(correct)
    paired: dict[str, Any] = {}
    if baseline is not None:
        delta, dlo, dhi = stats.paired_bootstrap(baseline, correct, seed=seed)
        paired = dict(
            delta=delta,
            delta_lo=dlo,
            delta_hi=dhi,
            mcnemar_p=stats.mcnemar(baseline, correct),
            only_baseline=sum(b and not c for b, c in zip(baseline, correct, strict=True)),
            only_condition=sum(c and not b for b, c in zip(baseline, correct, strict=True)),
        )
    return ConditionResult(
        name=name,
        description=description,
        lam=lam,
        n_votes=n_votes,
        predictions=tuple(predictions),
        n=len(correct),
        n_correct=sum(correct),
        accuracy=acc,
        lo=lo,
        hi=hi,
        **paired,
    )


@dataclass(frozen=True, eq=False)
class EvalReport:
    """Every condition of one evaluation (``conditions``: name → :class:`ConditionResult`)."""

    task: str
    scoring: str
    n: int
    example_ids: tuple[str, ...]
    conditions: Mapping[str, ConditionResult]
    config: Mapping[str, Any]

    def __getitem__(self, name: str) -> ConditionResult:
        try:
            return self.conditions[name]
        except KeyError:
            raise KeyError(f"no condition {name!r}; present: {list(self.conditions)}") from None

    def accuracy(self, name: str) -> float:
        return self[name].accuracy

    def to_dict(self, predictions: bool = True) -> dict[str, Any]:
        """JSON-ready (fixed key order, rounded floats); ``predictions=False`` for metrics only."""
        return {
            "task": self.task,
            "scoring": self.scoring,
            "n": self.n,
            "config": dict(self.config),
            "conditions": {
                name: cond.to_dict(predictions) for name, cond in self.conditions.items()
            },
        }

    def summary_table(self) -> str:
        """A fixed-width text table: accuracy, CI, Δ vs baseline, its CI and McNemar p."""
        head = (
            f"{'condition':<24} {'λ':>10} {'n':>5} {'acc':>6} {'95% CI':>15} "
            f"{'Δ vs base':>9} {'Δ 95% CI':>17} {'McNemar p':>9}"
        )
        lines = [f"{self.task} ({self.scoring})", head, "-" * len(head)]
        for name, c in self.conditions.items():
            if c.n_votes is not None:
                lam = f"{c.n_votes} votes"
            else:
                lam = entry_str(c.lam) if c.lam is not None else "-"  # type: ignore[arg-type]
            ci = f"[{c.lo:.3f}, {c.hi:.3f}]"
            if c.delta is None:
                delta = dci = p = ""
            else:
                delta = f"{c.delta:+.3f}"
                dci = f"[{c.delta_lo:+.3f}, {c.delta_hi:+.3f}]"
                p = f"{c.mcnemar_p:.3g}"
            lines.append(
                f"{name:<24} {lam:>10} {c.n:>5} {c.accuracy:6.3f} {ci:>15} "
                f"{delta:>9} {dci:>17} {p:>9}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary_table()
