"""Inference-time scaling (Algorithm 3 with ITS): one answer per λ, then the mode per question.

Voting rules (DESIGN, method step 3): answers are given in ascending-λ order; unparseable answers
(None) do not vote unless every answer is unparseable; a tie goes to the tied answer that was given
at the smallest λ. Answers that are one answer vote together: MATH answers compare by
``math_equal`` (what grading uses), so "0.5" and "\\frac{1}{2}" do not split a vote; GSM8K numbers
and ARC labels are canonical strings. The same rule serves the self-consistency control, where the
order is the sample index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..tasks.base import Example, Task

__all__ = ["majority_vote", "same_answer", "answer_matches", "its_predictions", "ITSPrediction"]


def majority_vote(
    answers: Sequence[str | None], same: Callable[[str, str], bool] | None = None
) -> str | None:
    """The mode of ``answers`` (ordered by λ); see the module docstring for ties and None.

    Args:
        answers: canonical answers in ascending-λ (or sample) order; None is unparseable and
            does not vote.
        same: whether two answers are one answer; None for string equality. MATH passes
            ``math_equal``, so "0.5" and "\\frac{1}{2}" pool their votes instead of splitting them.

    Returns:
        An answer of the largest group, as first written; of tied groups, the one whose first
        answer came earliest. None when every answer is None (or there are none).
    """
    best = _winning_group(answers, same)
    return answers[best[0]] if best else None


def _groups(
    answers: Sequence[str | None], same: Callable[[str, str], bool] | None
) -> list[list[int]]:
    """Indices of the parsed answers, grouped with the first answer each one matches."""
    groups: list[list[int]] = []
    by_text: dict[str, list[int]] = {}
    for i, ans in enumerate(answers):
        if ans is None:
            continue
        group = by_text.get(ans)
        if group is None and same is not None:
            group = next((g for g in groups if same(answers[g[0]], ans)), None)  # type: ignore[arg-type]
        if group is None:
            group = []
            groups.append(group)
        group.append(i)
        by_text.setdefault(ans, group)
    return groups


def _winning_group(
    answers: Sequence[str | None], same: Callable[[str, str], bool] | None
) -> list[int]:
    """The indices of the largest group (ties: the group answered first); [] if none parsed."""
    groups = _groups(answers, same)
    return max(groups, key=lambda g: (len(g), -g[0])) if groups else []


def same_answer(task: Task) -> Callable[[str, str], bool] | None:
    """How ``task``'s canonical answers compare in a vote: MATH by ``math_equal``, else None
    (string equality: GSM8K numbers and ARC labels are already canonical)."""
    from ..tasks.math import MATH, math_equal

    return math_equal if isinstance(task, MATH) else None


def answer_matches(task: Task, answer: str | None, example: Example) -> bool:
    """Whether a canonical answer (what ``task.parse`` returns) is the gold answer of ``example``.

    Canonical answers compare by equality (GSM8K numbers, ARC labels, as ``Task.is_correct``
    does); MATH answers are graded by ``math_equal`` as ``MATH.is_correct`` grades a boxed answer.
    """
    if answer is None:
        return False
    same = same_answer(task)
    return same(example.answer, answer) if same is not None else answer == example.answer


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
    best = _winning_group(answers, same_answer(task))
    winner = answers[best[0]] if best else None
    return ITSPrediction(
        answers=tuple(answers),
        answer=winner,
        votes=len(best),
        n_votes=sum(a is not None for a in answers),
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
