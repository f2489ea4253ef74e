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

from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from ..steer import apply_op

__all__ = ["Trunk", "trunk_for"]

MIN_SAVING = 0.1  # of the prefix's layer-rows; below it the plain batched pass is as good


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
        first = {h: None for h in history}
        index = {h: k for k, h in enumerate(first)}
        out.append([index[h] for h in history])
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
            torch.tensor([c.index(k) for k in range(max(c) + 1)], device=device) for c in classes
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


def trunk_for(
    adder: Any, n_layers: int, device: torch.device, start: list[Any] | None = None
) -> Trunk | None:
    """A :class:`Trunk` for the adder's current rows (one per group; ``start``: what makes
    groups differ before any steering, such as their tokens), or None when the rows share too
    little: a λ sweep steering from the first block splits at once."""
    if adder.positions != "all" or adder.point != "hook_resid_post" or adder.coefs.shape[1] < 2:
        return None
    if list(adder.layers) != sorted(adder.layers):
        return None  # vectors listed out of model order: keep the plain pass
    classes = _classes(adder.coefs.cpu(), start)
    begin = [0] * adder.coefs.shape[1] if start is None else _numbered(start)
    counts, now = [], max(begin) + 1
    for j in range(n_layers):  # classes entering each block
        counts.append(now)
        if j in adder.layers:
            now = max(classes[adder.layers.index(j)]) + 1
    if sum(counts) > (1 - MIN_SAVING) * adder.coefs.shape[1] * n_layers:
        return None
    return Trunk(adder, list(adder.layers), classes, device, begin)


def _numbered(keys: list[Any]) -> list[int]:
    """Each key's index among the distinct keys, in order of first appearance."""
    index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    return [index[k] for k in keys]


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
    n_layers = len(backend.decoder_layers)
    suffixes = [tuple(s[shared:]) for s in seqs]
    probe = trunk_for(adder, n_layers, device, start=suffixes)
    cache = backend.new_cache(shared + max(map(len, suffixes)))
    if probe is None or shared < MIN_SHARED_PREFIX or not all_preallocated(cache):
        return None
    # 1. the context, once per distinct coefficient column, through its own trunk
    columns = [tuple(c) for c in adder.coefs.T.tolist()]
    groups = list(dict.fromkeys(columns))
    reps = torch.tensor([columns.index(g) for g in groups], device=device)
    of_row = torch.tensor([groups.index(c) for c in columns], device=device)
    head = backend.new_cache(shared)
    kv_rows = prefix_pass(backend, seqs[0][:shared], len(groups), reps, adder, device, head)
    # 2. the suffixes: each layer's cache holds the context rows of the classes entering it
    for layer, src, rows, entering in zip(
        cache.layers, head.layers, kv_rows, probe.kv_rows(n_layers), strict=True
    ):
        firsts = [entering.tolist().index(k) for k in range(int(entering.max()) + 1)]
        idx = rows.index_select(0, of_row.index_select(0, torch.tensor(firsts, device=device)))
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
