"""IBM activation-steering's ``.svec`` files (JSON: ``model_type``, ``directions``,
``explained_variances``, keyed by layer).

Its one-block offset, handled explicitly: ``SteeringVector.train`` reads ``directions[L]`` from
``hidden_states[L + 1]`` (block L's output), but ``MalleableModel.steer`` adds
``strength × directions[L]`` to block L's *input* — block L−1's output, lens_steer's
``blocks.{L-1}.hook_resid_post``. So lens_steer layer k is written as key k + 1 (the model's last
block has no key and is dropped with a warning), and key L is read as layer L − 1 (key 0 steers the
embeddings, which lens_steer does not, and is dropped with a warning). λ is baked into the data.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from ..vectors import FORMAT_VERSION, SteeringVectors
from .common import RESID_POST, Baked, atomic_write, file_error

__all__ = ["write_svec", "read_svec", "sniff_svec"]

PROVENANCE_KEY = "lens_steer"


def sniff_svec(head: bytes) -> bool:
    return head.lstrip()[:1] == b"{"


def write_svec(baked: Baked, path: Path, model_type: str) -> Path:
    vecs, data = baked.vectors, baked.scaled()
    depth = vecs.meta.get("model_n_layers")
    rows = [i for i, layer in enumerate(vecs.layers) if depth is None or layer + 1 < depth]
    if len(rows) < len(vecs):
        warnings.warn(
            f"{path}: layer {depth - 1} dropped — activation-steering adds directions[L] at block "
            "L's input, and no block follows the last one",
            stacklevel=4,
        )
    if not rows:
        raise file_error(path, "nothing to write: only the last layer was given")
    ev = vecs.explained_variance
    body = {
        "model_type": model_type,
        "directions": {str(vecs.layers[i] + 1): data[i].tolist() for i in rows},
        "explained_variances": {
            str(vecs.layers[i] + 1): None if ev is None else float(ev[i]) for i in rows
        },
        PROVENANCE_KEY: {
            "format_version": FORMAT_VERSION,
            "meta": dict(vecs.meta),
            "export": baked.provenance,
        },
    }
    return atomic_write(path, lambda tmp: tmp.write_text(json.dumps(body), encoding="utf-8"))


def _parse(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise file_error(path, f"not a readable .svec JSON file ({err})") from None
    if not isinstance(body, dict) or not isinstance(body.get("directions"), dict):
        raise file_error(path, "an .svec file is a JSON object with a 'directions' object")
    if not body["directions"]:
        raise file_error(path, "has no directions")
    return body


def read_svec(path: Path) -> SteeringVectors:
    """Key L as layer L − 1: ``steer(model, v, lam=s)`` = activation-steering at strength ``s``."""
    body = _parse(path)
    try:
        keys = sorted(int(k) for k in body["directions"])
    except ValueError:
        raise file_error(path, "direction keys must be layer numbers") from None
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
    prov = body.get(PROVENANCE_KEY) or {}
    meta: dict[str, Any] = dict(prov.get("meta", {}))
    meta.setdefault("kind", "imported")
    meta.setdefault("hook_point", RESID_POST)
    meta.update(
        source_format="svec",
        source_file=str(path),
        model_hint=body.get("model_type"),
        source_layer_keys=keys,
        original_norms=directions.norm(dim=-1).tolist(),
    )
    if prov.get("export"):
        meta["exported"] = prov["export"]
    ev = body.get("explained_variances") or {}
    values = [ev.get(str(k)) for k in keys]
    extras = {}
    if all(isinstance(v, (int, float)) for v in values):
        extras["explained_variance"] = torch.tensor(values, dtype=torch.float32)
    return SteeringVectors(directions, tuple(k - 1 for k in keys), meta=meta, **extras)
