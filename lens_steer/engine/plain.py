"""The fast path's pieces: the bridge's HF model without its hook machinery, and a KV cache that
does not copy itself at every step.

``plain_model(bridge)`` rebuilds the HF module tree the bridge wraps, each bridge component
replaced by the module it wraps. Parameters and buffers are *shared* (no copy, no extra memory), so
the plain model always computes with the bridge's current weights; only Python objects are new.
Booting a bridge swaps every HF submodule (down to each ``nn.Linear``) for a bridge component that
runs two or more ``HookPoint`` calls per forward: on SmolLM2 that is thousands of Python calls per
decoding step, which the plain tree does not make. Steering is then added by one PyTorch forward
hook per steered decoder layer — the output of decoder layer ``l`` is what the bridge exposes as
``blocks.{l}.hook_resid_post`` (``tests/test_steer.py`` checks this for every family).
"""

from __future__ import annotations

import copy
import weakref
from collections import OrderedDict
from typing import Any

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

__all__ = [
    "PLAIN_POINTS",
    "plain_points",
    "steered_module",
    "decoder_layers",
    "plain_model",
    "plain_copies",
    "supports_plain",
    "make_kv_cache",
    "all_preallocated",
    "PreallocatedLayer",
]

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
)
_PLAIN: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _is_bridge_component(module: Any) -> bool:
    try:
        from transformer_lens.model_bridge.generalized_components.base import (
            GeneralizedComponent,
        )
    except ImportError:  # pragma: no cover - TL 3 has no bridge components
        return False
    return isinstance(module, GeneralizedComponent)


def supports_plain(model: Any) -> bool:
    """Whether ``model`` is a raw-coordinate bridge whose HF modules compute what its hooks see."""
    hf = getattr(model, "original_model", None)
    if hf is None or not _is_bridge_component(getattr(model, "blocks", [None])[0]):
        return False
    # Compatibility mode folds/centres weights inside the bridge: the HF modules differ.
    return not getattr(model.cfg, "lens_steer_processed", False) and not getattr(
        model, "compatibility_mode", False
    )


def _copy_tree(module: Any, config: Any, memo: dict[int, Any]) -> Any:
    while _is_bridge_component(module):
        module = module._modules["_original_component"]
    if id(module) in memo:
        return memo[id(module)]
    new = module.__class__.__new__(module.__class__)
    state = dict(module.__dict__)
    for name in _HOOK_DICTS:
        if name in state:
            state[name] = OrderedDict()
    state["_parameters"] = dict(module._parameters)
    state["_buffers"] = dict(module._buffers)
    state["_modules"] = {}
    if hasattr(state.get("config"), "_attn_implementation"):
        state["config"] = config
    new.__dict__ = state
    memo[id(module)] = new
    for name, child in module._modules.items():
        new._modules[name] = None if child is None else _copy_tree(child, config, memo)
    return new


def decoder_layers(hf: Any) -> list[Any]:
    for path in ("model.layers", "model.language_model.layers", "transformer.h", "layers"):
        obj = hf
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return list(obj)
    raise TypeError(f"cannot find the decoder layers of {type(hf).__name__}")


#: hook points a plain HF module computes; ``resid_mid`` (the residual between attention and
#: MLP) is a local variable inside HF's decoder layer, reachable only through the bridge's hooks
PLAIN_POINTS = ("hook_resid_pre", "hook_attn_out", "hook_mlp_out", "hook_resid_post")
#: families whose ``self_attn`` / ``mlp`` (or sandwich post-norm) outputs are exactly what the
#: block adds to the residual stream (tested against the bridge); others scale or rename them
#: (Granite multiplies by ``residual_multiplier``; GPT-2 has ``attn``), so their attn_out /
#: mlp_out vectors steer through the bridge's hooks
SUBLAYER_FAMILIES = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3",
                     "gemma3_text")  # fmt: skip


def plain_points(model: Any) -> tuple[str, ...]:
    """The hook points the plain decoder steers on ``model`` (a bridge): a layer's input and
    output always; its attention / MLP outputs for :data:`SUBLAYER_FAMILIES`."""
    config = getattr(getattr(model, "original_model", None), "config", None)
    family = getattr(config, "model_type", None)
    if family in SUBLAYER_FAMILIES:
        return PLAIN_POINTS
    return ("hook_resid_pre", "hook_resid_post")


def steered_module(layer: Any, point: str) -> tuple[Any, bool]:
    """``(module, is_input)``: where in HF decoder layer ``layer`` the bridge's ``point`` is —
    the layer's input (resid_pre), what attention / the MLP add to the residual stream
    (attn_out / mlp_out: their outputs, or for Gemma's sandwich norms the post-norms' outputs),
    or the layer's output (resid_post)."""
    if point not in PLAIN_POINTS:
        raise ValueError(f"no plain HF module computes {point!r}; steer it through the bridge")
    if point in ("hook_resid_pre", "hook_resid_post"):
        return layer, point == "hook_resid_pre"
    sandwich = hasattr(layer, "post_feedforward_layernorm")
    if point == "hook_attn_out":
        return (layer.post_attention_layernorm if sandwich else layer.self_attn), False
    return (layer.post_feedforward_layernorm if sandwich else layer.mlp), False


def plain_model(model: Any, attn: str = "sdpa") -> tuple[Any, list[Any]]:
    """``(hf_model, decoder_layers)``: the bridge's HF model without bridge components.

    ``attn`` picks the attention kernel of the copy ("sdpa", "eager" or a registered name such
    as the graph engine's); models whose attention sdpa cannot run (logit soft-capping: Gemma 2)
    fall back to eager. Memoised per bridge (and rebuilt when the bridge moves to another device
    or dtype); :func:`plain_copies` lists the copies held.
    """
    cached = _PLAIN.setdefault(model, {})
    param = next(model.original_model.parameters())
    key = (attn, param.device, param.dtype)  # .to() replaces buffers: rebuild after a move
    if key not in cached:
        hf = model.original_model
        config = copy.deepcopy(hf.config)
        kernel = attn
        if kernel != "eager" and getattr(config, "attn_logit_softcapping", None):
            kernel = "eager"
        config._attn_implementation = kernel
        for sub in ("text_config", "decoder"):
            inner = getattr(config, sub, None)
            if hasattr(inner, "_attn_implementation"):
                inner._attn_implementation = kernel
        plain = _copy_tree(hf, config, {})
        plain.config = config
        for stale in [k for k in cached if k[1:] != key[1:]]:
            del cached[stale]
        cached[key] = (plain, decoder_layers(plain))
    return cached[key]


def plain_copies(model: Any) -> list[Any]:
    """The plain HF copies :func:`plain_model` holds for ``model`` (one per kernel)."""
    return [plain for plain, _ in _PLAIN.get(model, {}).values()]


class PreallocatedLayer(DynamicLayer):
    """A full-attention KV layer with room for ``capacity`` positions, written in place.

    HF's ``DynamicLayer`` concatenates the whole cache with the new keys at every step, copying
    ``2 × batch × heads × seq × d_head`` floats per layer per token; this one writes the new
    position into a pre-allocated buffer and hands attention a view.
    """

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = int(capacity)
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        b, h, _, dk = key_states.shape
        cap = max(self.capacity, key_states.shape[-2])
        self._k = key_states.new_empty((b, h, cap, dk))
        self._v = value_states.new_empty((b, value_states.shape[1], cap, value_states.shape[-1]))
        self.is_initialized = True

    def _grow(self, need: int) -> None:
        cap = max(need, 2 * self._k.shape[2])
        for name in ("_k", "_v"):
            old = getattr(self, name)
            new = old.new_empty((*old.shape[:2], cap, old.shape[3]))
            new[:, :, : self.length] = old[:, :, : self.length]
            setattr(self, name, new)

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self._k.shape[2]:
            self._grow(end)
        self._k[:, :, self.length : end] = key_states
        self._v[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self._k[:, :, :end], self._v[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def load(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Start from ``keys``/``values`` ([batch, heads, n, d_head]) as the cached prefix."""
        self.is_initialized = False
        self.length = 0
        self.update(keys, values)

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            self._k = self._k.index_select(0, indices)
            self._v = self._v.index_select(0, indices)
            self.keys, self.values = self._k[:, :, : self.length], self._v[:, :, : self.length]

    def crop(self, tokens_to_remove: int) -> None:  # pragma: no cover - not used by generate
        raise NotImplementedError("PreallocatedLayer cannot be cropped")


def all_preallocated(cache: DynamicCache) -> bool:
    return bool(cache.layers) and all(isinstance(x, PreallocatedLayer) for x in cache.layers)


def make_kv_cache(config: Any, capacity: int) -> DynamicCache:
    """HF's ``DynamicCache`` for ``config`` with every full-attention layer pre-allocated.

    Sliding-window layers (Gemma 2/3) keep HF's own implementation.
    """
    cache = DynamicCache(config=config)
    if cache.layers:
        cache.layers = [
            PreallocatedLayer(capacity) if type(layer) is DynamicLayer else layer
            for layer in cache.layers
        ]
    return cache
