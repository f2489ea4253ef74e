"""Decode-step attention for grouped KV heads that does not copy the KV cache per step.

With an attention mask (every padded batch has one), transformers' sdpa path expands the keys
and values of a GQA model to one copy per query head (``repeat_kv``) before calling
``scaled_dot_product_attention`` — at every step, for the whole cache: for Qwen3-0.6B at 64 rows ×
640 slots that is ~9 GB of extra memory traffic per token, about twice what the step otherwise
reads. (Recent transformers pack the groups for one query token; 5.17, on the GPU machine, does
not.) For one query token, the ``g`` query heads that share a KV head can instead be laid out as
``g`` query *positions* of that KV head: ``[b, kv_heads, g, d]`` against ``[b, kv_heads, L, d]``,
with the ``[b, 1, 1, L]`` mask broadcast — the same sums, no copy. Everything else (prefill,
models without groups) goes to transformers' own sdpa function.

The function is registered under :data:`NAME` for the graph engine's private model copy only
(:func:`lens_steer.engine.plain.plain_model` gives each kernel its own copy), with sdpa's mask builder.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["NAME", "register", "grouped_decode_sdpa"]

NAME = "lens_steer_sdpa"


def grouped_decode_sdpa(
    module: Any,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[Tensor, None]:
    """transformers' attention-function signature; returns ``([b, q, heads, d], None)``."""
    groups = getattr(module, "num_key_value_groups", 1)
    batch, heads, q_len, dim = query.shape
    plain = (
        q_len != 1
        or groups == 1
        or kwargs.get("position_bias") is not None
        or (attention_mask is not None and attention_mask.shape[1] != 1)
    )
    if plain:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout, scaling, is_causal, **kwargs
        )
    # Query head h reads KV head h // groups (repeat_kv's order): group them as positions.
    packed = query.reshape(batch, key.shape[1], groups, dim)
    out = torch.nn.functional.scaled_dot_product_attention(
        packed, key, value, attn_mask=attention_mask, scale=scaling
    )
    return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None


def register() -> str:
    """Make :data:`NAME` a transformers attention implementation (idempotent); returns it."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(NAME, grouped_decode_sdpa)
    AttentionMaskInterface.register(NAME, AttentionMaskInterface._global_mapping["sdpa"])
    return NAME
