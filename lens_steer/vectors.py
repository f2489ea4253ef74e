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

from .errors import InputError

__all__ = ["SteeringVectors", "FORMAT_VERSION", "zero_layers"]

FORMAT_VERSION = 1
_META_KEY = "lens_steer"


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
        """Write a safetensors file with the provenance in its metadata (atomic: no partial file).

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
        from safetensors.torch import save_file

        path = Path(path)
        zero = zero_layers(self.directions, self.layers)
        if zero:  # load refuses them: never write a file that cannot be read back
            raise InputError(
                f"cannot save {path}: the directions of layers {zero} are all zero, so they "
                "cannot steer; drop them with vecs.select(...) first"
            )
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
        """Read a file written by :meth:`save`; validates version, shapes, dtypes and values.

        Every way an existing file can be wrong ends in one
        :class:`~lens_steer.errors.InputError` that names the file, so a bad vector never
        reaches a model as silent garbage.

        Args:
            path: a file written by :meth:`save`.

        Returns:
            The :class:`SteeringVectors`, on CPU, as saved (float32).

        Raises:
            FileNotFoundError: no file at ``path``.
            InputError: not a safetensors file; no lens_steer metadata, another format version
                or corrupt metadata JSON; a missing ``directions`` / ``layers`` tensor or bad
                shapes, dtypes or values; a layer whose direction is all zero.
        """
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no steering-vector file at {path}")
        try:
            with safe_open(str(path), framework="pt") as f:
                header = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as err:  # safetensors raises several error types for bad files
            raise InputError(f"{path} is not a readable safetensors file: {err}") from None
        meta = _read_header(path, header)
        for key in ("directions", "layers"):
            if key not in tensors:
                raise InputError(f"{path} lacks the {key!r} tensor")
        if tensors["layers"].dtype not in (torch.int64, torch.int32) or tensors["layers"].ndim != 1:
            raise InputError(f"{path}: 'layers' must be a 1-D integer tensor")
        try:
            vecs = cls(
                tensors["directions"],
                tuple(tensors["layers"].tolist()),
                tensors.get("explained_variance"),
                tensors.get("sign_agreement"),
                meta,
            )
        except ValueError as err:
            raise InputError(f"{path}: {err}") from None
        zero = zero_layers(vecs.directions, vecs.layers)
        if zero:
            raise InputError(
                f"{path}: the directions of layers {zero} are all zero, so they cannot steer; "
                "re-create the file (or save vectors.select(<the other layers>))"
            )
        return vecs


def _read_header(path: Path, header: Mapping[str, str]) -> dict[str, Any]:
    """The provenance of a vector file, after checking its format version."""
    if _META_KEY not in header:
        raise InputError(
            f"{path} has no lens_steer metadata: was it written by SteeringVectors.save?"
        )
    version = header.get("format_version", str(FORMAT_VERSION))
    if version != str(FORMAT_VERSION):
        raise InputError(
            f"{path} has format_version {version!r}, but this lens_steer reads format_version "
            f"{FORMAT_VERSION} only: re-create the file with SteeringVectors.save, or use the "
            "lens_steer version that wrote it"
        )
    try:
        meta = json.loads(header[_META_KEY])
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: corrupt metadata JSON ({err})") from None
    if not isinstance(meta, dict):
        raise InputError(
            f"{path}: the lens_steer metadata is a JSON {type(meta).__name__}, not an object; "
            "the file was not written by SteeringVectors.save (re-create it)"
        )
    return meta
