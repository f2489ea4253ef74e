"""What every task's grader shares: the model's own turn, and bounded-time text scanning.

The policy is in ``docs/grading.md``. In short: only the model's own turn is graded (a
hallucinated next "Question:"/"Problem:"/chat turn is cut first); within it the *last* answer
statement counts; a hedged statement, or a text that ends inside its last statement, is wrong.

Every pattern here and in the task parsers runs in time linear in the input. Whitespace runs are
folded to one character before any pattern sees the text, so no ``\\s*`` can meet a flood of
200,000 spaces, and the remaining patterns have no nested or adjacent unbounded quantifiers that
could match the same characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = [
    "MAX_ANSWER_CHARS",
    "TURN_MARKERS",
    "Statement",
    "check_text",
    "squeeze",
    "own_turn",
    "last_statements",
    "sentence_end",
    "checks_answer",
    "negated",
    "ends_finished",
    "Box",
    "boxes",
    "or_between",
]

MAX_ANSWER_CHARS = 1000
"""An answer value longer than this is not graded (no real answer is; a flood would be slow)."""

TURN_MARKERS = (
    "Question:",
    "Question N:",
    "Q:",
    "Problem:",
    "Problem N:",
    "Exercise:",
    "Human:",
    "User:",
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|user|>",
    "<|end|>",
    "</s>",
)
"""The documented markers of a new turn (``N`` is a number); case-sensitive."""

_WORD_MARKER = re.compile(  # not after a lower-case word: "restate the Problem:" is prose
    r"(?<![\w])(?<![a-z,;] )(?:(?:Question|Problem|Exercise)(?: ?#?\d{1,4})?|Q|Human|User)\**:"
)
_TOKEN_MARKER = re.compile("|".join(re.escape(m) for m in TURN_MARKERS if m.startswith("<")))
_SPACE_RUN = re.compile(r"\s+")
_LEAD = re.compile(r"[\s*#_>]*")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def check_text(text: Any, name: str = "text") -> str:
    """``text`` itself when it is a string; otherwise a TypeError naming the argument."""
    if not isinstance(text, str):
        raise TypeError(
            f"{name} must be the model's output as a str, got {type(text).__name__}"
            + (" (None: was the generation empty or missing?)" if text is None else "")
        )
    return text


def _fold(m: re.Match[str]) -> str:
    return "\n" if "\n" in m.group(0) else " "


def squeeze(text: str) -> str:
    """Each whitespace run folded to one newline (if it held one) or one space; ends stripped."""
    return _SPACE_RUN.sub(_fold, text).strip()


def own_turn(text: str) -> str:
    """``text`` squeezed and cut at the first hallucinated new turn (see :data:`TURN_MARKERS`).

    A marker at the very start (a model restating "Question: …") is not a cut.
    """
    text = squeeze(check_text(text))
    start = _LEAD.match(text)
    first = start.end() if start else 0
    cut = len(text)
    for pattern in (_WORD_MARKER, _TOKEN_MARKER):
        for m in pattern.finditer(text, first + 1):
            cut = min(cut, m.start())
            break
    return text[:cut].rstrip()


_NEGATION = re.compile(r" ?(?:not|n't|never)\b", re.IGNORECASE)


def negated(text: str, pos: int) -> bool:
    """Whether an answer phrase ending at ``pos`` is negated ("the answer is not 23")."""
    return _NEGATION.match(text, pos) is not None


_CHECKING = re.compile(
    r"(?i:check|checking|verify|verifying|confirm|confirming|test) (?i:our|the|my|this) $"
)


def checks_answer(text: str, phrase_start: int) -> bool:
    """Whether an "answer:" phrase is a check of the answer ("We may check our answer: …")."""
    return _CHECKING.search(text, max(0, phrase_start - 24), phrase_start) is not None


def sentence_end(text: str, pos: int) -> int:
    """Index of the end of the sentence or line that contains ``pos`` (exclusive of the mark).

    The search looks at most :data:`MAX_ANSWER_CHARS` ahead, so many statements in one endless
    line still cost linear time.
    """
    stop = min(len(text), pos + MAX_ANSWER_CHARS)
    m = _SENTENCE_END.search(text, pos, stop)
    return m.start() if m else stop


class Statement(NamedTuple):
    """An answer statement: where it is, its value, and whether it can be graded.

    ``value`` is None for a statement without a usable value; ``hedged`` marks two different
    values; ``cut`` marks a statement that the end of the text interrupted.
    """

    start: int
    end: int
    value: str | None
    hedged: bool = False
    cut: bool = False


Reader = Callable[[], "Statement | None"]


def last_statements(candidates: list[tuple[int, Reader]], n: int = 1) -> list[Statement]:
    """The last ``n`` answer statements, last first, read lazily from the end of the turn.

    A candidate is where a statement may start and a function that reads it (None: not a
    statement after all). Reading from the end means a flood of phrases costs one read each at
    most, and a normal answer one or two reads in all.
    """
    out: list[Statement] = []
    for _, read in sorted(candidates, key=lambda c: c[0], reverse=True):
        st = read()
        if st is not None:
            out.append(st)
            if len(out) == n:
                break
    return out


_TRAILING_DECOR = " _$)]\"'”’»`~"
_LONE_OR_EQUATION = re.compile(r"^[^A-Za-z]*\d$|= ?(?:\\?\$ ?)?-?[\d,.]*\d$")


def ends_finished(text: str) -> bool:
    """Whether a turn ends like a finished answer: a closing ``.!?``, or an equation/number line.

    Text that a token limit interrupted mid-sentence ("So, 20 /", "she will make 18 *") is not.
    """
    last = text.rsplit("\n", 1)[-1].rstrip(_TRAILING_DECOR)
    kept = len(last) - 64  # only the end decides; emoji are dropped from there
    last = last[: max(kept, 0)] + "".join(ch for ch in last[max(kept, 0) :] if not _is_symbol(ch))
    last = last.rstrip(_TRAILING_DECOR)
    bare = last.rstrip("*")
    if len(last) - len(bare) == 1:  # a multiplication that the token limit cut
        return False
    last = bare.rstrip(_TRAILING_DECOR)  # closing bold
    if not last:
        return False
    if last[-1] in ".!?":
        return True
    return bool(_LONE_OR_EQUATION.search(last))


def _is_symbol(ch: str) -> bool:
    """Emoji and pictographs that models append after an answer."""
    return ord(ch) >= 0x2190 and not ch.isalnum()


class Box(NamedTuple):
    """A ``\\boxed``/``\\fbox``: its span, and where its content lies in ``text``.

    The content is sliced only when asked for (:attr:`content`), so a thousand nested boxes do
    not make a thousand copies of the text.
    """

    start: int
    end: int
    lo: int
    hi: int  # -1: the box never closes
    text: str

    @property
    def content(self) -> str | None:
        return None if self.hi < 0 else self.text[self.lo : self.hi]


_BOX_CMD = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BARE_BOX = re.compile(r"[^\s$]{1,100}")


_BRACE_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)


def _closing_braces(text: str) -> dict[int, int]:
    """For every ``{`` that closes, the index of its ``}``: one pass with a stack.

    A backslash escapes the next character, so ``\\{`` and ``\\}`` never open or close a group.
    """
    stack: list[int] = []
    out: dict[int, int] = {}
    for m in _BRACE_TOKEN.finditer(text):
        ch = m.group(0)
        if ch == "{":
            stack.append(m.start())
        elif ch == "}" and stack:
            out[stack.pop()] = m.start()
    return out


def boxes(text: str, last: int | None = None) -> list[Box]:
    """Every ``\\boxed{…}``, ``\\fbox{…}`` and brace-less ``\\boxed x`` in order, in linear time.

    ``last``: only the last so many (a grader needs the last one or two; a flood of boxes then
    costs one pass over the braces and nothing per box).
    """
    cmds = list(_BOX_CMD.finditer(text))
    if not cmds:
        return []
    closing = _closing_braces(text)
    out: list[Box] = []
    for m in reversed(cmds):
        if last is not None and len(out) == last:
            break
        box = _box_at(text, m, closing)
        if box is not None:
            out.append(box)
    return out[::-1]


def _box_at(text: str, m: re.Match[str], closing: dict[int, int]) -> Box | None:
    i = m.end()
    if i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] == "{":
        close = closing.get(i)
        if close is None:
            return Box(m.start(), len(text), i + 1, -1, text)
        return Box(m.start(), close + 1, i + 1, close, text)
    if i == len(text):
        return Box(m.start(), i, i, -1, text)
    if tok := _BARE_BOX.match(text, i):
        content = tok.group(0).rstrip(".,")
        return Box(m.start(), tok.end(), i, i + len(content), text)
    return None


_OR_GAP = re.compile(r"[ $.,)*]{0,6}(?:or|and/or|\\text\{ ?or ?\}|/)[ $(*]{0,6}", re.IGNORECASE)


def or_between(text: str, earlier: Statement, later: Statement) -> bool:
    """Whether two statements are alternatives joined by "or" ("$\\boxed{2}$ or $\\boxed{3}$")."""
    if not 0 <= later.start - earlier.end <= 20:
        return False
    m = _OR_GAP.fullmatch(text, earlier.end, later.start)
    return m is not None
