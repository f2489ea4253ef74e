"""The batched decoding engine behind :func:`lens_steer.generate`.

One batch: prefill the prompts into a KV cache (logits of the last position only; left-padded, or
a prefix shared by the batch computed once and then the suffixes, see :mod:`lens_steer.engine.prefill`),
then decode one token per step for the rows still running. A row ends at EOS, at a stop sequence or at
``max_new_tokens``; finished rows are dropped from the batch, the KV cache, the mask and the
steering coefficients at once, so they cost nothing afterwards.

Two backends run the forward passes:

- ``plain`` (the fast path): the bridge's HF modules without bridge components
  (:mod:`lens_steer.engine.plain`), a pre-allocated KV cache, and steering added by one PyTorch forward
  hook per steered decoder layer.
- ``hooks``: the bridge's own forward, steering through ``blocks.{l}.hook_resid_post`` hook points,
  HF's ``DynamicCache``. Used whenever hooks are already on the model (e.g. inside
  ``with ls.steer(...)``) and for models the fast path does not cover; the tests prove the two agree.

Steering arithmetic is exactly :func:`lens_steer.steer`'s: the row coefficient λ (times the
layer's reference norm when relative) times the direction, cast to the residual dtype, added to
the positions the ``positions`` rule picks (all / generated / the last prompt token).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from ..models.load import hook_name
from ..steer import active_steerings, apply_op
from .prefill import prefill
from .stopping import Finisher
from .types import Result, Row, Settings, SteerSpec

__all__ = [
    "Adder",
    "choose",
    "make_backend",
    "start_batch",
    "decode_batch",
    "row_seed",
]


def row_seed(seed: int, prompt: str, lam: float | None, sample: int) -> int:
    """A per-row sampling seed: reproducible whatever the batch composition or cache state."""
    blob = f"{seed}|{lam!r}|{sample}|{prompt}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:7], "little")


def row_coefficients(lams: Sequence[Any], n_layers: int) -> Float[Tensor, "layer row"]:
    """λ per (layer, row): a row's λ is one number for every layer, or a tuple with one per
    steered layer (a layer search's rows: λ on the candidate set, 0 elsewhere)."""
    cols = []
    for lam in lams:
        if isinstance(lam, tuple):
            if len(lam) != n_layers:
                raise ValueError(f"a per-layer λ row has {len(lam)} values for {n_layers} layers")
            cols.append(torch.tensor([float(x) for x in lam]))
        else:
            cols.append(torch.full((n_layers,), float(lam)))
    return torch.stack(cols, dim=1).float()


class Adder:
    """Per-row steering deltas, added where the ``positions`` rule says.

    ``phase``: "prompt" (a pass whose last column is every row's last prompt token: left
    padding), "prefix" (a shared prompt prefix: never the last prompt token) or "decode".
    """

    def __init__(self, spec: SteerSpec, lams: Sequence[Any], device: torch.device, dtype):
        n = len(spec.layers)
        coef = row_coefficients(lams, n)
        if spec.norms is not None:  # exactly steer(relative=True)'s λ·‖h‖ per layer
            coef = coef * spec.norms.float().reshape(-1, 1).cpu()
        self.coefs = coef.to(device)  # [layer, row]: what ablate and clamp use per row
        self.dirs = spec.directions.to(device)
        self.deltas = [  # what "add" adds, formed once (the CUDA-graph decoder copies these)
            (self.coefs[i].reshape(-1, 1, 1) * self.dirs[i].reshape(1, 1, -1)).to(dtype)
            for i in range(n)
        ]
        self.layers, self.positions, self.phase = spec.layers, spec.positions, "prompt"
        self.op, self.point = spec.op, spec.point
        self.trunk: Any = None  # a .trunk.Trunk while a shared-trunk prefix pass runs

    def select(self, keep: Tensor) -> None:
        self.deltas = [d.index_select(0, keep) for d in self.deltas]
        self.coefs = self.coefs.index_select(1, keep)

    @contextmanager
    def rows(self, idx: Tensor, phase: str):
        """Temporarily steer only rows ``idx`` (in that order) in ``phase``."""
        saved = self.deltas, self.coefs, self.phase
        self.deltas = [d.index_select(0, idx) for d in self.deltas]
        self.coefs, self.phase = self.coefs.index_select(1, idx), phase
        try:
            yield
        finally:
            self.deltas, self.coefs, self.phase = saved

    def span(self, seq: int) -> tuple[int, int] | None:
        if self.phase == "decode":  # one new (generated) token per row
            return None if self.positions == "last_prompt" else (0, seq)
        if self.positions == "all":
            return (0, seq)
        if self.positions == "last_prompt" and self.phase == "prompt":
            return (seq - 1, seq)
        return None  # "generated" never steers the prompt; a prefix holds no last token

    def add_(
        self, i: int, resid: Float[Tensor, "batch seq d_model"]
    ) -> Float[Tensor, "batch seq d_model"]:
        span = self.span(resid.shape[1])
        if span is None:
            return resid
        if self.op == "add":
            resid[:, span[0] : span[1]] += self.deltas[i]
        else:
            part = resid[:, span[0] : span[1]]
            resid[:, span[0] : span[1]] = apply_op(self.op, part, self.dirs[i], self.coefs[i])
        return resid

    def torch_hook(self, i: int) -> Callable:
        def hook(module: Any, args: Any, output: Any) -> Any:
            h = output[0] if isinstance(output, tuple) else output
            if self.trunk is None:
                self.add_(i, h)
                return None
            h = self.trunk.split(i, h)  # a new batch: one row per steering history
            return (h, *output[1:]) if isinstance(output, tuple) else h

        return hook

    def torch_pre_hook(self, i: int) -> Callable:
        """A ``with_kwargs`` forward pre-hook steering a module's input (a layer's resid_pre)."""

        def hook(module: Any, args: Any, kwargs: Any) -> None:
            self.add_(i, args[0] if args else kwargs["hidden_states"])

        return hook

    def tl_hook(self, i: int) -> Callable:
        def hook(resid: Tensor, hook: Any) -> Tensor:
            return self.add_(i, resid.clone())

        return hook


Keep = int | Tensor


def _n_keep(keep: Keep) -> int:
    return keep.shape[1] if isinstance(keep, Tensor) else max(keep, 1)


@contextmanager
def _only_rows(head: Any, flags: Tensor):
    """Feed the unembedding only the hidden states flagged in ``flags`` ([batch, k]).

    A pre-hook, so the model's own head (and any logit soft-capping after it) still runs: the
    logits come out as [1, n_flagged, vocab] instead of [batch, k, vocab].
    """

    def pre(module: Any, args: tuple) -> tuple:
        return (args[0][flags].unsqueeze(0), *args[1:])

    handle = head.register_forward_pre_hook(pre)
    try:
        yield
    finally:
        handle.remove()


class _PlainBackend:
    name = "plain"
    shares_prefix = True

    def __init__(self, model: Any, attn: str = "sdpa"):
        from .plain import plain_model

        self.model, self.attn = model, attn
        self.hf, self.decoder_layers = plain_model(model, attn)
        self.config = self.hf.config

    def new_cache(self, capacity: int) -> Any:
        from .plain import make_kv_cache

        return make_kv_cache(self.config, capacity)

    @contextmanager
    def attach(self, adder: Adder | None):
        handles = []
        if adder is not None:
            from .plain import steered_module

            for i, layer in enumerate(adder.layers):  # resid_mid: steering_engine sends it away
                module, is_input = steered_module(self.decoder_layers[layer], adder.point)
                handles.append(
                    module.register_forward_pre_hook(adder.torch_pre_hook(i), with_kwargs=True)
                    if is_input
                    else module.register_forward_hook(adder.torch_hook(i))
                )
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def before_batch(self) -> None:
        pass

    def forward(
        self,
        ids: Int[Tensor, "batch seq"],
        mask: Int[Tensor, "batch width"],
        pos: Int[Tensor, "batch seq"],
        cache: Any,
        keep: Keep = 0,
    ) -> (
        Float[Tensor, "batch vocab"]
        | Float[Tensor, "batch k vocab"]
        | Float[Tensor, "flagged vocab"]
    ):
        with ExitStack() as stack:
            if isinstance(keep, Tensor):  # unembed only the flagged positions
                head = self.hf.get_output_embeddings()
                stack.enter_context(_only_rows(head, keep))
            out = self.hf(
                input_ids=ids,
                attention_mask=mask,
                position_ids=pos,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=_n_keep(keep),
            )
        if isinstance(keep, Tensor):
            return out.logits[0]
        return out.logits[:, -keep:] if keep else out.logits[:, -1]


class _HookBackend:
    name = "hooks"
    shares_prefix = False  # one prompt pass per batch, as ls.steer's bookkeeping expects

    def __init__(self, model: Any):
        self.model = model
        self.config = model.original_model.config

    def new_cache(self, capacity: int) -> Any:
        from transformers.cache_utils import DynamicCache

        return DynamicCache(config=self.config)

    @contextmanager
    def attach(self, adder: Adder | None):
        with ExitStack() as stack:
            if adder is not None:
                hooks = [
                    (hook_name(layer, adder.point), adder.tl_hook(i))
                    for i, layer in enumerate(adder.layers)
                ]
                stack.enter_context(self.model.hooks(fwd_hooks=hooks))
            yield

    def before_batch(self) -> None:
        for state in active_steerings(self.model):  # a new prompt batch: new prompt length
            state.reset()

    def forward(
        self,
        ids: Int[Tensor, "batch seq"],
        mask: Int[Tensor, "batch width"],
        pos: Int[Tensor, "batch seq"],
        cache: Any,
        keep: Keep = 0,
    ) -> (
        Float[Tensor, "batch vocab"]
        | Float[Tensor, "batch k vocab"]
        | Float[Tensor, "flagged vocab"]
    ):
        logits = self.model(
            ids,
            attention_mask=mask,
            position_ids=pos,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=_n_keep(keep),
            return_type="logits",
        )
        if isinstance(keep, Tensor):
            return logits[:, -keep.shape[1] :][keep]
        return logits[:, -keep:] if keep else logits[:, -1]


def make_backend(model: Any, engine: str, attn: str = "sdpa") -> Any:
    """The forward-pass backend of ``engine`` ("plain", "hooks"; "graph" prefills with "plain").

    ``forward(..., keep=k)`` returns the logits of the last ``k`` positions ([batch, k, vocab]),
    ``keep=0`` of the last only ([batch, vocab]), and a boolean ``keep`` of shape [batch, k] only
    those of the flagged positions among the last k, flattened row by row ([n_flagged, vocab]).
    """
    if engine == "graph" and attn == "sdpa":  # grouped KV heads without a per-step copy
        from .attention import register

        attn = register()
    return _PlainBackend(model, attn) if engine in ("plain", "graph") else _HookBackend(model)


def choose(
    logits: Float[Tensor, "batch vocab"], settings: Settings, step: int, gens: list[Any]
) -> Int[Tensor, " batch"]:
    """The next token of each row: greedy, or a seeded draw from softmax(logits / T)."""
    logits = logits.float()
    if step < settings.min_new_tokens and settings.eos_ids:
        logits[:, list(settings.eos_ids)] = -math.inf
    if settings.temperature <= 0:
        return logits.argmax(dim=-1)
    # Gumbel-max with one generator per row = a categorical draw from softmax(logits / T).
    noise = torch.stack([torch.rand(logits.shape[-1], generator=g) for g in gens])
    gumbel = -torch.log(-torch.log(noise.clamp_min(1e-12))).to(logits.device)
    return (logits / settings.temperature + gumbel).argmax(dim=-1)


def start_batch(
    backend: Any, rows: Sequence[Row], device: torch.device, steer_spec: SteerSpec | None
) -> tuple[list[torch.Generator | None], Adder | None, list[float | None]]:
    """Per-row sampling generators, the steering adder, and the prefix keys: rows share the
    steering of a common prompt prefix unless positions="all" gives them different λ there."""
    gens = [None if r.seed is None else torch.Generator().manual_seed(r.seed) for r in rows]
    adder = None
    if steer_spec is not None:
        dtype = next(backend.model.parameters()).dtype
        adder = Adder(steer_spec, [r.lam for r in rows], device, dtype)
    keys = [r.lam if adder is not None and adder.positions == "all" else None for r in rows]
    return gens, adder, keys


def decode_batch(
    backend: Any,
    rows: Sequence[Row],
    settings: Settings,
    tokenizer: Any,
    pad_id: int,
    device: torch.device,
    steer_spec: SteerSpec | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> list[Result]:
    """Decode ``rows`` as one batch; ``on_step(new_tokens, finished_rows)`` reports progress."""
    n, t_max = len(rows), settings.max_new_tokens
    gens, adder, keys = start_batch(backend, rows, device, steer_spec)
    finisher = Finisher(n, settings, tokenizer)
    alive = list(range(n))
    backend.before_batch()
    with torch.inference_mode(), backend.attach(adder):
        pre = prefill(backend, [r.ids for r in rows], keys, adder, pad_id, device, t_max)
        logits, cache, next_pos = pre.logits, pre.cache, pre.next_pos
        width = pre.mask.shape[1]
        full_mask = pre.mask.new_ones((n, width + t_max))
        full_mask[:, :width] = pre.mask
        if adder is not None:
            adder.phase = "decode"
        for step in range(t_max):
            tokens = choose(logits, settings, step, [gens[r] for r in alive])
            keep, before = [], finisher.n_tokens
            for j, tid in enumerate(tokens.tolist()):
                if not finisher.push(alive[j], tid):
                    keep.append(j)
            if on_step is not None:
                on_step(finisher.n_tokens - before, len(alive) - len(keep))
            if not keep:
                break
            if len(keep) < len(alive):
                idx = torch.tensor(keep, device=device)
                cache.batch_select_indices(idx)
                full_mask, next_pos, tokens = full_mask[idx], next_pos[idx], tokens[idx]
                if adder is not None:
                    adder.select(idx)
                alive = [alive[j] for j in keep]
            step_mask = full_mask[:, : width + step + 1]
            logits = backend.forward(tokens[:, None], step_mask, next_pos[:, None], cache)
            next_pos = next_pos + 1
    return finisher.done()
