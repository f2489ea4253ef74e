"""Run configuration: parsed and fully validated before any model loads.

A config is YAML (or a dict) with top-level run settings and a list of ``tasks``; every key is
checked against the schema below, so a typo fails at once with the allowed keys and the closest
match instead of silently falling back to a default an hour into a run.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = [
    "ConfigError",
    "Field",
    "load_config",
    "read_yaml",
    "validate_config",
    "config_hash",
    "SCHEMA",
]


class ConfigError(InputError):
    """A config value or key is wrong; the message names the path and what is allowed."""


_REQUIRED = object()


@dataclass(frozen=True)
class Field:
    types: tuple[type, ...]
    default: Any = _REQUIRED
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None  # returns an error message or None
    nullable: bool = False


def _positive(x: Any) -> str | None:
    return None if x >= 1 else "must be ≥ 1"


def run_name_problem(name: str) -> str | None:
    """Why ``name`` is not one safe path component, or None.

    The run directory is ``output_dir/name``: a name with a separator, ``..``, or an absolute
    path would write config.json and run.log somewhere else entirely.
    """
    if not name.strip():
        return "must not be empty: it names the run directory inside output_dir"
    bad = [c for c in ("/", "\\", "\0") if c in name]
    if bad or name in (".", "..") or name != name.strip() or not name.isprintable():
        return (
            f"{name!r} is not a single folder name (not '.' or '..'; no '/', '\\', control "
            "characters or surrounding spaces): it names the run directory inside output_dir; "
            "to write elsewhere, set output_dir"
        )
    return None


def _device(value: str) -> str | None:
    from ..models.load import device_problem

    return device_problem(value)


def _grid(value: Any) -> str | None:
    if value == "paper":
        return None
    if not isinstance(value, list) or not value:
        return "must be 'paper' or a non-empty list of λ values"
    for lam in value:
        items = lam if isinstance(lam, list) else [lam]
        if not items or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in items
        ):
            return f"entry {lam!r} is not a number (or a per-layer list of numbers)"
        if not all(math.isfinite(float(x)) for x in items):
            return f"entry {lam!r} is not finite"
    return None


def _controls(value: Any) -> str | None:
    from ..experiment.evaluate import CONTROLS

    bad = [c for c in value if c not in CONTROLS]
    return f"unknown controls {bad}: allowed {list(CONTROLS)}" if bad else None


def _task_schema() -> dict[str, Any]:
    from ..experiment.layer_search import STRATEGIES as SEARCHES
    from ..tasks import STRATEGIES, TASKS

    return {
        "name": Field((str,), choices=tuple(TASKS)),
        "data_dir": Field((str,), None, nullable=True),
        "scoring": Field((str,), "generate", choices=("generate", "loglik")),
        "pairs": {
            "strategy": Field((str,), "corrupted-answer", choices=STRATEGIES),
            "n": Field((int,), 64, check=lambda x: None if x >= 2 else "must be ≥ 2"),
        },
        "n_val": Field((int,), 200, check=_positive, nullable=True),
        "n_test": Field((int,), None, check=_positive, nullable=True),
        "grid": Field((str, list), "paper", check=_grid),
        "its": Field((bool,), True),
        # ITS's votes: null = every λ of grid; a sub-grid (or another grid) where ITS over the
        # whole tuning grid would cost too much on the test split (λ* is still tuned on grid)
        "its_grid": Field((str, list), None, check=_grid, nullable=True),
        "controls": Field((list,), ["random-direction"], check=_controls),
        "zero_shot": Field((bool,), False),
        "max_new_tokens": Field((int,), 256, check=_positive),
        "batch_size": Field((int,), 16, check=_positive),
        "layer_search": {  # off unless a strategy is named
            "strategy": Field((str,), None, choices=SEARCHES, nullable=True),
            "max_layers": Field((int,), None, check=_positive, nullable=True),
        },
    }


def schema() -> dict[str, Any]:
    from ..extract import METHODS
    from ..models.load import HOOK_POINTS
    from ..steer import OPS, POSITIONS
    from ..transfer.layer_maps import LAYER_MAPS
    from ..transfer.width_maps import WIDTH_METHODS

    return {
        "name": Field((str,), None, check=run_name_problem, nullable=True),
        "parent": Field((str,)),
        "child": Field((str,)),
        "output_dir": Field((str,), "runs"),
        "seed": Field((int,), 0),
        "device": Field((str,), "auto", check=_device),
        "dtype": Field((str,), "float32", choices=("float32", "bfloat16", "float16")),
        "extract": {
            "method": Field((str,), "pca", choices=METHODS),
            "hook": Field((str,), "resid_post", choices=HOOK_POINTS),
            "batch_size": Field((int,), 8, check=_positive),
        },
        "transfer": {
            "layer_map": Field((str,), "greedy", choices=LAYER_MAPS),
            "width": Field((str,), "ridge", choices=WIDTH_METHODS, nullable=True),
            "n_anchor": Field((int,), 64, check=lambda x: None if x >= 8 else "must be ≥ 8"),
            "normalize": Field((bool,), True),
        },
        "steer": {
            "positions": Field((str,), "all", choices=POSITIONS),
            "relative": Field((bool,), False),
            "op": Field((str,), "add", choices=OPS),
        },
        "tasks": [_task_schema()],
    }


SCHEMA = schema


def _unknown(path: str, key: str, allowed: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{path}: unknown key {key!r} (allowed: {', '.join(allowed)}){hint}")


def _check_value(path: str, spec: Field, value: Any) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise ConfigError(f"{path}: must not be null")
    if isinstance(value, bool) and bool not in spec.types:
        raise ConfigError(
            f"{path}: expected {'/'.join(t.__name__ for t in spec.types)}, got a bool"
        )
    if spec.types == (float,) and isinstance(value, int):
        value = float(value)
    if not isinstance(value, spec.types):
        names = "/".join(t.__name__ for t in spec.types)
        raise ConfigError(f"{path}: expected {names}, got {type(value).__name__} {value!r}")
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{path}: {value!r} is not one of {list(spec.choices)}")
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise ConfigError(f"{path}: {problem}")
    return value


def _resolve(path: str, spec: Any, value: Any) -> Any:
    if isinstance(spec, Field):
        return _check_value(path, spec, value)
    if isinstance(spec, list):  # a list of sections sharing one schema
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{path}: must be a non-empty list")
        return [_resolve(f"{path}[{i}]", spec[0], item) for i, item in enumerate(value)]
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
    for key in value:
        if key not in spec:
            raise _unknown(path, str(key), list(spec))
    out = {}
    for key, sub in spec.items():
        where = f"{path}.{key}" if path else key
        if key not in value:
            if isinstance(sub, Field) and sub.default is _REQUIRED:
                raise ConfigError(f"{where}: required")
            if isinstance(sub, list):
                raise ConfigError(f"{where}: required (a list of task sections)")
            out[key] = (
                copy.deepcopy(sub.default) if isinstance(sub, Field) else _resolve(where, sub, {})
            )
        else:
            out[key] = _resolve(where, sub, value[key])
    return out


def _check_data(task: dict[str, Any], where: str) -> None:
    """Fail before loading models when a task's local data folder is missing or incomplete."""
    from ..tasks import get_task

    if task["data_dir"] is None:
        return
    folder = Path(task["data_dir"]).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"{where}.data_dir: no directory at {folder}")
    try:
        t = get_task(task["name"], data_dir=folder)
        for split in t.official_splits():
            t.load(split)
    except (ValueError, FileNotFoundError) as err:
        raise ConfigError(f"{where}.data_dir: {err}") from None
    if task["scoring"] == "loglik" and not task["name"].startswith("arc"):
        raise ConfigError(f"{where}.scoring: 'loglik' needs a multiple-choice task (arc_*)")


def validate_config(raw: Mapping[str, Any], base_dir: str | Path = ".") -> dict[str, Any]:
    """The resolved config (defaults filled in, relative data paths made absolute)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a config must be a mapping at the top level, got {type(raw).__name__}")
    cfg = _resolve("", schema(), raw)
    base = Path(base_dir)
    names = [t["name"] for t in cfg["tasks"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"tasks: {dupes} listed more than once")
    for i, task in enumerate(cfg["tasks"]):
        if task["data_dir"] is not None:
            task["data_dir"] = str((base / task["data_dir"]).expanduser().resolve())
        _check_data(task, f"tasks[{i}]")
    _check_op(cfg)
    for i, task in enumerate(cfg["tasks"]):
        _check_layer_search(task, cfg["steer"]["op"], f"tasks[{i}]")
    if cfg["name"] is None:
        cfg["name"] = f"{Path(cfg['parent']).name}-to-{Path(cfg['child']).name}"
        problem = run_name_problem(cfg["name"])
        if problem:
            raise ConfigError(f"name: the default name from parent and child {problem}")
    return cfg


def _check_op(cfg: Mapping[str, Any]) -> None:
    """What an op cannot take: ablate reads λ as a share, not a fraction of ‖h‖; only add reads
    per-layer λ (which is folded into the vectors)."""
    op = cfg["steer"]["op"]
    if op == "ablate" and cfg["steer"]["relative"]:
        raise ConfigError(
            "steer: op 'ablate' takes λ as the share of the direction to remove, not a fraction "
            "of ‖h‖: set relative: false"
        )
    for i, task in enumerate(cfg["tasks"]):
        for key in ("grid", "its_grid"):
            grid = task.get(key) if isinstance(task.get(key), list) else []
            if op != "add" and any(isinstance(e, list) for e in grid):
                raise ConfigError(
                    f"tasks[{i}].{key}: per-layer λ entries work with steer.op 'add' only; give "
                    f"single numbers for op {op!r}"
                )


def _check_layer_search(task: Mapping[str, Any], op: str, where: str) -> None:
    """A layer search scores at the tuned scalar λ*, and switches a layer off with λ = 0, which
    clamp would read as "pin to 0"."""
    search = task["layer_search"]
    if search["strategy"] is None:
        if search["max_layers"] is not None:
            raise ConfigError(
                f"{where}.layer_search: max_layers without a strategy; add strategy: "
                "greedy-forward (or remove layer_search)"
            )
        return
    where = f"{where}.layer_search"
    if search["max_layers"] is not None and search["strategy"] != "greedy-forward":
        raise ConfigError(f"{where}.max_layers: only the greedy-forward strategy takes it")
    if op == "clamp":
        raise ConfigError(f"{where}: needs λ = 0 to leave a layer alone; use steer.op add/ablate")
    if isinstance(task["grid"], list) and any(isinstance(e, list) for e in task["grid"]):
        raise ConfigError(f"{where}: searches at a scalar λ*; the grid has per-layer entries")


def read_yaml(path: str | Path, what: str = "config") -> Any:
    """The YAML document at ``path`` (None when empty); a missing file or bad YAML is a
    :class:`ConfigError` naming the file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no {what} file at {path}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None


def load_config(path: str | Path) -> dict[str, Any]:
    raw = read_yaml(path) or {}
    if isinstance(raw, Mapping) and "vary" in raw and "base" in raw:
        raise ConfigError(f"{path} is a sweep file (base + vary): run it with `lens-steer sweep`")
    return validate_config(raw, base_dir=Path(path).parent)


def config_hash(cfg: Mapping[str, Any]) -> str:
    """Identity of a run: everything that changes its results (not where it is written)."""
    core = {k: v for k, v in cfg.items() if k != "output_dir"}
    # defaults added later leave the hash alone, so run directories from before them resume
    for section, key, default in (("steer", "op", "add"), ("extract", "hook", "resid_post")):
        if core.get(section, {}).get(key) == default:
            core[section] = {k: v for k, v in core[section].items() if k != key}
    off = {"strategy": None, "max_layers": None}
    later = {"layer_search": off, "its_grid": None}
    core["tasks"] = [
        {k: v for k, v in t.items() if not (k in later and v == later[k])}
        for t in core.get("tasks", [])
    ]
    return hashlib.sha256(json.dumps(core, sort_keys=True).encode()).hexdigest()[:16]
