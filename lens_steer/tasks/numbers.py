"""Numbers as models write them: ``1,080``, ``70 000``, ``$3.50``, ``- 10``, ``1/2``, "eighteen".

:func:`find_numbers` reads every number of running text (reasoning, the last-number fallback).
:func:`read_value` reads the value that an answer statement gives, which may be written more
loosely ("negative 10", "twenty-one", "70 000", "10 + 10 = 20"). Both return canonical strings:
integers without ``.0``, terminating decimals normalised, other fractions exact.
"""

from __future__ import annotations

import re
from decimal import Decimal, localcontext
from fractions import Fraction

__all__ = [
    "find_numbers",
    "canonical_number",
    "format_fraction",
    "number_of",
    "read_value",
    "NUM_RE",
]

# A number not glued to a word: optional sign (only when it is not a binary minus), optional $,
# digits with optional thousands separators and decimals, optional simple fraction.
NUM_RE = re.compile(
    r"(?<![\w.])(?:(?P<sign>[-−])(?=\$?\d|\.\d))?(?:\$ ?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:/(?P<den>\d+)(?![\d.,]\d))?"
)
# The value right where an answer statement puts it: also "- 10", "negative 10", "70 000".
_VALUE_RE = re.compile(
    r"(?P<sign>[-−–] ?|(?:negative|minus) )?(?:\$ ?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?:[ \u2009\u202f]\d{3})+(?![\d,])(?:\.\d+)?"
    r"|\d+(?:\.\d+)?|\.\d+)"
    r"(?:/(?P<den>\d+)(?![\d.,]\d))?(?![\w])",
    re.IGNORECASE,
)
_RESULT_LEAD = re.compile(r" ?(?:\\\$|\$|\*\*|\\boxed\{)? ?")
_OPERATOR = re.compile(r" ?(?:[-+*/×÷x−]|\\times|\\cdot) ?(?:\$ ?)?\(?\d")
_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
    if w != "_"
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_WORD_RE = re.compile(r"(?:negative |minus )?[a-z]+(?:[- ](?:and )?[a-z]+){0,8}", re.IGNORECASE)


def format_fraction(value: Fraction) -> str:
    """Canonical text of a number: ``18``, ``0.75``, ``1/3`` (non-terminating stays exact)."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    with localcontext() as ctx:
        ctx.prec = 60
        dec = Decimal(value.numerator) / Decimal(value.denominator)
    return format(dec.normalize(), "f")


def _match_value(m: re.Match[str]) -> Fraction | None:
    den = int(m.group("den")) if m.group("den") else 1
    if den == 0:
        return None
    try:
        value = Fraction(re.sub(r"[, \u2009\u202f]", "", m.group("num"))) / den
    except (ValueError, ZeroDivisionError):
        return None
    return -value if m.group("sign") else value


def number_of(m: re.Match[str]) -> str | None:
    """The canonical number of a :data:`NUM_RE` match (None for a zero denominator)."""
    value = _match_value(m)
    return None if value is None else format_fraction(value)


def find_numbers(text: str) -> list[str]:
    """Every number in ``text`` in canonical form, in order."""
    out = []
    for m in NUM_RE.finditer(text):
        value = _match_value(m)
        if value is not None:
            out.append(format_fraction(value))
    return out


def canonical_number(text: str) -> str | None:
    """The first number in ``text`` in canonical form ("1,080.00" → "1080"), or None."""
    nums = find_numbers(text)
    return nums[0] if nums else None


def _words_value(words: str) -> tuple[int | None, int]:
    """The integer spelled by the leading number words of ``words`` and how many chars it used."""
    total, current, used, seen = 0, 0, 0, False
    sign = 1
    for m in re.finditer(r"[a-z]+|[- ]", words.lower()):
        tok = m.group(0)
        if tok in "- " or tok == "and":
            continue
        if tok in ("negative", "minus") and not seen:
            sign = -1
        elif tok in _UNITS:
            current += _UNITS[tok]
        elif tok in _TENS:
            current += _TENS[tok]
        elif tok in _SCALES and seen:
            scale = _SCALES[tok]
            if scale == 100:
                current *= 100
            else:
                total += current * scale
                current = 0
        else:
            break
        seen = seen or tok not in ("negative", "minus")
        used = m.end()
    if not seen or used == 0:
        return None, 0
    return sign * (total + current), used


def read_value(text: str, pos: int, end: int) -> tuple[str | None, int]:
    """The number an answer statement states at ``text[pos:end]`` and where it stops.

    A calculation ("10 + 10 = 20") gives the result after its last ``=`` before ``end``; one
    without a result gives None. Returns ``(None, pos)`` when no number starts at ``pos``.
    """
    m = _VALUE_RE.match(text, pos, end)
    if m is None:
        w = _WORD_RE.match(text, pos, end)
        value, used = _words_value(w.group(0)) if w else (None, 0)
        return (None, pos) if value is None else (str(value), pos + used)
    value = _match_value(m)
    stop = m.end()
    if _OPERATOR.match(text, stop, end):
        eq = text.rfind("=", stop, end)
        if eq == -1:
            return None, stop
        lead = _RESULT_LEAD.match(text, eq + 1, end)
        return read_value(text, lead.end() if lead else eq + 1, end)
    return (None if value is None else format_fraction(value)), stop
