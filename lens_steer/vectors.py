"""``SteeringVectors``: one unit direction per model layer, plus where it came from.

A value, not state: every transformation returns a new object, and the provenance travels with the
tensor into the safetensors file so a vector found on disk can always say how it was made.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

__all__ = ["SteeringVectors", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_META_KEY = "lens_steer"


def _freeze(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    json.dumps(dict(meta))  # provenance must survive a save: refuse non-JSON values early
    return MappingProxyType(dict(meta))


@dataclass(frozen=True, eq=False)
class SteeringVectors:
    """Steering directions for a set of model layers.

    ``directions[i]`` belongs to model layer ``layers[i]``. ``explained_variance[i]`` and
    ``sign_agreement[i]`` describe how that direction was found (NaN when not applicable, e.g.
    after a width map). ``meta`` holds JSON-serialisable provenance.
    """

    directions: Float[Tensor, "n_layers d_model"]
    layers: tuple[int, ...]
    explained_variance: Float[Tensor, " n_layers"] | None = None
    sign_agreement: Float[Tensor, " n_layers"] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d = self.directions
        if not isinstance(d, Tensor) or d.ndim != 2:
            raise ValueError(
                f"directions must be a 2-D tensor [n_layers, d_model], got "
                f"{getattr(d, 'shape', type(d).__name__)}"
            )
        if not d.is_floating_point():
            raise ValueError(f"directions must be floating point, got {d.dtype}")
        if not torch.isfinite(d).all():
            raise ValueError("directions contain NaN or inf values")
        layers = tuple(int(x) for x in self.layers)
        if len(layers) != d.shape[0]:
            raise ValueError(f"{len(layers)} layer indices for {d.shape[0]} directions")
        if len(set(layers)) != len(layers) or any(x < 0 for x in layers):
            raise ValueError(f"layer indices must be distinct and non-negative, got {layers}")
        object.__setattr__(self, "layers", layers)
        for name in ("explained_variance", "sign_agreement"):
            value = getattr(self, name)
            if value is not None and tuple(value.shape) != (d.shape[0],):
                raise ValueError(
                    f"{name} must have shape ({d.shape[0]},), got {tuple(value.shape)}"
                )
        object.__setattr__(self, "meta", _freeze(self.meta))

    # -- views -----------------------------------------------------------------------------
    @property
    def d_model(self) -> int:
        return int(self.directions.shape[1])

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
        """Only the given model layers, in the order given."""
        rows = [self.layers.index(layer) for layer in layers if layer in self.layers]
        missing = sorted(set(layers) - set(self.layers))
        if missing:
            raise KeyError(f"layers {missing} not present; available: {self.layers}")
        pick = torch.tensor(rows, dtype=torch.long)

        def sub(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[pick]

        return SteeringVectors(
            self.directions[pick],
            tuple(layers),
            sub(self.explained_variance),
            sub(self.sign_agreement),
            self.meta,
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

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a safetensors file with the provenance in its metadata (atomic: no partial file)."""
        from safetensors.torch import save_file

        path = Path(path)
        tensors = {
            "directions": self.directions.detach().to("cpu", torch.float32).contiguous(),
            "layers": torch.tensor(self.layers, dtype=torch.int64),
        }
        for name in ("explained_variance", "sign_agreement"):
            value = getattr(self, name)
            if value is not None:
                tensors[name] = value.detach().to("cpu", torch.float32).contiguous()
        header = {_META_KEY: json.dumps(dict(self.meta)), "format_version": str(FORMAT_VERSION)}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=header)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SteeringVectors:
        """Read a file written by :meth:`save`; validates shapes, dtypes and finiteness."""
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no steering-vector file at {path}")
        try:
            with safe_open(str(path), framework="pt") as f:
                header = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as err:  # safetensors raises several error types for bad files
            raise ValueError(f"{path} is not a readable safetensors file: {err}") from None
        if _META_KEY not in header:
            raise ValueError(
                f"{path} has no lens_steer metadata: was it written by SteeringVectors.save?"
            )
        for key in ("directions", "layers"):
            if key not in tensors:
                raise ValueError(f"{path} lacks the {key!r} tensor")
        if tensors["layers"].dtype not in (torch.int64, torch.int32) or tensors["layers"].ndim != 1:
            raise ValueError(f"{path}: 'layers' must be a 1-D integer tensor")
        try:
            meta = json.loads(header[_META_KEY])
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: corrupt metadata JSON ({err})") from None
        try:
            return cls(
                tensors["directions"],
                tuple(tensors["layers"].tolist()),
                tensors.get("explained_variance"),
                tensors.get("sign_agreement"),
                meta,
            )
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
