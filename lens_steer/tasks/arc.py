"""ARC (AI2 Reasoning Challenge), Challenge and Easy sets: multiple choice, graded by label.

Labels are the example's own ("A"-"E", or "1"-"5" on a few rows). The parser accepts the usual
ways a model states its choice ("The answer is (B)", "Answer: B", "the answer is b",
``\\boxed{B}``, a bare "B." at the start) and maps a letter to a numeric label by position when
the example uses digits. A bare digit is accepted only where the example's labels are digits,
since "the answer is 2" usually means a quantity, not option B.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .arc_fewshot import FEWSHOT_IDS, RATIONALES
from .base import DataError, Example, Task
from .loading import convert_rows, get_field, load_hub_rows, read_jsonl, resolve_data_dir

__all__ = ["ARC", "ARCChallenge", "ARCEasy", "parse_arc", "answer_line"]

_FILE_SPLIT = {"train": "Train", "dev": "Dev", "test": "Test"}
_HUB_SPLIT = {"train": "train", "dev": "validation", "test": "test"}

_L = r"[A-Ea-e1-5]"
_BOXED = re.compile(rf"\\boxed\{{\s*(?:\\text(?:bf)?\{{\s*)?\(?\s*({_L})\s*\)?\s*\}}?\s*\}}")
_PHRASE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|would be|should be|=|:)\s*:?\s*"
    r"(?:option|choice|letter)?\s*[*_]*\s*(?P<open>[(\[])?\s*"
    rf"(?P<label>{_L})\s*(?P<close>[)\]])?",
    re.IGNORECASE,
)
_OPTION_IS = re.compile(
    rf"(?:option|choice)\s+\(?(?P<label>{_L})\)?\s+is\s+(?:the\s+)?(?:correct|right|best)",
    re.IGNORECASE,
)
_CHOOSE = re.compile(
    r"\b(?:choose|select|pick|go with)\s+(?:option\s+|choice\s+)?\(?(?P<label>[A-E])\)?(?![\w])"
)
# A label opening the text: "(B) ...", "B. ...", "B", "**B**"; a digit only as the whole answer.
_START = re.compile(
    rf"^\s*[*_]*(?:\((?P<a>{_L})\)|(?P<b>[A-E])(?:[).:*]|\s*$)|(?P<c>[1-5])[).]?\s*$)"
)
_PAREN = re.compile(r"\(([A-E])\)")
_ANSWER_TEXT = re.compile(r"answer\s*(?:is|:)\s*:?\s*(.+?)\s*(?:[.\n]|$)", re.IGNORECASE)


def answer_line(label: str) -> str:
    """The required last line of an ARC answer."""
    return f"The answer is ({label})"


def _phrase_ok(m: re.Match[str], text: str) -> bool:
    """Reject "the answer is a rock": a lower-case letter must stand alone."""
    label = m.group("label")
    if m.group("open") and m.group("close"):
        return True
    rest = text[m.end() if m.group("close") else m.end("label") :]
    if label.isdigit() or label.isupper():
        return not re.match(r"[\w]", rest)  # "A" in "Answer: AB" is not a label
    return re.match(r"\s*(?:$|[.,;:!?*\n])", rest) is not None


def _to_label(raw: str, labels: Sequence[str] | None) -> str | None:
    """Map a raw label to one of ``labels`` (letter → digit by position if needed)."""
    raw = raw.upper()
    if not labels:
        return raw
    if raw in labels:
        return raw
    if raw.isalpha() and all(lab.isdigit() for lab in labels):
        idx = ord(raw) - ord("A")
        return labels[idx] if idx < len(labels) else None
    return None


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


def parse_arc(
    text: str, labels: Sequence[str] | None = None, choices: Sequence[str] | None = None
) -> str | None:
    """The option chosen in ``text`` (see the module docstring), or None.

    Candidates come in priority classes (``\\boxed``, an "answer is" phrase, a label opening the
    text, a last "(X)"); within a class the last one wins, so a corrected answer counts.
    With ``labels``/``choices`` of an example the result is one of its labels.
    """
    phrases = [m for m in _PHRASE.finditer(text) if _phrase_ok(m, text)]
    phrases += [*_OPTION_IS.finditer(text), *_CHOOSE.finditer(text)]
    start = _START.match(text)
    parens = _PAREN.findall(text)
    classes: list[list[str]] = [
        [m.group(1) for m in _BOXED.finditer(text)],
        [m.group("label") for m in sorted(phrases, key=lambda m: m.start())],
        [start.group("a") or start.group("b") or start.group("c")] if start else [],
        # a lone "(X)" counts only when no other option is named that way (not an option review)
        parens if len(set(parens)) == 1 else [],
    ]
    for k, cands in enumerate(classes):
        mapped = [lab for raw in cands if (lab := _to_label(raw, labels)) is not None]
        if labels is None and k != 2:
            # Without an example a bare digit is only a label when it is the whole answer.
            mapped = [lab for lab in mapped if not lab.isdigit()]
        if mapped:
            return mapped[-1]
    if labels and choices:
        options = {_norm(c): lab for c, lab in zip(choices, labels, strict=True)}
        for m in reversed(list(_ANSWER_TEXT.finditer(text))):
            lab = options.get(_norm(re.sub(r"^\(?[A-E1-5]\)\s*", "", m.group(1))))
            if lab is not None:
                return lab
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
        text = self.truncate(text)
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
