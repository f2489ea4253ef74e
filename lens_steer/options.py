"""How the loop prompts, steers and decodes: one frozen :class:`Options` shared by ``generate``,
``tune_lambda``, ``evaluate`` and ``lens-steer run``.

Each of those takes ``options=`` and the same names as keywords (``max_new_tokens=64``), which
override it; inside, only the ``Options`` value travels down the call chain, so a setting is named
once, checked once, and cannot be dropped on the way from ``run`` to the decoder.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from .engine.store import GenerationCache
    from .tasks.base import Example

__all__ = ["Options", "OptionFields", "POSITIONS", "FIELDS", "DECODING_FIELDS"]

#: Where steering acts while generating: every position, only generated tokens, or only the
#: prompt's last token (then the steered key/value states carry the effect forward).
POSITIONS = ("all", "generated", "last_prompt")


class OptionFields(TypedDict, total=False):
    """The keyword form of :class:`Options`, for ``**overrides: Unpack[OptionFields]``."""

    fewshot: Sequence[Example] | None
    zero_shot: bool
    positions: str
    relative: bool
    op: str
    max_new_tokens: int
    batch_size: int
    cache: GenerationCache | str | Path | None
    progress: bool


@dataclass(frozen=True)
class Options:
    """Settings shared by every step that prompts a model, steers it and decodes.

    Args:
        fewshot: the few-shot exemplars; None for the task's own.
        zero_shot: prompt without exemplars.
        positions: where steering acts while generating, one of :data:`POSITIONS`.
        relative: read λ as a fraction of each layer's mean residual norm.
        op: what steering does at each steered position: "add" (h + λ·v), "ablate"
            (h − λ·(h·v̂)v̂) or "clamp" (the component along v̂ set to λ); see
            :func:`lens_steer.steer`.
        max_new_tokens: generation budget per answer.
        batch_size: prompts per forward pass.
        cache: a :class:`~lens_steer.GenerationCache` (or its path) read before decoding or
            scoring; None for none.
        progress: show progress bars.
    """

    fewshot: tuple[Example, ...] | None = None
    zero_shot: bool = False
    positions: str = "all"
    relative: bool = False
    op: str = "add"
    max_new_tokens: int = 256
    batch_size: int = 16
    cache: Any = None
    progress: bool = True

    def __post_init__(self) -> None:
        # Values are checked where they are used (generate checks positions, max_new_tokens and
        # batch_size; loglik scoring ignores max_new_tokens), exactly as when they were keywords.
        # fewshot becomes a tuple so that a generator serves every prompt, not only the first.
        if self.fewshot is not None and not isinstance(self.fewshot, tuple):
            if isinstance(self.fewshot, (str, bytes)) or not isinstance(self.fewshot, Iterable):
                raise TypeError(f"fewshot must be a sequence of Examples, got {self.fewshot!r}")
            object.__setattr__(self, "fewshot", tuple(self.fewshot))

    def replace(self, **changes: Any) -> Options:
        """A copy with ``changes`` applied (few-shot made a tuple, as by the constructor)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def build(
        cls,
        options: Options | None,
        overrides: Mapping[str, Any],
        where: str,
        allowed: Sequence[str] | None = None,
    ) -> Options:
        """``options`` (default: the defaults) with the keyword ``overrides`` applied.

        ``where`` names the function and ``allowed`` the option keywords it takes (default: all),
        so a misspelt or meaningless keyword fails as Python's own would, naming the allowed
        ones and the closest.
        """
        if options is not None and not isinstance(options, Options):
            raise TypeError(f"{where}(): options must be a lens_steer Options, got {options!r}")
        names = tuple(allowed) if allowed is not None else FIELDS
        unknown = [k for k in overrides if k not in names]
        if unknown:
            close = difflib.get_close_matches(unknown[0], names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"{where}() got an unexpected keyword argument {unknown[0]!r}{hint}; "
                f"its options are {', '.join(names)}"
            )
        base = options if options is not None else cls()
        return base.replace(**overrides) if overrides else base

    def decoding(self) -> dict[str, Any]:
        """The keywords a generation engine takes from these options (not the prompting ones)."""
        return {name: getattr(self, name) for name in DECODING_FIELDS}


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Options))
#: The options a generation engine reads; prompting (few-shot, zero-shot) happens before it.
DECODING_FIELDS: tuple[str, ...] = tuple(f for f in FIELDS if f not in ("fewshot", "zero_shot"))
