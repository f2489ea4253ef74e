"""Prefill for a decoding batch: plain left padding, or a shared prompt prefix computed once.

Prompts rendered from one template share a long token prefix (system prompt, few-shot exemplars:
816 of 848-932 tokens for 5-shot GSM8K on SmolLM2). Keys and values of a prefix depend only on
the prefix tokens, their positions and the steering added to them, so the fast path computes the
prefix once per distinct prefix steering — once per λ when ``positions="all"`` steers the prompt,
once in all for "generated"/"last_prompt" — copies its KV into every row, and runs only the
suffixes (left-padded among themselves) as a second pass. The cache row layout is then
``[prefix][padding][suffix]`` with explicit position ids, so the mask has a hole where the
padding is and every real token keeps its own position. Mathematically this is the same
computation as one pass over the whole prompt; the tests check the tokens against transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..activations import left_pad

__all__ = ["Prefilled", "prefill", "prefix_pass", "common_prefix"]

MIN_SHARED_PREFIX = 8  # tokens; a shorter shared prefix is not worth a second pass


@dataclass
class Prefilled:
    """A prefilled batch: the logits to sample the first token from, and the state decoding
    continues from."""

    #: at each row's last prompt token, or (with ``keep``) at the flagged positions, flattened
    logits: Float[Tensor, "batch vocab"] | Float[Tensor, "flagged vocab"]
    mask: Int[Tensor, "batch width"]  # 1 over the cache slots filled so far
    next_pos: Int[Tensor, " batch"]  # position id of each row's first generated token
    cache: Any
    shared: int = 0  # length of the prefix computed once (0: plain left padding)


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix shared by every sequence."""
    first, n = seqs[0], min(len(s) for s in seqs)
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in seqs):
            return i
    return n


def _padded(backend, seqs, adder, pad, device, capacity, keep) -> Prefilled:
    ids, mask = left_pad(seqs, pad, device)
    pos = (mask.cumsum(-1) - 1).masked_fill_(mask == 0, 1)
    cache = backend.new_cache(capacity + ids.shape[1])
    if adder is not None:
        adder.phase = "prompt"
    logits = backend.forward(ids, mask, pos, cache, keep)
    return Prefilled(logits, mask, pos[:, -1] + 1, cache)


def prefix_pass(backend, tokens, n_groups, reps, adder, device, head_cache) -> list[Tensor]:
    """Run the shared prefix into ``head_cache``; per cache layer, each group's row in it.

    One row per group, or (:mod:`.trunk`) one per distinct steering history when the groups
    steer different layer subsets, so the plain model's lower blocks run once."""
    from .trunk import trunk_for

    n_layers = len(head_cache.layers)
    own = [torch.arange(n_groups, device=device)] * n_layers
    if adder is None:
        ids = torch.tensor([list(tokens)], device=device).expand(n_groups, -1)
        pos = torch.arange(len(tokens), device=device).expand(n_groups, -1)
        backend.forward(ids, None, pos, head_cache)
        return own
    with adder.rows(reps, "prefix"):
        trunk = trunk_for(adder, backend, device)
        width = 1 if trunk is not None else n_groups
        ids = torch.tensor([list(tokens)], device=device).expand(width, -1)
        pos = torch.arange(len(tokens), device=device).expand(width, -1)
        adder.trunk = trunk
        try:
            backend.forward(ids, None, pos, head_cache)
        finally:
            adder.trunk = None
    return own if trunk is None else trunk.kv_rows(n_layers)


def prefill(
    backend: Any,
    seqs: Sequence[Sequence[int]],
    prefix_keys: Sequence[Any],
    adder: Any,
    pad: int,
    device: torch.device,
    capacity: int,
    keep: int | Tensor = 0,
    tail: int = 1,
) -> Prefilled:
    """Prefill ``seqs``; rows with equal ``prefix_keys`` get identical steering on a prefix.

    ``capacity``: cache slots to reserve beyond the prompt (the new tokens). ``keep``: as in the
    backends' ``forward`` (0: the last position's logits; k: the last k; a [batch, k] boolean:
    the flagged ones among the last k); ``tail``: the fewest tokens of every row left out of the shared prefix
    (set it to ``keep`` so every kept position is in the second pass).
    """
    from .plain import all_preallocated

    shared = min(common_prefix(seqs), min(len(s) for s in seqs) - max(tail, 1))
    padded = (backend, seqs, adder, pad, device, capacity, keep)
    if not getattr(backend, "shares_prefix", False) or shared < MIN_SHARED_PREFIX:
        return _padded(*padded)
    from .trunk import first_of_each, numbered

    n = len(seqs)
    group_of = numbered(prefix_keys)
    if max(group_of) + 1 == n:  # nothing shared: every row steers its prefix differently
        return _padded(*padded)
    reps = torch.tensor(first_of_each(group_of), device=device)
    of_row = torch.tensor(group_of, device=device)
    suffix_ids, suffix_mask = left_pad([s[shared:] for s in seqs], pad, device)
    width = shared + suffix_ids.shape[1]
    cache = backend.new_cache(width + capacity)
    if not all_preallocated(cache):  # sliding-window layers (Gemma): keep the simple path
        return _padded(*padded)
    # 1. The prefix, once per group (identical tokens, no padding, no mask needed).
    head_cache = backend.new_cache(shared)
    kv_rows = prefix_pass(backend, seqs[0][:shared], len(reps), reps, adder, device, head_cache)
    for layer, src, rows in zip(cache.layers, head_cache.layers, kv_rows, strict=True):
        idx = rows.index_select(0, of_row)
        layer.load(src.keys.index_select(0, idx), src.values.index_select(0, idx))
    del head_cache
    # 2. The suffixes, left-padded among themselves, after the prefix slots.
    mask = torch.cat([suffix_mask.new_ones((n, shared)), suffix_mask], dim=1)
    pos = shared + (suffix_mask.cumsum(-1) - 1).masked_fill_(suffix_mask == 0, 1 - shared)
    if adder is not None:
        adder.phase = "prompt"
    logits = backend.forward(suffix_ids, mask, pos, cache, keep)
    return Prefilled(logits, mask, pos[:, -1] + 1, cache, shared)
