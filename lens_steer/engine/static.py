"""The static decoder's state and its one decoding step (see :mod:`lens_steer.engine.graph`).

Per model copy: KV buffers ``[rows, kv_heads, capacity, d_head]`` per layer written at a slot
tensor, a mask, the tokens, positions and a ``delta[layer, row]`` that every decoder layer adds to
its output. ``step`` runs one step for the leading ``b`` rows: eagerly, or as the replay of a
CUDA graph captured once per (``b``, greedy) and checked against an eager step.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from transformers.cache_utils import DynamicCache, DynamicLayer

from .decode import Adder

__all__ = ["StaticDecoder"]

log = logging.getLogger("lens_steer.engine")


class _SlotLayer(DynamicLayer):
    """One layer's static KV: views of the decoder's buffers, written at ``slot`` in place."""

    def __init__(self, keys: Tensor, values: Tensor, slot: Tensor):
        super().__init__()
        self.keys, self.values, self.slot = keys, values, slot
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True

    def update(self, key_states: Tensor, value_states: Tensor, *args: Any, **kwargs: Any):
        self.keys.index_copy_(2, self.slot, key_states)
        self.values.index_copy_(2, self.slot, value_states)
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.keys.shape[2]


def _mask_kinds(config: Any) -> tuple[list[str] | None, int | None]:
    """(layer types when the model takes a dict of masks, sliding window of a single mask)."""
    config = config.get_text_config()  # a multimodal model keeps its layers' fields there
    types = list(getattr(config, "layer_types", None) or [])
    window = getattr(config, "sliding_window", None)
    if "sliding_attention" in types:
        return types, window
    # One mask for every layer: sliding only where the config has no layer types to say
    # otherwise (Mistral, Phi-3); Qwen2 configs carry an unused window beside full layer types.
    return None, (None if types else window)


class StaticDecoder:
    """Static buffers and captured steps for one model on one device (see the module docstring)."""

    def __init__(self, backend: Any):
        self.hf, self.blocks, self.config = backend.hf, backend.decoder_layers, backend.config
        self.types, self.window = _mask_kinds(self.config)
        self.eager_attention = self.config._attn_implementation == "eager"
        self.rows = self.capacity = 0
        self.graphs: dict[tuple[int, bool], Any] = {}
        self.caches: dict[int, DynamicCache] = {}
        self.pool: Any = None
        self.use_graphs: bool | None = None  # decided on the first batch (CUDA or not)
        self.capture_s = 0.0  # wall time spent warming up and capturing, all shapes

    # --- buffers -----------------------------------------------------------------------------
    def ensure(self, rows: int, capacity: int, like: Any, vocab: int, device: torch.device) -> None:
        """Buffers for ``rows`` × ``capacity``; KV shapes and dtype from the prefill cache ``like``."""
        shapes = [tuple(x.keys.shape[1::2]) for x in like.layers]  # (kv_heads, d_head) per layer
        dtype = like.layers[0].keys.dtype
        same = (
            rows <= self.rows
            and capacity == self.capacity
            and [tuple(k.shape[1::2]) for k in getattr(self, "keys", [])] == shapes
            and self.keys[0].dtype == dtype
            and self.keys[0].device == device
        )
        if same:
            return
        self.graphs.clear()
        self.caches.clear()
        self.pool = None
        self.keys = self.values = []  # free the old buffers before allocating the new
        zeros = dict(device=device)
        # Zeros, not empty: masked slots still enter attention as 0 × value, and NaN × 0 is NaN.
        self.keys = [torch.zeros((rows, h, capacity, d), dtype=dtype, **zeros) for h, d in shapes]
        self.values = [torch.zeros_like(k) for k in self.keys]
        self.mask = torch.zeros((rows, capacity), dtype=torch.bool, **zeros)
        self.tok = torch.zeros((rows, 1), dtype=torch.long, **zeros)
        self.pos = torch.zeros((rows, 1), dtype=torch.long, **zeros)
        self.hist = torch.zeros((rows, capacity), dtype=torch.long, **zeros)
        self.slot = torch.zeros((1,), dtype=torch.long, **zeros)
        self.col = torch.zeros((1,), dtype=torch.long, **zeros)
        self.arange = torch.arange(capacity, **zeros)
        d_model = self.config.get_text_config().hidden_size
        self.delta = torch.zeros((len(self.blocks), rows, 1, d_model), dtype=dtype, **zeros)
        self.eos_bias = torch.zeros((vocab,), dtype=torch.float32, **zeros)
        self.logits = torch.zeros((rows, vocab), dtype=torch.float32, **zeros)
        self.rows, self.capacity = rows, capacity

    def _row_buffers(self) -> list[Tensor]:
        return [*self.keys, *self.values, self.mask, self.tok, self.pos, self.hist, self.logits]

    def load(self, pre: Any, first: Tensor, adder: Adder | None, b: int) -> None:
        """Copy a prefill into rows ``[0, n)`` (rows ``[n, b)`` repeat row 0: padding)."""
        n, width = first.shape[0], pre.mask.shape[1]
        for dst_k, dst_v, src in zip(self.keys, self.values, pre.cache.layers, strict=True):
            m = src.keys.shape[2]  # a sliding-window layer keeps only the last tokens
            # Masked slots still enter attention as 0 × value: a non-finite value an earlier
            # batch left there would poison the row, so the rows start from zeros.
            dst_k[:n].zero_()
            dst_v[:n].zero_()
            dst_k[:n, :, width - m : width] = src.keys
            dst_v[:n, :, width - m : width] = src.values
        self.mask[:n] = False
        self.mask[:n, :width] = pre.mask.bool()
        self.pos[:n, 0] = pre.next_pos
        self.tok[:n, 0] = first
        self.hist[:n, 0] = first
        self.delta.zero_()
        if adder is not None and adder.positions != "last_prompt":  # decoding steers new tokens
            for layer, d in zip(adder.layers, adder.deltas, strict=True):
                self.delta[layer, :n] = d
        if b > n:
            self.gather([*range(n)] + [0] * (b - n))
        self.slot.fill_(width)
        self.col.fill_(1)

    def gather(self, rows: Sequence[int]) -> None:
        """Move rows ``rows`` (in order) to the leading rows of every buffer."""
        idx = torch.tensor(list(rows), device=self.tok.device)
        k = len(rows)
        for buf in self._row_buffers():
            buf[:k] = buf.index_select(0, idx)
        self.delta[:, :k] = self.delta.index_select(1, idx)

    # --- one step ----------------------------------------------------------------------------
    def _masks(self, b: int) -> Any:
        self.mask[:b].index_fill_(1, self.slot, True)  # the token written now is visible
        full = self.mask[:b, None, None, :]
        sliding = None
        if self.window is not None:
            sliding = full & (self.arange > self.slot - self.window)
        if self.eager_attention:  # eager attention adds the mask to its scores
            low = torch.finfo(self.keys[0].dtype).min

            def additive(m: Tensor) -> Tensor:
                return torch.zeros(m.shape, dtype=self.keys[0].dtype, device=m.device).masked_fill(
                    ~m, low
                )

            full = additive(full)
            sliding = None if sliding is None else additive(sliding)
        if self.types is not None:
            return {"full_attention": full, "sliding_attention": sliding}
        return full if sliding is None else sliding

    def _cache(self, b: int) -> DynamicCache:
        if b not in self.caches:
            cache = DynamicCache(config=self.config)
            cache.layers = [
                _SlotLayer(k[:b], v[:b], self.slot)
                for k, v in zip(self.keys, self.values, strict=True)
            ]
            cache.layer_class_to_replicate = None
            self.caches[b] = cache
        return self.caches[b]

    @contextmanager
    def _steering(self, b: int) -> Iterator[None]:
        """Every decoder layer adds its ``delta`` rows to its output (zeros cost one add)."""

        def make(i: int) -> Callable:
            delta = self.delta[i, :b]

            def hook(module: Any, args: Any, output: Any) -> None:
                (output[0] if isinstance(output, tuple) else output).add_(delta)

            return hook

        handles = [blk.register_forward_hook(make(i)) for i, blk in enumerate(self.blocks)]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def _step(self, b: int, greedy: bool) -> None:
        out = self.hf(
            input_ids=self.tok[:b],
            attention_mask=self._masks(b),
            position_ids=self.pos[:b],
            past_key_values=self._cache(b),
            use_cache=True,
            logits_to_keep=1,
        )
        logits = out.logits[:, -1].float() + self.eos_bias
        self.logits[:b].copy_(logits)
        if greedy:
            nxt = logits.argmax(dim=-1, keepdim=True)
            self.tok[:b].copy_(nxt)
            self.hist[:b].index_copy_(1, self.col, nxt)
        self.pos[:b] += 1
        self.slot += 1
        self.col += 1

    def step(self, b: int, greedy: bool) -> None:
        """One decoding step for the leading ``b`` rows: a graph replay on CUDA."""
        if self.use_graphs and (b, greedy) not in self.graphs:
            self._capture(b, greedy)
        if self.use_graphs:
            self.graphs[(b, greedy)].replay()
            return
        with self._steering(b):
            self._step(b, greedy)

    # --- capture -----------------------------------------------------------------------------
    def _capture(self, b: int, greedy: bool) -> None:
        """Capture the step for ``b`` rows; the live state is restored afterwards.

        The replay is checked against an eager step from the same state (same logits up to
        rounding), so a graph that lost the steering or read a stale buffer is never used.
        """
        start = time.perf_counter()
        small = [self.mask, self.tok, self.pos, self.hist, self.slot, self.col]
        saved = [t.clone() for t in small]

        def restore() -> None:
            for t, s in zip(small, saved, strict=True):
                t.copy_(s)

        try:
            side = torch.cuda.Stream(self.tok.device)
            side.wait_stream(torch.cuda.current_stream(self.tok.device))
            with torch.cuda.stream(side), self._steering(b):
                for _ in range(2):  # warm-up: allocator, library handles, kernel choice
                    restore()
                    self._step(b, greedy)
                reference = self.logits[:b].clone()
                restore()
            torch.cuda.current_stream(self.tok.device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with self._steering(b), torch.cuda.graph(graph, pool=self.pool):
                self._step(b, greedy)
            self.pool = graph.pool()
            restore()
            graph.replay()
            gap, scale = _gap(self.logits[:b], reference)
            restore()
            if not gap <= 1e-2 * scale + 1e-3:
                raise RuntimeError(f"replay differs from the eager step: max |Δlogit| {gap:.3g}")
            self.graphs[(b, greedy)] = graph
            log.info(
                "captured the decoding step for %d rows × %d slots in %.2f s",
                b,
                self.capacity,
                time.perf_counter() - start,
            )
        except Exception as err:  # any capture failure: decode eagerly, correct but slower
            restore()
            self.use_graphs = False
            self.graphs.clear()
            warnings.warn(
                f"CUDA graph capture failed ({err}); engine='graph' decodes without graphs "
                "(same tokens, slower). Use engine='plain' to skip the capture attempt.",
                stacklevel=4,
            )
        finally:
            self.capture_s += time.perf_counter() - start


def _gap(got: Tensor, want: Tensor) -> tuple[float, float]:
    """(largest |difference|, largest |value|) over finite entries; a non-finite entry (EOS
    suppressed: -inf) must be equal, else the gap is infinite."""
    finite = want.isfinite()
    unequal = torch.where(got == want, 0.0, float("inf"))
    gap = torch.where(finite, (got - want).abs(), unequal)
    return gap.max().item(), want[finite].abs().max().item() if finite.any() else 0.0
