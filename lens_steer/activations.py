"""Batched reads of the residual stream through TransformerLens hook points.

Only the hook interface is used (``tokenizer``, ``hooks``, forward with ``attention_mask``), so a
``TransformerBridge`` and a TL 3 ``HookedTransformer`` both work. Prompts are left-padded, so the
last real token of every row sits at position -1; the forward is cut short after the deepest layer
read, so no logits ([batch, seq, vocab]) are ever materialised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor
from tqdm.auto import tqdm

from .models.load import hook_name, hook_point

__all__ = [
    "model_device",
    "encode",
    "encode_text",
    "left_pad",
    "chunks",
    "last_token_activations",
    "residual_norms",
]


class _StopForward(Exception):
    """Raised from the deepest hook read: the rest of the forward pass is not needed."""


def model_device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device(getattr(model.cfg, "device", None) or "cpu")


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` with the tokenizer's special tokens (BOS where it adds one), unless
    the text already starts with the BOS string, as a chat-template rendering may."""
    bos = getattr(tokenizer, "bos_token", None)
    special = not (bos and text.startswith(bos))
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def encode(model: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids per text (see :func:`encode_text`)."""
    if isinstance(texts, str):
        raise TypeError("expected a sequence of strings, got a single string: wrap it in a list")
    ids = [encode_text(model.tokenizer, t) for t in texts]
    empty = [i for i, x in enumerate(ids) if not x]
    if empty:
        raise ValueError(f"texts at positions {empty[:5]} tokenize to nothing")
    return ids


def pad_id(model: Any) -> int:
    tok = model.tokenizer
    for candidate in (tok.pad_token_id, tok.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def left_pad(
    seqs: Sequence[Sequence[int]], pad: int, device: torch.device | str = "cpu"
) -> tuple[Int[Tensor, "batch seq"], Int[Tensor, "batch seq"]]:
    """Left-pad token lists into ``(ids, attention_mask)``."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        if s:
            ids[row, width - len(s) :] = torch.tensor(list(s), dtype=torch.long)
            mask[row, width - len(s) :] = 1
    return ids.to(device), mask.to(device)


def chunks(n: int, size: int) -> Iterator[slice]:
    if size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {size}")
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _check_layers(model: Any, layers: Sequence[int] | None) -> list[int]:
    n = int(model.cfg.n_layers)
    layers = list(range(n)) if layers is None else [int(x) for x in layers]
    bad = [x for x in layers if not 0 <= x < n]
    if bad or not layers:
        raise ValueError(f"layers {bad or layers} out of range for a model with {n} layers")
    return layers


def _reader(layer: int, deepest: int, got: dict, mask: Tensor, reduce):
    """A hook storing ``reduce(act, mask)`` for ``layer``; it ends the pass at the deepest one."""

    def hook(act: Tensor, hook: Any) -> None:
        got[layer] = reduce(act, mask)
        if layer == deepest:
            raise _StopForward

    return hook


def _batched_forward(model, texts, layers, batch_size, progress, desc, reduce, point) -> Tensor:
    """Run ``texts`` through ``model`` and apply ``reduce(act, mask)`` at each layer's hook."""
    layers = _check_layers(model, layers)
    seqs = encode(model, texts)
    if not seqs:
        raise ValueError("no texts: give at least one text to read activations from")
    # Sort by length so each batch pads little; results are put back in input order.
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    device, pad = model_device(model), pad_id(model)
    deepest = max(layers)
    out: list[Tensor | None] = [None] * len(seqs)
    bar = tqdm(total=len(seqs), desc=desc, disable=not progress, leave=False)
    for part in chunks(len(order), batch_size):
        rows = order[part]
        ids, mask = left_pad([seqs[i] for i in rows], pad, device)
        got: dict[int, Tensor] = {}
        hooks = [
            (hook_name(layer, point), _reader(layer, deepest, got, mask, reduce))
            for layer in layers
        ]
        with torch.inference_mode(), model.hooks(fwd_hooks=hooks):
            try:
                model(ids, attention_mask=mask)
            except _StopForward:
                pass
        stacked = torch.stack([got[layer] for layer in layers], dim=1)  # [batch, n_layers, ...]
        for j, i in enumerate(rows):
            out[i] = stacked[j]
        bar.update(len(rows))
    bar.close()
    return torch.stack(out)  # type: ignore[arg-type]


def last_token_activations(
    model: Any,
    texts: Sequence[str],
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
    progress: bool = True,
    hook: str = "resid_post",
) -> Float[Tensor, "n_texts n_layers d_model"]:
    """``hook_resid_post`` (or ``hook``) at the last token of each text, float32 on CPU.

    Only that one position is kept, so memory is n_texts × n_layers × d_model whatever the
    prompt length.

    Args:
        model: a TransformerBridge or HookedTransformer with a tokenizer.
        texts: the texts, tokenized as given (BOS added unless a text already starts with it).
        layers: layer indices in ``0..n_layers-1`` (no negative indexing); None for every layer.
        batch_size: texts per forward pass (texts are batched by length, results come back in
            input order).
        progress: show a progress bar.
        hook: the hook point read in each block, one of ``HOOK_POINTS`` (``"resid_pre"``,
            ``"resid_mid"``, ``"resid_post"``, ``"attn_out"``, ``"mlp_out"``).

    Returns:
        ``[n_texts, n_layers, d_model]``, rows in ``texts`` order, layers in ``layers`` order.

    Raises:
        TypeError: ``texts`` is a single string.
        ValueError: no texts, a layer out of range or empty ``layers``, a text that tokenizes
            to nothing, or ``batch_size`` < 1.
    """

    def last(act: Tensor, mask: Tensor) -> Tensor:
        return act[:, -1, :].detach().to("cpu", torch.float32)

    point = hook_point(hook)
    return _batched_forward(model, texts, layers, batch_size, progress, "activations", last, point)


def residual_norms(
    model: Any,
    texts: Sequence[str],
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
    progress: bool = False,
    hook: str = "resid_post",
) -> Float[Tensor, " n_layers"]:
    """Mean ‖h‖ of ``hook_resid_post`` (or ``hook``) per layer over real tokens, skipping each
    text's first.

    The first position (often BOS) carries norms orders of magnitude above the rest in many
    models; including it would make "relative" steering strengths meaningless.

    Args:
        model: a TransformerBridge or HookedTransformer with a tokenizer.
        texts: the texts, tokenized as :func:`last_token_activations` does.
        layers: layer indices in ``0..n_layers-1``; None for every layer.
        batch_size: texts per forward pass.
        progress: show a progress bar.
        hook: the hook point measured, as for :func:`last_token_activations`.

    Returns:
        ``[n_layers]`` float32 on CPU, in ``layers`` order: the L2 norm averaged over all
        counted tokens of all texts pooled (a longer text weighs more).

    Raises:
        TypeError: ``texts`` is a single string.
        ValueError: no texts, a layer out of range or empty ``layers``, a text that tokenizes
            to nothing, only one-token texts (nothing left to average), or ``batch_size`` < 1.
    """

    def norms(act: Tensor, mask: Tensor) -> Tensor:
        keep = mask.clone()
        first = mask.argmax(dim=1)
        keep[torch.arange(len(first)), first] = 0
        n = act.float().norm(dim=-1)
        total = (n * keep).sum(dim=1)
        count = keep.sum(dim=1)  # a one-token text counts nothing: its only token is skipped
        return torch.stack([total, count.float()], dim=-1).cpu()

    point = hook_point(hook)
    per_text = _batched_forward(model, texts, layers, batch_size, progress, "norms", norms, point)
    sums = per_text.sum(dim=0)  # [n_layers, 2]
    if not bool((sums[:, 1] > 0).all()):
        raise ValueError(
            "every text is one token long: with its first token skipped there is no residual "
            "norm to average; pass texts of two tokens or more"
        )
    return sums[:, 0] / sums[:, 1]
