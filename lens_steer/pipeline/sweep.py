"""``lens-steer sweep``: a grid of runs (parent × child × task × option) from one sweep file.

A sweep file names a base run config (a path, relative to the sweep file, or an inline mapping)
and the values to ``vary`` under dotted keys (``child``, ``transfer.width``, ``tasks.0.n_test``),
or under any label that is not a config key a list of named bundles of such keys set together (``setting: [{name: ridge,
transfer.width: ridge}, {name: relative, steer.relative: true}]``); their cartesian product
becomes the runs, each one validated as ``lens-steer run`` validates a
config before anything starts, and each named by its varied values. Runs write ordinary run
directories under the sweep's output directory, so ``report`` and the analyses read them
unchanged, and ``sweep.json`` records every run's values, status, wall time and metrics. A run
directory that already holds its metrics is not run again; a changed sweep runs only its new
runs. ``base`` is relative to the sweep file; ``output_dir`` (default: the sweep file's stem in
the base's output_dir, else in "runs") to the working directory, as ``lens-steer run``'s is. Runs
execute in this process one after another, sharing loaded models, or as Ray tasks
(:mod:`.sweep_ray`, ``--ray``); :mod:`.sweep_board` keeps ``sweep.json`` and the progress lines.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError, LensSteerError
from .config import ConfigError, read_yaml, schema, validate_config
from .run_dir import locked
from .sweep_board import SweepBoard

__all__ = [
    "Sweep",
    "SweepRun",
    "SweepFailed",
    "load_sweep",
    "parse_sweep",
    "run_sweep",
    "select_runs",
    "add_sweep_command",
    "SWEEP_KEYS",
]

SWEEP_KEYS = ("base", "vary", "resources", "output_dir")
RESOURCES = ("num_cpus", "num_gpus")


@dataclass(frozen=True)
class SweepRun:
    """One expanded run: its name, the values it varies, and its validated config."""

    name: str
    values: dict[str, Any]
    config: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """The expanded runs; when :func:`select_runs` left some out, ``file_runs`` holds every run
    of the file, in order (``sweep.json`` lists them all; only ``runs`` are run)."""

    runs: tuple[SweepRun, ...]
    output_dir: str
    resources: dict[str, float] = field(default_factory=dict)
    file_runs: tuple[SweepRun, ...] = ()


def _set(cfg: dict[str, Any], dotted: str, value: Any) -> None:
    """``cfg[a][b][0] = value`` for ``"a.b.0"``: integers index lists, mappings are created."""
    parts = dotted.split(".")
    node: Any = cfg
    for i, part in enumerate(parts):
        if not isinstance(node, (list, dict)):
            raise ConfigError(f"vary.{dotted}: {'.'.join(parts[:i])} is a value, not a section")
        key: Any = part
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                where = ".".join(parts[: i + 1])
                raise ConfigError(
                    f"vary.{dotted}: {where} is not an index of a list of {len(node)}"
                )
            key = int(part)
        if i == len(parts) - 1:
            node[key] = value
        else:
            node = node[key] if isinstance(node, list) else node.setdefault(key, {})


def _label(value: Any, whole: bool = False) -> str:
    """A value as a run-name fragment: a path's last component (``whole``: all of it), with no
    separators or spaces."""
    text = (
        str(value) if whole or not (isinstance(value, str) and "/" in value) else Path(value).name
    )
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "x"


def _names(stem: str, combos: list[dict[str, Any]], where: str) -> list[str]:
    """Run names from the varied values; paths that share a last component are spelled whole."""
    from ..analysis.rundir import short_keys  # here, not at import: `lens-steer run` skips it

    short = short_keys(list(combos[0]))

    def name(values: dict[str, Any], whole: bool) -> str:
        return "__".join([stem, *(f"{short[k]}={_label(v, whole)}" for k, v in values.items())])

    names = [name(v, False) for v in combos]
    names = [name(v, True) if names.count(n) > 1 else n for n, v in zip(names, combos, strict=True)]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ConfigError(
            f"{where}: several runs would be named {clashes[0]} (their values differ only in "
            "characters a folder name cannot hold); make the varied values distinct"
        )
    return names


def _check_top(raw: Any, where: str) -> None:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: a sweep file is a mapping with keys {list(SWEEP_KEYS)}")
    for key in raw:
        if key not in SWEEP_KEYS:
            raise ConfigError(f"{where}: unknown key {key!r} (allowed: {', '.join(SWEEP_KEYS)})")
    vary = raw.get("vary")
    if not isinstance(vary, Mapping) or not vary:
        raise ConfigError(f"{where}: vary must map dotted config keys to lists of values")
    for key, values in vary.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: vary.{key} must be a non-empty list of values")
        if _is_bundles(key, values):
            _check_bundles(values, f"{where}: vary.{key}")
    _check_overlaps(vary, where)
    resources = raw.get("resources") or {}
    bad = [k for k in resources if k not in RESOURCES]
    if bad or not all(isinstance(v, (int, float)) and v >= 0 for v in resources.values()):
        raise ConfigError(f"{where}: resources takes non-negative {list(RESOURCES)}")


def _is_bundles(label: str, values: list[Any]) -> bool:
    """Mappings under a label that is not a config key are bundles; under a config key (such as
    ``tasks.0``) a mapping is the value that key takes."""
    return label.split(".")[0] not in schema() and any(isinstance(v, Mapping) for v in values)


def _keys_set(label: str, values: list[Any]) -> set[str]:
    if not _is_bundles(label, values):
        return {label}
    return {k for bundle in values for k in bundle if k != "name"}


def _check_overlaps(vary: Mapping[str, Any], where: str) -> None:
    """Two labels that set the same key (or one inside the other) would let the later win while
    the run's name shows both: refused."""
    owners = [(k, label) for label, values in vary.items() for k in _keys_set(label, values)]
    for i, (a, la) in enumerate(owners):
        for b, lb in owners[i + 1 :]:
            if la != lb and (a == b or a.startswith(b + ".") or b.startswith(a + ".")):
                raise ConfigError(
                    f"{where}: vary.{la} and vary.{lb} both set {min(a, b, key=len)}; vary each "
                    "config key under one label only"
                )


def _check_bundles(values: list[Any], where: str) -> None:
    """A list of bundles: mappings of dotted keys set together, each with a unique ``name``
    (a bundle of a name alone is the base config as it is)."""
    names = [v.get("name") if isinstance(v, Mapping) else None for v in values]
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ConfigError(
            f"{where}: a list of settings bundles needs a mapping per item, each with its own "
            "'name' (e.g. {name: ridge, transfer.width: ridge})"
        )


def _apply(cfg: dict[str, Any], key: str, value: Any, bundle: bool) -> None:
    """Set one varied value: a dotted key, or every key of a named bundle."""
    if bundle:
        for sub, v in value.items():
            if sub != "name":
                _set(cfg, sub, copy.deepcopy(v))
    else:
        _set(cfg, key, value)


def _base(raw: Mapping[str, Any], base_dir: Path) -> tuple[dict[str, Any], Path]:
    """The base config as a raw mapping, and the folder its relative paths are relative to."""
    base = raw.get("base")
    if isinstance(base, Mapping):
        return copy.deepcopy(dict(base)), base_dir
    if not isinstance(base, str):
        raise ConfigError("base: a run config path (relative to the sweep file) or a mapping")
    path = (base_dir / base).expanduser()
    try:
        loaded = read_yaml(path, "run config")
    except ConfigError as err:
        raise ConfigError(f"base: {err}") from None
    if not isinstance(loaded, (Mapping, type(None))):
        raise ConfigError(f"base: {path} is not a run config (a mapping)")
    return dict(loaded or {}), path.parent


def parse_sweep(
    raw: Any, base_dir: str | Path = ".", where: str = "sweep", name: str = "sweep"
) -> Sweep:
    """Expand and validate every run of a sweep mapping; nothing runs. Without ``output_dir``
    the sweep goes to a folder called ``name`` (a sweep file's stem) in the base's output_dir."""
    _check_top(raw, where)
    base, config_dir = _base(raw, Path(base_dir))
    keys = list(raw["vary"])
    combos = [dict(zip(keys, c, strict=True)) for c in itertools.product(*raw["vary"].values())]
    bundles = {k for k, values in raw["vary"].items() if _is_bundles(k, values)}
    shown = [{k: v["name"] if k in bundles else v for k, v in c.items()} for c in combos]
    runs, problems = [], []
    names = _names(str(base.get("name") or "run"), shown, where)
    for run_name, values, display in zip(names, combos, shown, strict=True):
        cfg = copy.deepcopy(base)
        try:
            for key, value in values.items():
                _apply(cfg, key, value, key in bundles)
            cfg["name"] = run_name
            runs.append(SweepRun(run_name, display, validate_config(cfg, base_dir=config_dir)))
        except ConfigError as err:
            problems.append(f"{run_name}: {err}")
    if problems:
        raise ConfigError(f"{where}: {len(problems)} run(s) invalid: " + "; ".join(problems))
    out = str(raw.get("output_dir") or Path(base.get("output_dir") or "runs") / name)
    return Sweep(tuple(runs), out, dict(raw.get("resources") or {}))


def load_sweep(path: str | Path) -> Sweep:
    path = Path(path)
    raw = read_yaml(path, "sweep")
    return parse_sweep(raw, base_dir=path.parent, where=str(path), name=path.stem)


def _matches(run: SweepRun, label: str, short: str, text: str) -> bool:
    """Whether ``text`` names ``run``'s value of ``label``: as written in the sweep file (typed as
    YAML reads it: ``true``, ``0.10``), or as spelled in the run's name (``short=…``)."""
    value = run.values[label]
    if text == str(value) or f"{short}={text}" in run.name.split("__"):
        return True
    try:
        typed = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return typed == value and isinstance(typed, bool) == isinstance(value, bool)


def select_runs(sweep: Sweep, only: Sequence[str]) -> Sweep:
    """The runs whose varied values match every ``LABEL=VALUE`` of ``only`` (LABEL as in
    ``vary`` or as in the runs' names; a label given twice matches either value): one pair of a
    study, re-run alone. The others stay in ``sweep.json`` (done if their folder holds them)."""
    from ..analysis.rundir import short_keys  # here, not at import: `lens-steer run` skips it

    labels = list(sweep.runs[0].values) if sweep.runs else []
    short = short_keys(labels)
    named = {s: k for k, s in short.items()}
    wanted: dict[str, list[str]] = {}
    for item in only:
        label, sep, text = item.partition("=")
        label = named.get(label, label)
        if not sep or label not in short:
            raise InputError(f"--only {item!r}: give LABEL=VALUE, LABEL one of {labels}")
        hits = {str(r.values[label]) for r in sweep.runs if _matches(r, label, short[label], text)}
        if len(hits) != 1:
            choices = sorted({str(r.values[label]) for r in sweep.runs})
            why = "matches several values" if hits else "matches no value"
            raise InputError(f"--only {item!r} {why}: {label} takes one of {choices}")
        wanted.setdefault(label, []).append(text)

    def keep(run: SweepRun) -> bool:
        return all(any(_matches(run, k, short[k], t) for t in ts) for k, ts in wanted.items())

    # every label names a value some run has, so the product holds at least one run
    return replace(sweep, runs=tuple(r for r in sweep.runs if keep(r)),
                   file_runs=sweep.file_runs or sweep.runs)  # fmt: skip


def run_sweep(
    sweep: Sweep,
    output_dir: str | Path | None = None,
    *,
    ray: str | None = None,
    max_parallel: int | None = None,
    progress: bool = True,
) -> tuple[Path, list[str]]:
    """Run every run of ``sweep``; returns (sweep directory, failed run names).

    In this process one after another, or with ``ray`` ("local", "auto", "ray://host:port") as
    Ray tasks (:mod:`.sweep_ray`). A failed run is recorded with its error in ``sweep.json`` and
    the sweep goes on.
    """
    if max_parallel is not None and (ray is None or max_parallel < 1):
        raise InputError(
            f"max_parallel={max_parallel}: give a positive number of runs at once, with --ray "
            "(in this process the runs go one after another)"
        )
    # absolute, so Ray workers write where this process looks, whatever their working directory
    root = Path(output_dir or sweep.output_dir).expanduser().resolve()
    if ray is None:
        with locked(root):  # one sweep at a time writes this sweep.json
            return root, _in_process(sweep, root, progress)
    from .sweep_ray import connected, run_sweep_ray

    with connected(None if ray == "local" else ray), locked(root):  # connect before writing
        return root, run_sweep_ray(sweep, root, max_parallel=max_parallel, progress=progress)


def _in_process(sweep: Sweep, root: Path, progress: bool) -> list[str]:
    """One run after another, sharing loaded models (a :class:`.pool.ModelPool`)."""
    from .pool import ModelPool
    from .run import run_pipeline

    board, models = SweepBoard(sweep, root, progress), ModelPool()
    try:
        for name, cfg in board.todo:
            board.start(name)
            try:
                run_pipeline(cfg, progress=progress, models=models)
            except Exception as err:  # noqa: BLE001 - one run's failure must not end the grid
                board.fail(name, f"{type(err).__name__}: {err}")
            else:
                board.done(name)
    finally:
        board.close()
    return board.failed


class SweepFailed(LensSteerError):
    """Some runs of a sweep failed (the others finished); sweep.json holds each error."""


def cmd_sweep(args: Any) -> None:
    """``lens-steer sweep SWEEP.yaml``: every run (here or on Ray), then Table 1 over the finished
    runs and a summary; exit status 2 if any run failed."""
    from .cli import _no_library_bars, _sigterm_unwinds

    sweep = load_sweep(args.sweep)
    if args.only:
        sweep = select_runs(sweep, args.only)
    if args.quiet:
        _no_library_bars()
    with _sigterm_unwinds():  # SIGTERM unwinds the current run as Ctrl-C does
        root, failed = run_sweep(sweep, args.output_dir, ray=args.ray,
                                 max_parallel=args.max_parallel, progress=not args.quiet)  # fmt: skip
    from ..analysis.rundir import read_sweep
    from ..analysis.table1 import table1

    done = len(sweep.runs) - len(failed)
    entries = read_sweep(root).values()  # with --only: also the file's runs done earlier
    finished = sum(e.get("status") == "done" for e in entries)
    if finished:
        print(f"\nTable 1 over the sweep's {finished} finished runs:\n{table1(root).to_markdown()}")
    print(f"sweep: {done} of {len(sweep.runs)} runs done in {root} (sweep.json)")
    if sweep.file_runs:
        print(f"       (--only: {finished} of the file's {len(entries)} runs are done there)")
    if finished:
        print(f"report: lens-steer report {root}")
    if failed:
        raise SweepFailed(
            f"{len(failed)} run(s) failed: {', '.join(failed)}; see {root}/sweep.json"
        )


def _positive(text: str) -> int:
    import argparse

    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def add_sweep_command(sub: Any) -> None:
    q = sub.add_parser("sweep", help="a grid of runs from a sweep file (base config + vary)")
    q.add_argument("sweep", metavar="SWEEP.yaml")
    q.add_argument("--output-dir", help="override the sweep's output directory")
    q.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on Ray: a local cluster, or join ADDRESS ('auto', 'ray://host:port')")  # fmt: skip
    q.add_argument("--max-parallel", type=_positive, metavar="N",
                   help="with --ray: at most N runs at once (default: as many as the cluster fits)")  # fmt: skip
    q.add_argument("--only", action="append", metavar="LABEL=VALUE",
                   help="run only the runs with this varied value (repeat for several)")  # fmt: skip
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(func=cmd_sweep)
