"""Steering vectors in and out of other tools: one registry of file formats.

=========== ============================ ======================================================
format      written for                  where a vector for lens_steer layer k goes
=========== ============================ ======================================================
safetensors lens_steer (``save``/``load``) as is, with all provenance, no λ baked in
gguf        llama.cpp ``--control-vector``, ``direction.{k}`` × λ (layer 0 dropped: llama.cpp
            repeng, EasySteer            refuses it)
lm-eval     lm-evaluation-harness         ``layers.{k}``: the vector as stored, λ as its
            ``--model steered``           ``steering_coefficient``
svec        IBM activation-steering       ``directions["k+1"]`` × λ (it adds at the next
                                         block's input; the last layer is dropped)
=========== ============================ ======================================================

:func:`read` recognises a file by its content, not its name, and returns vectors whose
``steer(model, v, lam=s)`` does what the source tool does at strength ``s``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from ..errors import InputError
from ..vectors import SteeringVectors, zero_layers
from .common import Baked, atomic_write, bake, check_exportable, file_error
from .controlvector import read_gguf, sniff_gguf, write_gguf
from .lm_eval import HOOKPOINT, read_lm_eval, sniff_pt, write_lm_eval
from .native import read_native, sniff_native
from .svec import read_svec, sniff_svec, write_svec

__all__ = [
    "FORMATS",
    "Format",
    "Baked",
    "detect",
    "read",
    "export",
    "bake",
    "HOOKPOINT",
    "atomic_write",
]


@dataclass(frozen=True)
class Format:
    """A file format: how to recognise it (first bytes), read it, and write baked vectors."""

    name: str
    suffix: str
    target: str
    sniff: Callable[[bytes], bool]
    read: Callable[[Path], SteeringVectors]
    write: Callable[..., Path] | None  # (baked, path, **target options); None: use save()


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("safetensors", ".safetensors", "lens_steer", sniff_native, read_native, None),
        Format("gguf", ".gguf", "llama.cpp", sniff_gguf, read_gguf, write_gguf),
        Format("lm-eval", ".pt", "lm-evaluation-harness", sniff_pt, read_lm_eval, write_lm_eval),
        Format("svec", ".svec", "IBM activation-steering", sniff_svec, read_svec, write_svec),
    )
}


def detect(path: Path | str) -> str:
    """The format of the file at ``path``, from its first bytes (its suffix only when no content matches)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no steering-vector file at {path}")
    with path.open("rb") as fh:
        head = fh.read(64)
    for fmt in FORMATS.values():
        if fmt.sniff(head):
            return fmt.name
    for fmt in FORMATS.values():  # not recognised: let the named format's reader say what is wrong
        if path.suffix == fmt.suffix:
            return fmt.name
    raise file_error(
        path,
        "not a steering-vector file lens_steer reads (safetensors, llama.cpp/repeng GGUF, "
        f"lm-eval .pt, IBM .svec); it starts with {head[:8]!r}",
    )


def read(path: Path | str) -> SteeringVectors:
    """Vectors from any format in :data:`FORMATS`; every problem names the file.

    Another tool's layer whose vector (or coefficient) is zero steers nothing: it is dropped with
    a warning. lens_steer's own files never hold one, so there it means a damaged file.
    """
    path = Path(path)
    fmt = FORMATS[detect(path)]
    try:
        vecs = fmt.read(path)
    except InputError as err:
        raise err if str(path) in str(err) else file_error(path, str(err)) from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
        raise file_error(path, f"malformed {fmt.name} file ({type(err).__name__}: {err})") from None
    zero = zero_layers(vecs.directions, vecs.layers)
    if zero and fmt.write is not None and len(zero) < len(vecs):
        warnings.warn(f"{path}: layers {zero} have zero vectors and are dropped", stacklevel=3)
        return _drop(vecs, zero)
    if zero:
        raise file_error(
            path,
            f"the directions of layers {zero} are all zero, so they cannot steer; re-create the "
            "file (or save vectors.select(<the other layers>))",
        )
    return vecs


def _drop(vecs: SteeringVectors, layers: list[int]) -> SteeringVectors:
    """``vecs`` without ``layers`` (``select`` keeps the per-layer lists an import records)."""
    return vecs.select([k for k in vecs.layers if k not in layers])


def export(
    vectors: SteeringVectors,
    path: Path | str,
    format: str,
    *,
    lam: float | Sequence[float] = 1.0,
    reference_norms: Tensor | Sequence[float] | None = None,
    model_hint: str | None = None,
    positions: str = "all",
    hookpoint: str = HOOKPOINT,
    n_layers: int | None = None,
) -> Path:
    """Write ``vectors`` for another tool with λ baked in (see the module table).

    Args:
        vectors: the vectors, used as stored (never re-normalised).
        path: the file to write (atomically: a failure leaves no partial file).
        format: a name in :data:`FORMATS`.
        lam: one λ, or one per layer in ``vectors.layers`` order; none may be 0.
        reference_norms: for a relative λ, the mean ‖h‖ per layer it multiplies (what
            ``lens_steer.steer.relative_norms`` measures); None for an absolute λ.
        model_hint: the architecture name gguf and svec files carry (default: the vectors'
            ``meta["model_hint"]``), e.g. "llama" for SmolLM2.
        positions: only "all" can be written: every target steers every position.
        hookpoint: lm-eval's module name per layer, with ``{layer}``.
        n_layers: the model's depth, for svec's last-layer rule (default: ``meta``).

    Raises:
        InputError: an unknown format; what the target cannot express (another hook point,
            ``positions`` other than "all"); no layers, a λ of 0, a bad λ or norms; no model
            hint for gguf / svec.
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}: choose one of {sorted(FORMATS)}")
    fmt, path = FORMATS[format], Path(path)
    if fmt.write is None:
        if lam != 1.0 or reference_norms is not None:
            raise InputError(
                "safetensors keeps vectors without λ: export with lam=1.0, or use save()"
            )
        return vectors.save(path)
    check_exportable(vectors, positions, fmt.target)
    baked = bake(vectors, lam, reference_norms)
    options: dict[str, Any] = {}
    if format == "lm-eval":
        options["hookpoint"] = hookpoint
    else:
        hint = model_hint or vectors.meta.get("model_hint")
        if not hint:
            raise InputError(
                f"{fmt.target} files name the model's architecture: pass model_hint= (e.g. "
                "'llama' for SmolLM2, 'qwen2', 'gemma3'), or --model MODEL on the command line"
            )
        options["model_type" if format == "svec" else "model_hint"] = hint
    if format == "svec":
        options["n_layers"] = n_layers
    return fmt.write(baked, path, **options)
