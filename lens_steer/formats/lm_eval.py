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

from ..vectors import FORMAT_VERSION, SteeringVectors
from .common import RESID_POST, Baked, atomic_write, file_error

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
    provenance = json.dumps(
        {"format_version": FORMAT_VERSION, "meta": dict(vecs.meta), "export": baked.provenance}
    )
    config: dict[str, dict[str, Any]] = {}
    for i, layer in enumerate(vecs.layers):
        entry: dict[str, Any] = {
            "steering_vector": vecs.directions[i].detach().to("cpu", torch.float32).clone(),
            "steering_coefficient": float(baked.coefficients[i]),
            "action": "add",
            "bias": None,
            "head_index": None,
        }
        for name in ("explained_variance", "sign_agreement"):
            value = getattr(vecs, name)
            entry[f"lens_steer_{name}"] = None if value is None else float(value[i])
        config[hookpoint.format(layer=layer)] = entry
    first = next(iter(config.values()))
    first[PROVENANCE_KEY] = provenance  # lm-eval reads only the keys it knows
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


def _entry(path: Path, hookpoint: str, entry: Any) -> tuple[int, torch.Tensor]:
    match = _BLOCK.fullmatch(str(hookpoint))
    if match is None:
        raise file_error(
            path,
            f"hookpoint {hookpoint!r} is not a decoder block's output (layers.N); lens_steer "
            "steers block outputs only",
        )
    if not isinstance(entry, dict) or not isinstance(entry.get("steering_vector"), torch.Tensor):
        raise file_error(path, f"{hookpoint}: no steering_vector tensor")
    action = entry.get("action", "add")
    if action != "add":
        raise file_error(path, f"{hookpoint}: action {action!r}; lens_steer imports 'add' only")
    for key in ("bias", "head_index"):
        if entry.get(key) is not None:
            raise file_error(path, f"{hookpoint}: a {key} cannot be expressed by lens_steer")
    vector = entry["steering_vector"].detach().float().reshape(-1)
    return int(match.group(1)), vector * float(entry.get("steering_coefficient", 1.0))


def read_lm_eval(path: Path) -> SteeringVectors:
    """Coefficient × vector per block: ``steer(model, v, lam=1)`` = lm-eval's steered model."""
    config = _load(path)
    rows = dict(_entry(path, hp, e) for hp, e in config.items())
    if len(rows) != len(config):
        raise file_error(path, "two hookpoints name the same block")
    widths = {v.shape[0] for v in rows.values()}
    if len(widths) != 1:
        raise file_error(path, f"steering vectors of different widths {sorted(widths)}")
    layers = list(rows)
    entries = list(config.values())
    raw = next((e[PROVENANCE_KEY] for e in entries if isinstance(e.get(PROVENANCE_KEY), str)), None)
    prov = json.loads(raw) if raw else {}
    meta: dict[str, Any] = dict(prov.get("meta", {}))
    meta.setdefault("kind", "imported")
    meta.setdefault("hook_point", RESID_POST)
    directions = torch.stack([rows[k] for k in layers])
    meta.update(
        source_format="lm-eval",
        source_file=str(path),
        coefficients=[float(e.get("steering_coefficient", 1.0)) for e in entries],
        original_norms=[float(e["steering_vector"].float().norm()) for e in entries],
    )
    if prov.get("export"):
        meta["exported"] = prov["export"]
    extras = {}
    for name in ("explained_variance", "sign_agreement"):
        values = [e.get(f"lens_steer_{name}") for e in entries]
        if all(isinstance(v, float) for v in values):
            extras[name] = torch.tensor(values)
    return SteeringVectors(directions, tuple(layers), meta=meta, **extras)
