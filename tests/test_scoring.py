"""Answer parsing and grading on realistic model outputs (tests/data/scoring_cases.jsonl).

Each case has the output, the gold answer, the expected verdict and (mostly) the expected parsed
answer. MATH cases also run through MATH-500 and ARC cases through ARC-Easy: same scorer.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from lens_steer.tasks import Example, get_task
from lens_steer.tasks.gsm8k import canonical_number, find_numbers
from lens_steer.tasks.math import canonical_latex, last_boxed, math_equal

CASES = [
    json.loads(line) for line in (Path(__file__).parent / "data" / "scoring_cases.jsonl").open()
]
TASK_NAMES = {"gsm8k": ["gsm8k"], "math": ["math", "math500"], "arc": ["arc_challenge", "arc_easy"]}
TASKS = {name: get_task(name) for names in TASK_NAMES.values() for name in names}  # no data loaded


def _example(i: int, case: dict) -> Example:
    return Example(
        id=f"case-{i}",
        question="(question)",
        answer=case["gold"],
        labels=tuple(case.get("labels", ())),
        choices=tuple(case.get("choices", ())),
    )


def test_case_file_covers_every_task_and_kind() -> None:
    per_task = Counter(c["task"] for c in CASES)
    assert all(per_task[t] >= 60 for t in TASK_NAMES), per_task
    for task in TASK_NAMES:
        kinds = {c["kind"] for c in CASES if c["task"] == task}
        assert {"right", "wrong", "rambling", "truncated", "two_answers", "no_answer"} <= kinds


@pytest.mark.parametrize(
    "i,name",
    [(i, name) for i, c in enumerate(CASES) for name in TASK_NAMES[c["task"]]],
    ids=lambda v: str(v),
)
def test_case(i: int, name: str) -> None:
    case = CASES[i]
    task, ex = TASKS[name], _example(i, case)
    verdict = task.is_correct(case["output"], ex)
    assert verdict is case["correct"], f"{case['kind']}: {case['output']!r}"
    if "parsed" in case:
        assert task.parse(case["output"], ex) == case["parsed"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1,080", "1080"),
        ("$1,234.50", "1234.5"),
        ("18.00", "18"),
        ("25%", "25"),
        ("-7", "-7"),
        ("3/4", "0.75"),
        ("1/3", "1/3"),
        ("0.5", "0.5"),
        ("no digits", None),
    ],
)
def test_canonical_number(text: str, expected: str | None) -> None:
    assert canonical_number(text) == expected


def test_binary_minus_is_not_a_sign() -> None:
    assert find_numbers("16-3-4=9 and 16 - 3 = 13, but it is -2 now") == [
        "16",
        "3",
        "4",
        "9",
        "16",
        "3",
        "13",
        "-2",
    ]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("so $\\boxed{\\frac{a}{b}}$.", "\\frac{a}{b}"),
        ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
        ("\\fbox{7}", "7"),
        ("\\boxed 9.", "9"),
        ("\\boxed{1} then \\boxed{2}", "2"),
        ("\\boxed{1} then \\boxed{2", "1"),
        ("\\boxed{}", None),
        ("nothing", None),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


def test_canonical_latex_makes_equal_forms_vote_together() -> None:
    assert canonical_latex("\\dfrac{1}{2}") == canonical_latex("\\frac{1}{2}")
    assert canonical_latex("\\left( 1, 2 \\right)") == "( 1, 2 )"
    assert canonical_latex("1,\\!000") == "1,000"
    assert math_equal("\\frac{1}{2}", "0.5") and not math_equal("\\frac{1}{2}", "0.6")


def test_parse_without_example_is_canonical() -> None:
    arc = TASKS["arc_challenge"]
    assert arc.parse("the answer is (b)") == "B"
    assert arc.parse("The answer is 2") is None  # a digit needs the example's labels
    assert arc.parse("2") == "2"


def test_score_pairs_outputs_and_examples() -> None:
    task = TASKS["gsm8k"]
    exs = [Example(id="a", question="q", answer="3"), Example(id="b", question="q", answer="4")]
    assert task.score(["#### 3", "#### 5"], exs) == [True, False]
    with pytest.raises(ValueError, match="must pair up"):
        task.score(["#### 3"], exs)
    with pytest.raises(ValueError, match="empty"):
        task.score([], [])
