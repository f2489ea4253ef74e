"""IBM activation-steering's ``.svec`` files (JSON: ``model_type``, ``directions``,
``explained_variances``, keyed by layer).

Its one-block offset, handled explicitly: ``SteeringVector.train`` reads ``directions[L]`` from
``hidden_states[L + 1]`` (block L's output), but ``MalleableModel.steer`` adds
``strength × directions[L]`` to block L's *input* — block L−1's output, lens_steer's
``blocks.{L-1}.hook_resid_post``. So lens_steer layer k is written as key k + 1 (the model's last
block has no key and is dropped with a warning), and key L is read as layer L − 1 (key 0 steers the
embeddings, which lens_steer does not, and is dropped with a warning). λ is baked into the data.
IBM's ``LeashLayer`` steers batch row 0 only (``hidden_states[0]``): the two agree at batch size 1.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from ..vectors import SteeringVectors
from .common import (
    Baked,
    atomic_write,
    file_error,
    imported_vectors,
    provenance,
)

__all__ = ["write_svec", "read_svec", "sniff_svec"]

PROVENANCE_KEY = "lens_steer"


def sniff_svec(head: bytes) -> bool:
    return head.lstrip()[:1] == b"{"


def write_svec(baked: Baked, path: Path, model_type: str, n_layers: int | None = None) -> Path:
    """Layer k under key k + 1; the model's last block (``n_layers`` − 1, else
    ``meta["model_n_layers"]`` − 1) is dropped, as no block follows it."""
    vecs, data = baked.vectors, baked.scaled()
    depth = n_layers or vecs.meta.get("model_n_layers")
    if depth is None:
        warnings.warn(
            f"{path}: the model's depth is unknown, so a vector for its last block (which "
            "activation-steering cannot place) is not dropped; pass n_layers= (--model)",
            stacklevel=4,
        )
    order = sorted(range(len(vecs)), key=lambda i: vecs.layers[i])
    rows = [i for i in order if depth is None or vecs.layers[i] + 1 < depth]
    if len(rows) < len(vecs):
        warnings.warn(
            f"{path}: layer {depth - 1} dropped — activation-steering adds directions[L] at block "
            "L's input, and no block follows the last one",
            stacklevel=4,
        )
    if not rows:
        raise file_error(path, f"nothing to write: only the last layer ({depth - 1}) was given")
    ev = vecs.explained_variance
    keys = [str(vecs.layers[i] + 1) for i in rows]
    body = {
        "model_type": model_type,
        "directions": {k: data[i].tolist() for k, i in zip(keys, rows, strict=True)},
        "explained_variances": {
            k: None if ev is None else float(ev[i]) for k, i in zip(keys, rows, strict=True)
        },
        PROVENANCE_KEY: provenance(baked, rows),
    }
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(body), encoding="utf-8"))


def _parse(path: Path) -> tuple[dict[str, Any], list[int]]:
    """The JSON body and its direction keys as layer numbers (ascending)."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise file_error(path, f"not a readable .svec JSON file ({err})") from None
    if not isinstance(body, dict) or not isinstance(body.get("directions"), dict):
        raise file_error(path, "an .svec file is a JSON object with a 'directions' object")
    keys = list(body["directions"])
    if not keys or not all(k.isdigit() and str(int(k)) == k for k in keys):
        raise file_error(path, f"direction keys must be layer numbers, got {keys[:5]}")
    return body, sorted(int(k) for k in keys)


def read_svec(path: Path) -> SteeringVectors:
    """Key L as layer L − 1: ``steer(model, v, lam=s)`` = activation-steering at strength ``s``
    (which, in its ``LeashLayer``, steers batch row 0 only: the same at batch size 1)."""
    body, keys = _parse(path)
    if 0 in keys:
        warnings.warn(
            f"{path}: directions['0'] dropped — activation-steering adds it to the embeddings "
            "(block 0's input), which lens_steer does not steer",
            stacklevel=4,
        )
        keys.remove(0)
    if not keys:
        raise file_error(
            path, "only directions['0'] (the embeddings), which lens_steer cannot steer"
        )
    try:
        directions = torch.tensor([body["directions"][str(k)] for k in keys], dtype=torch.float32)
    except (TypeError, ValueError) as err:
        raise file_error(
            path, f"directions must be lists of numbers of one width ({err})"
        ) from None
    ev = body.get("explained_variances")
    values = [ev.get(str(k)) for k in keys] if isinstance(ev, dict) else []
    stored = values and all(isinstance(v, (int, float)) for v in values)
    return imported_vectors(
        directions,
        [k - 1 for k in keys],
        body.get(PROVENANCE_KEY),
        path,
        {"explained_variance": torch.tensor(values, dtype=torch.float32)} if stored else None,
        source_format="svec",
        model_hint=body.get("model_type"),
        source_layer_keys=keys,
        original_norms=directions.norm(dim=-1).tolist(),
    )
