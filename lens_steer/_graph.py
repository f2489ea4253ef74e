"""The static decoder behind ``engine="graph"``: decoding steps of fixed shape, captured as CUDA
graphs on a GPU.

transformers' ``generate`` is bound by Python on an H100 (``../shared/gpu/README.md``: the same
tok/s for 0.6B and 8B parameters). Here one decoding step has one shape per (batch bucket,
capacity): each layer's KV cache is a pre-allocated ``[rows, kv_heads, capacity, d_head]`` buffer
written at a slot index held in a tensor, the attention mask is a ``[rows, capacity]`` buffer, and
every decoder layer adds ``delta[layer, row]`` (λ_row × direction, zero where nothing is steered)
to its output — the output of decoder layer ``l`` is ``blocks.{l}.hook_resid_post``. A new λ grid,
new vectors or a new batch is a copy into these buffers, never a new capture. On CUDA each step
shape is captured once and replayed; elsewhere the same step runs eagerly, which is what the CPU
tests compare with transformers' ``generate`` token for token.

Rows that end keep their slot until the running rows fit a smaller bucket; they are then gathered
into its leading rows. The prefill is the plain engine's (:mod:`lens_steer._prefill`), copied into
the static cache. Tokens reach the host every ``CHECK_EVERY`` steps (greedy), so a step costs one
graph replay and no synchronisation.
"""

from __future__ import annotations

import logging
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from transformers.cache_utils import DynamicCache, DynamicLayer

from ._decode import Adder, Row, Settings, SteerSpec, _choose, start_batch
from ._finish import Finisher, Result
from ._prefill import prefill

__all__ = [
    "StaticDecoder",
    "static_decoder",
    "release",
    "stats",
    "decode_batch_graph",
    "bucket",
    "CHECK_EVERY",
]

log = logging.getLogger("lens_steer.generate")
CHECK_EVERY = 8  # greedy steps between two looks at the tokens (EOS, stop sequences, progress)
CAPACITY_STEP = 128  # cache capacities are rounded up to this: fewer distinct shapes to capture
_DECODERS: weakref.WeakKeyDictionary[Any, StaticDecoder] = weakref.WeakKeyDictionary()


def bucket(n: int) -> int:
    """The smallest batch bucket ≥ ``n``: 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, … (a third
    of a bucket at most is padding)."""
    size = 1
    while True:
        for b in (size, 3 * size // 2):
            if b >= n:
                return b
        size *= 2


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
            gap = (self.logits[:b] - reference).abs().max().item()
            scale = reference.abs().max().item()
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


def static_decoder(backend: Any) -> StaticDecoder:
    """The :class:`StaticDecoder` of ``backend``'s plain model (kept while the model lives)."""
    if backend.hf not in _DECODERS:
        _DECODERS[backend.hf] = StaticDecoder(backend)
    return _DECODERS[backend.hf]


def stats(plain_hf: Any) -> dict[str, Any] | None:
    """What the decoder of a plain model holds (see :func:`lens_steer.decoder_stats`)."""
    dec = _DECODERS.get(plain_hf)
    if dec is None:
        return None
    held = dec._row_buffers() + [dec.delta] if dec.rows else []
    return {
        "graphs": dec.use_graphs,
        "captured": sorted((b, dec.capacity) for b, _ in dec.graphs),
        "capture_s": dec.capture_s,
        "buffer_bytes": sum(t.numel() * t.element_size() for t in held),
    }


def release(plain_hf: Any) -> bool:
    """Drop the decoder of a plain model (buffers and graphs); whether there was one."""
    return _DECODERS.pop(plain_hf, None) is not None


def decode_batch_graph(
    backend: Any,
    rows: Sequence[Row],
    settings: Settings,
    tokenizer: Any,
    pad_id: int,
    device: torch.device,
    steer_spec: SteerSpec | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> list[Result]:
    """:func:`lens_steer._decode.decode_batch` with the static decoder; the same results."""
    n, t_max = len(rows), settings.max_new_tokens
    gens, adder, keys = start_batch(backend, rows, device, steer_spec)
    spare = torch.Generator().manual_seed(0)  # padding rows draw from it; their tokens are unused
    finisher, greedy = Finisher(n, settings, tokenizer), settings.temperature <= 0
    dec = static_decoder(backend)
    if dec.use_graphs is None:
        dec.use_graphs = device.type == "cuda"
    label = torch.profiler.record_function  # names the phases in a profile (gpu_profile.py)
    with torch.inference_mode():
        with backend.attach(adder), label("ls.prefill"):
            pre = prefill(backend, [r.ids for r in rows], keys, adder, pad_id, device, 0)
        first = _choose(pre.logits, settings, 0, gens)
        order: list[int | None] = []  # original row of each bucket row (None: padding)
        for r, tid in enumerate(first.tolist()):
            finisher.push(r, tid)
            order.append(r)
        if on_step is not None:
            on_step(finisher.n_tokens, sum(x is not None for x in finisher.results))
        width, b = pre.mask.shape[1], bucket(n)
        capacity = -(-(width + t_max) // CAPACITY_STEP) * CAPACITY_STEP
        with label("ls.load"):
            dec.ensure(max(b, dec.rows), capacity, pre.cache, pre.logits.shape[-1], device)
            dec.load(pre, first, adder, b)
        del pre
        order += [None] * (b - n)
        if settings.min_new_tokens > 1 and settings.eos_ids and greedy:
            dec.eos_bias[list(settings.eos_ids)] = -float("inf")
        synced, step = 1, 1
        running = [j for j, r in enumerate(order) if r is not None and finisher.results[r] is None]
        while step < t_max and running:
            if greedy and step == settings.min_new_tokens:
                dec.eos_bias.zero_()
            with label("ls.step"):
                dec.step(b, greedy)
            if not greedy:
                picked = [spare if r is None or gens[r] is None else gens[r] for r in order]
                tokens = _choose(dec.logits[:b], settings, step, picked)
                dec.tok[:b, 0] = tokens
                dec.hist[:b, step] = tokens
            step += 1
            if greedy and step - synced < CHECK_EVERY and step < t_max:
                continue
            with label("ls.sync"):
                new = dec.hist[:b, synced:step].tolist()
            before = finisher.n_tokens
            ended = sum(x is not None for x in finisher.results)
            for r, tids in zip(order, new, strict=True):
                if r is not None:
                    finisher.push_many(r, tids)
            synced = step
            running = [
                j for j, r in enumerate(order) if r is not None and finisher.results[r] is None
            ]
            if on_step is not None:
                on_step(
                    finisher.n_tokens - before, sum(x is not None for x in finisher.results) - ended
                )
            if running and bucket(len(running)) < b:
                b = bucket(len(running))
                pick = running + [running[0]] * (b - len(running))
                dec.gather(pick)
                order = [order[j] for j in running] + [None] * (b - len(running))
    return finisher.done()
