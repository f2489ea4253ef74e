"""A shared trunk for rows that steer different subsets of layers: each distinct steering history
is computed once.

A layer search scores its candidate sets as rows whose per-layer λ is 0 outside the set. Up to a
row's first steered block its residual stream is the plain model's, and two rows that agree on
every coefficient so far carry identical activations. So the shared prompt prefix (the question,
computed once per row by :mod:`.prefill`) starts as a single row, and at each steered block's
output the rows split into as many as there are distinct (history, coefficient) pairs; the keys
and values of block j are then those of the class each row belonged to at block j's input.
Batch-size changes inside HF's forward are safe here because the prefix pass has no padding
mask and one row of position ids, which broadcast. Only the plain decoder at ``resid_post``
with ``positions="all"`` takes this path, and only when it saves work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from ..steer import apply_op

__all__ = ["Trunk", "trunk_for", "takes_trunk", "trunk_logits", "numbered", "first_of_each"]

MIN_SAVING = 0.1  # of the prefix's layer-rows; below it the plain batched pass is as good


def numbered(keys: Sequence[Any]) -> list[int]:
    """Each key's index among the distinct keys, in order of first appearance."""
    index: dict[Any, int] = {}
    return [index.setdefault(k, len(index)) for k in keys]


def first_of_each(numbers: Sequence[int]) -> list[int]:
    """For each number 0..max of :func:`numbered`'s output, the position it first appears at."""
    return [list(numbers).index(k) for k in range(max(numbers) + 1)]


def _classes(
    coefs: Float[Tensor, "layer group"], start: list[Any] | None = None
) -> list[list[int]]:
    """The class of each group after each steered layer: groups that started alike (``start``:
    e.g. their tokens) and agree on every coefficient so far share a class (numbered in order
    of first appearance)."""
    n = coefs.shape[1]
    history: list[tuple[Any, ...]] = [()] * n if start is None else [(k,) for k in start]
    out = []
    for row in coefs.tolist():
        history = [(*h, c) for h, c in zip(history, row, strict=True)]
        out.append(numbered(history))
    return out


class Trunk:
    """The split bookkeeping for one prefix pass; ``split`` is called at each steered block."""

    def __init__(
        self,
        adder: Any,
        layer_of: list[int],
        classes: list[list[int]],
        device,
        start: list[int] | None = None,
    ):
        self.coefs, self.dirs, self.op = adder.coefs, adder.dirs, adder.op
        self.layer_of = layer_of  # the model layer of each steered layer, in vectors order
        self.classes = [torch.tensor(c, device=device) for c in classes]
        self.firsts = [  # the first group of each new class: its parent row and coefficient
            torch.tensor(first_of_each(c), device=device) for c in classes
        ]
        first = [0] * self.coefs.shape[1] if start is None else start
        self.start = torch.tensor(first, dtype=torch.long, device=device)
        self.current = self.start
        self.after = dict(zip(layer_of, self.classes, strict=True))  # model layer → classes

    def split(
        self, i: int, h: Float[Tensor, "cls seq d_model"]
    ) -> Float[Tensor, "new_cls seq d_model"]:
        new, first = self.classes[i], self.firsts[i]
        parents = self.current.index_select(0, first)
        coef = self.coefs[i].index_select(0, first)
        out = apply_op(self.op, h.index_select(0, parents), self.dirs[i], coef)
        self.current = new
        return out

    def kv_rows(self, n_layers: int) -> list[Tensor]:
        """Per model layer, each group's row in that layer's keys and values: its class at the
        layer's input (its starting class before the first split)."""
        rows, now = [], self.start
        for j in range(n_layers):
            rows.append(now)
            now = self.after.get(j, now)
        return rows


def takes_trunk(backend: Any) -> bool:
    """Only the plain decoder with sdpa or eager attention: the graph engine's own attention
    kernel is not checked with a batch that grows inside the forward."""
    return backend.name == "plain" and getattr(backend, "attn", "") in ("sdpa", "eager")


def trunk_for(
    adder: Any, backend: Any, device: torch.device, start: list[Any] | None = None
) -> Trunk | None:
    """A :class:`Trunk` for the adder's current rows (one per group; ``start``: what makes
    groups differ before any steering, such as their tokens), or None when ``backend`` cannot
    take one or the rows share too little: a λ sweep steering from the first block splits at
    once."""
    if not takes_trunk(backend) or adder.positions != "all" or adder.point != "hook_resid_post":
        return None
    if adder.coefs.shape[1] < 2 or list(adder.layers) != sorted(adder.layers):
        return None  # one row, or vectors listed out of model order: keep the plain pass
    n_layers = len(backend.decoder_layers)
    classes = _classes(adder.coefs.cpu(), start)
    begin = [0] * adder.coefs.shape[1] if start is None else numbered(start)
    counts, now = [], max(begin) + 1
    for j in range(n_layers):  # classes entering each block
        counts.append(now)
        if j in adder.layers:
            now = max(classes[adder.layers.index(j)]) + 1
    if sum(counts) > (1 - MIN_SAVING) * adder.coefs.shape[1] * n_layers:
        return None
    return Trunk(adder, list(adder.layers), classes, device, begin)


def trunk_logits(
    backend: Any,
    seqs: list[list[int]],
    n_conts: list[int],
    adder: Any,
    pad: int,
    device: torch.device,
) -> Float[Tensor, "flagged vocab"] | None:
    """Log-likelihood scoring through the trunk: the logits predicting each row's last
    ``n_conts`` tokens, flattened row by row (as :func:`.prefill.prefill` with a boolean
    ``keep``), or None when the trunk would not pay.

    The shared context runs as :func:`.prefill.prefix_pass` does; the rest of each row (its
    option, right-padded: causal attention never looks ahead, so no padding mask) starts as one
    row per distinct token suffix and splits by steering history like the prefix.
    """
    from .plain import all_preallocated
    from .prefill import MIN_SHARED_PREFIX, common_prefix, prefix_pass

    shared = min(common_prefix(seqs), *(len(s) - k - 1 for s, k in zip(seqs, n_conts, strict=True)))
    suffixes = [tuple(s[shared:]) for s in seqs]
    probe = trunk_for(adder, backend, device, start=suffixes)
    cache = backend.new_cache(shared + max(map(len, suffixes))) if probe is not None else None
    if probe is None or shared < MIN_SHARED_PREFIX or not all_preallocated(cache):
        return None
    # 1. the context, once per distinct coefficient column, through its own trunk
    group_of = numbered([tuple(c) for c in adder.coefs.T.tolist()])
    reps = torch.tensor(first_of_each(group_of), device=device)
    of_row = torch.tensor(group_of, device=device)
    head = backend.new_cache(shared)
    kv_rows = prefix_pass(backend, seqs[0][:shared], len(reps), reps, adder, device, head)
    # 2. the suffixes: each layer's cache holds the context rows of the classes entering it
    for layer, src, rows, entering in zip(
        cache.layers, head.layers, kv_rows, probe.kv_rows(len(cache.layers)), strict=True
    ):
        firsts = torch.tensor(first_of_each(entering.tolist()), device=device)
        idx = rows.index_select(0, of_row.index_select(0, firsts))
        layer.load(src.keys.index_select(0, idx), src.values.index_select(0, idx))
    del head
    return _suffix_logits(backend, suffixes, n_conts, shared, probe, adder, pad, cache, device)


def _suffix_logits(backend, suffixes, n_conts, shared, trunk, adder, pad, cache, device):
    """The suffix pass of :func:`trunk_logits`, and its logits back in row order."""
    width = max(map(len, suffixes))
    distinct = list(dict.fromkeys(suffixes))
    ids = torch.tensor([list(s) + [pad] * (width - len(s)) for s in distinct], device=device)
    pos = (shared + torch.arange(width, device=device))[None]
    dtype = next(backend.hf.parameters()).dtype
    allowed = torch.ones(width, shared + width, dtype=torch.bool, device=device).tril(shared)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device)
    mask = mask.masked_fill(~allowed, torch.finfo(dtype).min)[None, None]
    final = trunk.classes[-1].tolist()
    flags = torch.zeros(max(final) + 1, width, dtype=torch.bool)
    for row, cls in enumerate(final):  # position t predicts token t + 1
        n, k = len(suffixes[row]), n_conts[row]
        flags[cls, n - k - 1 : n - 1] = True
    adder.phase = "prompt"
    adder.trunk = trunk
    try:
        logits = backend.forward(ids, mask, pos, cache, flags.to(device))
    finally:
        adder.trunk = None
    starts = torch.cumsum(flags.sum(-1), 0) - flags.sum(-1)
    take = [int(starts[c]) + t for row, c in enumerate(final) for t in range(n_conts[row])]
    return logits.index_select(0, torch.tensor(take, device=logits.device))
