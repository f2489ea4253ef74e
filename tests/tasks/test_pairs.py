"""Contrastive pairs: each strategy, determinism, provenance, plain text, and leakage refusal."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from lens_steer.tasks import STRATEGIES, ContrastivePair, Example, contrastive_pairs, get_task

FIX = Path(__file__).resolve().parents[1] / "data" / "tasks"
NAMES = ["gsm8k", "math", "math500", "arc_challenge"]


def _setup(name: str):
    task = get_task(name, data_dir=FIX / name)
    return task, task.splits(seed=0, n_val=2)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pairs_are_deterministic_plain_and_traceable(name: str, strategy: str) -> None:
    task, sp = _setup(name)
    pairs = contrastive_pairs(task, sp.train, strategy=strategy, n=4, seed=0)
    assert pairs == contrastive_pairs(task, sp.train, strategy=strategy, n=4, seed=0)
    assert pairs != contrastive_pairs(task, sp.train, strategy=strategy, n=4, seed=1)
    train_ids = {e.id for e in sp.train}
    for p in pairs:
        assert isinstance(p, ContrastivePair) and p.strategy == strategy
        assert p.positive != p.negative
        assert set(p.source_ids) <= train_ids
        assert len(p.source_ids) == (2 if strategy == "mismatched" else 1)
        for text in (p.positive, p.negative):
            assert "<|" not in text and "<s>" not in text  # no chat template in pair text
            assert "\nAnswer: " in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        pairs[0].positive = "x"


def test_corrupted_answer_changes_only_the_answer() -> None:
    task, sp = _setup("gsm8k")
    for p in contrastive_pairs(task, sp.train, strategy="corrupted-answer", n=6, seed=3):
        ex = next(e for e in sp.train if e.id == p.source_ids[0])
        assert p.positive.startswith(f"Question: {ex.question}\nAnswer: ")
        assert p.positive.endswith(f"#### The final answer is: {ex.answer}")
        pos_lines, neg_lines = p.positive.splitlines(), p.negative.splitlines()
        assert pos_lines[:-2] == neg_lines[:-2]  # reasoning identical up to the last step
        assert task.parse(neg_lines[-1]) != ex.answer


def test_arc_pairs_use_correct_vs_wrong_option() -> None:
    task, sp = _setup("arc_challenge")
    for p in contrastive_pairs(task, sp.train, strategy="corrupted-answer", n=5, seed=0):
        ex = next(e for e in sp.train if e.id == p.source_ids[0])
        pos, neg = task.parse(p.positive, ex), task.parse(p.negative, ex)
        assert pos == ex.answer and neg in ex.labels and neg != ex.answer


def test_persona_pairs_differ_only_in_instruction() -> None:
    task, sp = _setup("math")
    p = contrastive_pairs(task, sp.train, strategy="persona", n=1, seed=0)[0]
    assert p.positive.startswith(task.prompts.careful) and p.negative.startswith(
        task.prompts.careless
    )
    assert p.positive[len(task.prompts.careful) :] == p.negative[len(task.prompts.careless) :]


def test_mismatched_uses_another_questions_solution() -> None:
    task, sp = _setup("math")
    for p in contrastive_pairs(task, sp.train, strategy="mismatched", n=5, seed=0):
        own, other = (next(e for e in sp.train if e.id == i) for i in p.source_ids)
        assert own.id != other.id and p.negative.endswith(task.format_solution(other))


@pytest.mark.parametrize("role", ["val", "fewshot", "test"])
def test_held_out_examples_are_refused(role: str) -> None:
    task, sp = _setup("gsm8k")
    with pytest.raises(ValueError, match=f"held out.*{role}.*splits"):
        contrastive_pairs(task, sp.train[:5] + getattr(sp, role)[:1], n=2)


def test_raw_test_rows_are_refused_but_handmade_examples_allowed() -> None:
    task = get_task("gsm8k", data_dir=FIX / "gsm8k")
    with pytest.raises(ValueError, match="official test split"):
        contrastive_pairs(task, task.load("test"), n=2)
    arc = get_task("arc_challenge", data_dir=FIX / "arc_challenge")
    with pytest.raises(ValueError, match="official dev split"):
        contrastive_pairs(arc, arc.load("dev"), n=2)
    mine = [
        Example(
            id=f"m{i}",
            question=f"What is {i}+1?",
            answer=str(i + 1),
            solution=f"{i}+1={i + 1}\n#### {i + 1}",
        )
        for i in range(3)
    ]
    assert len(contrastive_pairs(task, mine, strategy="mismatched", n=3)) == 3


def test_argument_errors() -> None:
    task, sp = _setup("gsm8k")
    with pytest.raises(ValueError, match="unknown pair strategy"):
        contrastive_pairs(task, sp.train, strategy="opposite")
    assert (
        contrastive_pairs(task, sp.train, strategy="corrupted_answer", n=1)[0].strategy
        == "corrupted-answer"
    )
    with pytest.raises(ValueError, match="positive int"):
        contrastive_pairs(task, sp.train, n=0)
    with pytest.raises(ValueError, match="no examples"):
        contrastive_pairs(task, [], n=1)
    with pytest.raises(ValueError, match=r"n=64 .* only \d+ could be built"):
        contrastive_pairs(task, sp.train, n=64)
