"""The conditions of :func:`lens_steer.evaluate`: which columns of which table each one reads
(:func:`plan_conditions`), and its predictions and statistics from them (:func:`score_conditions`).

Planning before running keeps the column arithmetic in one place: the runs only fill the tables,
one per :data:`Source`, and each condition reads its own columns back out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..tasks.base import Example, Task
from .its import ascending_order, vote
from .lambda_sweep import GridEntry, entry_str
from .report import ConditionResult, Prediction, condition_result

__all__ = ["Condition", "Source", "Table", "plan_conditions", "score_conditions"]

# the table a condition reads: real vectors (column 0: baseline), random directions, samples
Source = Literal["real", "random", "samples"]
# outputs[i][k] of one generation or scoring call, and under loglik each pick's verdict [i][k]
# (None for generated text, which is parsed and graded instead)
Table = tuple[list[list[str]], list[list[bool]] | None]


@dataclass(frozen=True)
class Condition:
    """One condition of the report, planned before anything runs.

    ``source`` names the table it reads: the real vectors' (column 0 is the unsteered baseline,
    then the steered entries), the random directions' (the steered entries only) or the unsteered
    samples'. ``columns`` are the columns it reads: one for a single output, several for a vote
    (ITS, self-consistency).
    """

    name: str
    description: str
    lam: GridEntry | tuple[GridEntry, ...] | None  # λ, or the λ grid voted over
    source: Source
    columns: tuple[int, ...]
    vote: bool = False

    @property
    def n_votes(self) -> int | None:
        """Answers per question for a voting condition; None for a single-output one."""
        return len(self.columns) if self.vote else None


def plan_conditions(
    lam: GridEntry | None,
    its_grid: tuple[GridEntry, ...] | None,
    controls: Sequence[str],
    *,
    seed: int,
    n_sc: int,
    temperature: float,
) -> tuple[list[GridEntry], list[Condition]]:
    """The entries every steered call computes (λ*, then the ITS grid as given) and the conditions.

    ``its_grid`` is None unless ITS runs. The real vectors' call puts λ = 0 in front as column 0,
    the baseline, so its steered columns sit one to the right of the random directions'. ITS reads
    the grid's columns in ascending λ, the order its vote breaks ties in.
    """
    grid = its_grid or ()
    first = 0 if lam is None else 1  # the grid's first column among the steered entries
    its_cols = tuple(first + k for k in ascending_order(grid)) if its_grid is not None else ()
    steer: list[GridEntry] = ([] if lam is None else [lam]) + list(grid)

    conds = [Condition("baseline", "unsteered model", None, "real", (0,))]
    if lam is not None:
        conds.append(Condition("steered", f"steered at λ*={entry_str(lam)}", lam, "real", (1,)))
    if its_grid is not None:
        desc = f"ITS: mode over {len(grid)} λ"
        cols = tuple(c + 1 for c in its_cols)
        conds.append(Condition("its", desc, its_grid, "real", cols, vote=True))
    if "random-direction" in controls:
        if lam is not None:
            desc = f"random unit directions (seed {seed}) at λ*={entry_str(lam)}"
            conds.append(Condition("random-direction", desc, lam, "random", (0,)))
        if its_grid is not None:
            desc = f"ITS over {len(grid)} λ with random unit directions (seed {seed})"
            conds.append(
                Condition("random-direction-its", desc, its_grid, "random", its_cols, True)
            )
    if "self-consistency" in controls:
        desc = f"unsteered, {n_sc} samples at T={temperature:g}, majority vote"
        cols = tuple(range(n_sc))
        conds.append(Condition("self-consistency", desc, None, "samples", cols, vote=True))
    return steer, conds


class _Rows:
    """Predictions for the single-output and voting conditions of one set of columns."""

    def __init__(self, task: Task, exs: list[Example], hashes: list[str | None]):
        self.task, self.exs, self.hashes = task, exs, hashes

    def single(
        self, outs: list[list[str]], k: int, ok: list[list[bool]] | None = None
    ) -> list[Prediction]:
        preds = []
        for i, ex in enumerate(self.exs):
            text = outs[i][k]
            if ok is None:  # generated text: parse and grade it
                answer, correct = self.task.parse(text, ex), self.task.is_correct(text, ex)
            else:  # a log-likelihood pick: the label is the answer
                answer, correct = text, ok[i][k]
            preds.append(Prediction(ex.id, self.hashes[i], (text,), (answer,), answer, correct))
        return preds

    def voted(self, outs: list[list[str]], cols: Sequence[int], parse: bool) -> list[Prediction]:
        preds = []
        for i, ex in enumerate(self.exs):
            texts = [outs[i][k] for k in cols]
            answers = [self.task.parse(t, ex) if parse else t for t in texts]
            v = vote(self.task, answers, ex)
            preds.append(
                Prediction(
                    ex.id,
                    self.hashes[i],
                    tuple(texts),
                    tuple(answers),
                    v.answer,
                    v.correct,
                    v.votes,
                    v.n_votes,
                )
            )
        return preds

    def predict(self, cond: Condition, table: Table) -> list[Prediction]:
        """``cond``'s predictions from its table; answers are parsed only from generated text."""
        outs, ok = table
        if cond.vote:
            return self.voted(outs, cond.columns, parse=ok is None)
        return self.single(outs, cond.columns[0], ok)


def score_conditions(
    task: Task,
    exs: Sequence[Example],
    hashes: Sequence[str | None],
    conds: Sequence[Condition],
    tables: Mapping[Source, Table],
    seed: int,
) -> dict[str, ConditionResult]:
    """Each condition's result; all but the baseline (``conds[0]``) are paired against it."""
    rows = _Rows(task, list(exs), list(hashes))
    preds = [rows.predict(c, tables[c.source]) for c in conds]
    base = [p.correct for p in preds[0]]
    return {
        c.name: condition_result(
            c.name, c.description, c.lam, p, None if i == 0 else base, c.n_votes, seed
        )
        for i, (c, p) in enumerate(zip(conds, preds, strict=True))
    }
