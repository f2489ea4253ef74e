"""ARC (AI2 Reasoning Challenge), Challenge and Easy sets: multiple choice, graded by label.

Grading follows ``docs/grading.md``: within the model's own turn (a hallucinated next question is
cut), the last answer statement counts — "The answer is (B)", "Answer: B", "the answer is b",
``\\boxed{B}``, "option B is correct", "B is the best choice", "(B) … is correct" in an option
review, "I choose B", a bare "B." opening the answer, or "the answer is <the text of option B>".
"The answer is B or C" is hedged and wrong; a text that ends inside its answer phrase is cut off and
wrong. Without any statement a lone "(B)" (the only option named so) counts. Labels are the
example's own ("A"-"E", or "1"-"5" on a few rows): a letter maps to a digit label by position, and
a bare digit is a label only where the example's labels are digits, since "the answer is 2" usually
means a quantity, not option B.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from .arc_fewshot import FEWSHOT_IDS, RATIONALES
from .base import DataError, Example, Task
from .grading import (
    MAX_ANSWER_CHARS,
    Reader,
    Statement,
    last_statements,
    negated,
    or_between,
    own_turn,
)
from .loading import convert_rows, get_field, load_hub_rows, read_jsonl, resolve_data_dir

__all__ = ["ARC", "ARCChallenge", "ARCEasy", "parse_arc", "answer_line"]

_FILE_SPLIT = {"train": "Train", "dev": "Dev", "test": "Test"}
_HUB_SPLIT = {"train": "train", "dev": "validation", "test": "test"}

_L = r"[A-Ea-e1-5]"
_BOXED = re.compile(rf"\\boxed\{{ ?(?:\\text(?:bf)?\{{ ?)?\(? ?({_L}) ?\)? ?\}}? ?\}}")
_PHRASE = re.compile(
    r"\b(?:answer|option|choice)\**:?\** ?(?:is|would be|should be|=|:)\**:?", re.IGNORECASE
)
_PHRASE_VALUE = re.compile(
    r" ?(?:option |choice |letter )?[*_]{0,4} ?(?P<open>[(\[])? ?"
    rf"(?P<label>{_L}) ?(?P<close>[)\]])?",
    re.IGNORECASE,
)
_IS_BEST = re.compile(
    r"(?<![\w(])(?:(?i:option|choice) )?(?P<open>\()?(?P<label>[A-E1-5])\)?\**"
    r" (?i:is|would be|seems to be) (?i:the )?"
    r"(?i:correct|right|best|most (?:likely|accurate|reasonable))\b"
)
_REVIEW = re.compile(
    rf"\((?P<label>{_L})\)[^\n()]{{0,200}}? is (?:the )?(?:correct|right|best)\b", re.IGNORECASE
)
_CHOOSE = re.compile(  # the label upper-case: "I choose a rock" is not option A
    r"\b(?i:I (?:choose|select|pick|go with|would choose|will choose)|my (?:answer|choice) is)"
    r" (?i:option |choice )?\(?(?P<label>[A-E])\)?(?![\w])"
)
_START = re.compile(
    rf"^[*_ ]{{0,4}}(?:\((?P<a>{_L})\)|(?P<b>[A-E])(?:[).:*]|(?=\n|$))|(?P<c>[1-5])[).]?(?=\n|$))"
)
_LINE_LABEL = re.compile(r"(?m)^[*_ ]{0,4}\(?(?P<label>[A-E1-5])\)?[*_ .]{0,4}$")
_PAREN = re.compile(r"\(([A-E])\)")
_HEDGE_AFTER = re.compile(  # "C or D", "(A) and (C)"; not "B, and A is wrong because"
    r"\)? ?\**,? ?(?i:or|and|/|and/or) ?(?i:possibly |maybe |perhaps |even )?"
    r"(?i:option |choice )?(?:\((?i:[A-E1-5])\)|[A-E1-5](?![\w]))"
    r"(?! ?(?i:is|was|isn't|seems|would|does|can)\b)"
)
_OPTION_LINE = re.compile(r"(?m)^[*_ ]{0,4}\(?[A-E1-5][).:] ")
_CORRECTION = re.compile(
    r"\b(?i:it is|it's|it must be|it should be|instead|make that|change (?:my answer )?to)"
    r" (?i:option |choice )?(?P<open>\()?(?P<label>[A-E1-5])(?(open)\)|(?![\w]))"
)
_HEDGE_BEFORE = re.compile(  # "either C", "Option C or D is correct"
    r"(?:\b(?i:either|between|both)|(?<![\w])\(?[A-E1-5]\)?,? (?i:or|and|/|and/or))\W{0,3}$"
)


def answer_line(label: str) -> str:
    """The required last line of an ARC answer."""
    return f"The answer is ({label})"


_WORD_CHAR = re.compile(r"\w")
_ALONE = re.compile(r" ?(?:$|[.,;:!?*\n])")


def _phrase_ok(m: re.Match[str], text: str) -> bool:
    """Reject "the answer is a rock": a lower-case letter must stand alone."""
    label = m.group("label")
    if m.group("open") and m.group("close"):
        return True
    rest = text[m.end() if m.group("close") else m.end("label") : m.end() + 3]
    if label.isdigit() or label.isupper():
        return not _WORD_CHAR.match(rest)  # "A" in "Answer: AB" is not a label
    return _ALONE.match(rest) is not None


def _to_label(raw: str, labels: Sequence[str] | None) -> str | None:
    """Map a raw label to one of ``labels`` (letter → digit by position if needed)."""
    raw = raw.upper()
    if not labels:
        return None if raw.isdigit() else raw
    if raw in labels:
        return raw
    if raw.isalpha() and all(lab.isdigit() for lab in labels):
        idx = ord(raw) - ord("A")
        return labels[idx] if idx < len(labels) else None
    return None


_NON_WORD = re.compile(r"[^a-z0-9]+")
_LINE_END = re.compile(r"\n|[.!?](?= |$)")


def _norm(s: str) -> str:
    return _NON_WORD.sub(" ", s.lower()).strip()


class _Item:
    """The item's labels and options, and the label a raw statement value or an option's whole
    text maps to (options normalised once, not once per phrase)."""

    def __init__(self, labels: Sequence[str] | None, choices: Sequence[str] | None):
        self.labels, self.choices = labels, choices
        # how far after "the answer is" an option's text can reach: bounds the work per phrase
        self.reach = min(MAX_ANSWER_CHARS, max((len(c) for c in choices or ()), default=0) + 40)
        by_text: dict[str, str | None] = {}
        for c, lab in zip(choices or (), labels or (), strict=False):
            key = _norm(c)
            if key:
                by_text[key] = None if key in by_text else lab  # two equal options: no answer
        self.by_text = by_text

    def label(self, raw: str) -> str | None:
        return _to_label(raw, self.labels)

    def option_by_text(self, text: str) -> str | None:
        """The label of the option whose whole text ``text`` states (case, punctuation aside)."""
        return self.by_text.get(_norm(text[:MAX_ANSWER_CHARS])) if self.by_text else None


def _statement(text: str, start: int, m: re.Match[str] | None, item: _Item) -> Statement | None:
    if m is None or item.label(m.group("label")) is None:
        return None
    hedged = bool(_HEDGE_AFTER.match(text, m.end(), m.end() + 40))
    before = text[max(0, m.start("label") - 16) : m.start("label")]
    hedged = hedged or bool(_HEDGE_BEFORE.search(before))
    return Statement(start, m.end(), item.label(m.group("label")), hedged=hedged)


def _phrase_statement(text: str, m: re.Match[str], item: _Item) -> Statement | None:
    if negated(text, m.end()):
        return None
    rest = text[m.end() : m.end() + item.reach + 8].strip(" *(:[")
    if not rest and m.end() + item.reach + 8 >= len(text):
        return Statement(m.start(), len(text), None, cut=True)
    v = _PHRASE_VALUE.match(text, m.end())
    if v is not None and v.group("open") and v.group("close"):  # "(C)" is a label, even when
        return _statement(text, m.start(), v, item)  # an option's text is "C"
    if item.labels and item.choices:  # "the answer is <the text of one option>", even "A rock"
        line = _LINE_END.split(rest, maxsplit=1)[0]
        lab = item.option_by_text(line)
        if lab is not None:
            return Statement(m.start(), m.end() + len(line), lab)
    if v is not None and _phrase_ok(v, text):
        return _statement(text, m.start(), v, item)
    return None


def _candidates(text: str, item: _Item) -> list[tuple[int, Reader]]:
    cands: list[tuple[int, Reader]] = []
    for m in _BOXED.finditer(text):
        lab = item.label(m.group(1))
        if lab is not None:
            cands.append((m.start(), lambda m=m, lab=lab: Statement(m.start(), m.end(), lab)))
    for m in _PHRASE.finditer(text):
        cands.append((m.start(), partial(_phrase_statement, text, m, item)))
    for pattern in (_IS_BEST, _REVIEW, _CHOOSE, _CORRECTION, _LINE_LABEL):
        for m in pattern.finditer(text):
            cands.append((m.start(), partial(_statement, text, m.start(), m, item)))
    start = _START.match(text)
    listed = len(_OPTION_LINE.findall(text, 0, 4 * MAX_ANSWER_CHARS)) >= 2  # an echoed list
    if start is not None and not listed:
        raw = start.group("a") or start.group("b") or start.group("c")
        if (lab := item.label(raw)) is not None or (raw.isdigit() and not item.labels):
            hedged = bool(_HEDGE_AFTER.match(text, start.end(), start.end() + 40))
            st = Statement(0, start.end(), lab or raw, hedged=hedged)
            cands.append((0, lambda st=st: st))
    return cands


def parse_arc(
    text: str, labels: Sequence[str] | None = None, choices: Sequence[str] | None = None
) -> str | None:
    """The option chosen in ``text`` (see the module docstring), or None.

    With ``labels``/``choices`` of an example the result is one of its labels; without them a
    bare digit counts only when it is the whole answer.
    """
    turn = own_turn(text)
    item = _Item(labels, choices)
    found = last_statements(_candidates(turn, item), n=2)
    if found:
        last = found[0]
        if len(found) == 2 and or_between(turn, found[1], last):
            return None  # "\\boxed{C} or \\boxed{D}"
        return None if last.hedged or last.cut else last.value
    parens = {p for p in _PAREN.findall(turn) if item.label(p) is not None}
    if len(parens) == 1:
        return item.label(parens.pop())
    if labels and choices:
        return item.option_by_text(turn.rstrip(" .!*"))
    return None


class ARC(Task):
    """``allenai/ai2_arc`` or the AI2 JSONL files (``ARC-<Subset>-{Train,Dev,Test}.jsonl``).

    Validation is the official Dev split (subsampled with the seed when ``n_val`` is smaller).
    """

    name = "arc"
    subset = ""
    prompt_family = "arc"
    hub_id = "allenai/ai2_arc"
    val_source = "dev"
    default_n_val = None

    def _read(self, split: str) -> list[Example]:
        def convert(row: dict[str, Any], index: int, where: str) -> Example:
            return self._convert(row, where, split)

        if self.data_dir is None:
            return convert_rows(load_hub_rows(self.hub_id, self.subset, _HUB_SPLIT[split]), convert)
        files = [f"{self.subset}-{s}.jsonl" for s in _FILE_SPLIT.values()]
        folder = resolve_data_dir(self.data_dir, self.name, files)
        return convert_rows(
            read_jsonl(Path(folder) / f"{self.subset}-{_FILE_SPLIT[split]}.jsonl"), convert
        )

    def _convert(self, row: dict[str, Any], where: str, split: str) -> Example:
        rid = get_field(row, "id", where)
        q = get_field(row, "question", where, (str, dict))
        if isinstance(q, dict):  # AI2 JSONL: question = {stem, choices: [{text, label}]}
            stem = get_field(q, "stem", where)
            raw = get_field(q, "choices", where, list)
            try:
                texts = [str(c["text"]) for c in raw]
                labels = [str(c["label"]).strip() for c in raw]
            except (KeyError, TypeError):
                raise DataError(f"{where}: each choice needs 'text' and 'label'") from None
        else:  # hub: question = stem, choices = {text: [...], label: [...]}
            stem = q
            ch = get_field(row, "choices", where, dict)
            texts = [str(t) for t in ch.get("text", [])]
            labels = [str(lab).strip() for lab in ch.get("label", [])]
            if len(texts) != len(labels):
                raise DataError(f"{where}: {len(texts)} choice texts but {len(labels)} labels")
        key = str(get_field(row, "answerKey", where, (str, int))).strip()
        if len(texts) < 2:
            raise DataError(
                f"{where}: a multiple-choice row needs at least 2 choices, got {len(texts)}"
            )
        if len(set(labels)) != len(labels):
            raise DataError(f"{where}: duplicate choice labels {labels}")
        if key not in labels:
            raise DataError(f"{where}: answerKey {key!r} is not one of the labels {labels}")
        return Example(
            id=rid,
            question=stem.strip(),
            answer=key,
            choices=tuple(t.strip() for t in texts),
            labels=tuple(labels),
            source=split,
        )

    def format_question(self, ex: Example) -> str:
        opts = "\n".join(f"({lab}) {txt}" for lab, txt in zip(ex.labels, ex.choices, strict=True))
        return f"{ex.question}\n{opts}"

    def format_solution(self, ex: Example) -> str:
        why = RATIONALES.get(ex.id)
        line = answer_line(ex.answer)
        return f"{why}\n{line}" if why else line

    def _select_fewshot(self, train: Sequence[Example]) -> list[Example]:
        """The hand-picked exemplars with written rationales; if a copy of the data lacks some of
        them, answer-only exemplars from a fixed-seed draw fill the gap."""
        by_id = {e.id: e for e in train}
        picked = [by_id[i] for i in FEWSHOT_IDS.get(self.name, ()) if i in by_id]
        rest = [e for e in super()._select_fewshot(train) if e not in picked]
        return (picked + rest)[:5]

    def _fewshot_ok(self, ex: Example) -> bool:
        return len(ex.labels) == 4 and all(lab.isalpha() for lab in ex.labels)

    def choice_text(self, ex: Example, label: str) -> str:
        return ex.choices[ex.labels.index(label)]

    def pair_answer(self, ex: Example) -> str:
        return f"{answer_line(ex.answer)} {self.choice_text(ex, ex.answer)}"

    def parse(self, text: str, example: Example | None = None) -> str | None:
        if example is None:
            return parse_arc(text)
        return parse_arc(text, example.labels, example.choices)

    def is_correct(self, text: str, example: Example) -> bool:
        return self.parse(text, example) == example.answer

    def corrupt(self, ex: Example, rng: random.Random) -> str | None:
        wrong = rng.choice([lab for lab in ex.labels if lab != ex.answer])
        return f"{answer_line(wrong)} {self.choice_text(ex, wrong)}"


class ARCChallenge(ARC):
    name = "arc_challenge"
    subset = "ARC-Challenge"


class ARCEasy(ARC):
    name = "arc_easy"
    subset = "ARC-Easy"
