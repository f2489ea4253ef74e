"""``lens-steer sweep --ray``: the sweep's runs as Ray tasks, on a local or an existing cluster.

Each run is one task with the sweep's ``resources`` (a run config with ``device: cuda`` asks for
one GPU unless the sweep says otherwise). A task whose worker dies is retried by Ray
(``max_retries``); the retry resumes from the run directory's cache, so it redoes at most one
batch and ends with the same ``metrics.json``. An error raised by a run is not retried: it is
recorded in ``sweep.json`` and the other runs go on. Ray is imported only here, so ``lens-steer
run`` and the in-process sweep never pay for it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import InputError
from .sweep import Sweep
from .sweep_board import SweepBoard, finished

__all__ = ["connected", "run_sweep_ray", "MAX_RETRIES"]

MAX_RETRIES = 3
#: fault injection for the tests: a folder for markers; the first attempt of each run kills its
#: worker process (exit 137) as soon as the run has saved its child vectors, i.e. mid-run
CRASH_ONCE_ENV = "LENS_STEER_SWEEP_CRASH_ONCE"


def _crash_once(name: str, run_dir: Path, stop: Any) -> None:
    folder = os.environ.get(CRASH_ONCE_ENV)
    if not folder or (Path(folder) / f"{name}.crashed").exists():
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    (Path(folder) / f"{name}.crashed").touch()
    import threading

    def watch() -> None:
        while not stop.is_set():
            if any(run_dir.glob("*/vectors/child.safetensors")):
                os._exit(137)
            time.sleep(0.02)

    threading.Thread(target=watch, daemon=True).start()


def _run_one(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """One run inside a Ray worker (module-level, so workers import it by name)."""
    import threading

    from .run import run_pipeline

    stop = threading.Event()
    _crash_once(name, Path(cfg["output_dir"]) / name, stop)
    try:
        run_dir = run_pipeline(cfg, progress=False)
    finally:
        stop.set()
    return {"run_dir": str(run_dir)}


def _resources(sweep: Sweep, cfg: dict[str, Any]) -> dict[str, float]:
    res = {"num_cpus": 1.0, "num_gpus": 0.0}
    if str(cfg.get("device", "")).startswith("cuda"):
        res["num_gpus"] = 1.0
    res.update({k: float(v) for k, v in sweep.resources.items()})
    return res


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(
            "--ray needs Ray: pip install -e '.[cluster]' (install.sh installs it), or run the "
            "sweep in this process without --ray"
        ) from None
    return ray


@contextmanager
def connected(address: str | None) -> Iterator[Any]:
    """Ray, initialised for the block: a new local cluster (``address`` None) or the one at
    ``address``; a Ray already initialised in this process is used as it is and left running."""
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except ConnectionError as err:
            raise InputError(
                f"--ray {address}: no Ray cluster reachable there ({err}); start one with "
                "`ray start --head` (and `ray start --address HEAD:6379` on other nodes), or "
                "give --ray alone for a local cluster"
            ) from None
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def _slots(ray: Any, res: dict[str, float]) -> int:
    """How many runs asking for ``res`` the cluster's live nodes hold at once."""
    need = {"CPU": res["num_cpus"], "GPU": res["num_gpus"]}
    total = 0
    for node in (n for n in ray.nodes() if n.get("Alive")):
        have = node.get("Resources", {})
        fits = [int(have.get(k, 0.0) // v) for k, v in need.items() if v > 0]
        total += min(fits) if fits else 1
    return total


def _capacity(ray: Any, sweep: Sweep) -> int:
    """Runs at once by default; a request no node can hold is refused (Ray would wait forever)."""
    slots = min(_slots(ray, _resources(sweep, r.config)) for r in sweep.runs)
    if slots < 1:
        wanted = {k: v for k, v in _resources(sweep, sweep.runs[0].config).items() if v}
        raise InputError(
            f"no node of the Ray cluster has the resources one run asks for ({wanted}; "
            f"cluster: {ray.cluster_resources()}); lower the sweep's resources, or add a node "
            "that has them"
        )
    return slots


def _submit(task: Any, sweep: Sweep, name: str, cfg: dict[str, Any]) -> Any:
    opts: dict[str, Any] = dict(_resources(sweep, cfg))
    if os.environ.get(CRASH_ONCE_ENV):  # the workers need the tests' fault switch
        opts["runtime_env"] = {"env_vars": {CRASH_ONCE_ENV: os.environ[CRASH_ONCE_ENV]}}
    return task.options(**opts).remote(name, cfg)


def _landed(board: SweepBoard, name: str, cfg: dict[str, Any], result: dict[str, Any]) -> None:
    """Record a finished task: done if its metrics are where this process looks."""
    if finished(board.root / name, cfg):
        board.done(name)
    else:
        board.fail(name, f"the run finished at {result['run_dir']} but {board.root / name} has "
                   "no metrics.json: give every node the output directory on a shared "
                   "filesystem at the same path")  # fmt: skip


def run_sweep_ray(
    sweep: Sweep, root: Path, *, max_parallel: int | None = None, progress: bool = True
) -> list[str]:
    """Run ``sweep`` as Ray tasks on the cluster this process is connected to
    (:func:`connected`), at most ``max_parallel`` at once (default: as many as its nodes hold);
    returns the failed run names. ``sweep.json`` is rewritten as each run ends."""
    ray = _import_ray()
    limit = max_parallel or _capacity(ray, sweep)
    board = SweepBoard(sweep, root, progress)
    waiting = list(board.todo)
    configs = dict(board.todo)
    task = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(_run_one)
    running: dict[Any, str] = {}
    try:
        while waiting or running:
            while waiting and len(running) < limit:
                name, cfg = waiting.pop(0)
                running[_submit(task, sweep, name, cfg)] = name
                board.start(name)
            done, _ = ray.wait(list(running), num_returns=1)
            name = running.pop(done[0])
            try:
                result = ray.get(done[0])
            except Exception as err:  # noqa: BLE001 - a run's error is recorded, the grid goes on
                cause = getattr(err, "cause", None) or err
                board.fail(name, f"{type(cause).__name__}: {cause}")
            else:
                _landed(board, name, configs[name], result)
    finally:
        board.close()
    return board.failed
