"""Unit checks of the scoring helpers: number and LaTeX normalisation, box reading, score().

The graders' verdicts on realistic answers are checked against human verdicts in
tests/tasks/test_grading_corpus.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from lens_steer.tasks import Example, get_task
from lens_steer.tasks.gsm8k import canonical_number, find_numbers
from lens_steer.tasks.math import canonical_latex, last_boxed, math_equal

TASKS = {name: get_task(name) for name in ("gsm8k", "math", "arc_challenge")}  # no data loaded


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
