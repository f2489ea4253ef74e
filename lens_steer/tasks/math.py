"""MATH (Hendrycks et al.) and its 500-problem test subset MATH-500.

Grading follows ``docs/grading.md``: within the model's own turn (a hallucinated next "Problem:"
is cut), the last answer statement counts — a ``\\boxed{...}``/``\\fbox{...}`` (nested braces
matched in one pass, the brace-less ``\\boxed 5`` too), the minerva line "Final Answer: The final
answer is $X$. I hope it is correct.", or "the answer is $X$" / "the answer is X.". An unclosed box
or phrase at the end of the text (cut off), and "A or B" (hedged), are wrong; there is no
last-number fallback. Equivalence is graded by ``math-verify``, which knows that ``\\frac12``,
``0.5`` and ``\\dfrac{1}{2}`` are the same answer; an exact string match short-cuts it.
"""

from __future__ import annotations

import random
import re
import threading
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from .base import DataError, Example, Task, UnusableRow, question_key
from .grading import (
    MAX_ANSWER_CHARS,
    Box,
    Reader,
    Statement,
    boxes,
    checks_answer,
    last_statements,
    or_between,
    own_turn,
)
from .loading import (
    convert_rows,
    get_field,
    load_hub_rows,
    read_jsonl,
    read_lines,
    resolve_data_dir,
)

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
_PHRASE_RE = re.compile(
    r"\b(?:final answer|answer)(?: (?:to|for) (?:the|this) (?:question|problem))?\**"
    r" ?(?:is|was|would be|will be|should be|:|=)\**:?",
    re.IGNORECASE,
)
_NEGATED_RE = re.compile(r" ?(?:not|n't|never)\b", re.IGNORECASE)
_LEAD_RE = re.compile(r"[ *]{0,8}")
_MATH_OPEN = {"$$": "$$", "$": "$", "\\(": "\\)", "\\[": "\\]"}
_MATHLIKE_RE = re.compile(r"[\d\\^_=+/<>]")
_PLAIN_STOP_RE = re.compile(r",? (?:because|since|which|as|so|where|when)\b|, |[.!?](?= |$)|\n")
_HEDGE_RE = re.compile(r"\bor\b|\\text\{ ?or ?\}|\\(?:quad|qquad) ?\\text\{or", re.IGNORECASE)
_HEDGE_TAIL_RE = re.compile(
    r" ?,? ?(?:or|and/or) ?(?:maybe |possibly |perhaps )?(?:\$|\\\(|\d)", re.I
)
# A plain (no $) value that is a verdict on the answer, not an answer: "this answer is correct".
_NOT_A_VALUE_RE = re.compile(
    r"(?:correct|right|wrong|incorrect|reasonable|clear|obvious|shown|given|above|below|as|that|"
    r"this|the|a|an|in|on|not|yes|no|true|false|simple|easy|straightforward|consistent|"
    r"valid|confirmed|verified|checked|found|at|to|indeed)\b",
    re.IGNORECASE,
)


def _phrase_statement(text: str, start: int, pos: int, has_box: bool) -> Statement | None:
    """The value after "the (final) answer is": ``$…$``, ``\\(…\\)``, or plain text to the
    end of the sentence. A ``\\boxed`` right after the phrase is read as a box instead; with a
    box in the turn (``has_box``), plain words without mathematics are a remark, not a value."""
    if _NEGATED_RE.match(text, pos) or checks_answer(text, start):
        return None
    at = _LEAD_RE.match(text, pos).end()
    if at == len(text):
        return Statement(start, at, None, cut=True)
    if text.startswith(("\\boxed", "\\fbox", "$\\boxed", "$ \\boxed", "\\(\\boxed"), at):
        return None
    for opener in ("$$", "$", "\\(", "\\["):
        if text.startswith(opener, at):
            close = text.find(_MATH_OPEN[opener], at + len(opener), at + MAX_ANSWER_CHARS)
            if close == -1:
                cut = len(text) - at < MAX_ANSWER_CHARS
                return Statement(start, len(text), None, cut=cut) if cut else None
            value = text[at + len(opener) : close]
            tail = _HEDGE_TAIL_RE.match(text, close + len(_MATH_OPEN[opener]))
            return Statement(start, close, value, hedged=bool(_HEDGE_RE.search(value) or tail))
    if _NOT_A_VALUE_RE.match(text, at):
        return None
    end = _plain_end(text, at)
    value = text[at:end].strip(" *")
    if not value or (has_box and not _MATHLIKE_RE.search(value)):
        return None  # "The final answer is positive, because …" after a \boxed{} is a remark
    return Statement(start, end, value, hedged=bool(_HEDGE_RE.search(value)))


def _plain_end(text: str, at: int) -> int:
    """End of a plain-text value: the first sentence end, comma or "because" outside brackets,
    so that "The answer is (1, 2)." keeps its pair. One pass over at most MAX_ANSWER_CHARS."""
    window = text[at : at + MAX_ANSWER_CHARS]
    depth, last = 0, 0
    for stop in _PLAIN_STOP_RE.finditer(window):
        chunk = window[last : stop.start()]
        depth += sum(chunk.count(c) for c in "([{") - sum(chunk.count(c) for c in ")]}")
        last = stop.start()
        if depth <= 0:
            return at + stop.start()
    return at + len(window)


def _box_reader(box: Box) -> Reader:
    def read() -> Statement:
        content = box.content
        hedged = content is not None and len(content) <= MAX_ANSWER_CHARS
        return Statement(
            box.start,
            box.end,
            content,
            cut=content is None,
            hedged=hedged and bool(_HEDGE_RE.search(content or "")),
        )

    return read


def _last_statement(text: str, or_boxes_ok: bool = False) -> Statement | None:
    """The deciding statement; a box right after "… or" a previous box makes it hedged, unless
    ``or_boxes_ok`` (the item's own solution gives its answer that way)."""
    cands: list[tuple[int, Reader]] = [(b.start, _box_reader(b)) for b in boxes(text, last=2)]
    cands += [
        (m.start(), partial(_phrase_statement, text, m.start(), m.end(), bool(cands)))
        for m in _PHRASE_RE.finditer(text)
    ]
    found = last_statements(cands, n=2)
    if not found:
        return None
    both_boxes = all(text.startswith(("\\boxed", "\\fbox"), st.start) for st in found)
    if len(found) == 2 and both_boxes and not or_boxes_ok and or_between(text, found[1], found[0]):
        return found[0]._replace(hedged=True)  # "$\\boxed{2}$ or $\\boxed{3}$", not
        # "our answer is $\\sqrt[8]{8}$, or $\\boxed{C}$" (one answer in two forms)
    return found[0]


def final_answer(text: str, or_boxes_ok: bool = False) -> str | None:
    """The final answer of a MATH solution (see the module docstring), or None.

    None also for a hedged answer, one the text ends inside, and one over
    :data:`~lens_steer.tasks.grading.MAX_ANSWER_CHARS` characters. ``or_boxes_ok``: "\\boxed{3}
    or \\boxed{2/5}" is the item's own answer form (a few MATH solutions list every root so, and
    their gold is the last box), so it is not a hedge there.
    """
    last = _last_statement(own_turn(text), or_boxes_ok)
    if last is None or last.hedged or last.cut or not last.value or not last.value.strip():
        return None
    return None if len(last.value) > MAX_ANSWER_CHARS else last.value


@lru_cache(maxsize=4096)
def _answers_with_or_boxes(solution: str | None) -> bool:
    """Whether a gold solution ends "\\boxed{A} or \\boxed{B}" (4 of MATH's 5,000 test items)."""
    if not solution:
        return False
    found = boxes(solution, last=2)
    if len(found) < 2:
        return False
    earlier, later = (Statement(b.start, b.end, None) for b in found)
    return or_between(solution, earlier, later)


def last_boxed(text: str) -> str | None:
    """Content of the last complete, non-empty ``\\boxed{...}``/``\\fbox{...}``/``\\boxed x``
    (for gold solutions, which have no hallucinated turns or hedges to care about)."""
    found = [b.content for b in boxes(text) if b.content is not None and b.content.strip()]
    return found[-1] if found else None


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
        pred = final_answer(text, or_boxes_ok=_answers_with_or_boxes(example.solution))
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
