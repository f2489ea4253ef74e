"""The real benchmark files in ../shared/data: official sizes, leakage, prompts, pairs, grading.

Skipped (with the reason) where the shared data folder is not beside the repository.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from lens_steer.experiment import stats
from lens_steer.tasks import Task, contrastive_pairs, get_task
from lens_steer.testing import tiny_tokenizer

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = [
    # MATH train has two rows with an empty \boxed{} upstream; skipping them warns (tested elsewhere)
    pytest.mark.filterwarnings("ignore:skipping ungradable row"),
]

# name: (official test size, official train rows, official dev rows or None)
OFFICIAL = {
    "gsm8k": (1319, 7473, None),
    "math": (5000, 7500, None),
    "math500": (500, 7500, None),
    "arc_challenge": (1172, 1119, 299),
    "arc_easy": (2376, 2251, 570),
}


@cache
def _task(name: str) -> Task:
    return get_task(name, data_dir=DATA / name)


@cache
def _splits(name: str):
    return _task(name).splits(seed=0, n_val=None)


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_official_sizes_and_disjoint_roles(name: str) -> None:
    n_test, n_train, n_dev = OFFICIAL[name]
    task, sp = _task(name), _splits(name)
    assert len(sp.test) == n_test
    assert len(sp.fewshot) == 5
    if n_dev is None:
        assert len(sp.val) == 200
    else:
        assert len(sp.val) == n_dev
    accounted = len(sp.train) + len(sp.dropped) + len(sp.fewshot) + len(task.skipped)
    accounted += len(sp.val) if n_dev is None else 0
    assert accounted == n_train
    assert len(task.skipped) == (2 if name.startswith("math") else 0)  # empty \boxed{} upstream


# Gold solutions that, read as a model's answer, break a grading rule on purpose: this one answers
# sub-questions under "Question 6:" lines, which the grader cuts as a hallucinated next turn.
GOLD_READ_AS_NEW_TURN = {"test/prealgebra/1465.json"}


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_gold_solutions_grade_correct_and_corruptions_wrong(name: str) -> None:
    task, sp = _task(name), _splits(name)
    for ex in sp.test:
        text = task.format_solution(ex) if ex.solution or not name.startswith("math") else ""
        assert task.is_correct(text, ex) is (ex.id not in GOLD_READ_AS_NEW_TURN), ex.id
    pairs = contrastive_pairs(task, sp.train, strategy="corrupted-answer", n=64, seed=0)
    by_id = {e.id: e for e in sp.train}
    prefix = f"\n{task.prompts.answer_prefix} "
    for p in pairs:
        ex = by_id[p.source_ids[0]]
        assert task.is_correct(p.positive.split(prefix, 1)[1], ex)
        assert not task.is_correct(p.negative.split(prefix, 1)[1], ex), p.negative[-200:]


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_five_shot_chat_prompt_and_64_pairs(name: str) -> None:
    task, sp = _task(name), _splits(name)
    ex = sp.test[0]
    prompt = task.prompt(ex, tokenizer=tiny_tokenizer(), fewshot=sp.fewshot)
    assert prompt.count("<|user|>") == 6 and prompt.count("<|assistant|>") == 6
    assert prompt.endswith(f"{task.format_question(ex)}</s><|assistant|>")
    plain = task.prompt(ex, fewshot=sp.fewshot)
    assert plain.count(task.prompts.question_prefix) == 6
    for strategy in ("corrupted-answer", "mismatched", "persona"):
        pairs = contrastive_pairs(task, sp.train, strategy=strategy, n=64, seed=0)
        assert len(pairs) == 64 and len({p.source_ids[0] for p in pairs}) == 64
        assert all(p.positive != p.negative for p in pairs)
        assert pairs == contrastive_pairs(task, sp.train, strategy=strategy, n=64, seed=0)


def test_arc_exemplars_have_written_reasoning() -> None:
    for name in ("arc_challenge", "arc_easy"):
        task = _task(name)
        for ex in _splits(name).fewshot:
            sol = task.format_solution(ex)
            assert sol.endswith(f"The answer is ({ex.answer})") and len(sol) > 80


def test_score_outputs_with_ci() -> None:
    task, sp = _task("gsm8k"), _splits("gsm8k")
    outputs = [
        f"#### The final answer is: {e.answer if i % 3 else '0'}" for i, e in enumerate(sp.val)
    ]
    acc, lo, hi = stats.accuracy_ci(task.score(outputs, sp.val))
    assert lo < acc < hi and acc == pytest.approx(sum(1 for i in range(200) if i % 3) / 200)
