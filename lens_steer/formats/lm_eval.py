"""lm-evaluation-harness steer files, for its ``steered`` model (``--model steered
--model_args pretrained=DIR,steer_path=FILE.pt``).

A ``torch.save``'d dict ``{hookpoint: {steering_vector, steering_coefficient, action, bias,
head_index}}``. lm-eval registers a forward hook on each module of ``model.base_model`` named
``hookpoint`` (``layers.{k}`` for Llama/Qwen/Gemma: decoder block k, whose output is
``blocks.{k}.hook_resid_post``) and, for ``action="add"``, adds ``coefficient × vector`` at every
position. lm-eval 0.4.13 binds each hookpoint's vector correctly (``create_hook(name)`` and
``functools.partial`` per hookpoint, no late-binding closure), so multi-layer files work; it loads
the file with ``torch.load(weights_only=False)``, a full unpickle, while lens_steer writes only
tensors, numbers, strings and None, and reads ``.pt`` files with ``weights_only=True`` only.
"""

from __future__ import annotations

import json
import re
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

__all__ = ["write_lm_eval", "read_lm_eval", "sniff_pt", "HOOKPOINT"]

HOOKPOINT = "layers.{layer}"
_BLOCK = re.compile(r"(?:.*\.)?(?:layers|h)\.(\d+)")
PROVENANCE_KEY = "lens_steer"


def sniff_pt(head: bytes) -> bool:
    """torch.save's zip container, or the legacy pickle stream (protocol ≥ 2)."""
    return head[:4] == b"PK\x03\x04" or head[:1] == b"\x80"


def write_lm_eval(baked: Baked, path: Path, hookpoint: str = HOOKPOINT) -> Path:
    """One ``add`` entry per layer: the vector as stored, λ (× ‖h‖ if relative) as coefficient."""
    vecs = baked.vectors
    if "{layer}" not in hookpoint:
        raise file_error(
            path, f"hookpoint {hookpoint!r} must contain {{layer}}, e.g. {HOOKPOINT!r}"
        )
    rows = range(len(vecs))
    prov = json.dumps(provenance(baked, rows))
    config: dict[str, dict[str, Any]] = {}
    for i in rows:
        config[hookpoint.format(layer=vecs.layers[i])] = {
            "steering_vector": vecs.directions[i].detach().to("cpu", torch.float32).clone(),
            "steering_coefficient": float(baked.coefficients[i]),
            "action": "add",
            "bias": None,
            "head_index": None,
        }
    next(iter(config.values()))[PROVENANCE_KEY] = prov  # lm-eval reads only the keys it knows
    return atomic_write(path, lambda tmp: torch.save(config, tmp))


def _load(path: Path) -> dict[str, Any]:
    try:
        config = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (bad zip), EOFError (truncated)
        raise file_error(
            path,
            f"not a weights-only torch file ({type(err).__name__}: {err}); lens_steer never "
            "unpickles arbitrary objects",
        ) from None
    if not isinstance(config, dict) or not config:
        raise file_error(path, "an lm-eval steer file is a non-empty dict {hookpoint: {...}}")
    return config


def _entry(path: Path, hookpoint: str, entry: Any) -> tuple[int, torch.Tensor, float]:
    """(block, vector, coefficient) of one hookpoint, after checking lens_steer can steer it."""
    match = _BLOCK.fullmatch(str(hookpoint))
    if match is None:
        raise file_error(
            path,
            f"hookpoint {hookpoint!r} is not a decoder block's output (layers.N); lens_steer "
            "steers block outputs only",
        )
    vector = entry.get("steering_vector") if isinstance(entry, dict) else None
    if not isinstance(vector, torch.Tensor) or vector.ndim != 1:
        raise file_error(path, f"{hookpoint}: steering_vector must be a 1-D tensor")
    action = entry.get("action", "add")
    if action != "add":
        raise file_error(path, f"{hookpoint}: action {action!r}; lens_steer imports 'add' only")
    for key in ("bias", "head_index"):
        if entry.get(key) is not None:
            raise file_error(path, f"{hookpoint}: a {key} cannot be expressed by lens_steer")
    coef = entry.get("steering_coefficient", 1.0)
    if isinstance(coef, bool) or not isinstance(coef, (int, float)):
        raise file_error(path, f"{hookpoint}: steering_coefficient {coef!r} is not a number")
    return int(match.group(1)), vector.detach().float(), float(coef)


def read_lm_eval(path: Path) -> SteeringVectors:
    """Coefficient × vector per block: ``steer(model, v, lam=1)`` = lm-eval's steered model."""
    config = _load(path)
    entries = [_entry(path, hp, e) for hp, e in config.items()]
    layers = [k for k, _, _ in entries]
    if len(set(layers)) != len(layers):
        raise file_error(path, "two hookpoints name the same block")
    widths = {v.shape[0] for _, v, _ in entries}
    if len(widths) != 1:
        raise file_error(path, f"steering vectors of different widths {sorted(widths)}")
    raw = next((e.get(PROVENANCE_KEY) for e in config.values() if PROVENANCE_KEY in e), None)
    return imported_vectors(
        torch.stack([v * c for _, v, c in entries]),
        layers,
        raw,
        path,
        source_format="lm-eval",
        coefficients=[c for _, _, c in entries],
        original_norms=[float(v.norm()) for _, v, _ in entries],
    )
