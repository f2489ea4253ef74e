"""A sweep's state: ``sweep.json`` on disk, one line per run state change, and an overall bar.

Both runners (in this process, and on Ray) report through :class:`SweepBoard`, so the record
and what the terminal shows are the same whichever ran the grid. A run directory that already
holds the finished run of the same config is marked done and reused before anything starts.

``wall_s`` is a run's time over every attempt of the same config that this folder's
``sweep.json`` saw: an interrupted attempt records its time so far, the attempt that resumes it
adds to it, and a reused run keeps the time of the attempts that finished it. While runs are
running a heartbeat rewrites their time every :attr:`SweepBoard.heartbeat_s`, so that an attempt
killed outright (SIGKILL, a machine taken away) still leaves its time up to the last beat.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .config import config_hash
from .run_dir import write_json

__all__ = ["SweepBoard", "finished"]


def finished(run_dir: Path, cfg: Mapping[str, Any]) -> bool:
    """Whether ``run_dir`` already holds this config's finished run."""
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        return False
    try:
        return json.loads(metrics.read_text()).get("config_hash") == config_hash(cfg)
    except (OSError, ValueError):
        return False


def _previous(root: Path) -> dict[str, Any]:
    """The runs of the ``sweep.json`` an earlier execution left (none if absent or unreadable)."""
    try:
        runs = json.loads((root / "sweep.json").read_text()).get("runs")
    except (OSError, ValueError, AttributeError):
        return {}
    return runs if isinstance(runs, dict) else {}


def _earlier_s(prev: Any, digest: str, done: bool) -> float | None:
    """Seconds earlier attempts of this config spent (None: no usable record). A run done now
    keeps its recorded time whatever the record's status (it may have finished after a failed
    landing or an interrupted driver); a run to do adds to the time of its unfinished attempts,
    not to that of a finished run whose folder no longer holds it."""
    if not isinstance(prev, dict):
        return None
    wall, status, recorded = prev.get("wall_s"), prev.get("status"), prev.get("config_hash")
    if type(wall) not in (int, float) or not math.isfinite(wall) or wall < 0:
        return None
    if recorded is None:  # written before the hash was kept: only a finished run's own time
        return float(wall) if done and status == "done" else None
    if recorded != digest or (status == "done" and not done):
        return None
    return float(wall)


def _how_it_stopped(prev: dict[str, Any]) -> dict[str, Any]:
    """An unfinished run's last status (interrupted or failed, with its error), kept while an
    --only leaves it out; a stale "running" (a hard kill) reads as queued."""
    if prev.get("status") not in ("interrupted", "failed"):
        return {}
    return {k: prev[k] for k in ("status", "error", "run_dir") if isinstance(prev.get(k), str)}


class SweepBoard:
    """The record of one sweep execution under ``root``; ``todo`` are the runs still to do as
    (name, config with the sweep's output directory)."""

    heartbeat_s: float = 60.0

    def __init__(self, sweep: Any, root: Path, progress: bool = True) -> None:
        self.root, self.progress = root, progress
        self.position = {r.name: i for i, r in enumerate(sweep.runs, 1)}
        every = sweep.file_runs or sweep.runs  # with --only: the file's others, done or queued
        self.record: dict[str, Any] = {
            "runs": {r.name: {"values": r.values, "status": "queued"} for r in every}
        }
        self.todo: list[tuple[str, dict[str, Any]]] = []
        self.earlier: dict[str, float] = {}  # seconds of earlier attempts, per run to do
        self.started: dict[str, float] = {}
        previous = _previous(root)
        for run in every:
            cfg = dict(run.config, output_dir=str(root))
            digest, entry = config_hash(cfg), self._entry(run.name)
            entry["config_hash"] = digest
            done = finished(root / run.name, cfg)
            earlier = _earlier_s(previous.get(run.name), digest, done)
            if done:
                entry.update(status="done", reused=True, **self._paths(run.name))
            elif run.name in self.position:
                self.todo.append((run.name, cfg))
            if earlier is not None:  # kept, too, for a run this --only leaves out
                entry["wall_s"] = round(earlier, 1)
                self.earlier[run.name] = earlier
                if not done and run.name not in self.position:
                    entry.update(_how_it_stopped(previous[run.name]))
        self.failed: list[str] = []
        n, reused = len(sweep.runs), len(sweep.runs) - len(self.todo)
        self.bar = tqdm(total=n, initial=reused, desc="sweep", unit="run", disable=not progress)
        self._say(f"sweep: {n} runs, {reused} already done, in {root}")
        for name, _ in self.todo:
            self._line("queued", name)
        self._lock, self._stop = threading.RLock(), threading.Event()
        self._beat: threading.Thread | None = None
        self._write()

    def _entry(self, name: str) -> dict[str, Any]:
        return self.record["runs"][name]

    def _paths(self, name: str) -> dict[str, str]:
        """Relative to the sweep folder, so that the folder can move (a study commits it)."""
        return {"run_dir": name, "metrics": f"{name}/metrics.json"}

    def _write(self) -> None:
        with self._lock:
            write_json(self.root / "sweep.json", self.record)

    def _heartbeat(self) -> None:
        """Rewrite the running runs' time so far until :meth:`close`; a failed write (a full
        disk) is tried again at the next beat, and the sweep's own writes still say what failed."""
        while not self._stop.wait(self.heartbeat_s):
            with self._lock:
                running = [n for n in self.started if self._entry(n)["status"] == "running"]
                for name in running:
                    self._entry(name)["wall_s"] = self._total(name)[1]
                if running:
                    try:
                        self._write()
                    except OSError:
                        continue

    def _say(self, text: str) -> None:
        if self.progress:
            tqdm.write(text)

    def _line(self, state: str, name: str, tail: str = "") -> None:
        self._say(f"{state:<8} [{self.position[name]}/{len(self.position)}] {name}{tail}")

    def start(self, name: str) -> None:
        """``name`` is running (on Ray: handed to the cluster, which starts it when it can)."""
        with self._lock:
            self._entry(name).update(status="running", run_dir=name)
            self.started[name] = time.perf_counter()
        if self._beat is None:
            self._beat = threading.Thread(target=self._heartbeat, name="sweep-beat", daemon=True)
            self._beat.start()
        self._line("running", name)
        self._write()

    def _total(self, name: str) -> tuple[float, float]:
        """This attempt's seconds since :meth:`start` (0 if it never started) and the total with
        earlier attempts'; on Ray the attempt counts from the hand-over to the cluster, retries
        of a lost worker included."""
        now = time.perf_counter()
        attempt = now - self.started.get(name, now)
        return attempt, round(self.earlier.get(name, 0.0) + attempt, 1)

    def done(self, name: str) -> None:
        with self._lock:
            attempt, total = self._total(name)
            self._entry(name).update(status="done", wall_s=total, **self._paths(name))
        in_all = f" ({total:.1f} s in all)" if name in self.earlier else ""
        self._end(name, f"  {attempt:.1f} s{in_all}")

    def fail(self, name: str, error: str) -> None:
        with self._lock:
            entry = self._entry(name)
            entry.update(status="failed", error=error, run_dir=name, wall_s=self._total(name)[1])
        self.failed.append(name)
        self._end(name, f"  {error}")

    def _end(self, name: str, tail: str) -> None:
        self._line(self._entry(name)["status"], name, tail)
        self.bar.set_postfix(failed=len(self.failed), refresh=False)
        self.bar.update(1)
        self._write()

    def close(self) -> None:
        """End the bar; runs still marked running were interrupted (the same command resumes
        them), and ``sweep.json`` says so."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        self.bar.close()
        stopped = [n for n in self.position if self._entry(n)["status"] == "running"]
        for name in stopped:
            self._entry(name)["status"] = "interrupted"
            self._entry(name)["wall_s"] = self._total(name)[1]
            self._line("interrupted", name, "  (the same command resumes it)")
        if stopped:
            self._write()
