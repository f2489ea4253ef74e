"""The task interface: examples, leakage-checked splits, prompts and scoring hooks.

A :class:`Task` knows how to read its benchmark, split it so that no example serves two roles
(pairs/train, few-shot, validation, test), render a prompt for a model, and grade an output.
Subclasses (gsm8k, math, arc) fill in the data format and the answer format.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .prompts import PromptConfig, has_chat_template, qa_text, render_chat, render_plain

__all__ = [
    "DataError",
    "UnusableRow",
    "Example",
    "Splits",
    "Task",
    "check_disjoint",
    "question_key",
]

ROLES = ("train", "val", "fewshot", "test")


class DataError(ValueError):
    """A benchmark file or row is malformed or empty; the message says where."""


class UnusableRow(DataError):
    """A well-formed row that cannot be graded (e.g. an empty gold ``\\boxed{}`` upstream)."""


@dataclass(frozen=True)
class Example:
    """One benchmark item.

    ``answer`` is the canonical gold answer (GSM8K: a normalised number; MATH: the content of the
    gold ``\\boxed{}``; ARC: the correct label). ``source`` is the official split the row came from;
    ``role`` is set by :meth:`Task.splits` so downstream code can refuse held-out examples.
    """

    id: str
    question: str
    answer: str
    solution: str | None = None
    choices: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    source: str | None = None
    role: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


def question_key(ex: Example) -> str:
    """Whitespace/case-insensitive identity of a question (with its options), to catch copies."""
    return " ".join(" ".join((ex.question, *ex.choices)).split()).lower()


def check_disjoint(groups: Mapping[str, Sequence[Example]]) -> None:
    """Raise if any example (by id or by question text) appears in two groups or twice in one."""
    seen_id: dict[str, str] = {}
    seen_text: dict[str, str] = {}
    for role, exs in groups.items():
        for ex in exs:
            for key, seen, what in (
                (ex.id, seen_id, "id"),
                (question_key(ex), seen_text, "question"),
            ):
                if key in seen:
                    other = seen[key]
                    where = f"twice in {role}" if other == role else f"in both {other} and {role}"
                    raise ValueError(
                        f"example {ex.id!r} appears {where} (same {what}): splits must be disjoint "
                        "so that pairs, few-shot, validation and test never share an item"
                    )
                seen[key] = role


@dataclass(frozen=True, eq=False)
class Splits:
    """Disjoint example lists; disjointness is checked on construction."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    fewshot: list[Example]
    seed: int = 0
    dropped: tuple[str, ...] = ()  # train ids removed because their question is held out

    def __post_init__(self) -> None:
        groups = {"train": self.train, "val": self.val, "fewshot": self.fewshot, "test": self.test}
        for role, exs in groups.items():
            if not exs and role != "fewshot":
                raise ValueError(f"the {role} split is empty: check the data files and n_val")
        check_disjoint(groups)

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "val": len(self.val),
            "fewshot": len(self.fewshot),
            "test": len(self.test),
        }

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.sizes().items())
        return f"Splits({inner}, seed={self.seed}, dropped={len(self.dropped)})"


def _with_role(exs: Sequence[Example], role: str) -> list[Example]:
    return [replace(ex, role=role) for ex in exs]


class Task:
    """Base class; see the module docstring. Subclasses set the class attributes below."""

    name: str = ""
    prompt_family: str = ""  # key into prompts.DEFAULT_PROMPTS
    val_source: str | None = None  # official split used as validation (ARC: "dev"), else carved
    default_n_val: int | None = 200
    stop_sequences: tuple[str, ...] = ("\nQuestion:",)  # ends generation; grading cuts more

    def __init__(self, data_dir: str | Path | None = None, prompts: PromptConfig | None = None):
        from .prompts import DEFAULT_PROMPTS

        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.prompts = prompts or DEFAULT_PROMPTS[self.prompt_family]
        self._cache: dict[str, list[Example]] = {}
        self.skipped: list[str] = []  # training rows left out as ungradable, with the reason

    def __repr__(self) -> str:
        where = str(self.data_dir) if self.data_dir else "hub"
        return f"{type(self).__name__}(name={self.name!r}, data={where})"

    # ---- data -------------------------------------------------------------------------------
    def load(self, split: str) -> list[Example]:
        """All examples of an official split (``"train"``, ``"test"``, ARC also ``"dev"``)."""
        if split not in self.official_splits():
            raise ValueError(f"{self.name} has splits {self.official_splits()}, not {split!r}")
        if split not in self._cache:
            exs = self._read(split)
            if not exs:
                raise DataError(f"{self.name} {split} split is empty")
            ids = [e.id for e in exs]
            if len(set(ids)) != len(ids):
                dup = next(i for i in ids if ids.count(i) > 1)
                raise DataError(f"{self.name} {split}: id {dup!r} occurs more than once")
            self._cache[split] = exs
        return self._cache[split]

    def official_splits(self) -> tuple[str, ...]:
        return ("train", "dev", "test") if self.val_source else ("train", "test")

    def _read(self, split: str) -> list[Example]:
        raise NotImplementedError

    def _fewshot_ok(self, ex: Example) -> bool:
        """Whether ``ex`` makes a good exemplar (short, self-contained); subclasses refine."""
        return True

    def _select_fewshot(self, train: Sequence[Example]) -> list[Example]:
        """A fixed-seed draw of exemplars that pass :meth:`_fewshot_ok`."""
        rng = random.Random(f"lens_steer-fewshot-{self.name}")
        order = rng.sample(range(len(train)), len(train))
        return [train[i] for i in order if self._fewshot_ok(train[i])][:5]

    def fewshot(self) -> list[Example]:
        """The task's 5 fixed exemplars: a fixed-seed draw from train, independent of split seeds."""
        if "_fewshot" not in self._cache:
            held = [*self.load("test"), *(self.load(self.val_source) if self.val_source else [])]
            held_keys = {question_key(e) for e in held}
            pool = [e for e in self.train_pool() if question_key(e) not in held_keys]
            picked = self._select_fewshot(pool)
            if len(picked) < 5:
                raise DataError(
                    f"{self.name}: found only {len(picked)} usable few-shot exemplars in train"
                )
            self._cache["_fewshot"] = _with_role(picked[:5], "fewshot")
        return list(self._cache["_fewshot"])

    def train_pool(self) -> list[Example]:
        """Examples that may be used for training roles (pairs, few-shot, carved validation)."""
        return self.load("train")

    def splits(self, seed: int = 0, n_val: int | None = None) -> Splits:
        """Train / val / test / few-shot, disjoint by id and question text.

        val is ``n_val`` examples carved from train with ``seed`` (tasks with an official dev split
        use it, subsampled with ``seed`` when ``n_val`` is smaller); test is the official test set.
        """
        test = _with_role(self.load("test"), "test")
        fewshot = self.fewshot()
        pool = self.train_pool()
        n_val = self.default_n_val if n_val is None else n_val
        rng = random.Random(seed)
        if self.val_source:
            dev = self.load(self.val_source)
            if n_val is not None and n_val < len(dev):
                dev = [dev[i] for i in sorted(rng.sample(range(len(dev)), n_val))]
            elif n_val is not None and n_val > len(dev):
                raise ValueError(f"n_val={n_val} but {self.name} dev has only {len(dev)} examples")
            val = _with_role(dev, "val")
        else:
            if n_val is None or n_val < 1:
                raise ValueError(f"n_val must be a positive int for {self.name}, got {n_val!r}")
            fs_ids = {e.id for e in fewshot}
            taken = {question_key(e) for e in (*test, *fewshot)}
            cands = []
            for e in pool:  # skip copies of test/few-shot questions and repeats within train
                key = question_key(e)
                if e.id not in fs_ids and key not in taken:
                    taken.add(key)
                    cands.append(e)
            if n_val >= len(cands):
                raise ValueError(
                    f"n_val={n_val} leaves no training examples ({len(cands)} distinct candidates after few-shot and test)"
                )
            val = _with_role(
                [cands[i] for i in sorted(rng.sample(range(len(cands)), n_val))], "val"
            )
        held = {question_key(e) for e in (*test, *val, *fewshot)}
        held_ids = {e.id for e in (*test, *val, *fewshot)}
        train, dropped = [], []
        for ex in pool:  # held-out questions and repeated training questions are dropped
            if ex.id in held_ids:
                continue
            key = question_key(ex)
            if key in held:
                dropped.append(ex.id)
                continue
            held.add(key)
            train.append(ex)
        return Splits(
            _with_role(train, "train"), val, test, fewshot, seed=seed, dropped=tuple(dropped)
        )

    # ---- prompts ----------------------------------------------------------------------------
    def with_prompts(self, config: PromptConfig | None = None, **overrides: Any) -> Task:
        """A copy of the task with some prompt texts replaced (data cache shared)."""
        new = copy.copy(self)
        new.prompts = (config or self.prompts).replace(**overrides)
        return new

    def format_question(self, ex: Example) -> str:
        """The question as shown to the model (ARC adds its options)."""
        return ex.question

    def format_solution(self, ex: Example) -> str:
        """The gold answer written in the task's output format (few-shot exemplars, pairs)."""
        raise NotImplementedError

    def prompt(
        self,
        example: Example,
        tokenizer: Any = None,
        fewshot: Sequence[Example] | None = None,
        zero_shot: bool = False,
        chat: bool | None = None,
    ) -> str:
        """The full prompt for ``example``.

        ``fewshot=None`` uses the task's fixed exemplars (``prompts.n_shots`` of them). With a
        tokenizer that has a chat template (and ``chat`` not False) the prompt is rendered by it,
        ready for generation; otherwise the plain ``Question:/Answer:`` format is used.
        """
        if zero_shot:
            shots: Sequence[Example] = []
        elif fewshot is None:
            shots = self.fewshot()[: self.prompts.n_shots]
        else:
            shots = fewshot
        if any(s.id == example.id for s in shots):
            raise ValueError(f"example {example.id!r} is also one of the few-shot exemplars")
        pairs = [(self.format_question(s), self.format_solution(s)) for s in shots]
        question = self.format_question(example)
        use_chat = has_chat_template(tokenizer) if chat is None else chat
        if use_chat:
            if not has_chat_template(tokenizer):
                raise ValueError("chat=True but the tokenizer has no chat_template")
            return render_chat(tokenizer, question, pairs, self.prompts.system)
        return render_plain(question, pairs, self.prompts)

    def pair_text(self, ex: Example, answer: str, instruction: str | None = None) -> str:
        """Plain text of a question and an answer (no chat template), for contrastive pairs."""
        body = qa_text(self.format_question(ex), answer, self.prompts)
        return f"{instruction}\n\n{body}" if instruction else body

    # ---- scoring ----------------------------------------------------------------------------
    def truncate(self, text: str) -> str:
        """Cut ``text`` at the first of the task's generation stop sequences.

        Grading cuts more than this (every marker of a hallucinated turn, see
        :func:`lens_steer.tasks.grading.own_turn`); this is what generation stops at.
        """
        cut = len(text)
        for stop in self.stop_sequences:
            i = text.find(stop)
            if i != -1:
                cut = min(cut, i)
        return text[:cut]

    def parse(self, text: str, example: Example | None = None) -> str | None:
        """The canonical answer stated in ``text``, or None when nothing parses.

        ``example`` is optional; tasks whose answers depend on the item (ARC's labels) use it.
        """
        raise NotImplementedError

    def is_correct(self, text: str, example: Example) -> bool:
        """Whether ``text`` states the gold answer of ``example``; unparseable is wrong."""
        pred = self.parse(text, example)
        return pred is not None and pred == example.answer

    def score(self, outputs: Sequence[str], examples: Sequence[Example]) -> list[bool]:
        """``is_correct`` for each output/example pair; lengths must match."""
        if len(outputs) != len(examples):
            raise ValueError(
                f"{len(outputs)} outputs for {len(examples)} examples: they must pair up"
            )
        if not examples:
            raise ValueError("no outputs to score: an empty list has no accuracy")
        return [self.is_correct(o, e) for o, e in zip(outputs, examples, strict=True)]

    # ---- contrastive pairs support ----------------------------------------------------------
    def corrupt(self, ex: Example, rng: random.Random) -> str | None:
        """``format_solution(ex)`` with its final answer changed, or None when that is impossible."""
        raise NotImplementedError

    def pair_answer(self, ex: Example) -> str:
        """The gold answer text used on the positive side of pairs."""
        return self.format_solution(ex)
