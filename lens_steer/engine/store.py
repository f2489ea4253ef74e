"""A persistent cache of generations: SQLite (WAL mode), keyed by a content hash.

A key covers everything that decides a generated text: the model (a fingerprint of its config,
tokenizer and weights, computed once per model object and memoised), the steering vectors, λ,
positions, ``relative``, the prompt and the decoding settings (``max_new_tokens``, stop sequences,
temperature, seed, sample index). :func:`lens_steer.generate` looks every (prompt, λ, sample) up
first, decodes only the misses and writes each finished batch in one transaction, so a killed run
loses at most the batch in flight. WAL mode lets any number of readers (other processes included)
read while one process writes.

Fingerprints read the weights once; a model whose weights are changed in place afterwards keeps
its old fingerprint (call :func:`forget_fingerprint` after editing weights).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from ..errors import LensSteerError

__all__ = [
    "CacheError",
    "GenerationCache",
    "model_fingerprint",
    "vectors_fingerprint",
    "forget_fingerprint",
    "content_key",
]

#: Bump when decoding semantics change so old entries stop matching.
ENGINE_VERSION = 1
_SAMPLE = 4096  # elements sampled (strided) from every parameter for the model fingerprint

_FINGERPRINTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _hash_tensor(h: Any, t: torch.Tensor, full: bool) -> None:
    flat = t.detach().reshape(-1)
    if not full and flat.numel() > _SAMPLE:
        step = flat.numel() // _SAMPLE
        flat = flat[:: max(step, 1)][:_SAMPLE]
    h.update(f"{tuple(t.shape)}|{t.dtype}|".encode())
    h.update(flat.to("cpu", torch.float32).contiguous().numpy().tobytes())


def _tokenizer_digest(tok: Any) -> str:
    if tok is None:
        return "none"
    backend = getattr(tok, "backend_tokenizer", None)
    try:
        text = (
            backend.to_str() if backend is not None else json.dumps(tok.get_vocab(), sort_keys=True)
        )
    except Exception:  # noqa: BLE001 - any tokenizer without a serialisable vocab
        text = f"{type(tok).__name__}:{len(tok)}"
    extra = f"|bos={getattr(tok, 'bos_token', None)}|eos={getattr(tok, 'eos_token', None)}"
    return hashlib.sha256((text + extra).encode()).hexdigest()


def model_fingerprint(model: Any) -> str:
    """A content hash of the model: config, tokenizer, dtype and weights, memoised per object.

    Every parameter contributes its shape, dtype and a strided sample of its values; norm weights
    and biases (small, and changed by any fine-tune) are hashed whole.
    """
    try:
        return _FINGERPRINTS[model]
    except (KeyError, TypeError):
        pass
    h = hashlib.sha256()
    hf = getattr(model, "original_model", None)
    cfg = getattr(hf, "config", None)
    if cfg is not None and hasattr(cfg, "to_json_string"):
        h.update(cfg.to_json_string(use_diff=False).encode())
    else:
        h.update(repr(getattr(model, "cfg", None)).encode())
    h.update(
        f"|processed={getattr(getattr(model, 'cfg', None), 'lens_steer_processed', None)}".encode()
    )
    h.update(_tokenizer_digest(getattr(model, "tokenizer", None)).encode())
    seen: set[int] = set()
    source = hf if hf is not None else model
    for name, p in source.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        h.update(name.encode())
        _hash_tensor(h, p, full=p.ndim <= 1)
    digest = h.hexdigest()
    try:
        _FINGERPRINTS[model] = digest
    except TypeError:
        pass
    return digest


def forget_fingerprint(model: Any) -> None:
    """Drop the memoised fingerprint (after changing the model's weights in place)."""
    _FINGERPRINTS.pop(model, None)


def vectors_fingerprint(vectors: Any) -> str:
    """A content hash of steering vectors: their directions (full bytes) and layers."""
    h = hashlib.sha256()
    h.update(json.dumps([int(x) for x in vectors.layers]).encode())
    _hash_tensor(h, vectors.directions, full=True)
    return h.hexdigest()


def content_key(fields: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``fields`` (sorted keys; floats by ``repr``)."""

    def norm(x: Any) -> Any:
        if isinstance(x, float):
            return repr(x)
        if isinstance(x, (list, tuple)):
            return [norm(v) for v in x]
        if isinstance(x, Mapping):
            return {str(k): norm(v) for k, v in x.items()}
        return x

    blob = json.dumps(norm(dict(fields)), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"v{ENGINE_VERSION}|{blob}".encode()).hexdigest()


class CacheError(LensSteerError, sqlite3.DatabaseError):
    """The store file is truncated, corrupt or not SQLite at all; the message names it."""


def _is_corrupt(err: sqlite3.DatabaseError) -> bool:
    code = getattr(err, "sqlite_errorcode", None)
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return True
    text = str(err)
    return "malformed" in text or "not a database" in text


class GenerationCache:
    """Generated texts keyed by content hash, in one SQLite file (WAL mode).

    ``get_many(keys)`` returns the hits; ``put_many({key: (text, meta)})`` writes in a single
    transaction. Connections are opened per process (a forked child opens its own). Besides
    generations, :func:`~lens_steer.engine.loglik.score_choices_lams` stores its summed option
    log-probabilities here (as text).

    Args:
        path: the SQLite file; it and its parent folders are created if missing, and it is
            opened (and checked) at once.
        timeout: seconds to wait for another process's lock before failing.

    Attributes:
        path: the file, as a ``Path``.
        timeout: the lock timeout, in seconds.

    Raises:
        CacheError: the file exists but is truncated, corrupt or not SQLite.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = float(timeout)
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._connect()

    @contextmanager
    def _readable(self) -> Iterator[None]:
        """Turn SQLite's "malformed" / "not a database" into one line that names the file."""
        try:
            yield
        except CacheError:
            raise
        except sqlite3.DatabaseError as err:
            if not _is_corrupt(err):
                raise
            raise CacheError(
                f"{self.path} is truncated or corrupt ({err}); it only caches generations, so "
                "deleting it (with any -wal/-shm files beside it) loses nothing but the time "
                "to regenerate them"
            ) from None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        conn = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
        try:
            with self._readable():
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY,"
                    " text TEXT NOT NULL, meta TEXT NOT NULL, created REAL NOT NULL)"
                )
                conn.execute("SELECT COUNT(*) FROM generations").fetchone()
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def __repr__(self) -> str:
        return f"GenerationCache({str(self.path)!r}, {len(self)} entries)"

    def __len__(self) -> int:
        with self._readable():
            return int(self._connect().execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def __contains__(self, key: str) -> bool:
        return bool(self.get_many([key]))

    def get(self, key: str) -> str | None:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """``{key: text}`` for the keys present; the others are misses."""
        keys = list(dict.fromkeys(keys))
        conn, out = self._connect(), {}
        with self._readable():
            for start in range(0, len(keys), 500):
                part = keys[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = conn.execute(
                    f"SELECT key, text FROM generations WHERE key IN ({marks})", part
                ).fetchall()
                out.update(dict(rows))
        return out

    def meta(self, key: str) -> dict[str, Any] | None:
        with self._readable():
            row = self._connect().execute("SELECT meta FROM generations WHERE key=?", (key,))
            row = row.fetchone()
        return None if row is None else json.loads(row[0])

    def put_many(self, items: Mapping[str, tuple[str, Mapping[str, Any]]] | Sequence[Any]) -> None:
        """Write ``{key: (text, meta)}`` in one transaction (all or nothing)."""
        pairs = items.items() if isinstance(items, Mapping) else items
        now = time.time()
        rows = [(k, t, json.dumps(dict(m), ensure_ascii=False), now) for k, (t, m) in pairs]
        if not rows:
            return
        conn = self._connect()
        with self._readable():
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO generations (key, text, meta, created)"
                    " VALUES (?,?,?,?)",
                    rows,
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def put(self, key: str, text: str, meta: Mapping[str, Any] | None = None) -> None:
        self.put_many({key: (text, meta or {})})

    def clear(self) -> None:
        self._connect().execute("DELETE FROM generations")

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def __enter__(self) -> GenerationCache:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
