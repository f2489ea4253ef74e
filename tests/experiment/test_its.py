"""ITS voting (Algorithm 3): mode of parsed answers, None handling, smallest-λ tie rule."""

from __future__ import annotations

import pytest

from lens_steer.experiment.its import ITSPrediction, answer_matches, its_predictions, majority_vote
from lens_steer.tasks import Example, get_task


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["3", "4", "3"], "3"),  # plain mode
        (["4", "3", "3", "4", "5"], "4"),  # 2-2 tie: "4" came first (smaller λ)
        (["5", "3", "4", "4", "3"], "3"),  # 2-2 tie between 3 and 4: 3 appears at a smaller λ
        ([None, None, "7"], "7"),  # None does not vote
        ([None, "2", None, "2", "9"], "2"),
        ([None, "8", "9"], "8"),  # 1-1 tie after dropping None
        ([None, None, None], None),  # all unparseable
        ([], None),
        (["x"], "x"),
    ],
)
def test_majority_vote(answers, expected) -> None:
    assert majority_vote(answers) == expected


def test_none_never_wins_even_when_most_common() -> None:
    assert majority_vote([None, None, None, "1", "2"]) == "1"


def _gsm(i: int, answer: str = "7") -> Example:
    return Example(id=f"g{i}", question=f"Q{i}", answer=answer)


def test_its_predictions_gsm8k() -> None:
    task = get_task("gsm8k")
    exs = [_gsm(0), _gsm(1)]
    outs = [
        ["#### 7", "no answer here", "#### 1,000", "#### 7"],
        ["#### 1000", "#### 1,000.00", "no", "#### 7"],
    ]
    preds = its_predictions(task, exs, outs)
    assert preds[0] == ITSPrediction(("7", None, "1000", "7"), "7", 2, 3, True)
    assert preds[1].answer == "1000" and preds[1].votes == 2 and not preds[1].correct
    assert preds[1].to_dict()["answers"] == ["1000", "1000", None, "7"]


def test_its_predictions_sorts_columns_by_lambda() -> None:
    task = get_task("gsm8k")
    outs = [["#### 2", "#### 7"]]  # a 1-1 tie; columns written as λ = 0.5, 0.1
    assert its_predictions(task, [_gsm(0)], outs)[0].answer == "2"  # taken as already ascending
    assert its_predictions(task, [_gsm(0)], outs, lams=[0.5, 0.1])[0].answer == "7"


def test_its_predictions_arc_maps_labels_with_the_example() -> None:
    task = get_task("arc_challenge")
    ex = Example(
        id="a",
        question="Which?",
        answer="2",
        choices=("w", "x", "y", "z"),
        labels=("1", "2", "3", "4"),
    )
    outs = [["The answer is (B)", "The answer is (2)", "The answer is (C)"]]
    pred = its_predictions(task, [ex], outs)[0]
    assert pred.answers == ("2", "2", "3") and pred.answer == "2" and pred.correct


def test_answer_matches() -> None:
    ex = _gsm(0, "12.5")
    assert answer_matches(get_task("gsm8k"), "12.5", ex)
    assert not answer_matches(get_task("gsm8k"), None, ex)
    math = get_task("math")
    m = Example(id="m", question="q", answer="\\frac{1}{2}")
    assert answer_matches(math, "0.5", m)  # graded by math-verify like MATH.is_correct
    assert answer_matches(math, "\\dfrac12", m)
    assert not answer_matches(math, "2", m)


def test_its_predictions_errors() -> None:
    task = get_task("gsm8k")
    with pytest.raises(ValueError, match="pair up"):
        its_predictions(task, [_gsm(0)], [["#### 1"], ["#### 2"]])
    with pytest.raises(ValueError, match="no examples"):
        its_predictions(task, [], [])
    with pytest.raises(ValueError, match="no outputs"):
        its_predictions(task, [_gsm(0)], [[]])
    with pytest.raises(ValueError, match="2 λ"):
        its_predictions(task, [_gsm(0)], [["#### 1"]], lams=[0.1, 0.2])


def test_equivalent_math_answers_vote_together() -> None:
    """ "0.5", "\\frac{1}{2}" and "\\frac12" are one answer to the MATH grader, so they are one
    answer to the vote: split by spelling, a wrong answer given twice would win 2-1-1-1."""
    task = get_task("math")
    ex = Example(id="m0", question="Q0", answer="\\frac{1}{2}", solution="$\\boxed{\\frac{1}{2}}$")
    outs = [
        [
            "The answer is $\\boxed{3}$.",
            "The answer is $\\boxed{0.5}$.",
            "The answer is $\\boxed{3}$.",
            "The answer is $\\boxed{\\frac{1}{2}}$.",
            "The answer is $\\boxed{\\frac12}$.",
        ]
    ]
    (pred,) = its_predictions(task, [ex], outs)
    assert pred.answer == "0.5" and pred.votes == 3 and pred.n_votes == 5 and pred.correct
    assert majority_vote(list(pred.answers)) == "3"  # by spelling alone the vote would split
    assert majority_vote(list(pred.answers), same=lambda a, b: a == b) == "3"


def test_grouping_keeps_the_tie_rule() -> None:
    """Two groups of equal size: the one answered first (smallest λ) wins, whatever spelling."""
    from lens_steer.tasks.math import math_equal

    assert majority_vote(["2", "0.5", "\\frac{1}{2}", "2"], same=math_equal) == "2"
    assert majority_vote(["0.5", "2", "2", "\\frac{1}{2}"], same=math_equal) == "0.5"
    assert majority_vote([None, "1/2", None], same=math_equal) == "1/2"
