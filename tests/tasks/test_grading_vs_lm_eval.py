"""benchmarks/grading_vs_lm_eval.py: lm-eval's graders as lm-eval runs them, and lens_steer vs them.

The first tests pin what lm-eval's own filters and metrics, driven by the script, make of a few
hand-written answers (so the comparison really measures lm-eval, not a re-implementation). The
last one grades the human-verdict corpus in tests/data/grading/ with every grader and requires
lens_steer to agree with the humans on >= 97 % of each task's rows, and no less often than the
best lm-eval grader for that task.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "grading_vs_lm_eval", ROOT / "benchmarks" / "grading_vs_lm_eval.py"
)
gle = importlib.util.module_from_spec(_spec)
sys.modules["grading_vs_lm_eval"] = gle
_spec.loader.exec_module(gle)

ARC = {"labels": ["A", "B", "C", "D"], "choices": ["a dog", "a cat", "mitochondria", "the sun"]}


@pytest.fixture(scope="module", autouse=True)
def _lm_eval_installed() -> None:
    if importlib.util.find_spec("lm_eval") is None:
        pytest.fail(gle.INSTALL_HINT)


def _needs_antlr411() -> None:
    if not gle._antlr_is_411() and not (gle.antlr411_dir() / "antlr4").is_dir():
        pytest.fail(
            "minerva_math needs antlr4 4.11: " + gle.ANTLR411_HINT.format(gle.antlr411_dir())
        )


def _rows(outputs: list[str], gold: str, **extra: object) -> list[dict]:
    return [{"id": str(i), "output": o, "gold": gold, **extra} for i, o in enumerate(outputs)]


def test_gsm8k_strict_match_reads_only_the_hash_line() -> None:
    rows = _rows(
        [
            "3 + 15 = 18.\n#### 18",
            "3 + 15 = 18. The answer is 18.",  # no "####": strict-match finds nothing
            "#### 1,080 dollars",  # the metric's regexes_to_ignore drop the comma
            "#### $18",  # the filter's regex wants a digit right after "#### "
            "#### 17\nQuestion: next\n#### 18",  # cut at the stop string "Question:"
            "#### 18.",  # the regex takes "18." and the metric drops a final "."
        ],
        "18",
    )
    rows[2]["gold"] = "1080"
    assert gle.grade_lm_eval("gsm8k", rows, "gsm8k strict-match") == [
        True,
        False,
        True,
        False,
        False,
        True,
    ]


def test_gsm8k_flexible_extract_takes_the_last_number() -> None:
    rows = _rows(
        [
            "3 + 15 = 18. The answer is 18.",
            "The answer is 18, which is 3 more than 15.",  # the last number is 15
            "#### 18\n\nNext I will buy 2 more.",  # the last number again
            "She pays $18.",  # "$18." is one match; "$" and the final "." are ignored
        ],
        "18",
    )
    assert gle.grade_lm_eval("gsm8k", rows, "gsm8k flexible-extract") == [True, False, False, True]


def test_gsm8k_cot_strict_match_reads_the_answer_is_phrase() -> None:
    rows = _rows(["So it is 18. The answer is 18.", "#### 18", "The answer is 18"], "18")
    # the pattern ends in "." (any character): without one after the number it never matches
    assert gle.grade_lm_eval("gsm8k", rows, "gsm8k_cot strict-match") == [True, False, False]


def test_arc_multi_choice_regex() -> None:
    rows = _rows(
        [
            "(B) is wrong, so the answer is (C).",  # group_select -1: the last "(X)"
            "The answer is mitochondria",  # no "(X)": the choice text maps to (C)
            "Answer: C",  # neither: ":\s*C" maps to (C)
            "The answer is C.",  # none of the three patterns reads a bare letter here
            "(C) or (B)? I pick (B).",
        ],
        "C",
        **ARC,
    )
    assert gle.grade_lm_eval("arc", rows, "multi_choice_regex (mmlu flan_cot_zeroshot)") == [
        True,
        True,
        True,
        False,
        False,
    ]
    digits = _rows(["The answer is (B)."], "2", labels=["1", "2", "3", "4"], choices=ARC["choices"])
    assert gle.grade_lm_eval("arc", digits, "multi_choice_regex (mmlu flan_cot_zeroshot)") == [True]


def test_arc_challenge_chat_grades_the_first_sentence() -> None:
    # generated after the prefix "The best answer is", cut at "." or a blank line
    rows = _rows([" C", "C. mitochondria", "The answer is C."], "C", **ARC)
    assert gle.grade_lm_eval("arc", rows, "arc_challenge_chat") == [True, True, False]


def test_math_graders() -> None:
    _needs_antlr411()
    minerva = "Final Answer: The final answer is $\\frac12$. I hope it is correct."
    rows = _rows(
        [minerva, "The answer is $\\boxed{0.5}$.", "$\\frac{1}{2}$", "So $\\boxed{3}$."],
        "\\frac{1}{2}",
    )
    got = {g: gle.grade_lm_eval("math", rows, g) for g in gle.GRADERS["math"]}
    assert got["minerva_math exact_match"] == [True, False, False, False]  # only the minerva line
    assert got["minerva_math math_verify"] == [True, True, True, False]
    assert got["hendrycks_math exact_match"] == [True, False, True, False]  # first $ to last $
    # aime: the last \boxed{}, else (like hendrycks) the text from the first $ to the last
    assert got["aime boxed exact_match"] == [True, True, True, False]


def test_compare_on_a_small_corpus(tmp_path: Path) -> None:
    corpus = {
        "gsm8k": _rows(["#### 18", "The answer is 18."], "18", kind="right", verdict=True),
        "arc": _rows(
            ["The answer is (C).", "The answer is (B)."], "C", kind="x", verdict=True, **ARC
        ),
    }
    corpus["arc"][1]["verdict"] = False
    for task, rows in corpus.items():
        (tmp_path / f"{task}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = {(t["task"], t["grader"]): t for t in gle.compare(tmp_path)}
    assert set(table) == {("gsm8k", "lens_steer"), ("arc", "lens_steer")} | {
        (task, g) for task in corpus for g in gle.GRADERS[task]
    }
    assert table["gsm8k", "lens_steer"]["agreement"] == 100.0
    strict = table["gsm8k", "gsm8k strict-match"]
    assert (
        strict["agreement"],
        strict["false_correct"],
        strict["false_wrong"],
        strict["by_kind"],
    ) == (50.0, 0, 1, {"right": 1})
    assert "| gsm8k | gsm8k strict-match | 2 | 50.0 | 0 | 1 |" in gle.render(
        list(table.values()), show=1
    )


def test_lens_steer_agrees_with_the_humans_at_least_as_well_as_lm_eval() -> None:
    _needs_antlr411()
    corpus = ROOT / "tests" / "data" / "grading"
    missing = [t for t in gle.TASKS if not (corpus / f"{t}.jsonl").exists()]
    assert not missing, f"grading corpus missing: {missing}"
    table = gle.compare(corpus)
    assert not [t for t in table if "error" in t], [t["error"] for t in table if "error" in t]
    for task in gle.TASKS:
        rows = {t["grader"]: t for t in table if t["task"] == task}
        ours = rows.pop("lens_steer")
        best = max(rows.values(), key=lambda t: t["agreement"])
        report = gle.render([ours, best], show=3)
        assert ours["agreement"] >= 97.0, report
        assert ours["agreement"] >= best["agreement"], report
