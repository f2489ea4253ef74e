"""Contrastive pairs (s⁺, s⁻) from training examples, the input of steering-vector extraction.

Strategies (all tasks):

* ``corrupted-answer`` — s⁺ = question + gold solution; s⁻ = the same solution with its final
  answer (and, for GSM8K, the last mention of it in the steps) changed. ARC: the correct option
  vs a wrong one, in the answer format.
* ``mismatched`` — s⁻ = the same question followed by the solution of another question.
* ``persona`` — the same question and solution, under a careful vs a careless instruction.

Pairs are plain text (no chat template): the extractor reads the last-token activation of each
string as given. Examples held out for validation, few-shot or test are refused, so a steering
vector never sees the items it is evaluated on.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InputError
from .base import Example, Task

__all__ = ["ContrastivePair", "contrastive_pairs", "STRATEGIES"]

STRATEGIES = ("corrupted-answer", "mismatched", "persona")
_HELD_OUT_ROLES = ("val", "fewshot", "test")


@dataclass(frozen=True)
class ContrastivePair:
    """One (positive, negative) text pair and where it came from."""

    positive: str
    negative: str
    source_ids: tuple[str, ...]
    strategy: str


def _check_sources(task: Task, examples: Sequence[Example]) -> None:
    held_sources = {"test", *([task.val_source] if task.val_source else [])}
    bad = [
        e
        for e in examples
        if e.role in _HELD_OUT_ROLES or (e.role is None and e.source in held_sources)
    ]
    if bad:
        kind = bad[0].role or f"official {bad[0].source} split"
        raise InputError(
            f"{len(bad)} of the {len(examples)} examples are held out (e.g. {bad[0].id!r} from "
            f"{kind}); contrastive pairs must come from training data: pass "
            "task.splits(seed=...).train"
        )


def contrastive_pairs(
    task: Task,
    examples: Sequence[Example],
    strategy: str = "corrupted-answer",
    n: int = 64,
    seed: int = 0,
) -> list[ContrastivePair]:
    """``n`` pairs built from ``examples`` with ``strategy``; deterministic for a given ``seed``.

    Each example is used at most once as the question of a pair. Raises when fewer than ``n``
    usable pairs can be made, rather than silently returning fewer.

    Args:
        task: renders the pair texts (``task.pair_text``) and corrupts answers.
        examples: training examples; any with role val / fewshot / test, or with no role but
            from the official test split or the task's validation split (ARC: dev), are refused.
        strategy: one of :data:`STRATEGIES` (``_`` reads as ``-``, case-insensitive):
            "corrupted-answer", "mismatched" (needs ≥ 2 examples) or "persona".
        n: how many pairs, ≥ 1. Examples are tried in a seeded random order; one whose answer
            cannot be corrupted, or that finds no partner with a different answer in 20 draws
            ("mismatched"), is skipped.
        seed: seeds the example order, the corruptions and the partner draws.

    Returns:
        Exactly ``n`` :class:`ContrastivePair` objects, plain text (no chat template).

    Raises:
        InputError: an unknown strategy, ``n`` not a positive int, no examples, held-out
            examples, "mismatched" with fewer than 2 examples, or fewer than ``n`` usable pairs.
    """
    strategy = strategy.replace("_", "-").lower()
    if strategy not in STRATEGIES:
        raise InputError(f"unknown pair strategy {strategy!r}: choose one of {STRATEGIES}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(f"n must be a positive int, got {n!r}")
    examples = list(examples)
    if not examples:
        raise InputError("no examples given: pass task.splits(seed=...).train")
    _check_sources(task, examples)
    if strategy == "mismatched" and len(examples) < 2:
        raise InputError("the 'mismatched' strategy needs at least 2 examples")

    rng = random.Random(seed)
    order = rng.sample(range(len(examples)), len(examples))
    prompts = task.prompts
    pairs: list[ContrastivePair] = []
    for i in order:
        if len(pairs) == n:
            break
        ex = examples[i]
        gold = task.pair_answer(ex)
        if strategy == "corrupted-answer":
            wrong = task.corrupt(ex, rng)
            if wrong is None or wrong == gold:
                continue
            pair = (task.pair_text(ex, gold), task.pair_text(ex, wrong), (ex.id,))
        elif strategy == "mismatched":
            other = None
            for _ in range(20):
                cand = examples[rng.randrange(len(examples))]
                if cand.id != ex.id and cand.answer != ex.answer:
                    other = cand
                    break
            if other is None:
                continue
            pair = (
                task.pair_text(ex, gold),
                task.pair_text(ex, task.pair_answer(other)),
                (ex.id, other.id),
            )
        else:  # persona
            pair = (
                task.pair_text(ex, gold, instruction=prompts.careful),
                task.pair_text(ex, gold, instruction=prompts.careless),
                (ex.id,),
            )
        pairs.append(ContrastivePair(pair[0], pair[1], pair[2], strategy))
    if len(pairs) < n:
        raise InputError(
            f"asked for n={n} {strategy!r} pairs but only {len(pairs)} could be built from "
            f"{len(examples)} examples: pass more examples or a smaller n"
        )
    return pairs
