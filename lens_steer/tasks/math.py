"""MATH (Hendrycks et al.) and its 500-problem test subset MATH-500.

Grading follows ``docs/grading.md``: :mod:`.math_answer` reads the final answer of the model's
own turn (``\\boxed{}``, the minerva line, "the answer is $X$"; hedged or cut off is None).
Equivalence is graded by ``math-verify``, which knows that ``\\frac12``, ``0.5`` and
``\\dfrac{1}{2}`` are the same answer; an exact string match short-cuts it.
"""

from __future__ import annotations

import random
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from .base import DataError, Example, Task, UnusableRow, question_key
from .grading import boxes
from .loading import (
    convert_rows,
    get_field,
    load_hub_rows,
    read_jsonl,
    read_lines,
    resolve_data_dir,
)
from .math_answer import answers_with_or_boxes, final_answer, last_boxed

__all__ = [
    "MATH",
    "MATH500",
    "final_answer",
    "last_boxed",
    "canonical_latex",
    "math_equal",
    "SUBJECTS",
]

SUBJECTS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)


def canonical_latex(answer: str) -> str:
    """Light normalisation so equal-looking answers vote together (ITS) and compare fast."""
    s = answer.strip().strip("$").strip()
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\\left(?![A-Za-z])|\\right(?![A-Za-z])", "", s)
    s = re.sub(r"(?<!\\)\\!", "", s)  # negative thin space, e.g. 1,\!000
    s = re.sub(r"(?<!\\)\\[,;: ]", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s.rstrip(".").strip()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@lru_cache(maxsize=8192)
def _mv_parse(latex: str, timeout: int | None) -> Any:
    from math_verify import parse

    return parse(f"\\boxed{{{latex}}}", parsing_timeout=timeout)


def math_equal(gold: str, pred: str) -> bool:
    """Whether two boxed-answer contents denote the same mathematical answer (math-verify)."""
    if canonical_latex(gold) == canonical_latex(pred):
        return True
    try:
        from math_verify import verify
    except ImportError as err:  # pragma: no cover - it is a declared dependency
        raise ImportError(
            "MATH grading needs the 'math-verify' package: pip install math-verify"
        ) from err
    # math-verify's timeouts use signal.alarm, which only works in the main thread.
    timeout = 5 if _in_main_thread() else None
    g, p = _mv_parse(gold, timeout), _mv_parse(pred, timeout)
    if not g or not p:
        return False
    if verify(g, p, timeout_seconds=timeout):
        return True
    # math-verify can give one symbol different assumptions in the two parses (``i`` is
    # real=True in \frac{-1-5i}{13} but real=False in -\frac{1}{13}-\frac{5}{13}i), which makes
    # equal expressions compare unequal; retry with plain symbols.
    g2, p2 = [_plain_symbols(x) for x in g], [_plain_symbols(x) for x in p]
    if g2 == list(g) and p2 == list(p):
        return False
    return bool(verify(g2, p2, timeout_seconds=timeout))


def _plain_symbols(expr: Any) -> Any:
    if not hasattr(expr, "free_symbols") or not hasattr(expr, "xreplace"):
        return expr
    import sympy

    return expr.xreplace({s: sympy.Symbol(s.name) for s in expr.free_symbols})


def _alter_latex(answer: str, rng: random.Random) -> str | None:
    """``answer`` with its last integer changed, or None when it has no digits."""
    runs = list(re.finditer(r"\d+", answer))
    if not runs:
        return None
    m = runs[-1]
    value = int(m.group(0))
    new = (
        value + rng.choice([1, 2, 3, 5])
        if value < 3 or rng.random() < 0.5
        else value - rng.choice([1, 2])
    )
    return f"{answer[: m.start()]}{new}{answer[m.end() :]}"


def _replace_last_box(solution: str, new: str) -> str:
    """``solution`` with the content of its last complete box replaced by ``new``."""
    for box in reversed(boxes(solution)):
        if box.content is None:
            continue
        brace = solution.find("{", box.start, box.end)
        if brace != -1 and solution[box.end - 1] == "}":
            return f"{solution[: brace + 1]}{new}{solution[box.end - 1 :]}"
        return f"{solution[: box.start]}\\boxed{{{new}}}{solution[box.end :]}"
    return f"{solution}\n\\boxed{{{new}}}"


class MATH(Task):
    """Full MATH: ``EleutherAI/hendrycks_math`` (7 subjects) or ``train/test.jsonl`` in ``data_dir``.

    With a local folder, ``<split>_paths.txt`` (if present) gives each row its original file path
    as id, e.g. ``test/precalculus/807.json`` (the same id MATH-500 uses).
    """

    name = "math"
    prompt_family = "math"
    hub_id = "EleutherAI/hendrycks_math"

    def _read(self, split: str) -> list[Example]:
        return self._read_math(self.data_dir, split)

    def _read_math(self, data_dir: Path | None, split: str) -> list[Example]:
        if data_dir is None:
            out: list[Example] = []
            for subject in SUBJECTS:
                rows = load_hub_rows(self.hub_id, subject, split)
                ids = [f"hub:{split}/{subject}/{i}" for i in range(len(rows))]
                out += convert_rows(rows, self._converter(split, ids), self._skip_list(split))
            return out
        folder = resolve_data_dir(data_dir, "math", ["train.jsonl", "test.jsonl"])
        rows = read_jsonl(folder / f"{split}.jsonl")
        paths_file = folder / f"{split}_paths.txt"
        if paths_file.is_file():
            ids = read_lines(paths_file)
            if len(ids) != len(rows):
                raise DataError(
                    f"{paths_file} has {len(ids)} lines but {folder / (split + '.jsonl')} has "
                    f"{len(rows)} rows: they must correspond line by line"
                )
        else:
            ids = [f"math/{split}/{i}" for i in range(len(rows))]
        return convert_rows(rows, self._converter(split, ids), self._skip_list(split))

    def _skip_list(self, split: str) -> list[str] | None:
        return self.skipped if split == "train" else None

    @staticmethod
    def _converter(split: str, ids: list[str]) -> Any:
        def convert(row: dict[str, Any], index: int, where: str) -> Example:
            problem = get_field(row, "problem", where)
            solution = get_field(row, "solution", where)
            gold = row.get("answer")
            if gold is None:
                gold = last_boxed(solution)
            if gold is not None and not isinstance(gold, str):
                raise DataError(f"{where}: field 'answer' should be str, got {type(gold).__name__}")
            if not gold or not gold.strip():
                raise UnusableRow(f"{where}: the solution has no non-empty \\boxed{{...}} answer")
            meta = {k: row[k] for k in ("level", "type", "subject") if k in row}
            return Example(
                id=str(row.get("unique_id") or ids[index]),
                question=problem.strip(),
                answer=gold.strip(),
                solution=solution,
                source=split,
                meta=meta,
            )

        return convert

    def format_solution(self, ex: Example) -> str:
        if not ex.solution:
            raise ValueError(f"example {ex.id!r} has no gold solution")
        if last_boxed(ex.solution) is None:
            return f"{ex.solution.strip()}\nThe final answer is $\\boxed{{{ex.answer}}}$."
        return ex.solution.strip()

    def _fewshot_ok(self, ex: Example) -> bool:
        sol = ex.solution or ""
        return len(sol) <= 450 and "[asy]" not in sol and "[asy]" not in ex.question

    def parse(self, text: str, example: Example | None = None) -> str | None:
        answer = final_answer(text)
        return None if answer is None else canonical_latex(answer)

    def is_correct(self, text: str, example: Example) -> bool:
        pred = final_answer(text, or_boxes_ok=answers_with_or_boxes(example.solution))
        return pred is not None and math_equal(example.answer, pred)

    def corrupt(self, ex: Example, rng: random.Random) -> str | None:
        wrong = _alter_latex(ex.answer, rng)
        if wrong is None or math_equal(ex.answer, wrong):
            return None
        return _replace_last_box(self.format_solution(ex), wrong)


class MATH500(MATH):
    """MATH-500 (PRM800K's test subset). It ships only a test split, so train, validation and
    few-shot come from the full MATH train set (``math_dir``, by default ``data_dir/../math``),
    with any problem that also appears among the 500 removed."""

    name = "math500"
    hub_id_test = "HuggingFaceH4/MATH-500"

    def __init__(
        self,
        data_dir: str | Path | None = None,
        prompts: Any = None,
        math_dir: str | Path | None = None,
    ):
        super().__init__(data_dir, prompts)
        if math_dir is None and self.data_dir is not None:
            math_dir = self._default_math_dir()
        self.math_dir = Path(math_dir) if math_dir is not None else None

    def _default_math_dir(self) -> Path:
        assert self.data_dir is not None
        base = self.data_dir
        if not (base / "test.jsonl").is_file() and (base / "math500" / "test.jsonl").is_file():
            return base / "math"  # data_dir was the parent folder
        return base.parent / "math"

    def _read(self, split: str) -> list[Example]:
        if split == "test":
            if self.data_dir is None:
                rows = load_hub_rows(self.hub_id_test, None, "test")
            else:
                folder = resolve_data_dir(self.data_dir, "math500", ["test.jsonl"])
                rows = read_jsonl(folder / "test.jsonl")
            ids = [f"math500/test/{i}" for i in range(len(rows))]
            return convert_rows(rows, self._converter("test", ids))
        if self.data_dir is not None:
            if self.math_dir is None or not (self.math_dir / "train.jsonl").is_file():
                raise FileNotFoundError(
                    "MATH-500 has only a test split; its train/validation/few-shot examples come "
                    f"from the full MATH train set, expected at {self.math_dir}/train.jsonl. Put the "
                    "MATH folder beside math500/ or pass get_task('math500', data_dir=..., "
                    "math_dir='path/to/math')"
                )
        train = self._read_math(self.math_dir, "train")
        test_keys = {question_key(e) for e in self.load("test")}
        return [e for e in train if question_key(e) not in test_keys]
