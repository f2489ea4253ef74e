"""How a generated row ends: EOS (not shown), a stop sequence (its text cut before it) or the
token budget — one rule for every decoder, fed a token at a time or a chunk at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .types import Result, Settings

__all__ = ["Finisher"]


class _StopChecker:
    """Finds stop sequences in each row's decoded text, looking only at a tail window."""

    def __init__(self, tokenizer: Any, stops: Sequence[str]):
        self.tok, self.stops = tokenizer, tuple(stops)
        # Every token decodes to ≥ 1 character except byte pieces (≤ 4 per character).
        self.window = 4 * max((len(s) for s in self.stops), default=0) + 4

    def decode(self, tokens: Sequence[int]) -> str:
        return self.tok.decode(list(tokens), skip_special_tokens=True)

    def cut(self, text: str) -> tuple[str, bool]:
        at = [i for i in (text.find(s) for s in self.stops) if i != -1]
        return (text[: min(at)], True) if at else (text, False)

    def hit(self, tokens: Sequence[int]) -> bool:
        if not self.stops:
            return False
        tail = self.decode(tokens[-self.window :])
        return any(s in tail for s in self.stops) and self.cut(self.decode(tokens))[1]


class Finisher:
    """Each row's generated tokens and how it ended: EOS (not shown), a stop sequence (text cut
    before it) or ``max_new_tokens``. Both decoders feed it one token at a time, so they end rows
    at exactly the same token."""

    def __init__(self, n: int, settings: Settings, tokenizer: Any):
        self.checker = _StopChecker(tokenizer, settings.stop_sequences)
        self.eos, self.t_max = set(settings.eos_ids), settings.max_new_tokens
        self.generated: list[list[int]] = [[] for _ in range(n)]
        self.results: list[Result | None] = [None] * n
        self.n_tokens = 0  # appended so far, all rows

    def push(self, r: int, tid: int, stops: bool = True) -> bool:
        """Append token ``tid`` to row ``r``; True when the row has ended (now or before).
        ``stops=False`` skips the stop-sequence check (the caller knows none can match)."""
        if self.results[r] is not None:
            return True
        gen, checker = self.generated[r], self.checker
        if tid in self.eos:
            self.results[r] = Result(checker.decode(gen), gen, "eos")
            return True
        gen.append(tid)
        self.n_tokens += 1
        if stops and checker.hit(gen):
            self.results[r] = Result(checker.cut(checker.decode(gen))[0], gen, "stop")
        elif len(gen) >= self.t_max:
            self.results[r] = Result(checker.decode(gen), gen, "length")
        return self.results[r] is not None

    def push_many(self, r: int, tids: Sequence[int]) -> bool:
        """:meth:`push` each of ``tids`` in turn; one decode for the lot when no stop sequence
        appears in the text they end (each per-token window is a piece of that text)."""
        if self.results[r] is not None:
            return True
        stops = bool(self.checker.stops)
        if stops:
            gen, new = self.generated[r], []
            for tid in tids[: self.t_max - len(gen)]:
                if tid in self.eos:
                    break
                new.append(tid)
            text = self.checker.decode(gen[-self.checker.window :] + new)
            stops = any(s in text for s in self.checker.stops)
        return any(self.push(r, tid, stops) for tid in tids)

    def done(self) -> list[Result]:
        return [r if r is not None else Result("") for r in self.results]
