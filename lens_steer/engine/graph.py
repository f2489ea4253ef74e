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
into its leading rows. The prefill is the plain engine's (:mod:`lens_steer.engine.prefill`), copied into
the static cache. Tokens reach the host every ``CHECK_EVERY`` steps (greedy), so a step costs one
graph replay and no synchronisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .decode import choose, start_batch
from .prefill import prefill
from .static import StaticDecoder
from .stopping import Finisher
from .types import Result, Row, Settings, SteerSpec

__all__ = [
    "StaticDecoder",
    "static_decoder",
    "release",
    "stats",
    "decode_batch_graph",
    "bucket",
    "CHECK_EVERY",
]

CHECK_EVERY = 8  # greedy steps between two looks at the tokens (EOS, stop sequences, progress)
CAPACITY_STEP = 128  # cache capacities are rounded up to this: fewer distinct shapes to capture
_ATTR = "_lens_steer_static_decoder"  # the decoder lives on its plain model: they go together


def bucket(n: int) -> int:
    """The smallest batch bucket ≥ ``n``: 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, … (a third
    of a bucket at most is padding)."""
    size = 1
    while True:
        for b in (size, 3 * size // 2):
            if b >= n:
                return b
        size *= 2


def static_decoder(backend: Any) -> StaticDecoder:
    """The :class:`StaticDecoder` of ``backend``'s plain model (kept while the model lives)."""
    dec = getattr(backend.hf, _ATTR, None)
    if dec is None:
        dec = StaticDecoder(backend)
        object.__setattr__(backend.hf, _ATTR, dec)  # a plain attribute, not a submodule
    return dec


def stats(plain_hf: Any) -> dict[str, Any] | None:
    """What the decoder of a plain model holds (see :func:`lens_steer.engine.decoder_stats`)."""
    dec = getattr(plain_hf, _ATTR, None)
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
    if getattr(plain_hf, _ATTR, None) is None:
        return False
    object.__delattr__(plain_hf, _ATTR)
    return True


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
    """:func:`lens_steer.engine.decode.decode_batch` with the static decoder; the same results."""
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
        first = choose(pre.logits, settings, 0, gens)
        for r, tid in enumerate(first.tolist()):
            finisher.push(r, tid)
        order: list[int | None] = list(range(n))  # original row of each bucket row (None: pad)

        def running() -> list[int]:  # bucket rows still decoding
            return [j for j, r in enumerate(order) if r is not None and finisher.results[r] is None]

        alive = running()
        if on_step is not None:
            on_step(finisher.n_tokens, n - len(alive))
        width, b = pre.mask.shape[1], bucket(n)
        capacity = -(-(width + t_max) // CAPACITY_STEP) * CAPACITY_STEP
        with label("ls.load"):
            dec.ensure(max(b, dec.rows), capacity, pre.cache, pre.logits.shape[-1], device)
            dec.load(pre, first, adder, b)
        del pre
        order += [None] * (b - n)
        dec.eos_bias.zero_()  # the buffer outlives calls: never inherit a suppression
        if settings.min_new_tokens > 1 and settings.eos_ids and greedy:
            dec.eos_bias[list(settings.eos_ids)] = -float("inf")
        synced, step = 1, 1
        while step < t_max and alive:
            if greedy and step == settings.min_new_tokens:
                dec.eos_bias.zero_()
            with label("ls.step"):
                dec.step(b, greedy)
            if not greedy:
                picked = [spare if r is None or gens[r] is None else gens[r] for r in order]
                tokens = choose(dec.logits[:b], settings, step, picked)
                dec.tok[:b, 0] = tokens
                dec.hist[:b, step] = tokens
            step += 1
            if greedy and step - synced < CHECK_EVERY and step < t_max:
                continue
            with label("ls.sync"):
                new = dec.hist[:b, synced:step].tolist()
            before = finisher.n_tokens
            for r, tids in zip(order, new, strict=True):
                if r is not None:
                    finisher.push_many(r, tids)
            synced, was = step, len(alive)
            alive = running()
            if on_step is not None:
                on_step(finisher.n_tokens - before, was - len(alive))
            if alive and bucket(len(alive)) < b:
                b = bucket(len(alive))
                pick = alive + [alive[0]] * (b - len(alive))
                dec.gather(pick)
                order = [order[j] for j in alive] + [None] * (b - len(alive))
                alive = running()
    return finisher.done()
