"""Inference-time scaling (Algorithm 3 with ITS): one answer per λ, then the mode per question.

Voting rules (DESIGN, method step 3): answers are given in ascending-λ order; unparseable answers
(None) do not vote unless every answer is unparseable; a tie goes to the tied answer that was given
at the smallest λ. The same rule serves the self-consistency control, where the order is the sample
index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..tasks.base import Example, Task

__all__ = ["majority_vote", "answer_matches", "its_predictions", "ITSPrediction"]


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """The mode of ``answers`` (ordered by λ); see the module docstring for ties and None.

    Args:
        answers: canonical answers in ascending-λ (or sample) order; None is unparseable and
            does not vote. Answers compare by string equality.

    Returns:
        The most frequent answer, the earliest-given of those tied; None when every answer is
        None (or there are none).
    """
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, ans in enumerate(answers):
        if ans is None:
            continue
        counts[ans] = counts.get(ans, 0) + 1
        first.setdefault(ans, i)
    if not counts:
        return None
    return max(counts, key=lambda a: (counts[a], -first[a]))


def answer_matches(task: Task, answer: str | None, example: Example) -> bool:
    """Whether a canonical answer (what ``task.parse`` returns) is the gold answer of ``example``.

    Canonical answers compare by equality (GSM8K numbers, ARC labels, as ``Task.is_correct``
    does); MATH answers are graded by ``math_equal`` as ``MATH.is_correct`` grades a boxed answer.
    """
    if answer is None:
        return False
    from ..tasks.math import MATH, math_equal

    if isinstance(task, MATH):
        return math_equal(example.answer, answer)
    return answer == example.answer


@dataclass(frozen=True)
class ITSPrediction:
    """One question's vote: every per-λ answer, the winner and how it fared."""

    answers: tuple[str | None, ...]
    answer: str | None
    votes: int  # how many answers agree with the winner
    n_votes: int  # answers that parsed, i.e. took part in the vote
    correct: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "votes": self.votes,
            "n_votes": self.n_votes,
            "answers": list(self.answers),
            "correct": self.correct,
        }


def vote(task: Task, answers: Sequence[str | None], example: Example) -> ITSPrediction:
    winner = majority_vote(answers)
    parsed = [a for a in answers if a is not None]
    return ITSPrediction(
        answers=tuple(answers),
        answer=winner,
        votes=sum(a == winner for a in parsed) if winner is not None else 0,
        n_votes=len(parsed),
        correct=answer_matches(task, winner, example),
    )


def its_predictions(
    task: Task,
    examples: Sequence[Example],
    outputs_per_lambda: Sequence[Sequence[str]],
    lams: Sequence[float] | None = None,
) -> list[ITSPrediction]:
    """Vote per example over its outputs (``outputs_per_lambda[i][k]``: example i at λ k).

    Args:
        task: parses each text (``task.parse(text, example)``) and grades the winner (MATH
            with ``math_equal``, other tasks by equality with ``example.answer``).
        examples: the questions, one per row of ``outputs_per_lambda``.
        outputs_per_lambda: the generated texts, one row per example, one column per λ; taken
            to be in ascending-λ order unless ``lams`` is given.
        lams: the scalar λ of each column; the columns are then sorted by λ first (stable), so
            the tie rule means the smallest λ whatever order the grid was written in.

    Returns:
        One :class:`ITSPrediction` per example: every parsed answer (in voting order), the
        winner of :func:`majority_vote`, its vote count, how many answers parsed, and whether
        the winner is correct.

    Raises:
        ValueError: rows and examples do not pair up, no examples, an example with no outputs,
            or (with ``lams``) a row whose length is not ``len(lams)``.
    """
    examples = list(examples)
    if len(outputs_per_lambda) != len(examples):
        raise ValueError(
            f"{len(outputs_per_lambda)} rows of outputs for {len(examples)} examples: they must "
            "pair up (outputs_per_lambda[i][k] is example i at λ k)"
        )
    if not examples:
        raise ValueError("no examples to vote on")
    order = None
    if lams is not None:
        lams = [float(x) for x in lams]
        order = sorted(range(len(lams)), key=lambda k: lams[k])
    preds = []
    for ex, outs in zip(examples, outputs_per_lambda, strict=True):
        if order is not None:
            if len(outs) != len(order):
                raise ValueError(f"{len(outs)} outputs for example {ex.id!r} but {len(order)} λ")
            outs = [outs[k] for k in order]
        if not outs:
            raise ValueError(f"example {ex.id!r} has no outputs to vote on")
        preds.append(vote(task, [task.parse(text, ex) for text in outs], ex))
    return preds


def ascending_order(entries: Sequence[Any]) -> list[int]:
    """Column order for voting: by λ when every entry is a scalar, else the grid order."""
    if all(isinstance(e, float) for e in entries):
        return sorted(range(len(entries)), key=lambda k: entries[k])
    return list(range(len(entries)))
