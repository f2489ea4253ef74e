"""GSM8K: grade-school word problems with a numeric answer after ``####``.

Scoring reads the stated final answer (the last ``####`` line with a number, then an "answer is"
phrase, then a ``\\boxed{}``, then the last number) and compares numbers after normalising the
ways models write them: thousands separators, ``$``, units, ``%``, trailing ``.0``, fractions.
"""

from __future__ import annotations

import random
import re
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any

from .base import DataError, Example, Task
from .loading import convert_rows, get_field, load_hub_rows, read_jsonl, resolve_data_dir

__all__ = ["GSM8K", "canonical_number", "find_numbers", "parse_gsm8k", "FINAL_LINE"]

FINAL_LINE = "#### The final answer is: {answer}"

# A number not glued to a word: optional sign (only when it is not a binary minus), optional $,
# digits with optional thousands separators and decimals, optional simple fraction.
_NUM_RE = re.compile(
    r"(?<![\w.])(?:(?P<sign>[-−])(?=\$?\d|\.\d))?(?:\$\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:/(?P<den>\d+)(?![\d.,]\d))?"
)
_CALC_RE = re.compile(r"<<[^<>]*>>")
_ANSWER_PHRASE_RE = re.compile(r"answer\s*(?:is|=|:)\s*:?", re.IGNORECASE)
_BOXED_RE = re.compile(r"\\(?:boxed|fbox)\s*\{([^{}]*)\}")


def _format_fraction(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:  # not a terminating decimal: keep it exact
        return f"{value.numerator}/{value.denominator}"
    with localcontext() as ctx:
        ctx.prec = 60
        dec = Decimal(value.numerator) / Decimal(value.denominator)
    return format(dec.normalize(), "f")


def _match_value(m: re.Match[str]) -> Fraction | None:
    try:
        value = Fraction(m.group("num").replace(",", ""))
        if m.group("den"):
            den = int(m.group("den"))
            if den == 0:
                return None
            value /= den
    except (ValueError, ZeroDivisionError):
        return None
    return -value if m.group("sign") else value


def find_numbers(text: str) -> list[str]:
    """Every number in ``text`` in canonical form, in order."""
    out = []
    for m in _NUM_RE.finditer(text):
        value = _match_value(m)
        if value is not None:
            out.append(_format_fraction(value))
    return out


def canonical_number(text: str) -> str | None:
    """The first number in ``text`` in canonical form ("1,080.00" → "1080"), or None."""
    nums = find_numbers(text)
    return nums[0] if nums else None


def _after_phrase(line: str) -> str:
    """The part of a line after its last "answer is"/"answer:" phrase (whole line if none)."""
    matches = list(_ANSWER_PHRASE_RE.finditer(line))
    return line[matches[-1].end() :] if matches else line


def parse_gsm8k(text: str) -> str | None:
    """The final numeric answer stated in ``text`` (see the module docstring), or None."""
    lines = text.splitlines()
    for line in reversed(lines):
        if "####" in line:
            num = canonical_number(_after_phrase(line.split("####", 1)[1]))
            if num is not None:
                return num
    for line in reversed(lines):
        if _ANSWER_PHRASE_RE.search(line):
            num = canonical_number(_after_phrase(line))
            if num is not None:
                return num
    boxed = _BOXED_RE.findall(text)
    for content in reversed(boxed):
        num = canonical_number(content)
        if num is not None:
            return num
    nums = find_numbers(text)
    return nums[-1] if nums else None


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
    return _format_fraction(y)


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
        return parse_gsm8k(self.truncate(text))

    def corrupt(self, ex: Example, rng: random.Random) -> str | None:
        """Gold reasoning whose final answer (and its last mention in the steps) is altered."""
        wrong = _alter(ex.answer, rng)
        body = self.reasoning(ex)
        hits = [
            m
            for m in _NUM_RE.finditer(body)
            if (v := _match_value(m)) is not None and _format_fraction(v) == ex.answer
        ]
        if hits:
            m = hits[-1]
            token = f"${wrong}" if "$" in m.group(0) else wrong
            body = f"{body[: m.start()]}{token}{body[m.end() :]}"
        return f"{body}\n{FINAL_LINE.format(answer=wrong)}"
