"""The hub code path (data_dir=None), with ``datasets.load_dataset`` pointed at local rows.

The fake serves the fixture rows converted to each hub dataset's schema and records what was
asked for, so the dataset ids, configs and split names are checked too. Nothing touches the
network.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets
import pytest

from lens_steer.tasks import DataError, get_task
from lens_steer.tasks.math import SUBJECTS

FIX = Path(__file__).resolve().parents[1] / "data" / "tasks"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _arc_hub(row: dict) -> dict:
    q = row["question"]
    return {
        "id": row["id"],
        "question": q["stem"],
        "choices": {
            "text": [c["text"] for c in q["choices"]],
            "label": [c["label"] for c in q["choices"]],
        },
        "answerKey": row["answerKey"],
    }


def _hub_tables() -> dict[tuple[str, str | None, str], list[dict]]:
    arc = FIX / "arc_challenge"
    math_train, math_test = _rows(FIX / "math" / "train.jsonl"), _rows(FIX / "math" / "test.jsonl")
    tables = {
        ("openai/gsm8k", "main", "train"): _rows(FIX / "gsm8k" / "train.jsonl"),
        ("openai/gsm8k", "main", "test"): _rows(FIX / "gsm8k" / "test.jsonl"),
        ("HuggingFaceH4/MATH-500", None, "test"): _rows(FIX / "math500" / "test.jsonl"),
    }
    for split, hub in (("Train", "train"), ("Dev", "validation"), ("Test", "test")):
        tables[("allenai/ai2_arc", "ARC-Challenge", hub)] = [
            _arc_hub(r) for r in _rows(arc / f"ARC-Challenge-{split}.jsonl")
        ]
    for i, subject in enumerate(SUBJECTS):  # two rows per subject config
        tables[("EleutherAI/hendrycks_math", subject, "train")] = math_train[2 * i : 2 * i + 2]
        tables[("EleutherAI/hendrycks_math", subject, "test")] = math_test[i % 4 : i % 4 + 1]
    return tables


@pytest.fixture
def fake_hub(monkeypatch):
    tables, calls = _hub_tables(), []

    def load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        key = (path, name, split)
        if key not in tables:
            raise FileNotFoundError(f"no such dataset {key}")
        return datasets.Dataset.from_list(tables[key])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_gsm8k_from_hub_matches_local(fake_hub) -> None:
    hub, local = get_task("gsm8k"), get_task("gsm8k", data_dir=FIX / "gsm8k")
    assert hub.load("train") == local.load("train")
    assert ("openai/gsm8k", "main", "train") in fake_hub


def test_arc_from_hub_matches_local(fake_hub) -> None:
    hub, local = (
        get_task("arc_challenge"),
        get_task("arc_challenge", data_dir=FIX / "arc_challenge"),
    )
    for split in ("train", "dev", "test"):
        assert hub.load(split) == local.load(split)
    assert ("allenai/ai2_arc", "ARC-Challenge", "validation") in fake_hub
    assert [e.id for e in hub.splits().val] == [e.id for e in local.load("dev")]


def test_math_and_math500_from_hub(fake_hub) -> None:
    math = get_task("math")
    train = math.load("train")
    assert len(train) == 14 and train[0].id == "hub:train/algebra/0"
    assert {c[1] for c in fake_hub if c[0] == "EleutherAI/hendrycks_math"} == set(SUBJECTS)
    m500 = get_task("math500")
    test = m500.load("test")
    assert [e.id for e in test][:2] == ["test/number_theory/120.json", "test/algebra/121.json"]
    assert len(m500.load("train")) == 13  # the one MATH-500 problem among MATH train is removed
    sp = m500.splits(n_val=2)
    assert len(sp.test) == 3 and len(sp.val) == 2


def test_hub_failure_says_to_use_data_dir(fake_hub, monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError, match=r"openai/gsm8k\[main/test\].*data_dir="):
        get_task("gsm8k").load("test")


def test_malformed_hub_row_names_the_row(fake_hub, monkeypatch) -> None:
    def bad(path, name=None, split=None, **kwargs):
        return datasets.Dataset.from_list(
            [{"question": "q", "answer": "#### 1"}, {"question": "q", "answer": "none"}]
        )

    monkeypatch.setattr(datasets, "load_dataset", bad)
    with pytest.raises(DataError, match=r"openai/gsm8k\[main/train\] row 1: .*####"):
        get_task("gsm8k").load("train")
