"""lens_steer's own format: safetensors with the provenance JSON in the header.

The only format that keeps everything (directions as stored, explained variance, sign agreement,
meta) without a λ baked in; ``SteeringVectors.save`` writes it and ``load`` reads it back exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..vectors import FORMAT_VERSION, SteeringVectors, zero_layers
from .common import atomic_write, file_error

__all__ = ["write_native", "read_native", "sniff_native"]

META_KEY = "lens_steer"


def sniff_native(head: bytes) -> bool:
    """A safetensors file: an 8-byte little-endian header length (well under 4 GiB, where a
    text file's first 8 bytes read as a huge number), then a JSON object with string keys."""
    return len(head) > 10 and head[8:10] == b'{"' and int.from_bytes(head[:8], "little") < 1 << 32


def write_native(vectors: SteeringVectors, path: Path) -> Path:
    from safetensors.torch import save_file

    zero = zero_layers(vectors.directions, vectors.layers)
    if zero:  # read_native refuses them: never write a file that cannot be read back
        raise file_error(
            path,
            f"cannot save: the directions of layers {zero} are all zero, so they cannot steer; "
            "drop them with vecs.select(...) first",
        )
    tensors = {
        "directions": vectors.directions.detach().to("cpu", torch.float32).contiguous(),
        "layers": torch.tensor(vectors.layers, dtype=torch.int64),
    }
    for name in ("explained_variance", "sign_agreement"):
        value = getattr(vectors, name)
        if value is not None:
            tensors[name] = value.detach().to("cpu", torch.float32).contiguous()
    header = {META_KEY: json.dumps(dict(vectors.meta)), "format_version": str(FORMAT_VERSION)}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=header))


def read_native(path: Path) -> SteeringVectors:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises several error types for bad files
        raise file_error(path, f"not a readable safetensors file: {err}") from None
    meta = _read_header(path, header)
    for key in ("directions", "layers"):
        if key not in tensors:
            raise file_error(path, f"lacks the {key!r} tensor")
    if tensors["layers"].dtype not in (torch.int64, torch.int32) or tensors["layers"].ndim != 1:
        raise file_error(path, "'layers' must be a 1-D integer tensor")
    return SteeringVectors(
        tensors["directions"],
        tuple(tensors["layers"].tolist()),
        tensors.get("explained_variance"),
        tensors.get("sign_agreement"),
        meta,
    )


def _read_header(path: Path, header: Mapping[str, str]) -> dict[str, Any]:
    """The provenance of a vector file, after checking its format version."""
    if META_KEY not in header:
        raise file_error(
            path, "has no lens_steer metadata: was it written by SteeringVectors.save?"
        )
    version = header.get("format_version", str(FORMAT_VERSION))
    if version != str(FORMAT_VERSION):
        raise file_error(
            path,
            f"has format_version {version!r}, but this lens_steer reads format_version "
            f"{FORMAT_VERSION} only: re-create the file with SteeringVectors.save, or use the "
            "lens_steer version that wrote it",
        )
    try:
        meta = json.loads(header[META_KEY])
    except json.JSONDecodeError as err:
        raise file_error(path, f"corrupt metadata JSON ({err})") from None
    if not isinstance(meta, dict):
        raise file_error(
            path,
            f"the lens_steer metadata is a JSON {type(meta).__name__}, not an object; the file "
            "was not written by SteeringVectors.save (re-create it)",
        )
    return meta
