"""Reading benchmark rows from local JSONL files or from the hub, with errors that point at the row.

Every row is turned into an :class:`~lens_steer.tasks.base.Example` by a task-specific converter
``convert(row, index, where)``; ``where`` is ``"path:line"`` for a file and
``"hub_id[config/split] row i"`` for the hub, so a malformed row is reported where it lives.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from .base import DataError, Example, UnusableRow

__all__ = [
    "DataError",
    "UnusableRow",
    "Converter",
    "read_jsonl",
    "read_lines",
    "load_hub_rows",
    "convert_rows",
    "get_field",
    "resolve_data_dir",
]

Converter = Callable[[dict[str, Any], int, str], Example]


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every line, decoded one line at a time.

    Decoding the whole file at once would report invalid UTF-8 as a byte offset deep inside
    the file; per line, the error can name the line (and column) a person can open.
    """
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(
                    f"{path}:{lineno}: not valid UTF-8 (byte 0x{raw[err.start]:02x} at column "
                    f"{err.start + 1}); re-save the file as UTF-8"
                ) from None


def read_jsonl(path: str | Path) -> list[tuple[dict[str, Any], str]]:
    """``[(row, "path:line"), ...]`` for every non-blank line; bad JSON names the line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    rows: list[tuple[dict[str, Any], str]] = []
    for lineno, line in _text_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object per line, got {type(row).__name__}")
        rows.append((row, where))
    if not rows:
        raise DataError(f"{path} has no rows: the split is empty, so no accuracy can be computed")
    return rows


def read_lines(path: str | Path) -> list[str]:
    """Non-blank lines of a text file (e.g. MATH's ``train_paths.txt``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    return [line.strip() for _, line in _text_lines(path) if line.strip()]


def load_hub_rows(hub_id: str, config: str | None, split: str) -> list[tuple[dict[str, Any], str]]:
    """Rows of a hub dataset split via :func:`datasets.load_dataset`, each with its location."""
    import datasets

    label = f"{hub_id}[{config + '/' if config else ''}{split}]"
    try:
        ds = (
            datasets.load_dataset(hub_id, config, split=split)
            if config
            else datasets.load_dataset(hub_id, split=split)
        )
    except Exception as err:
        raise DataError(
            f"could not load {label} from the Hugging Face hub ({type(err).__name__}: {err}). "
            "Offline? Pass data_dir= pointing at a local copy of the JSONL files instead."
        ) from err
    rows = [(dict(row), f"{label} row {i}") for i, row in enumerate(ds)]
    if not rows:
        raise DataError(f"{label} has no rows: the split is empty, so no accuracy can be computed")
    return rows


def convert_rows(
    rows: Iterable[tuple[dict[str, Any], str]],
    convert: Converter,
    skipped: list[str] | None = None,
) -> list[Example]:
    """Apply ``convert`` to each row, wrapping unexpected failures with the row's location.

    With a ``skipped`` list, rows the converter marks :class:`UnusableRow` (well-formed but
    ungradable, a defect of the upstream data) are recorded there with a warning instead of
    failing the load. Only training splits pass one: a test set must load whole.
    """
    out: list[Example] = []
    for index, (row, where) in enumerate(rows):
        try:
            out.append(convert(row, index, where))
        except UnusableRow as err:
            if skipped is None:
                raise
            skipped.append(str(err))
            warnings.warn(f"skipping ungradable row: {err}", stacklevel=3)
        except DataError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise DataError(f"{where}: malformed row ({type(err).__name__}: {err})") from err
    return out


def get_field(
    row: dict[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str
) -> Any:
    """``row[key]``, checked for presence, type and (for strings) non-emptiness."""
    if key not in row:
        raise DataError(f"{where}: missing field {key!r} (fields present: {sorted(row)})")
    value = row[key]
    if not isinstance(value, kind):
        want = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise DataError(f"{where}: field {key!r} should be {want}, got {type(value).__name__}")
    if isinstance(value, str) and not value.strip():
        raise DataError(f"{where}: field {key!r} is empty")
    return value


def resolve_data_dir(data_dir: str | Path, task: str, required: Iterable[str]) -> Path:
    """The folder holding ``required`` files: ``data_dir`` itself, or ``data_dir/task``.

    Accepting the parent (``../shared/data``) as well as the task folder saves a common slip.
    """
    base = Path(data_dir).expanduser()
    required = list(required)
    for cand in (base, base / task):
        if all((cand / name).is_file() for name in required):
            return cand
    if not base.exists():
        raise FileNotFoundError(f"data_dir {base} does not exist (task {task!r} needs {required})")
    missing = [name for name in required if not (base / name).is_file()]
    raise FileNotFoundError(
        f"data_dir {base} is missing {missing} for task {task!r}; point data_dir at the folder "
        f"that holds {required} (e.g. ../shared/data/{task}), or pass data_dir=None to use the hub"
    )
