"""The engine's shared values: what a batch row holds (:class:`Row`), how decoding runs
(:class:`Settings`), what steering adds (:class:`SteerSpec`) and how a row ended
(:class:`Result`). The decoders, the stopping rule, ``generate`` and ``loglik`` take them from here
rather than from each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jaxtyping import Float
from torch import Tensor

__all__ = ["Settings", "SteerSpec", "Row", "Result"]


@dataclass(frozen=True)
class Settings:
    """How every row of a decoding call runs and ends."""

    max_new_tokens: int
    min_new_tokens: int = 0
    stop_sequences: tuple[str, ...] = ()
    temperature: float = 0.0
    eos_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SteerSpec:
    """What steering does: the rows ``op`` uses per steered layer (v for "add", v̂ for "ablate"
    and "clamp"), optional reference norms, positions, and the op."""

    directions: Float[Tensor, "steered d_model"]
    layers: tuple[int, ...]
    norms: Float[Tensor, " steered"] | None
    positions: str
    op: str = "add"
    point: str = "hook_resid_post"  # the TransformerLens hook point written in each block


@dataclass
class Row:
    """One prompt at one λ (and sample): its token ids and what the caller needs back."""

    ids: list[int]
    lam: float | tuple[float, ...] = 0.0  # one λ, or one per steered layer
    seed: int | None = None  # sampling seed (None: greedy)
    tag: Any = None  # the caller's bookkeeping (output slot, cache key)


@dataclass
class Result:
    """A finished row: its text, its tokens, and why it ended."""

    text: str
    tokens: list[int] = field(default_factory=list)
    finish: str = "length"  # "eos" | "stop" | "length"
