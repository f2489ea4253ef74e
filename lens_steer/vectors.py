"""``SteeringVectors``: one unit direction per model layer, plus where it came from.

A value, not state: every transformation returns a new object, and the provenance travels with the
tensor into the safetensors file so a vector found on disk can always say how it was made.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from .errors import InputError

__all__ = ["SteeringVectors", "FORMAT_VERSION", "zero_layers"]

FORMAT_VERSION = 1


def _freeze(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(meta, Mapping):
        raise InputError(f"meta must be a mapping (JSON object), got {type(meta).__name__}")
    json.dumps(dict(meta))  # provenance must survive a save: refuse non-JSON values early
    return MappingProxyType(dict(meta))


def zero_layers(directions: Tensor, layers: Sequence[int]) -> list[int]:
    """The layers whose direction is exactly zero (a zero vector steers nothing)."""
    norms = directions.detach().float().norm(dim=-1).cpu()
    return [layer for layer, n in zip(layers, norms.tolist(), strict=True) if n == 0.0]


def _check_layers(layers: tuple[int, ...], meta: Mapping[str, Any]) -> None:
    """Layer indices must exist in the model the vectors say they belong to."""
    depth = meta.get("model_n_layers") if isinstance(meta, Mapping) else None
    if not isinstance(depth, int) or isinstance(depth, bool):
        return
    bad = [x for x in layers if x >= depth]
    if bad:
        raise InputError(
            f"layer indices {bad} do not exist in {meta.get('target_model') or meta.get('source_model') or 'the model'} "
            f"(meta model_n_layers={depth}: layers 0..{depth - 1})"
        )


#: meta lists with one entry per layer (in ``layers`` order), kept aligned by ``select``
PER_LAYER_META = (
    "probe_accuracy",
    "probe_converged",
    "layer_map",
    "cka",
    "width_r2",
    "ridge_alpha",
    "original_norms",
    "coefficients",
    "source_layer_keys",
)
#: meta keys two operands of vector algebra must not disagree on (absent counts as agreeing)
_MUST_AGREE = {"hook_point": "hook_resid_post", "coordinates": None, "model_n_layers": None}
#: meta keys a composed value keeps when every operand has the same value
_KEPT = (
    "hook_point",
    "coordinates",
    "model_n_layers",
    "model_d_model",
    "target_model",
    "source_model",
    "model_hint",
)
_SUMMARY = ("kind", "method", "source_model", "target_model", "pair_strategy", "data_hash")


def _summary(vecs: SteeringVectors) -> dict[str, Any]:
    """An operand as a composition records it: a few provenance keys and a content hash."""
    out = {k: vecs.meta[k] for k in _SUMMARY if k in vecs.meta}
    data = vecs.directions.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    out["fingerprint"] = hashlib.sha256(data).hexdigest()[:16]
    if "composition" in vecs.meta:
        out["op"] = vecs.meta["composition"]["op"]
    return out


@dataclass(frozen=True, eq=False)
class SteeringVectors:
    """Steering directions for a set of model layers.

    A frozen value: every transformation (``replace``, ``select``, ``to``) returns a new object.

    Attributes:
        directions: ``[n_layers, d_model]`` floating point, finite; ``directions[i]`` belongs
            to model layer ``layers[i]``. Unit norm when extracted (or transferred with
            ``normalize=True``), but not required to be.
        layers: model layer indices, distinct and ≥ 0, in row order (not necessarily sorted);
            each must be below ``meta["model_n_layers"]`` when ``meta`` records it.
        explained_variance: ``[n_layers]`` share of the pair differences' variance (or second
            moment) the direction explained at extraction (carried over unchanged by
            :func:`~lens_steer.transfer`); or None.
        sign_agreement: ``[n_layers]`` fraction of pairs that project the right way at
            extraction (carried over likewise); or None.
        meta: JSON-serialisable provenance (a read-only mapping), saved with the tensors.

    Raises:
        InputError: on construction, for any of the constraints above being broken.
    """

    directions: Float[Tensor, "n_layers d_model"]
    layers: tuple[int, ...]
    explained_variance: Float[Tensor, " n_layers"] | None = None
    sign_agreement: Float[Tensor, " n_layers"] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d = self.directions
        if not isinstance(d, Tensor) or d.ndim != 2:
            raise InputError(
                f"directions must be a 2-D tensor [n_layers, d_model], got "
                f"{getattr(d, 'shape', type(d).__name__)}"
            )
        if not d.is_floating_point():
            raise InputError(f"directions must be floating point, got {d.dtype}")
        layers = tuple(int(x) for x in self.layers)
        if len(layers) != d.shape[0]:
            raise InputError(f"{len(layers)} layer indices for {d.shape[0]} directions")
        if len(set(layers)) != len(layers) or any(x < 0 for x in layers):
            raise InputError(f"layer indices must be distinct and non-negative, got {layers}")
        finite = torch.isfinite(d).all(dim=-1).cpu().tolist()
        if not all(finite):
            bad = [layer for layer, ok in zip(layers, finite, strict=True) if not ok]
            raise InputError(f"directions of layers {bad} contain NaN or inf values")
        object.__setattr__(self, "layers", layers)
        for name in ("explained_variance", "sign_agreement"):
            value = getattr(self, name)
            if value is not None and tuple(value.shape) != (d.shape[0],):
                raise InputError(
                    f"{name} must have shape ({d.shape[0]},), got {tuple(value.shape)}"
                )
        object.__setattr__(self, "meta", _freeze(self.meta))
        _check_layers(layers, self.meta)

    # -- views -----------------------------------------------------------------------------
    @property
    def d_model(self) -> int:
        return int(self.directions.shape[1])

    @property
    def hook_point(self) -> str:
        """Where the vectors were read and are written: a TransformerLens hook name without the
        block (``"hook_resid_post"`` unless ``meta`` says otherwise)."""
        return str(self.meta.get("hook_point", "hook_resid_post"))

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, layer: int) -> Float[Tensor, " d_model"]:
        """The direction of model layer ``layer`` (not row index)."""
        try:
            return self.directions[self.layers.index(layer)]
        except ValueError:
            raise KeyError(f"no vector for layer {layer}; layers present: {self.layers}") from None

    def replace(self, **changes: Any) -> SteeringVectors:
        """A copy with some fields changed; ``meta`` entries are merged, not replaced."""
        if "meta" in changes:
            changes["meta"] = {**self.meta, **changes["meta"]}
        return dataclasses.replace(self, **changes)

    def select(self, layers: Sequence[int]) -> SteeringVectors:
        """Only the given model layers, in the order given (per-layer meta lists follow)."""
        rows = [self.layers.index(layer) for layer in layers if layer in self.layers]
        missing = sorted(set(layers) - set(self.layers))
        if missing:
            raise KeyError(f"layers {missing} not present; available: {self.layers}")
        pick = torch.tensor(rows, dtype=torch.long)

        def sub(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[pick]

        n = len(self.layers)
        meta = {
            k: [v[i] for i in rows]
            if k in PER_LAYER_META and isinstance(v, (list, tuple)) and len(v) == n
            else v
            for k, v in self.meta.items()
        }
        return SteeringVectors(
            self.directions[pick],
            tuple(layers),
            sub(self.explained_variance),
            sub(self.sign_agreement),
            meta,
        )

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None):
        return self.replace(directions=self.directions.to(device=device, dtype=dtype))

    def __repr__(self) -> str:
        src = self.meta.get("source_model", "?")
        return (
            f"SteeringVectors({len(self)} layers {self.layers[0]}..{self.layers[-1]}, "
            f"d_model={self.d_model}, method={self.meta.get('method', '?')}, source={src})"
            if len(self)
            else "SteeringVectors(empty)"
        )

    # -- algebra ----------------------------------------------------------------------------
    # Concept arithmetic (repeng's ControlVector has the same): every result is a new value whose
    # meta records the operation and its operands' provenance. Explained variance and sign
    # agreement describe an extraction, not a sum, so sums and scalings drop them.

    def _aligned(self, other: Any, op: str) -> SteeringVectors:
        """``other`` in this object's layer order, after checking the two can be combined."""
        if not isinstance(other, SteeringVectors):
            raise TypeError(f"cannot {op} SteeringVectors and {type(other).__name__}")
        if set(other.layers) != set(self.layers):
            raise InputError(
                f"cannot {op} vectors for layers {self.layers} and {other.layers}: select the "
                "same layers first (vecs.select(...))"
            )
        if other.d_model != self.d_model:
            raise InputError(f"cannot {op} vectors of width {self.d_model} and {other.d_model}")
        for key, default in _MUST_AGREE.items():
            values = {str(v.meta.get(key, default)) for v in (self, other)}
            values.discard("None")
            if len(values) > 1:
                raise InputError(f"cannot {op} vectors with different {key}: {sorted(values)}")
        return other.select(self.layers)

    def _composed(self, directions: Tensor, op: str, operands: list[SteeringVectors], **extra):
        """A new value whose meta keeps what every operand agrees on and names the operands
        (a summary and a fingerprint each: nesting their full meta would grow without bound)."""
        meta = {
            k: self.meta[k]
            for k in _KEPT
            if k in self.meta and all(o.meta.get(k) == self.meta[k] for o in operands)
        }
        summaries = [_summary(o) for o in operands]
        meta.update(kind="composed", composition={"op": op, "operands": summaries, **extra})
        return SteeringVectors(directions, self.layers, meta=meta)

    def __add__(self, other: Any) -> SteeringVectors:
        b = self._aligned(other, "add")
        return self._composed(self.directions + b.directions, "+", [self, b])

    def __radd__(self, other: Any) -> SteeringVectors:
        if isinstance(other, (int, float)) and not isinstance(other, bool) and other == 0:
            return self  # sum([a, b]) starts from 0
        return NotImplemented

    def __sub__(self, other: Any) -> SteeringVectors:
        b = self._aligned(other, "subtract")
        return self._composed(self.directions - b.directions, "-", [self, b])

    def __neg__(self) -> SteeringVectors:
        return self._composed(-self.directions, "neg", [self])

    def __mul__(self, factor: Any) -> SteeringVectors:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            return NotImplemented
        if not math.isfinite(factor):
            raise InputError(f"cannot scale vectors by {factor}")
        return self._composed(self.directions * factor, "scale", [self], factor=factor)

    __rmul__ = __mul__

    def __truediv__(self, factor: Any) -> SteeringVectors:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            return NotImplemented
        if factor == 0 or not math.isfinite(factor):
            raise InputError(f"cannot divide vectors by {factor}")
        return self * (1.0 / factor)

    def normalized(self) -> SteeringVectors:
        """Each layer's direction scaled to unit norm (extraction statistics kept: same direction).

        Raises:
            InputError: a layer whose direction is zero has no unit direction.
        """
        zero = zero_layers(self.directions, self.layers)
        if zero:
            raise InputError(f"the directions of layers {zero} are zero: no unit direction")
        unit = self.directions / self.directions.norm(dim=-1, keepdim=True)
        return self.replace(directions=unit, meta={"normalized": True})

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write lens_steer's safetensors file, provenance in its header (atomic: no partial file).

        Args:
            path: the file to write; missing parent folders are created and an existing file
                is replaced.

        Returns:
            ``path`` as a ``Path``. The tensors are stored float32 on CPU (a bf16 / fp16
            vector loads back as float32), ``meta`` as JSON with the format version.

        Raises:
            InputError: a layer whose direction is all zero (:meth:`load` would refuse the
                file); nothing is written.
        """
        from .formats.native import write_native

        return write_native(self, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> SteeringVectors:
        """Read vectors from lens_steer's safetensors or another tool's file, told by content.

        Reads :meth:`save`'s files exactly; llama.cpp / repeng / EasySteer control-vector
        ``.gguf``, lm-evaluation-harness steer ``.pt`` (``weights_only``, never a full unpickle)
        and IBM activation-steering ``.svec`` come in as the source tool applies them, so
        ``steer(model, v, lam=s)`` does what that tool does at strength ``s``; their ``meta``
        records ``source_format`` and ``original_norms`` (see :mod:`lens_steer.formats`).

        Args:
            path: the file.

        Returns:
            The :class:`SteeringVectors`, on CPU, float32.

        Raises:
            FileNotFoundError: no file at ``path``.
            InputError: naming the file: an unknown, truncated or corrupt file; another
                lens_steer format version; missing tensors, bad shapes, NaN or inf values; a
                layer whose direction is all zero; a hook point or action lens_steer cannot
                steer with.
        """
        from .formats import read

        return read(path)

    def export(self, path: str | Path, format: str, **options: Any) -> Path:
        """Write these vectors for another tool, λ baked in: see :func:`lens_steer.formats.export`.

        ``format`` is "gguf" (llama.cpp), "lm-eval" or "svec" (IBM activation-steering);
        ``lam=``, ``reference_norms=`` (a relative λ's mean ‖h‖ per layer), ``model_hint=``,
        ``positions=`` and ``hookpoint=`` are passed on. The write is atomic.
        """
        from .formats import export

        return export(self, path, format, **options)
