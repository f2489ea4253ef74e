"""GSM8K: grade-school word problems with a numeric answer after ``####``.

Grading follows ``docs/grading.md``: within the model's own turn (a hallucinated next question is
cut), the last answer statement counts — a ``####`` line that starts with a number or an answer
phrase (a Markdown heading such as ``#### Step 2: Revenue`` is not one), "the answer is N",
"Answer: N", or ``\\boxed{N}``. A statement followed by a calculation gives its result
("The answer is 10 + 10 = 20." → 20); a negated one ("the answer is not 23") is no statement; a
hedged one ("260 or 263") or one the text ends inside is wrong. Only without any statement does the
last number count, and only when the turn ends like a finished answer, not mid-sentence. Numbers
are compared after normalising separators, ``$``, units, ``%``, ``.0``, signs and number words.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

from .base import DataError, Example, Task
from .grading import (
    MAX_ANSWER_CHARS,
    Box,
    Reader,
    Statement,
    boxes,
    ends_finished,
    last_statements,
    negated,
    or_between,
    own_turn,
    sentence_end,
)
from .loading import convert_rows, get_field, load_hub_rows, read_jsonl, resolve_data_dir
from .numbers import (
    NUM_RE,
    canonical_number,
    find_numbers,
    format_fraction,
    number_of,
    read_value,
)

__all__ = ["GSM8K", "canonical_number", "find_numbers", "parse_gsm8k", "FINAL_LINE"]

FINAL_LINE = "#### The final answer is: {answer}"

_CALC_RE = re.compile(r"<<[^<>]*>>")
_PHRASE_RE = re.compile(
    r"\banswer(?: (?:to|for) (?:the|this) (?:question|problem))?\**"
    r" ?(?:is|was|would be|will be|should be|:|=)\**:?",
    re.IGNORECASE,
)
_HASHES_RE = re.compile(r"(?m)^[ >*]{0,4}#{4,}")
_HASH_ANSWER_RE = re.compile(r" ?\**(?:the )?(?:final )?answer\b", re.IGNORECASE)
_SKIP_RE = re.compile(
    r"(?:[ *_:$=(\[{]|\\\(|\\\[|\\\$|\\boxed\{|\\text(?:bf)?\{|"
    r"(?:approximately|about|exactly|roughly|either|just|only|simply)\b){0,12}",
    re.IGNORECASE,
)
# Right after a value: "or"/"to" and a second number ("260 or 263", "$10 to $12", "6 or it could
# be 16", "50 \\text{ or } 25"), or "and" a second number of another thing ("6 apples and 2
# oranges"); not a later clause ("5, which adds up to 20", "18 apples and 2 are left").
_HEDGE_AFTER_RE = re.compile(
    r"(?: ?[A-Za-z%]+){0,2}?[ }{(]{0,3},? ?(?:\\text\{ ?)?\b(?:or|to)\b[ }{]{0,3}"
    r"(?:it (?:could|might|may) be |maybe |perhaps |possibly |even )?(?:[-−$] ?)?\d"
    r"|(?: ?[A-Za-z]+)? and \$?\d[\d,.]* "
    r"(?!(?:are|is|was|were|remain|remaining|left|more|less|of|times|per|each)\b)[A-Za-z]",
    re.IGNORECASE,
)
_FRAC_RE = re.compile(r"\\[dt]?frac\{ ?(-?[\d.,]+) ?\}\{ ?(-?[\d.,]+) ?\}")
_RETRACTION_RE = re.compile(
    r"\b(?:no,? wait|wait,? (?:no|that)|that(?:'s| is) (?:wrong|not right|incorrect)|"
    r"I made a mistake|let me (?:recompute|redo|correct)|correction:)",
    re.IGNORECASE,
)
_HEADING_AFTER_RE = re.compile(r"[.):] ?\**[A-Za-z]")
_BETWEEN_RE = re.compile(r"\bbetween\b", re.IGNORECASE)


def _number_statement(text: str, start: int, pos: int) -> Statement | None:
    """The statement whose value should begin at ``pos`` (after a phrase), or None."""
    end = sentence_end(text, pos)
    if negated(text, pos):
        return None
    skip = _SKIP_RE.match(text, pos, end)
    at = skip.end() if skip else pos
    value, stop = read_value(text, at, end)
    if stop == at:  # no number right there: the sentence's first ("is that she makes $18")
        first = NUM_RE.search(text, at, end)
        if first is None:
            cut = end == len(text) and not text.endswith((".", "!", "?"))
            return Statement(start, end, None, cut=True) if cut else None
        at = first.start()
        value, stop = read_value(text, at, end)
        if stop == at:
            return None
    hedged = bool(_HEDGE_AFTER_RE.match(text, stop, end) or _BETWEEN_RE.search(text, start, at))
    return Statement(start, stop, value, hedged=hedged)


def _hash_statement(text: str, start: int, pos: int) -> Statement | None:
    """A ``####`` line: a statement when a number follows; a phrase is read as a phrase."""
    if _HASH_ANSWER_RE.match(text, pos):
        return None  # "#### The final answer is: N": the phrase is the statement
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end == -1 else line_end
    at = pos + len(text[pos : pos + 3]) - len(text[pos : pos + 3].lstrip(" *"))
    if at == line_end:
        return Statement(start, line_end, None, cut=True) if line_end == len(text) else None
    value, stop = read_value(text, at, line_end)
    if stop == at or value is None or _HEADING_AFTER_RE.match(text, stop, line_end):
        return None  # a Markdown heading such as "#### Step 2: Revenue" or "#### 3. Total"
    return Statement(start, stop, value, hedged=bool(_HEDGE_AFTER_RE.match(text, stop, line_end)))


def _box_statement(box: Box) -> Statement:
    content = box.content
    if content is None:
        return Statement(box.start, box.end, None, cut=True)
    if len(content) > MAX_ANSWER_CHARS:
        return Statement(box.start, box.end, None)
    content = _FRAC_RE.sub(r"\1/\2", content)  # \frac{36}{2} is 36/2, not 36
    value, stop = read_value(content, 0, len(content))
    if stop == 0:
        value = canonical_number(content)
    return Statement(box.start, box.end, value, hedged=bool(_HEDGE_AFTER_RE.match(content, stop)))


def _last_statement(text: str) -> Statement | None:
    cands: list[tuple[int, Reader]] = []
    for m in _PHRASE_RE.finditer(text):
        cands.append((m.start(), partial(_number_statement, text, m.start(), m.end())))
    for m in _HASHES_RE.finditer(text):
        cands.append((m.start(), partial(_hash_statement, text, m.start(), m.end())))
    for box in boxes(text, last=2):  # only the last two can decide
        cands.append((box.start, partial(_box_statement, box)))
    found = last_statements(cands, n=2)
    if len(found) == 2 and or_between(text, found[1], found[0]):
        return found[0]._replace(hedged=True)  # "$\\boxed{18}$ or $\\boxed{20}$"
    return found[0] if found else None


def parse_gsm8k(text: str) -> str | None:
    """The final numeric answer stated in ``text`` (see the module docstring), or None."""
    turn = own_turn(text)
    last = _last_statement(turn)
    retracted = _RETRACTION_RE.search(turn, last.end) if last is not None else None
    if retracted and NUM_RE.search(turn, retracted.end()):
        turn, last = turn[last.end :], None  # "The answer is 20. No wait, …": read what follows
    if last is not None:
        return None if last.hedged or last.cut else last.value
    if not ends_finished(turn):
        return None
    return _last_number(turn)


def _last_number(text: str) -> str | None:
    """The last number of ``text``, read from the end in widening windows."""
    width, lo = 256, len(text)
    while lo > 0:
        lo = max(0, len(text) - width)
        start = text.rfind(" ", 0, lo) + 1 if lo else 0  # never split a number in two
        for m in reversed(list(NUM_RE.finditer(text, start))):
            if (value := number_of(m)) is not None:
                return value
        width *= 4
    return None


def _alter(value: str, rng: random.Random) -> str:
    """A plausible wrong number near ``value`` (same sign for non-negative values)."""
    x = Fraction(value)
    if x.denominator == 1:
        delta = rng.choice([1, 2, 3, 4, 5, 10])
        if x - delta < 0 <= x or rng.random() < 0.5:
            y = x + delta
        else:
            y = x - delta
    else:
        y = x + rng.choice([1, 2]) * (1 if rng.random() < 0.5 or x < 1 else -1)
    return format_fraction(y)


class GSM8K(Task):
    """``openai/gsm8k`` (config ``main``) or ``train.jsonl``/``test.jsonl`` in ``data_dir``."""

    name = "gsm8k"
    prompt_family = "gsm8k"
    hub_id = "openai/gsm8k"
    hub_config = "main"

    def _read(self, split: str) -> list[Example]:
        def convert(row: dict[str, Any], index: int, where: str) -> Example:
            return self._convert(row, index, where, split)

        if self.data_dir is None:
            return convert_rows(load_hub_rows(self.hub_id, self.hub_config, split), convert)
        folder = resolve_data_dir(self.data_dir, self.name, ["train.jsonl", "test.jsonl"])
        return convert_rows(read_jsonl(Path(folder) / f"{split}.jsonl"), convert)

    def _convert(self, row: dict[str, Any], index: int, where: str, split: str) -> Example:
        question = get_field(row, "question", where)
        solution = get_field(row, "answer", where)
        if "####" not in solution:
            raise DataError(f"{where}: field 'answer' has no '#### <number>' final line")
        gold = canonical_number(solution.rsplit("####", 1)[1])
        if gold is None:
            raise DataError(f"{where}: the '####' line of field 'answer' holds no number")
        return Example(
            id=f"gsm8k/{split}/{index}",
            question=question.strip(),
            answer=gold,
            solution=solution,
            source=split,
        )

    def reasoning(self, ex: Example) -> str:
        """The gold worked solution without calculator annotations or its ``####`` line."""
        if not ex.solution:
            raise ValueError(f"example {ex.id!r} has no gold solution")
        body = ex.solution.rsplit("####", 1)[0]
        return _CALC_RE.sub("", body).strip()

    def format_solution(self, ex: Example) -> str:
        return f"{self.reasoning(ex)}\n{FINAL_LINE.format(answer=ex.answer)}"

    def _fewshot_ok(self, ex: Example) -> bool:
        body = self.reasoning(ex)
        return len(body) <= 350 and body.count("\n") < 6

    def parse(self, text: str, example: Example | None = None) -> str | None:
        return parse_gsm8k(text)

    def corrupt(self, ex: Example, rng: random.Random) -> str | None:
        """Gold reasoning whose final answer (and its last mention in the steps) is altered."""
        wrong = _alter(ex.answer, rng)
        body = self.reasoning(ex)
        hits = [m for m in NUM_RE.finditer(body) if canonical_number(m.group(0)) == ex.answer]
        if hits:
            m = hits[-1]
            token = f"${wrong}" if "$" in m.group(0) else wrong
            body = f"{body[: m.start()]}{token}{body[m.end() :]}"
        return f"{body}\n{FINAL_LINE.format(answer=wrong)}"
