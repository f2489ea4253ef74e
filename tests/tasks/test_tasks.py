"""Loading, splitting and error reporting, on synthetic miniature copies of each data layout."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from lens_steer.tasks import DataError, Example, Splits, get_task

FIX = Path(__file__).resolve().parents[1] / "data" / "tasks"
NAMES = ["gsm8k", "math", "math500", "arc_challenge"]


def _copy(tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(FIX / name, dst)
    return dst


def _rewrite_line(path: Path, lineno: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("name", NAMES)
def test_splits_are_disjoint_and_sized(name: str) -> None:
    task = get_task(name, data_dir=FIX / name)
    sp = task.splits(seed=0, n_val=3)
    assert len(sp.fewshot) == 5
    assert len(sp.test) == len(task.load("test"))
    assert len(sp.val) == 3
    ids = [e.id for part in (sp.train, sp.val, sp.test, sp.fewshot) for e in part]
    assert len(ids) == len(set(ids))
    assert {e.role for e in sp.train} == {"train"} and {e.role for e in sp.test} == {"test"}
    assert {e.role for e in sp.val} == {"val"} and {e.role for e in sp.fewshot} == {"fewshot"}


def test_split_seed_changes_val_not_fewshot_or_test() -> None:
    task = get_task("gsm8k", data_dir=FIX / "gsm8k")
    a, b = task.splits(seed=0, n_val=3), task.splits(seed=1, n_val=3)
    assert [e.id for e in a.val] != [e.id for e in b.val]
    assert [e.id for e in a.fewshot] == [e.id for e in b.fewshot]
    assert [e.id for e in a.test] == [e.id for e in b.test]
    assert [e.id for e in task.splits(seed=0, n_val=3).val] == [e.id for e in a.val]


def test_arc_val_is_the_official_dev_split() -> None:
    task = get_task("arc_challenge", data_dir=FIX / "arc_challenge")
    sp = task.splits(seed=0)
    assert [e.id for e in sp.val] == [e.id for e in task.load("dev")]
    assert {e.source for e in sp.val} == {"dev"}
    assert len(task.splits(seed=0, n_val=2).val) == 2
    with pytest.raises(ValueError, match="dev has only"):
        task.splits(n_val=99)


def test_examples_carry_fields() -> None:
    g = get_task("gsm8k", data_dir=FIX).load("train")[0]  # parent folder works too
    assert g.answer == "8" and g.solution.endswith("#### 8") and g.id == "gsm8k/train/0"
    m = get_task("math", data_dir=FIX / "math").load("test")[0]
    assert m.id == "test/number_theory/120.json" and m.answer == "1494"
    assert m.meta == {"level": "Level 1", "type": "Number Theory"}
    a = get_task("arc_challenge", data_dir=FIX / "arc_challenge").load("train")[3]
    assert a.labels == ("1", "2", "3", "4") and a.answer in a.labels and len(a.choices) == 4


def test_math500_train_comes_from_math_without_test_problems() -> None:
    task = get_task("math500", data_dir=FIX / "math500")
    test_q = {e.question for e in task.load("test")}
    train = task.load("train")
    assert len(train) == len(get_task("math", data_dir=FIX / "math").load("train")) - 1
    assert not test_q & {e.question for e in train}
    assert [e.id for e in task.load("test")][0] == "test/number_theory/120.json"


def test_math500_without_math_dir_says_what_to_pass(tmp_path: Path) -> None:
    task = get_task("math500", data_dir=_copy(tmp_path, "math500"))
    assert len(task.load("test")) == 3  # the test split alone still loads
    with pytest.raises(FileNotFoundError, match="math_dir="):
        task.splits()
    ok = get_task("math500", data_dir=tmp_path / "math500", math_dir=FIX / "math")
    assert len(ok.splits(n_val=2).train) > 0


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    d = _copy(tmp_path, "gsm8k")
    _rewrite_line(d / "test.jsonl", 3, '{"question": "x", "answer": ')
    with pytest.raises(DataError, match=r"test\.jsonl:3: not valid JSON"):
        get_task("gsm8k", data_dir=d).load("test")


def test_invalid_utf8_names_file_and_line(tmp_path: Path) -> None:
    from lens_steer.tasks.loading import read_jsonl, read_lines

    d = _copy(tmp_path, "gsm8k")
    lines = (d / "test.jsonl").read_bytes().splitlines(keepends=True)
    lines[1] = lines[1][:10] + b"\xff\xfe" + lines[1][10:]
    (d / "test.jsonl").write_bytes(b"".join(lines))
    with pytest.raises(
        DataError, match=r"test\.jsonl:2: not valid UTF-8 \(byte 0xff at column 11\)"
    ):
        get_task("gsm8k", data_dir=d).load("test")
    with pytest.raises(DataError, match=r"test\.jsonl:2: not valid UTF-8"):
        read_jsonl(d / "test.jsonl")
    paths = tmp_path / "paths.txt"
    paths.write_bytes(b"a/1.json\n\nb/\xc3(.json\n")
    with pytest.raises(DataError, match=r"paths\.txt:3: not valid UTF-8"):
        read_lines(paths)


@pytest.mark.parametrize(
    "name,file,row,pattern",
    [
        ("gsm8k", "train.jsonl", {"question": "q"}, r"train\.jsonl:2: missing field 'answer'"),
        ("gsm8k", "train.jsonl", {"question": "q", "answer": "no marker"}, r":2: .*'####"),
        (
            "gsm8k",
            "train.jsonl",
            {"question": "", "answer": "#### 3"},
            r":2: field 'question' is empty",
        ),
        ("gsm8k", "train.jsonl", [1, 2], r":2: expected a JSON object"),
        ("math", "test.jsonl", {"problem": "p", "solution": 5}, r"test\.jsonl:2: field 'solution'"),
        ("math", "test.jsonl", {"problem": "p", "solution": "no box"}, r":2: .*boxed"),
        (
            "arc_challenge",
            "ARC-Challenge-Test.jsonl",
            {
                "id": "x",
                "question": {
                    "stem": "s",
                    "choices": [{"text": "a", "label": "A"}, {"text": "b", "label": "B"}],
                },
                "answerKey": "C",
            },
            r"Test\.jsonl:2: answerKey 'C' is not one of the labels",
        ),
        (
            "arc_challenge",
            "ARC-Challenge-Test.jsonl",
            {"id": "x", "question": {"stem": "s", "choices": [{"text": "a"}]}, "answerKey": "A"},
            r":2: each choice needs 'text' and 'label'",
        ),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, name, file, row, pattern) -> None:
    d = _copy(tmp_path, name)
    _rewrite_line(d / file, 2, json.dumps(row))
    split = "train" if "rain" in file else "test"
    with pytest.raises(DataError, match=pattern):
        get_task(name, data_dir=d).load(split)


def test_ungradable_training_row_is_skipped_and_recorded(tmp_path: Path) -> None:
    d = _copy(tmp_path, "math")
    _rewrite_line(d / "train.jsonl", 4, json.dumps({"problem": "p", "solution": "so $\\boxed{}$"}))
    task = get_task("math", data_dir=d)
    with pytest.warns(UserWarning, match="train.jsonl:4"):
        train = task.load("train")
    assert len(train) == 13 and "train.jsonl:4" in task.skipped[0]


def test_empty_split_is_an_error(tmp_path: Path) -> None:
    d = _copy(tmp_path, "gsm8k")
    (d / "test.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no rows"):
        get_task("gsm8k", data_dir=d).load("test")


def test_missing_files_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_task("gsm8k", data_dir=tmp_path / "nope").load("test")
    with pytest.raises(FileNotFoundError, match="missing"):
        get_task("gsm8k", data_dir=tmp_path).load("test")
    with pytest.raises(ValueError, match="unknown task 'gsm9k'"):
        get_task("gsm9k")
    with pytest.raises(TypeError, match="get_task"):
        get_task("gsm8k", colour="red")
    task = get_task("gsm8k", data_dir=FIX / "gsm8k")
    with pytest.raises(ValueError, match="not 'dev'"):
        task.load("dev")
    with pytest.raises(ValueError, match="leaves no training"):
        task.splits(n_val=50)
    with pytest.raises(ValueError, match="n_val"):
        task.splits(n_val=0)
    paths = _copy(tmp_path, "math") / "train_paths.txt"
    paths.write_text("train/a/1.json\n")
    with pytest.raises(DataError, match="correspond line by line"):
        get_task("math", data_dir=paths.parent).load("train")


def test_aliases() -> None:
    assert get_task("ARC-Challenge").name == "arc_challenge"
    assert get_task("MATH-500").name == "math500"


def test_splits_reject_overlap_and_empty_roles() -> None:
    a = Example(id="a", question="Same question?", answer="1")
    b = Example(id="b", question="same   question?", answer="1")
    c = Example(id="c", question="other", answer="2")
    with pytest.raises(ValueError, match="in both train and test"):
        Splits(train=[a], val=[c], test=[b], fewshot=[])
    with pytest.raises(ValueError, match="twice in val"):
        Splits(train=[a], val=[c, c], test=[Example(id="d", question="d", answer="1")], fewshot=[])
    with pytest.raises(ValueError, match="val split is empty"):
        Splits(train=[a], val=[], test=[c], fewshot=[])


def test_duplicate_training_question_is_dropped_from_train(tmp_path: Path) -> None:
    d = _copy(tmp_path, "gsm8k")
    rows = (d / "train.jsonl").read_text().splitlines()
    (d / "train.jsonl").write_text("\n".join(rows + [rows[0]]) + "\n")
    (d / "test.jsonl").write_text("\n".join([rows[1]] + rows[2:3]) + "\n")
    sp = get_task("gsm8k", data_dir=d).splits(n_val=2)
    assert "gsm8k/train/1" in sp.dropped  # its question is in test
    keys = [e.question for e in sp.train]
    assert len(keys) == len(set(keys))


def test_carved_val_never_takes_a_copy_of_a_test_question(tmp_path: Path) -> None:
    d = _copy(tmp_path, "gsm8k")
    rows = (d / "train.jsonl").read_text().splitlines()
    test_rows = (d / "test.jsonl").read_text().splitlines()
    (d / "train.jsonl").write_text("\n".join(rows + test_rows[:2] + rows[:2]) + "\n")
    task = get_task("gsm8k", data_dir=d)
    for seed in range(20):  # any seed: duplicates are kept out of val, then dropped from train
        sp = task.splits(seed=seed, n_val=6)
        assert len(sp.val) == 6 and len(sp.dropped) >= 2
