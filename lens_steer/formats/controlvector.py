"""llama.cpp control vectors, the GGUF layout repeng's and EasySteer's ``export_gguf`` write too.

``general.architecture = "controlvector"``, ``controlvector.model_hint`` and
``controlvector.layer_count``, and one F32 1-D tensor ``direction.{k}`` per layer (EasySteer adds
float32 ``controlvector.*`` keys, which are ignored). llama.cpp adds ``strength × direction.{k}``
to the output of block k at every position (its ``build_cvec`` after the block's residual add:
``blocks.{k}.hook_resid_post``) and refuses a file with ``direction.0`` (it keeps no slot for
layer 0). So on export λ is baked into the data, layer 0 is dropped with a warning, and
lens_steer's provenance rides along in a ``lens_steer.provenance`` key, which llama.cpp ignores.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..vectors import SteeringVectors
from .common import (
    Baked,
    atomic_write,
    file_error,
    imported_vectors,
    provenance,
)

__all__ = ["write_gguf", "read_gguf", "sniff_gguf", "ARCH"]

ARCH = "controlvector"
PROVENANCE_KEY = "lens_steer.provenance"
_DIRECTION = re.compile(r"direction\.(\d+)")


def sniff_gguf(head: bytes) -> bool:
    return head[:4] == b"GGUF"


def write_gguf(baked: Baked, path: Path, model_hint: str) -> Path:
    """Write ``baked`` as a control vector; layer 0 is dropped (llama.cpp rejects it)."""
    import gguf

    vecs, data = baked.vectors, baked.scaled().numpy()
    order = sorted((i for i, k in enumerate(vecs.layers) if k != 0), key=lambda i: vecs.layers[i])
    if len(order) < len(vecs):
        warnings.warn(
            f"{path}: layer 0 dropped — llama.cpp has no control-vector slot for block 0 and "
            "refuses a file with direction.0; lens_steer steers it, llama.cpp will not",
            stacklevel=4,
        )
    if not order:
        raise file_error(
            path, "nothing to write: layer 0 is the only layer, and llama.cpp refuses it"
        )
    prov = provenance(baked, order, written_layers=[vecs.layers[i] for i in order])

    def write(tmp: Path) -> None:
        writer = gguf.GGUFWriter(str(tmp), ARCH)
        writer.add_string(f"{ARCH}.model_hint", model_hint)
        writer.add_uint32(f"{ARCH}.layer_count", len(order))
        writer.add_string(PROVENANCE_KEY, json.dumps(prov))
        for i in order:  # ascending layers: the order read_gguf returns them in
            writer.add_tensor(f"direction.{vecs.layers[i]}", np.ascontiguousarray(data[i]))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    return atomic_write(path, write)


def _string(reader: Any, key: str) -> str | None:
    field = reader.get_field(key)
    if field is None or not field.data:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")


def _directions(reader: Any, path: Path) -> tuple[list[int], torch.Tensor]:
    import gguf

    rows: dict[int, np.ndarray] = {}
    for tensor in reader.tensors:
        match = _DIRECTION.fullmatch(tensor.name)
        if match is None:
            raise file_error(path, f"tensor {tensor.name!r} is not named direction.<layer>")
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32 or len(tensor.shape) != 1:
            raise file_error(
                path,
                f"{tensor.name} is {tensor.tensor_type.name} {list(tensor.shape)}; control "
                "vectors are F32 1-D tensors (llama.cpp refuses anything else)",
            )
        rows[int(match.group(1))] = np.array(tensor.data, dtype=np.float32)
    if not rows:
        raise file_error(path, "has no direction.<layer> tensors")
    widths = {v.shape[0] for v in rows.values()}
    if len(widths) != 1:
        raise file_error(path, f"direction tensors of different widths {sorted(widths)}")
    layers = sorted(rows)
    return layers, torch.from_numpy(np.stack([rows[k] for k in layers]))


def read_gguf(path: Path) -> SteeringVectors:
    """A control vector as stored: ``steer(model, v, lam=s)`` = llama.cpp at strength ``s``."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as err:  # a truncated or corrupt file fails inside numpy's memmap parsing
        raise file_error(path, f"not a readable GGUF file ({type(err).__name__}: {err})") from None
    arch = _string(reader, "general.architecture")
    if arch != ARCH:
        raise file_error(
            path,
            f"general.architecture is {arch!r}, not {ARCH!r}: this is a model file (or another "
            "GGUF), not a control vector",
        )
    layers, directions = _directions(reader, path)
    if 0 in layers:
        warnings.warn(
            f"{path} has direction.0, which llama.cpp refuses; lens_steer steers block 0 with it",
            stacklevel=4,
        )
    return imported_vectors(
        directions,
        layers,
        _string(reader, PROVENANCE_KEY),
        path,
        source_format="gguf",
        model_hint=_string(reader, f"{ARCH}.model_hint"),
        original_norms=directions.norm(dim=-1).tolist(),
    )
