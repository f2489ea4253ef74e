"""Grading rules one at a time (docs/grading.md): each case is a way small models really write,
with the answer a careful human reads. Most come from a review of the graders; the corpus test
(test_grading_corpus.py) measures agreement at scale."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from lens_steer.tasks import Example, get_task
from lens_steer.tasks.grading import ends_finished, own_turn

LABELS, CHOICES = ("A", "B", "C", "D"), ("erosion", "a rock", "weathering", "sedimentation")
ITEM = Example(id="x", question="q", answer="?", labels=LABELS, choices=CHOICES)

CASES = [
    # a marker after a lower-case word is prose, not a new turn
    ("gsm8k", "Let us restate the Problem: find the total. 9 + 9 = 18. The answer is 18.", "18"),
    ("gsm8k", "Going back to Q: the total is 18. The answer is 18.", "18"),
    ("gsm8k", "The answer is 18.\nQuestion: Tom has 3 hats. The answer is 3.", "18"),
    ("gsm8k", "The answer is 18. Human: thanks! The answer is 9.", "18"),
    # a later clause with numbers is not a hedge; a second value right after is
    ("gsm8k", "The answer is 5, which adds up to 20 total.", "5"),
    ("gsm8k", "The answer is 3 since she goes from 5 to 2.", "3"),
    ("gsm8k", "The answer is 18 apples and 2 are left over.", "18"),
    ("gsm8k", "The answer is 260 or 263.", None),
    ("gsm8k", "Final answer: 24 (or 25 if we round differently)", None),
    ("gsm8k", "#### The final answer is: 6 apples and 2 oranges", None),
    ("gsm8k", "$\\boxed{18}$ or $\\boxed{20}$", None),
    # boxes and calculations give their value
    ("gsm8k", "\\boxed{\\frac{36}{2}}", "18"),
    ("gsm8k", "\\boxed{\\dfrac{1}{2}}", "0.5"),
    ("gsm8k", "The answer is 10 + 10 = 20.", "20"),
    ("gsm8k", "The answer is not 23, it is 20.", "20"),
    # a retraction needs a new number after it; a confirmation keeps the answer
    ("gsm8k", "The answer is 20 dollars. No wait, that's wrong: 9 x 2 = 18 dollars.", "18"),
    ("gsm8k", "The answer is 18. No wait, that's right.", "18"),
    ("gsm8k", "The answer is 18. Correction: none needed.", "18"),
    # headings and cut-off text
    (
        "gsm8k",
        "#### Step 1: Eggs\n16-3-4=9\n#### Step 2: Revenue\n9 * 2 = $18.\nThe answer is 18.",
        "18",
    ),
    ("gsm8k", "#### 1. Pay\n$400.\n#### 2. Total\nEliza earns $460 this week.", "460"),
    ("gsm8k", "There are 20 chickens in total. So, 20 /", None),
    ("gsm8k", "which means that in one week she will make 18 *", None),
    ("gsm8k", "The answer is 18. The answer is 18. The answer is", None),
    ("gsm8k", "#### 70 000", "70000"),
    ("gsm8k", "#### - 10", "-10"),
    ("gsm8k", "The answer is negative 10.", "-10"),
    ("gsm8k", "The final answer is twenty-one.", "21"),
    # MATH: a verdict on the answer is not a value; pairs keep their comma
    ("math", "$\\boxed{5}$. This answer is reasonable.", "5"),
    ("math", "$\\boxed{5}$. So the answer is correct.", "5"),
    ("math", "The answer is (1, 2).", "(1, 2)"),
    ("math", "\\boxed{50 \\text{ or } 25}", None),
    ("math", "Final Answer: The final answer is $5$ or $6$. I hope it is correct.", None),
    (
        "math",
        "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.",
        "\\frac{1}{2}",
    ),
    ("math", "Thus \\boxed{3}.\n\nProblem: Find x. Solution: \\boxed{5}", "3"),
    ("math", "So \\boxed{3}. Wait, actually \\boxed{\\frac{1", None),
    ("math", "We get x = 5 at the end.", None),
    # ARC: lower-case articles are not labels; an echoed option list is not an answer
    ("arc_challenge", "My answer is a guess.", None),
    ("arc_challenge", "I would choose a different method here.", None),
    ("arc_challenge", "(A) erosion\n(B) a rock\n(C) weathering\n(D) sedimentation", None),
    ("arc_challenge", "The answer is A rock", "B"),
    ("arc_challenge", "The answer is: weathering.", "C"),
    # ARC hedges, and what is not one
    ("arc_challenge", "(A) and (C) are correct.", None),
    ("arc_challenge", "Option C or D is correct.", None),
    ("arc_challenge", "\\boxed{C} or \\boxed{D}", None),
    ("arc_challenge", "The answer is C or D.", None),
    ("arc_challenge", "The answer is B, and A is incorrect because rocks are hard.", "B"),
    ("arc_challenge", "(A) is incorrect. (B) is incorrect. (C) weathering is correct.", "C"),
    ("arc_challenge", "Both D and C seem plausible, but C is the best choice.", "C"),
    ("arc_challenge", "The answer is (B). Wait, actually it is (C).", "C"),
    ("arc_challenge", "## Answer\nA", "A"),
    ("arc_challenge", "I think the answer is (", None),
]


@pytest.mark.parametrize("task_name,text,expected", CASES, ids=lambda v: str(v)[:40])
def test_rule(task_name: str, text: str, expected: str | None) -> None:
    assert get_task(task_name).parse(text, ITEM) == expected


def test_own_turn_folds_whitespace_and_cuts_chat_tokens() -> None:
    assert own_turn("a  \n\n  b\t c<|im_end|><|im_start|>user\nmore") == "a\nb c"
    assert own_turn("Question: restated first. Then the answer.") == (
        "Question: restated first. Then the answer."
    )


@pytest.mark.parametrize(
    "text,finished",
    [
        ("She makes $18. 🎉", True),
        ("9x2=18", True),
        ("18", True),
        ("**18**", True),
        ("So, 20 /", False),
        ("So, 20", False),
        ("make 18 *", False),
        ("", False),
    ],
)
def test_ends_finished(text: str, finished: bool) -> None:
    assert ends_finished(text) is finished
