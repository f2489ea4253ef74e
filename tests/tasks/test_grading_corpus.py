"""The graders against careful human verdicts (tests/data/grading/*.jsonl, see docs/grading.md).

Each corpus row is a model answer, written the way small models write (hedged, cut off, followed
by a hallucinated next question, Markdown headings, whitespace floods, real SmolLM2/gemma outputs),
with the verdict a careful human grader gives and a one-line reason. The graders must agree on at
least 97 % of each corpus and never call a hedged, cut-off or hallucinated-turn answer correct.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from lens_steer.tasks import Example, Task, get_task

CORPUS = Path(__file__).resolve().parents[1] / "data" / "grading"
FAMILIES = {"gsm8k": ("gsm8k",), "math": ("math", "math500"), "arc": ("arc_challenge", "arc_easy")}
NEVER_CORRECT = {"hedged", "truncated", "hallucinated_turn"}
MIN_AGREEMENT = 0.97


def _read(name: str) -> list[dict]:
    with (CORPUS / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _rows(family: str) -> list[dict]:
    """The family's corpus, plus its rows of the blind hold-out set (written by someone who never
    saw the graders or the corpus; the graders were not changed after it was measured)."""
    held = [r for r in _read("holdout.jsonl") if r["task"] == family]
    return _read(f"{family}.jsonl") + held


def _example(row: dict) -> Example:
    return Example(
        id=row["id"],
        question="(question)",
        answer=row["gold"],
        labels=tuple(row.get("labels", ())),
        choices=tuple(row.get("choices", ())),
    )


def _disagreements(task: Task, rows: list[dict]) -> list[tuple[dict, bool]]:
    out = []
    for row in rows:
        verdict = task.is_correct(row["output"], _example(row))
        if verdict is not row["verdict"]:
            out.append((row, verdict))
    return out


def _describe(bad: list[tuple[dict, bool]]) -> str:
    return "\n".join(
        f"{r['id']} [{r['kind']}] human={r['verdict']} grader={v}: {r['reason']}\n  {r['output'][-160:]!r}"
        for r, v in bad
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_corpus_is_large_varied_and_explained(family: str) -> None:
    rows = _rows(family)
    assert len(rows) >= 300
    assert len({r["id"] for r in rows}) == len(rows)
    assert sum(r["source"] == "holdout" for r in rows) >= 60
    kinds = Counter(r["kind"] for r in rows)
    assert NEVER_CORRECT | {"wrong", "correction", "no_answer", "whitespace_flood"} <= set(kinds)
    assert sum(r["source"] == "real" for r in rows) >= 10, "real model outputs must be included"
    for r in rows:
        assert isinstance(r["verdict"], bool) and r["reason"].strip() and "\n" not in r["reason"]
    share_true = sum(r["verdict"] for r in rows) / len(rows)
    assert 0.2 < share_true < 0.8, share_true


@pytest.mark.parametrize(
    "name", [n for names in FAMILIES.values() for n in names], ids=lambda n: str(n)
)
def test_grader_agrees_with_human_verdicts(name: str) -> None:
    family = next(f for f, names in FAMILIES.items() if name in names)
    rows = _rows(family)
    bad = _disagreements(get_task(name), rows)
    agreement = 1 - len(bad) / len(rows)
    assert agreement >= MIN_AGREEMENT, f"{agreement:.1%} agreement\n{_describe(bad)}"
    false_correct = [(r, v) for r, v in bad if v and r["kind"] in NEVER_CORRECT]
    assert not false_correct, _describe(false_correct)
