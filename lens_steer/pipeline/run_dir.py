"""The run directory's rules: who may write it, which config it belongs to, atomic files.

- One process at a time: ``lens-steer run`` holds an exclusive ``flock`` on ``run.lock`` inside
  the directory for its whole lifetime, so two runs of one config never write the same files or
  the same generation store; a second run stops at once, naming the holder's pid.
- One config per directory: ``config.json`` records the config and its hash; a different config
  is refused, never mixed in. A stamp that is empty, not JSON or not a stamp is refused too,
  with what to do, instead of a traceback.
- No half-written files: JSON goes to a temporary file in the same folder, then one rename.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import LockError
from ..formats import atomic_write
from .config import ConfigError, config_hash

__all__ = ["RunDirectoryError", "LockError", "write_json", "read_stamp", "check_stamp", "claim"]

LOCK_FILE = "run.lock"
STAMP_FILE = "config.json"


class RunDirectoryError(ConfigError):
    """The run directory belongs to another config, or its ``config.json`` is unreadable."""


def write_json(path: Path, obj: Any, compact: bool = False) -> None:
    """Atomic JSON write with stable formatting (sorted keys only where the producer sorted);
    ``compact`` for data nobody reads by eye (per-question predictions: half the bytes of an
    indented file, which matters once a study commits them)."""
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    text = json.dumps(obj, ensure_ascii=False, **layout) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_stamp(run_dir: Path) -> dict[str, Any] | None:
    """``config.json`` of ``run_dir`` as ``{"config_hash", "config"}``; None when there is none."""
    stamp = run_dir / STAMP_FILE
    if not stamp.exists():
        return None
    fix = (
        f"it is not a lens-steer run stamp, so {run_dir} cannot be resumed: delete that "
        "directory, or set another `name:` in the config"
    )
    try:
        text = stamp.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RunDirectoryError(f"{stamp} cannot be read ({err}); {fix}") from None
    if not text.strip():
        raise RunDirectoryError(f"{stamp} is empty; {fix}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RunDirectoryError(
            f"{stamp} is not valid JSON ({err.msg} at line {err.lineno}); {fix}"
        ) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("config"), dict)
        or "config_hash" not in data
    ):
        raise RunDirectoryError(
            f"{stamp} holds a JSON {type(data).__name__}, not a mapping with 'config_hash' and "
            f"'config'; {fix}"
        )
    return data


def check_stamp(run_dir: Path, cfg: Mapping[str, Any]) -> bool:
    """True when ``run_dir`` already belongs to ``cfg``, False when unclaimed; refuses others."""
    old = read_stamp(run_dir)
    if old is None:
        return False
    if old["config_hash"] == config_hash(cfg):
        return True
    previous = old["config"]
    changed = sorted(k for k in set(previous) | set(cfg) if previous.get(k) != cfg.get(k))
    raise RunDirectoryError(
        f"{run_dir} holds a run of a different config (differs in: {', '.join(changed)}); "
        "set another `name:` or delete the directory"
    )


def claim(run_dir: Path, cfg: Mapping[str, Any]) -> None:
    """Create the run directory for ``cfg`` or check that an existing one is ours."""
    if not check_stamp(run_dir, cfg):
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / STAMP_FILE, {"config_hash": config_hash(cfg), "config": dict(cfg)})


def _holder(fh: Any) -> str:
    """The pid the lock's holder wrote (it may be mid-write for a moment: retry briefly)."""
    for _ in range(50):
        fh.seek(0)
        pid = fh.read().strip()
        if pid:
            return pid
        time.sleep(0.01)
    return "unknown"


@contextmanager
def locked(run_dir: Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``run_dir`` (created if needed) until the block ends.

    ``flock`` is released by the kernel when the process dies, however it dies, so a killed
    run never leaves a stale lock; the pid written into the file only serves the message.
    """
    import fcntl

    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockError(
                f"{run_dir} is in use by another lens-steer run (pid {_holder(fh)}); wait for it to "
                "finish or stop it, then run this command again (it resumes)"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield path
