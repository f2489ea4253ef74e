"""GGUF plumbing for :mod:`lens_steer.models.offline`: hashing, atomic assembly, and loading via transformers.

Kept apart from the alias table so the file-system rules (never leave a half-written file that
looks valid, refuse a file whose sha256 is not the pinned one) live in one small place.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError, ModelSpecError

__all__ = [
    "ChecksumError",
    "sha256_file",
    "verify",
    "staging_dir",
    "publish",
    "concat",
    "assemble_with",
    "load_gguf",
]

_STALE_AFTER_S = 6 * 3600  # scratch dirs of killed runs older than this are removed


class ChecksumError(InputError):
    """A GGUF is not the file we pinned: refuse it rather than silently steer another model."""


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path | str, expected: str, found: str | None = None) -> None:
    """Raise :class:`ChecksumError` naming the file, the expected and the found sha256."""
    found = found or sha256_file(Path(path))
    if found != expected:
        raise ChecksumError(
            f"sha256 mismatch for {path}: expected {expected}, found {found}. Refusing to load it "
            "(corrupt, truncated or a different model); reinstall its package(s)."
        )


@contextlib.contextmanager
def staging_dir(parent: Path) -> Iterator[Path]:
    """A scratch dir *inside* ``parent``, so moving a result out of it is an atomic rename.

    Scratch names start with ``.tmp-``: nothing ever treats them as a finished cache entry, and
    ones left behind by killed runs are swept once they are old.
    """
    parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in parent.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > _STALE_AFTER_S:
                shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(src: Path, dst: Path, keep: Callable[[Path], bool] | None = None) -> None:
    """Move a finished file or directory into place with one rename.

    ``os.replace`` cannot overwrite a non-empty directory, so an old one is first renamed aside
    (readers never see it half-deleted) and removed, unless ``keep(dst)`` says a concurrent run
    has meanwhile published a good entry, which is then left alone.
    """
    if dst.is_dir():
        if keep is not None and keep(dst):
            return
        aside = Path(tempfile.mkdtemp(prefix=".tmp-stale-", dir=dst.parent))
        with contextlib.suppress(OSError):
            os.replace(dst, aside / dst.name)
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.replace(src, dst)
    except OSError:
        if not dst.exists():
            raise


def concat(parts: list[Path], dst: Path, expected: str) -> Path:
    """Concatenate ``parts`` into ``dst`` atomically, refusing a result whose sha256 differs."""
    label = f"{dst.name} assembled from {parts[0]} and {len(parts) - 1} more part(s)"
    with staging_dir(dst.parent) as tmp:
        out, digest = tmp / dst.name, hashlib.sha256()
        with open(out, "wb") as sink:
            for part in parts:
                with open(part, "rb") as src:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        digest.update(chunk)
                        sink.write(chunk)
        verify(label, expected, found=digest.hexdigest())
        publish(out, dst)
    return dst


def assemble_with(assemble: Callable[[Path], Any], dst: Path, expected: str) -> Path:
    """Let a package's own ``assemble(output_path)`` write ``dst`` atomically, then check the pin."""
    with staging_dir(dst.parent) as tmp:
        out = tmp / dst.name
        assemble(out)
        verify(f"{dst.name} assembled by {assemble.__module__}", expected, found=sha256_file(out))
        publish(out, dst)
    return dst


@contextlib.contextmanager
def _faster_gguf_reads() -> Iterator[None]:
    """Memoise two pure ``gguf`` calls transformers repeats while loading one file.

    transformers 5.x parses the whole GGUF metadata (49k-token vocabularies) with the slow
    pure-Python ``GGUFReader`` for the config, the weights and the tokenizer, and rebuilds the
    tensor-name table once per submodule (~400 times for a 30-layer model): ~2/3 of a SmolLM2
    load. Results are identical; the patch only lives for one load.
    """
    try:
        import gguf
    except ImportError:  # transformers raises its own clear error
        yield
        return
    orig_reader, orig_map = gguf.GGUFReader, gguf.get_tensor_name_map
    gguf.GGUFReader = functools.lru_cache(maxsize=2)(orig_reader)  # type: ignore[misc]
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=8)(orig_map)  # type: ignore[assignment]
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = orig_reader, orig_map  # type: ignore[misc]


def load_gguf(path: Path, tokenizer: Any = None) -> tuple[Any, Any]:
    """Dequantise a GGUF into a float32 HF model (plus its tokenizer) with transformers.

    The result is an ordinary unquantised model: the GGUF ``quantization_config`` is dropped so
    ``save_pretrained`` writes plain safetensors that reload without ``gguf``, and
    ``config.architectures`` (None for GGUF loads) is set from the class transformers picked for
    the file's ``general.architecture``.
    """
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path).resolve()
    folder, name = str(path.parent), path.name
    try:
        with _faster_gguf_reads():  # one metadata parse serves config, weights and tokenizer
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
            if tokenizer is None:
                tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except ValueError as err:
        if "is not supported yet" in str(err):
            raise ModelSpecError(
                f"{path}: {err} transformers {transformers.__version__} cannot dequantise this GGUF "
                "architecture; convert the model to a Hugging Face directory instead."
            ) from None
        raise
    config = model.config
    if getattr(config, "quantization_config", None) is not None:
        del config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    config.architectures = [type(model).__name__]
    config._name_or_path = str(path)
    return model.eval(), tokenizer
