"""Resolve a model spec to what it names, without reading any weights.

A run checks both of its models here before it writes anything, so a typo'd alias, a missing
file or a hub id that cannot be reached fails in one line and leaves no run directory behind
(which a later, corrected run would otherwise be refused as "a different config"). The same
rules then drive :func:`lens_steer.models.offline.load_hf`, so checking and loading never disagree.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from ..errors import ModelSpecError

__all__ = [
    "ResolvedSpec",
    "HubUnreachableError",
    "resolve_spec",
    "hub_error",
    "gguf_block_count",
    "gguf_architecture",
]

Kind = Literal["alias", "gguf", "directory", "hub"]


class HubUnreachableError(ModelSpecError, OSError):
    """A hub id was given but the hub cannot be reached (or has no such model)."""


@dataclass(frozen=True)
class ResolvedSpec:
    """What a spec names: ``kind`` and ``source`` (alias name, absolute path, or hub id)."""

    spec: str
    kind: Kind
    source: str
    config: Any = None  # the HF config when one was read (directory, hub), for its layer count

    def n_layers(self) -> int | None:
        """The model's layer count from metadata only (None when it cannot be told cheaply)."""
        from .offline import ALIASES

        if self.kind == "alias":
            return ALIASES[self.source].n_layers
        if self.kind == "gguf":
            return gguf_block_count(Path(self.source))
        return _config_layers(self.config)

    def architecture(self) -> str | None:
        """The model's architecture name from metadata only: the GGUF's
        ``general.architecture`` (alias, ``.gguf``) or the HF config's ``model_type``."""
        from .offline import ALIASES

        if self.kind == "alias":
            return ALIASES[self.source].arch
        if self.kind == "gguf":
            return gguf_architecture(Path(self.source))
        return getattr(self.config, "model_type", None)


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_error(spec: str, err: BaseException) -> HubUnreachableError:
    """The one-line error for a hub id that could not be loaded, with the offline choices."""
    from .offline import ALIASES

    why = (
        "the hub is unreachable (HF_HUB_OFFLINE is set)"
        if _hub_offline()
        else f"the Hugging Face hub could not provide it ({type(err).__name__}: "
        f"{str(err).splitlines()[0] if str(err) else 'no detail'})"
    )
    return HubUnreachableError(
        f"{spec!r} is not an offline alias and {why}: use an alias (`lens-steer models`: "
        f"{', '.join(ALIASES)}), a local directory or a .gguf file"
    )


def _config_layers(config: Any) -> int | None:
    if config is None:
        return None
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    for attr in ("num_hidden_layers", "n_layer", "num_layers"):
        value = getattr(text, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _read_config(source: str) -> Any:
    from transformers import AutoConfig

    # local_files_only: HF_HUB_OFFLINE set after huggingface_hub was imported is otherwise
    # ignored, and the hub client then retries an unreachable host for ~20 s
    return AutoConfig.from_pretrained(source, local_files_only=_hub_offline())


def _resolve_path(spec: str, path: Path) -> ResolvedSpec | None:
    """A spec that names (or looks like) a file or directory; None when it does not."""
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        return ResolvedSpec(spec, "gguf", str(path.resolve()))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelSpecError(
                f"{path} has no config.json, so it is not a Hugging Face model directory"
            )
        try:
            config = _read_config(str(path))
        except (OSError, ValueError) as err:
            raise ModelSpecError(
                f"{path}/config.json cannot be read as a model config: {err}"
            ) from None
        return ResolvedSpec(spec, "directory", str(path.resolve()), config)
    if path.exists():
        raise ModelSpecError(
            f"{path} is a file but not a .gguf: pass its directory or a .gguf file"
        )
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1:
        raise FileNotFoundError(f"no such model file or directory: {path}")
    return None


def resolve_spec(spec: str | Path) -> ResolvedSpec:
    """Which model ``spec`` names, checked without loading weights.

    In order: an offline alias (its packages must be installed), a ``.gguf`` file, a local HF
    directory (with ``config.json``), or an ``org/name`` hub id (its config must be reachable,
    from the hub or the local hub cache). Raises :class:`ModelSpecError` (or
    ``FileNotFoundError`` / ``AliasNotInstalledError``) with what to use instead.
    """
    from .offline import ALIASES, find_alias, require_installed

    text = str(spec)
    if text.strip().lower() in ALIASES:
        alias = find_alias(text)
        require_installed(alias)
        return ResolvedSpec(text, "alias", alias.name)
    found = _resolve_path(text, Path(text).expanduser())
    if found is not None:
        return found
    if "/" not in text:
        find_alias(text)  # raises: a bare name is an (unknown) alias, hub ids are org/name
    try:
        config = _read_config(text)
    except (OSError, ValueError) as err:
        raise hub_error(text, err) from None
    return ResolvedSpec(text, "hub", text, config)


# -- the GGUF header, read just far enough to find the layer count --------------------------

_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize("<" + fmt)
    data = fh.read(size)
    if len(data) != size:
        raise EOFError
    return struct.unpack("<" + fmt, data)[0]


def _value(fh: BinaryIO, vtype: int, keep: bool) -> Any:
    if vtype in _SCALARS:
        return _read(fh, _SCALARS[vtype])
    if vtype == _STRING:
        n = _read(fh, "Q")
        raw = fh.read(n) if keep else fh.seek(n, 1)
        return raw.decode("utf-8", "replace") if keep else None
    if vtype == _ARRAY:
        etype, count = _read(fh, "I"), _read(fh, "Q")
        if etype in _SCALARS:
            fh.seek(count * struct.calcsize("<" + _SCALARS[etype]), 1)
        else:
            for _ in range(count):
                _value(fh, etype, keep=False)
        return None
    raise ValueError(f"unknown GGUF value type {vtype}")


def gguf_architecture(path: Path) -> str | None:
    """``general.architecture`` from a GGUF header (None when it cannot be read)."""
    return _gguf_header(path)[0]


def gguf_block_count(path: Path) -> int | None:
    """``{arch}.block_count`` from a GGUF header (milliseconds; ``gguf.GGUFReader`` takes
    seconds because it parses the whole vocabulary). None when the header does not say."""
    return _gguf_header(path)[1]


def _gguf_header(path: Path) -> tuple[str | None, int | None]:
    """(architecture, block count) from a GGUF header; None for what it does not say."""
    arch = None
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"GGUF":
                return None, None
            _read(fh, "I")  # version
            _read(fh, "Q")  # tensor count
            for _ in range(_read(fh, "Q")):
                key = fh.read(_read(fh, "Q")).decode("utf-8", "replace")
                vtype = _read(fh, "I")
                value = _value(fh, vtype, keep=key == "general.architecture" or vtype != _STRING)
                if key == "general.architecture":
                    arch = value
                elif arch is not None and key == f"{arch}.block_count":
                    return arch, int(value)
    except (OSError, EOFError, ValueError, struct.error):
        pass
    return arch, None
