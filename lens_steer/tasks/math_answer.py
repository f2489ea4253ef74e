"""Reading the final answer of a MATH solution (the policy is ``docs/grading.md``).

Within the model's own turn the last answer statement counts: a ``\\boxed{...}``/``\\fbox{...}``
(nested braces matched in one pass, the brace-less ``\\boxed 5`` too), the minerva line "Final
Answer: The final answer is $X$. I hope it is correct.", or "the answer is $X$" / "the answer is
X.". An unclosed box or phrase at the end of the text (cut off), and "A or B" (hedged), give None;
there is no last-number fallback. Equivalence with the gold answer is ``math.math_equal``'s job.
"""

from __future__ import annotations

import re
from functools import lru_cache, partial

from .grading import (
    MAX_ANSWER_CHARS,
    Box,
    Reader,
    Statement,
    boxes,
    checks_answer,
    last_statements,
    negated,
    or_between,
    own_turn,
)

__all__ = ["final_answer", "last_boxed", "answers_with_or_boxes"]

_PHRASE_RE = re.compile(
    r"\b(?:final answer|answer)(?: (?:to|for) (?:the|this) (?:question|problem))?\**"
    r" ?(?:is|was|would be|will be|should be|:|=)\**:?",
    re.IGNORECASE,
)
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
    if negated(text, pos) or checks_answer(text, start):
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
def answers_with_or_boxes(solution: str | None) -> bool:
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
