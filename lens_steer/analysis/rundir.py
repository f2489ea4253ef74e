"""Reading run directories written by ``lens-steer run``: the one place that knows their layout.

Analyses and reports read runs through :func:`load_run`, so a missing or half-written run fails
once, naming the file that is missing and how to make it, instead of as a ``KeyError`` deep inside
a figure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "NotARunError",
    "Run",
    "TaskRun",
    "load_run",
    "load_runs",
    "load_sweep_runs",
    "is_sweep_dir",
    "read_sweep",
    "short_keys",
    "model_label",
    "task_names",
]


class NotARunError(FileNotFoundError):
    """A folder is not (or not yet) a complete run directory; the message names the file."""


def _read_json(path: Path, hint: str) -> Any:
    if not path.is_file():
        raise NotARunError(f"{path} is missing: {hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise NotARunError(f"{path} is not valid JSON ({err}): {hint}") from None
    if not isinstance(data, dict):
        raise NotARunError(f"{path} holds a JSON {type(data).__name__}, not an object: {hint}")
    return data


def model_label(spec: str) -> str:
    """A short name for a model spec: an alias or hub id as given, a local path by its folder."""
    path = Path(spec)
    if path.suffix == ".gguf":
        return path.stem
    return path.name if path.exists() else spec


@dataclass(frozen=True, eq=False)
class TaskRun:
    """One task of a run: its ``metrics.json`` entry and, when present, tune and predictions."""

    name: str
    path: Path
    metrics: Mapping[str, Any]
    config: Mapping[str, Any]  # this task's section of the run config
    tune: Mapping[str, Any] | None = None
    predictions: Mapping[str, Any] | None = None

    @property
    def conditions(self) -> Mapping[str, Any]:
        """Test conditions by name (baseline, steered, its, controls), without predictions."""
        return self.metrics["test"]["conditions"]

    @property
    def best_lambda(self) -> Any:
        return self.metrics.get("best_lambda")

    def vectors(self, which: str = "child") -> Any:
        """The run's ``parent`` or ``child`` :class:`~lens_steer.SteeringVectors`."""
        from ..vectors import SteeringVectors

        if which not in ("parent", "child"):
            raise ValueError(f"which must be 'parent' or 'child', got {which!r}")
        return SteeringVectors.load(self.path / "vectors" / f"{which}.safetensors")


@dataclass(frozen=True, eq=False)
class Run:
    """A finished run directory: config, metrics and every task's files."""

    path: Path
    config_hash: str
    config: Mapping[str, Any]
    metrics: Mapping[str, Any]
    tasks: Mapping[str, TaskRun] = field(default_factory=dict)
    varied: Mapping[str, str] = field(default_factory=dict)  # in a sweep: short key -> label

    @property
    def variant(self) -> str:
        """The sweep's varied values other than parent and child, as the runs' names show them."""
        return ", ".join(f"{k}={v}" for k, v in self.varied.items())

    @property
    def parent(self) -> str:
        return model_label(self.config["parent"])

    @property
    def child(self) -> str:
        return model_label(self.config["child"])

    @property
    def arm(self) -> str:
        """The child, and in a sweep the run's other varied values: one row of Table 1."""
        return f"{self.child} ({self.variant})" if self.variant else self.child

    @property
    def label(self) -> str:
        return f"{self.parent} → {self.arm}"

    def task(self, name: str) -> TaskRun:
        try:
            return self.tasks[name]
        except KeyError:
            raise KeyError(f"{self.path} has no task {name!r}; it has {list(self.tasks)}") from None

    def test_set(self, task: str) -> tuple[Any, dict[str, Any]]:
        """``(Task, {id: Example})`` of ``task``'s test split, re-read from the run's data.

        Predictions keep parsed answers but not the gold ones; this re-creates the split with the
        run's seed so per-λ answers can be graded. Needs the task's data where the config says.
        """
        from ..tasks import get_task

        tcfg = self.task(task).config
        t = get_task(task, data_dir=tcfg.get("data_dir"))
        sp = t.splits(seed=self.config.get("seed", 0), n_val=tcfg.get("n_val"))
        return t, {ex.id: ex for ex in sp.test}


def load_run(path: str | Path) -> Run:
    """Read the run directory at ``path`` (``config.json``, ``metrics.json``, per-task files)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise NotARunError(
            f"no run directory at {root}: pass a folder made by `lens-steer run` (or a sweep's "
            "output folder, made by `lens-steer sweep`)"
        )
    stamp = _read_json(
        root / "config.json", "this is not a run directory (make one with `lens-steer run`)"
    )
    metrics = _read_json(
        root / "metrics.json",
        "the run has not finished; run the same `lens-steer run` command again to complete it",
    )
    config = stamp.get("config", {})
    task_cfgs = {t["name"]: t for t in config.get("tasks", [])}
    tasks = {}
    for name, tm in metrics.get("tasks", {}).items():
        folder = root / name
        tune = folder / "tune.json"
        preds = folder / "predictions.json"
        tasks[name] = TaskRun(
            name=name,
            path=folder,
            metrics=tm,
            config=task_cfgs.get(name, {}),
            tune=_read_json(tune, "") if tune.is_file() else None,
            predictions=_read_json(preds, "") if preds.is_file() else None,
        )
    if not tasks:
        raise NotARunError(f"{root / 'metrics.json'} lists no tasks: the run did not complete")
    return Run(root, stamp.get("config_hash", "?"), config, metrics, tasks)


def is_sweep_dir(path: str | Path | Run) -> bool:
    """A folder made by ``lens-steer sweep`` (``sweep.json``, runs in sub-folders)."""
    if isinstance(path, Run):
        return False
    root = Path(path).expanduser()
    return (root / "sweep.json").is_file() and not (root / "config.json").is_file()


def read_sweep(path: str | Path) -> dict[str, Any]:
    """``sweep.json``'s runs by name: values, status, wall time, error."""
    hint = "run the sweep's `lens-steer sweep SWEEP.yaml` again to rewrite it"
    record = _read_json(Path(path).expanduser() / "sweep.json", hint)
    if not isinstance(record.get("runs"), dict):
        raise NotARunError(f"{Path(path) / 'sweep.json'} has no 'runs' mapping: {hint}")
    return record["runs"]


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key by its last part, unless another key ends the same way (then whole): how
    a sweep names its runs and how a report labels them."""
    last = [k.split(".")[-1] for k in keys]
    return {k: (x if last.count(x) == 1 else k) for k, x in zip(keys, last, strict=True)}


def _varied(values: Mapping[str, Any]) -> dict[str, str]:
    """The varied values other than the models, keys shortened as in the runs' names."""
    shown = {k: v for k, v in values.items() if k not in ("parent", "child")}
    short = short_keys(list(shown))
    return {short[k]: model_label(str(v)) for k, v in shown.items()}


def as_list(paths: Any) -> list[Any]:
    """One run or sweep directory (a path or a :class:`Run`), or several, as a list."""
    return [paths] if isinstance(paths, (str, Path, Run)) else list(paths)


def load_sweep_runs(path: str | Path) -> list[Run]:
    """The finished runs of a sweep directory, in the sweep's order, each labelled by its
    varied values (runs that failed or have not run are in :func:`read_sweep`, not here)."""
    root = Path(path).expanduser()
    runs = [
        replace(load_run(root / name), varied=_varied(entry.get("values", {})))
        for name, entry in read_sweep(root).items()
        if entry.get("status") == "done"
    ]
    if not runs:
        raise NotARunError(
            f"{root / 'sweep.json'} lists no finished run yet: its entries say why (status, "
            "error); run `lens-steer sweep SWEEP.yaml` to finish them"
        )
    return runs


def load_runs(paths: Sequence[str | Path | Run] | str | Path | Run) -> list[Run]:
    """:func:`load_run` on each path (``Run`` objects pass through; a sweep directory gives its
    finished runs)."""
    runs: list[Run] = []
    for p in as_list(paths):
        if isinstance(p, Run):
            runs.append(p)
        else:
            runs.extend(load_sweep_runs(p) if is_sweep_dir(p) else [load_run(p)])
    unique: dict[Path, Run] = {}  # a run given twice (alone and in its sweep) counts once
    for r in runs:
        unique.setdefault(r.path.resolve(), r)
    runs = list(unique.values())
    if not runs:
        raise ValueError("no run directories given")
    return runs


def task_names(runs: Sequence[Run], task: str | None = None) -> list[str]:
    """``[task]`` if given (checked to exist), else every task of any run, in first-seen order."""
    names = list(dict.fromkeys(t for r in runs for t in r.tasks))
    if task is None:
        return names
    if task not in names:
        raise ValueError(f"no run has task {task!r}; tasks present: {names}")
    return [task]
