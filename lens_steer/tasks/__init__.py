"""Benchmarks: GSM8K, MATH, MATH-500, ARC-Challenge and ARC-Easy.

``get_task(name, data_dir=None)`` returns a :class:`Task` that loads lazily from a local folder of
the benchmark's JSONL files (``../shared/data/<task>``) or, without ``data_dir``, from the hub
through ``datasets``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from .arc import ARC, ARCChallenge, ARCEasy, parse_arc
from .base import DataError, Example, Splits, Task, check_disjoint
from .choices import ChoiceScores, score_choices
from .gsm8k import GSM8K, parse_gsm8k
from .math import MATH, MATH500, last_boxed, math_equal
from .pairs import STRATEGIES, ContrastivePair, contrastive_pairs
from .prompts import DEFAULT_PROMPTS, PromptConfig

__all__ = [
    "TASKS",
    "get_task",
    "Task",
    "Example",
    "Splits",
    "DataError",
    "PromptConfig",
    "DEFAULT_PROMPTS",
    "ContrastivePair",
    "contrastive_pairs",
    "STRATEGIES",
    "ChoiceScores",
    "score_choices",
    "check_disjoint",
    "GSM8K",
    "MATH",
    "MATH500",
    "ARC",
    "ARCChallenge",
    "ARCEasy",
    "parse_gsm8k",
    "parse_arc",
    "last_boxed",
    "math_equal",
]

TASKS: dict[str, type[Task]] = {
    "gsm8k": GSM8K,
    "math": MATH,
    "math500": MATH500,
    "arc_challenge": ARCChallenge,
    "arc_easy": ARCEasy,
}
_ALIASES = {
    "math_500": "math500",
    "arc_c": "arc_challenge",
    "arc_e": "arc_easy",
    "hendrycks_math": "math",
}


def get_task(
    name: str,
    data_dir: str | Path | None = None,
    prompts: PromptConfig | None = None,
    **kwargs: Any,
) -> Task:
    """The task ``name`` (``gsm8k``, ``math``, ``math500``, ``arc_challenge``, ``arc_easy``).

    Data loads lazily, on the first ``task.load`` / ``task.splits``; nothing is read here.

    Args:
        name: the task name, case-insensitive, ``-`` and ``_`` alike; also accepted:
            ``math_500``, ``arc_c``, ``arc_e``, ``hendrycks_math``.
        data_dir: the task's folder of JSONL files, or its parent (then ``data_dir/<task>`` is
            used); None loads from the hub through ``datasets``.
        prompts: replaces the task family's default prompt texts.
        **kwargs: passed to the task's constructor; ``math500`` takes ``math_dir``, the full
            MATH folder its training examples come from (default: ``math`` beside ``math500``).

    Returns:
        A new :class:`Task` instance.

    Raises:
        InputError: an unknown task name.
        TypeError: a keyword argument the task does not take.
    """
    key = str(name).strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in TASKS:
        raise InputError(f"unknown task {name!r}: choose one of {sorted(TASKS)}")
    try:
        return TASKS[key](data_dir, prompts=prompts, **kwargs)
    except TypeError as err:
        raise TypeError(f"get_task({name!r}): {err}") from None
