"""What every format shares: λ baked into the data, atomic writes, and file errors that name the file.

Other tools have no λ of their own beyond one global strength (llama.cpp's ``--control-vector-scaled
FILE S``, IBM's ``behavior_vector_strength``) or a per-hookpoint coefficient (lm-eval), so an export
fixes the per-layer λ — and, for a relative λ, the mean ‖h‖ it multiplies — at write time.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor

from ..errors import InputError
from ..vectors import FORMAT_VERSION, SteeringVectors

__all__ = [
    "Baked",
    "bake",
    "atomic_write",
    "file_error",
    "RESID_POST",
    "check_exportable",
    "provenance",
    "parse_provenance",
    "imported_meta",
    "imported_extras",
    "imported_vectors",
]

RESID_POST = "hook_resid_post"
#: meta keys an import adds; an export leaves them out, so a re-import does not carry stale ones
IMPORT_KEYS = (
    "source_format",
    "source_file",
    "original_norms",
    "coefficients",
    "source_layer_keys",
    "exported",
    "model_hint",
)


def file_error(path: Path | str, what: str) -> InputError:
    """One error naming the file and what is wrong with it."""
    return InputError(f"{path}: {what}")


@dataclass(frozen=True)
class Baked:
    """Vectors and the per-layer coefficient each target multiplies them by.

    ``coefficients[i]`` is λ for ``vectors.layers[i]``, already multiplied by the layer's mean
    ‖h‖ when the λ was relative. ``scaled()`` is what a tool without coefficients stores.
    """

    vectors: SteeringVectors
    coefficients: Float[Tensor, " n_layers"]
    provenance: Mapping[str, Any]

    def scaled(self) -> Float[Tensor, "n_layers d_model"]:
        d = self.vectors.directions.detach().to("cpu", torch.float32)
        return d * self.coefficients.reshape(-1, 1)


def _lams(lam: float | Sequence[float], n: int) -> list[float]:
    values = [float(lam)] * n if isinstance(lam, (int, float)) else [float(x) for x in lam]
    if isinstance(lam, bool) or len(values) != n:
        raise InputError(f"lam must be a number or one number per layer ({n}), got {lam!r}")
    if not all(math.isfinite(x) for x in values):
        raise InputError(f"lam must be finite, got {lam!r}")
    return values


def bake(
    vectors: SteeringVectors,
    lam: float | Sequence[float] = 1.0,
    reference_norms: Float[Tensor, " n_layers"] | Sequence[float] | None = None,
) -> Baked:
    """λ (and the relative norms) as per-layer coefficients, recorded for the file's provenance.

    Args:
        vectors: the vectors to export, used as stored (never re-normalised).
        lam: one λ, or one per layer in ``vectors.layers`` order.
        reference_norms: the mean ‖h‖ per layer a relative λ multiplies (what
            ``ls.steer(..., relative=True)`` measures); None for an absolute λ.

    Raises:
        InputError: a λ of the wrong length or not finite; norms of the wrong shape or not
            positive.
    """
    if not len(vectors):
        raise InputError("no layers to export")
    lams = _lams(lam, len(vectors))
    zero = [layer for layer, x in zip(vectors.layers, lams, strict=True) if x == 0.0]
    if zero:
        raise InputError(
            f"λ is 0 at layers {zero}: a zero vector steers nothing (and lens_steer refuses to read "
            "one back); leave those layers out (--layers, or vecs.select(...))"
        )
    coef = torch.tensor(lams, dtype=torch.float32)
    provenance: dict[str, Any] = {
        "layers": list(vectors.layers),
        "lam": lams,
        "relative": reference_norms is not None,
    }
    if reference_norms is not None:
        norms = torch.as_tensor(reference_norms, dtype=torch.float32).reshape(-1)
        if norms.numel() != len(vectors) or not bool((norms > 0).all() & norms.isfinite().all()):
            raise InputError(
                f"reference_norms must be {len(vectors)} positive finite numbers (one per layer)"
            )
        coef = coef * norms
        provenance["reference_norms"] = norms.tolist()
    return Baked(vectors, coef, provenance)


def check_exportable(vectors: SteeringVectors, positions: str, target: str) -> None:
    """Refuse what ``target`` cannot express: another hook point, or steering only some positions."""
    hook = vectors.meta.get("hook_point", RESID_POST)
    if hook != RESID_POST:
        raise InputError(
            f"{target} adds a vector to a block's output (blocks.{{k}}.{RESID_POST}); these vectors "
            f"steer {hook}, which {target} cannot express"
        )
    if positions != "all":
        raise InputError(
            f"{target} adds the vector at every position; positions={positions!r} cannot be "
            "expressed there: export with positions='all' (and steer that way in lens_steer)"
        )


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux's
    ``/proc/self/status``): setting it to read it back would, for that instant, give files that
    another thread creates (a sweep's heartbeat beside a run) the wrong permissions."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere: at least two writers never interleave their set and reset
        umask = os.umask(0)
        os.umask(umask)
    return umask


def atomic_write(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    An exception anywhere leaves ``path`` as it was (absent or the old file), never half-written.
    The file gets the permissions an ordinary new file would (``mkstemp`` alone makes it
    owner-only: a run directory on a cluster's shared disk would be unreadable to the others).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def provenance(baked: Baked, rows: Sequence[int], **extra: Any) -> dict[str, Any]:
    """What an export records for lens_steer (tools ignore it): the vectors' meta without
    import-only keys, λ and its norms, and explained variance / sign agreement of ``rows``."""
    vecs = baked.vectors
    out: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "meta": {k: v for k, v in vecs.meta.items() if k not in IMPORT_KEYS},
        "export": {**baked.provenance, **extra},
    }
    for name in ("explained_variance", "sign_agreement"):
        value = getattr(vecs, name)
        if value is not None:
            out[name] = [float(value[i]) for i in rows]
    return out


def parse_provenance(raw: Any, path: Path) -> dict[str, Any]:
    """A file's ``lens_steer`` provenance (a JSON string or an object), or {} when it has none."""
    if raw is None:
        return {}
    try:
        prov = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as err:
        raise file_error(path, f"corrupt lens_steer provenance JSON ({err})") from None
    ok = isinstance(prov, dict) and all(
        isinstance(prov.get(k, {}), dict) for k in ("meta", "export")
    )
    if not ok:
        raise file_error(path, "the lens_steer provenance is not a JSON object of objects")
    return prov


def imported_meta(prov: Mapping[str, Any], path: Path, **fields: Any) -> dict[str, Any]:
    """The meta of imported vectors: lens_steer's own (when the file carries it), then
    ``kind="imported"``, the source file and format, and ``fields`` (norms, hint, ...)."""
    original = dict(prov.get("meta", {}))
    meta = {**original, "kind": "imported", "source_file": str(path), **fields}
    meta.setdefault("hook_point", RESID_POST)
    if prov.get("export"):
        meta["exported"] = {**prov["export"], "kind": original.get("kind")}
    return meta


def imported_extras(prov: Mapping[str, Any], n: int, path: Path) -> dict[str, Tensor]:
    """Explained variance / sign agreement from the provenance, when present for all ``n`` rows."""
    out = {}
    for name in ("explained_variance", "sign_agreement"):
        values = prov.get(name)
        if values is None:
            continue
        if not isinstance(values, list) or len(values) != n:
            raise file_error(path, f"the provenance's {name} does not have one value per layer")
        out[name] = torch.tensor(values, dtype=torch.float32)
    return out


def imported_vectors(
    directions: Float[Tensor, "n_layers d_model"],
    layers: Sequence[int],
    raw_provenance: Any,
    path: Path,
    fallback: Mapping[str, Tensor] | None = None,
    **fields: Any,
) -> SteeringVectors:
    """What every reader returns: the directions as the tool applies them, meta from
    :func:`imported_meta` (lens_steer's provenance when the file carries it, then ``fields``),
    and explained variance / sign agreement from the provenance, else from ``fallback`` (what
    the format itself stores)."""
    prov = parse_provenance(raw_provenance, path)
    meta = imported_meta(prov, path, **fields)
    extras = {**(fallback or {}), **imported_extras(prov, len(layers), path)}
    return SteeringVectors(directions, tuple(layers), meta=meta, **extras)
