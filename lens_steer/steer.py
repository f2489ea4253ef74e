"""Steering: add λ·v to ``blocks.{l}.hook_resid_post`` of each vector's layer (or the vectors' own
hook point, ``meta["hook_point"]``), inside a context.

Hooks exist only inside ``with ls.steer(...)``; they are removed on exit and on exceptions, and
the model's weights are never touched.

Positions and the KV cache: the first forward pass seen in the context is the prompt (prefill);
a later single-token pass is one decoding step with a cache; a later multi-token pass is a fresh
run over prompt + generated tokens (no cache). With that rule ``positions="generated"`` and
``"last_prompt"`` are correct both with and without a cache. Pass ``prompt_len=`` to set the
prompt length explicitly, or call ``handle.reset()`` before steering a new prompt in the same
context.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from .activations import model_device, residual_norms
from .anchors import ANCHOR_TEXTS
from .errors import InputError
from .models.load import hook_name, model_name
from .options import POSITIONS
from .vectors import SteeringVectors, zero_layers

__all__ = [
    "steer",
    "apply_op",
    "unit_directions",
    "OPS",
    "Steering",
    "steering_ratio",
    "active_steerings",
    "check_fits",
    "relative_norms",
    "POSITIONS",
]

Positions = Literal["all", "generated", "last_prompt"]
Op = Literal["add", "ablate", "clamp"]
#: What a steering does to h at a steered position, with v the layer's vector, v̂ = v/‖v‖ and λ
#: the row's coefficient: "add" h + λ·v; "ablate" h − λ·(h·v̂)v̂ (λ = 1 removes the direction);
#: "clamp" h − (h·v̂)v̂ + λ·v̂ (the component along v̂ set to λ, lm-eval's clamp).
OPS = ("add", "ablate", "clamp")


def check_op(op: str, relative: bool) -> None:
    if op not in OPS:
        raise InputError(f"unknown op {op!r}: choose one of {OPS}")
    if op == "ablate" and relative:
        raise InputError(
            "op='ablate' takes λ as the share of the direction to remove (1 = all of it), "
            "not a fraction of ‖h‖: use relative=False"
        )


def unit_directions(vectors: SteeringVectors, op: str) -> Float[Tensor, "n_layers d_model"]:
    """The rows ``op`` uses: v as stored for "add", v̂ for "ablate" and "clamp"."""
    d = vectors.directions
    if op == "add":
        return d
    zero = zero_layers(d, vectors.layers)
    if zero:
        raise InputError(f"op={op!r} needs a direction, but layers {zero} have zero vectors")
    return d / d.norm(dim=-1, keepdim=True)


def apply_op(
    op: str,
    h: Float[Tensor, "batch pos d_model"],
    direction: Float[Tensor, " d_model"],
    coef: Float[Tensor, " batch_or_1"],
) -> Float[Tensor, "batch pos d_model"]:
    """``op`` at these positions (see :data:`OPS`); ``direction`` is v for "add", v̂ otherwise,
    and ``coef`` holds one λ per row or one for all. Returns a new tensor."""
    c = coef.reshape(-1, 1, 1).float()
    v = direction.reshape(1, 1, -1).float()
    if op == "add":  # the delta in float32, then h's dtype: as the engine's decoders add it
        return h + (c * v).to(h.dtype)
    along = (h.float() * v).sum(-1, keepdim=True)
    change = -c * along * v if op == "ablate" else (c - along) * v
    return (h.float() + change).to(h.dtype)


Lambda = float | Sequence[float] | Tensor


def check_fits(model: Any, vectors: SteeringVectors) -> None:
    d_model, n_layers = int(model.cfg.d_model), int(model.cfg.n_layers)
    if vectors.d_model != d_model:
        raise InputError(
            f"vector width {vectors.d_model} ≠ model d_model {d_model}: map the vectors with "
            "ls.transfer(vectors, model, width='ridge' | 'procrustes' | 'truncate')"
        )
    bad = [layer for layer in vectors.layers if layer >= n_layers]
    if bad:
        raise InputError(
            f"vector layers {bad} do not exist in {model_name(model)}, which has {n_layers} "
            f"layers (0..{n_layers - 1}): drop them with vectors.select(...) or transfer the "
            "vectors to this model"
        )


def _lam_type_error(lam: Any) -> TypeError:
    return TypeError(
        f"lam must be a number, a per-layer sequence of numbers or a 1-D tensor, got "
        f"{type(lam).__name__} {lam!r}"
    )


def _is_number(x: Any) -> bool:
    """A real number, but not a bool (``lam=True`` is a slip, not λ = 1)."""
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def _coefficients(lam: Lambda, n_rows: int) -> tuple[Tensor, bool]:
    """λ as ``[n_vector_rows, batch or 1]`` and whether it is one-per-batch-row."""
    if isinstance(lam, Tensor):
        if lam.ndim == 0:
            return lam.float().reshape(1, 1).expand(n_rows, 1), False
        if lam.ndim != 1:
            raise InputError(
                f"a λ tensor must be 1-D (one λ per batch row), got {tuple(lam.shape)}"
            )
        lam_rows = lam.detach().float()
        out = lam_rows.reshape(1, -1).expand(n_rows, -1)
        per_batch = True
    elif _is_number(lam):
        out, per_batch = torch.full((n_rows, 1), float(lam)), False
    else:
        # a string is a sequence too: "123" would silently read as λ = [1, 2, 3]
        if isinstance(lam, (str, bytes, Mapping)) or not isinstance(lam, Iterable):
            raise _lam_type_error(lam)
        lam = list(lam)
        if not all(_is_number(x) or (isinstance(x, Tensor) and x.numel() == 1) for x in lam):
            raise _lam_type_error(lam)
        values = [float(x) for x in lam]
        if len(values) != n_rows:
            raise InputError(
                f"{len(values)} per-layer λ values for {n_rows} steered layers; pass one per "
                "layer in vectors.layers order, a float, or a 1-D tensor (one per batch row)"
            )
        out, per_batch = torch.tensor(values).reshape(n_rows, 1), False
    if not torch.isfinite(out).all():
        raise InputError(f"λ must be finite, got {lam!r}")
    return out, per_batch


@dataclass
class Steering:
    """What :func:`steer` yields: the effective λ per layer and the position bookkeeping."""

    vectors: SteeringVectors
    coefficients: Float[Tensor, "n_layers batch_or_1"]
    positions: str
    prompt_len: int | None = None
    calls: int = 0
    step: int = 0
    _fixed_prompt_len: int | None = None

    def reset(self, prompt_len: int | None = None) -> None:
        """Forget the prompt seen so far (before steering a new prompt in the same context)."""
        self.prompt_len = prompt_len if prompt_len is not None else self._fixed_prompt_len
        self.calls = self.step = 0

    def _position_mask(self, seq: int) -> tuple[int, int] | None:
        """(start, stop) of the positions to steer in a pass of length ``seq``, or None for none."""
        first = self.calls == 0
        if first and self.prompt_len is None:
            self.prompt_len = seq
        plen = self.prompt_len
        if not first and seq == 1:  # a decoding step with a KV cache
            self.step += 1
            absolute = plen + self.step - 1
            if self.positions == "generated":
                return (0, 1) if absolute >= plen else None
            return None if self.positions == "last_prompt" else (0, 1)
        if self.positions == "all":
            return (0, seq)
        if self.positions == "generated":
            return (plen, seq) if seq > plen else None
        return (plen - 1, plen) if seq >= plen else None


def relative_norms(
    model: Any,
    vectors: SteeringVectors,
    reference_norms: Float[Tensor, " n_layers"] | None,
    norm_texts: Sequence[str] | None,
) -> Float[Tensor, " n_layers"]:
    """The per-layer mean ‖h‖ a relative λ multiplies: ``reference_norms`` checked, else measured
    on ``norm_texts`` (default: the built-in anchor texts). One rule for ``steer`` and the
    engine's decoders, so a relative λ means the same in both."""
    if reference_norms is None:
        texts = list(norm_texts) if norm_texts is not None else list(ANCHOR_TEXTS)
        reference_norms = residual_norms(model, texts, vectors.layers, hook=vectors.hook_point)
    if tuple(reference_norms.shape) != (len(vectors),):
        raise InputError(f"reference_norms must have shape ({len(vectors)},)")
    return reference_norms.float()


@contextmanager
def steer(
    model: Any,
    vectors: SteeringVectors,
    lam: Lambda = 1.0,
    *,
    positions: Positions = "all",
    relative: bool = False,
    reference_norms: Tensor | None = None,
    norm_texts: Sequence[str] | None = None,
    prompt_len: int | None = None,
    op: Op = "add",
) -> Iterator[Steering]:
    """Add λ·v to each steered layer's residual stream for every forward inside the block
    (or, with ``op``, ablate or clamp the vector's direction there).

    A 1-D λ tensor is λ-batching: one forward pass sweeps many λ, one per batch row.

    Args:
        model: a TransformerBridge or HookedTransformer (anything with ``hooks``).
        vectors: the steering vectors; their width and layers must fit ``model``. The vectors'
            norms are used as stored (λ multiplies them).
        lam: a float (every layer); a per-layer sequence of numbers in ``vectors.layers``
            order; or a 1-D tensor with one λ per batch row, whose length must equal the batch
            size of every forward in the block. Must be finite; ``True`` is not a number here.
        positions: "all" positions, only "generated" tokens, or only the "last_prompt" token
            (see the module docstring for how passes are told apart).
        relative: multiply λ by the model's mean residual norm at each layer, so λ reads as a
            fraction of ‖h‖.
        reference_norms: those norms, shape ``(len(vectors),)``; None measures them with
            :func:`~lens_steer.activations.residual_norms` on ``norm_texts``, or a built-in
            anchor set. Ignored unless ``relative``.
        norm_texts: texts to measure the norms on.
        prompt_len: the prompt's length in tokens; None takes the first pass's length.
        op: "add" (h + λ·v), "ablate" (h − λ·(h·v̂)v̂: λ = 1 removes the direction) or "clamp"
            (h − (h·v̂)v̂ + λ·v̂: the component along v̂ set to λ; with ``relative``, to λ·‖h‖).

    Yields:
        The :class:`Steering` state: effective λ per layer (``coefficients``, after
        ``relative``), position bookkeeping and ``reset()`` for the next prompt.

    Raises:
        InputError: vectors that do not fit the model; an unknown ``positions`` or ``op``;
            ``op="ablate"`` with ``relative``; a zero vector for ablate or clamp; a λ that is
            not finite, or a sequence of the wrong length; a λ tensor that is not 1-D (or,
            during a forward, whose length differs from the batch); bad ``reference_norms``.
        TypeError: a λ of the wrong type (a string, a bool, a mapping, ...).
    """
    check_fits(model, vectors)
    if positions not in POSITIONS:
        raise InputError(f"unknown positions {positions!r}: choose one of {POSITIONS}")
    check_op(op, relative)
    coef, per_batch = _coefficients(lam, len(vectors))
    if relative:
        norms = relative_norms(model, vectors, reference_norms, norm_texts)
        coef = coef * norms.reshape(-1, 1).cpu()
    device = model_device(model)
    state = Steering(vectors, coef, positions, prompt_len, _fixed_prompt_len=prompt_len)
    directions = unit_directions(vectors, op).to(device)
    coef_dev = coef.to(device)
    first_layer = min(vectors.layers)  # the first steered layer a forward pass reaches
    window: list[tuple[int, int] | None] = [None]

    def make_hook(row: int, layer: int):
        def hook(resid: Tensor, hook: Any) -> Tensor:
            if layer == first_layer:  # the first steered layer decides the window for this pass
                window[0] = state._position_mask(resid.shape[1])
                state.calls += 1
            span = window[0]
            if span is None:
                return resid
            c = coef_dev[row]
            if per_batch and c.shape[0] != resid.shape[0]:
                raise InputError(
                    f"{c.shape[0]} per-row λ values for a batch of {resid.shape[0]} rows"
                )
            out = resid.clone()
            part = out[:, span[0] : span[1]]
            out[:, span[0] : span[1]] = apply_op(op, part, directions[row], c)
            return out

        return hook

    point = vectors.hook_point
    hooks = [(hook_name(k, point), make_hook(i, k)) for i, k in enumerate(vectors.layers)]
    active = _ACTIVE.setdefault(id(model), [])
    active.append(state)
    try:
        with model.hooks(fwd_hooks=hooks):
            yield state
    finally:
        active.remove(state)
        if not active:
            _ACTIVE.pop(id(model), None)


# Steering states live inside ``steer`` blocks, per model (by id): a generation engine that
# decodes several batches inside one block resets their position bookkeeping per batch.
_ACTIVE: dict[int, list[Steering]] = {}


def active_steerings(model: Any) -> list[Steering]:
    """The :class:`Steering` states of the ``steer`` blocks currently open on ``model``."""
    return list(_ACTIVE.get(id(model), ()))


def steering_ratio(
    model: Any,
    vectors: SteeringVectors,
    lam: float | Sequence[float],
    texts: Sequence[str] | None = None,
    batch_size: int = 8,
) -> Float[Tensor, " n_layers"]:
    """‖λ·v‖ / mean‖h‖ per steered layer: how big a nudge λ really is at each depth.

    Args:
        model: the model the vectors steer; its width and layers must fit them.
        vectors: the steering vectors (their stored norms count, they need not be unit).
        lam: an absolute λ (not ``relative``): a float, or one per layer in ``vectors.layers``
            order. Its sign does not matter.
        texts: texts to measure mean‖h‖ on (see :func:`~lens_steer.activations.residual_norms`);
            None or empty uses the built-in anchor texts.
        batch_size: texts per forward pass.

    Returns:
        ``|λ|·‖v‖ / mean‖h‖`` per layer, ``[n_layers]`` float32 on CPU, in ``vectors.layers``
        order.

    Raises:
        InputError: vectors that do not fit the model, or a λ that is not finite, has the
            wrong number of per-layer values, or is a 1-D tensor of several per-row values.
        TypeError: a λ of the wrong type.
    """
    check_fits(model, vectors)
    coef, per_batch = _coefficients(lam, len(vectors))
    if per_batch and coef.shape[1] != 1:  # one ratio per layer: a λ per batch row has no meaning
        raise InputError(
            f"steering_ratio takes one λ (or one per layer), got a tensor of {coef.shape[1]} "
            "per-row values; call it once per λ"
        )
    texts = list(texts or ANCHOR_TEXTS)
    norms = residual_norms(model, texts, vectors.layers, batch_size, hook=vectors.hook_point)
    return coef[:, 0].abs() * vectors.directions.float().norm(dim=-1).cpu() / norms
