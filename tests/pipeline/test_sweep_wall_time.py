"""A sweep's wall time in sweep.json adds up over attempts: an interrupted, failed or killed
attempt leaves its time, the attempt that resumes the run adds to it, a run left out by --only
or reused keeps it."""

from __future__ import annotations

import json
import sys

import pytest

from lens_steer.pipeline.cli import main as cli
from lens_steer.pipeline.sweep import load_sweep, run_sweep

pytestmark = pytest.mark.usefixtures("one_thread")


def test_an_interrupted_sweep_says_so_and_resumes(sweep_file, tmp_path, monkeypatch):
    import lens_steer.pipeline.run as run_module

    path = sweep_file({"seed": [0]})

    def stop(cfg, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "run_pipeline", stop)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(load_sweep(path), progress=False)
    record = json.loads((tmp_path / "out" / "sweep.json").read_text())["runs"]
    assert record["tiny__seed=0"]["status"] == "interrupted"


def test_wall_time_adds_up_over_interrupted_attempts(sweep_file, tmp_path, monkeypatch, capsys):
    """An interrupted or failed attempt records its time so far, the attempt that resumes it
    adds to it, a run left out by --only keeps it, and a sweep that reuses the finished run keeps
    the total."""
    import time

    import lens_steer.pipeline.run as run_module

    path, out = sweep_file({"seed": [0, 1]}), tmp_path / "out"
    real = run_module.run_pipeline

    def stop(cfg, **kw):
        time.sleep(0.3)
        raise KeyboardInterrupt

    def boom(cfg, **kw):
        time.sleep(0.3)
        raise RuntimeError("boom")

    def wall(name="tiny__seed=0") -> float:
        return json.loads((out / "sweep.json").read_text())["runs"][name]["wall_s"]

    monkeypatch.setattr(run_module, "run_pipeline", stop)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(load_sweep(path), progress=False)
    first = wall()
    assert first >= 0.3
    monkeypatch.setattr(run_module, "run_pipeline", boom)
    assert cli(["sweep", str(path), "--quiet", "--only", "seed=0"]) == 2  # failed: time added
    assert wall() >= first + 0.3
    failed = wall()
    monkeypatch.setattr(run_module, "run_pipeline", real)
    assert cli(["sweep", str(path), "--only", "seed=1"]) == 0  # seed=0 left out: time kept
    assert wall() == failed
    left_out = json.loads((out / "sweep.json").read_text())["runs"]["tiny__seed=0"]
    assert left_out["status"] == "failed" and "boom" in left_out["error"]  # and how it stopped
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("done"))
    assert "in all" not in line  # a first attempt has no earlier time to add
    assert cli(["sweep", str(path)]) == 0
    total = wall()
    assert total > failed and f"({total:.1f} s in all)" in capsys.readouterr().out
    assert cli(["sweep", str(path), "--quiet"]) == 0  # reused: the totals are kept
    record = json.loads((out / "sweep.json").read_text())["runs"]
    assert record["tiny__seed=0"]["reused"] and record["tiny__seed=0"]["wall_s"] == total
    assert record["tiny__seed=1"]["reused"] and record["tiny__seed=1"]["wall_s"] > 0


_HANG = """
import sys, time
import lens_steer.pipeline.run as run_module
from lens_steer.pipeline.sweep_board import SweepBoard
from lens_steer.pipeline.cli import main
SweepBoard.heartbeat_s = 0.05
run_module.run_pipeline = lambda cfg, **kw: time.sleep(600)
sys.exit(main(["sweep", sys.argv[1], "--quiet"]))
"""


def test_a_killed_attempt_leaves_its_time_up_to_the_last_heartbeat(sweep_file, tmp_path, capsys):
    """SIGKILL skips every finally: the heartbeat's last rewrite of sweep.json is all that
    records the attempt, and the attempt that resumes the run adds its own time to that."""
    import re
    import signal
    import subprocess
    import time

    path, out = sweep_file({"seed": [0]}), tmp_path / "out"
    hung = subprocess.Popen([sys.executable, "-c", _HANG, str(path)])

    def entry() -> dict:
        try:
            return json.loads((out / "sweep.json").read_text())["runs"]["tiny__seed=0"]
        except (OSError, ValueError):
            return {}

    try:
        deadline = time.monotonic() + 300  # importing torch on a busy machine included
        while entry().get("wall_s", 0) < 0.5 and hung.poll() is None:
            assert time.monotonic() < deadline, "no heartbeat reached sweep.json"
            time.sleep(0.05)
    finally:
        hung.kill()
        hung.wait()
    assert hung.returncode == -signal.SIGKILL, "the hung sweep ended before it was killed"
    killed = entry()
    assert killed["status"] == "running" and killed["wall_s"] >= 0.5
    assert cli(["sweep", str(path)]) == 0
    done = re.search(r"tiny__seed=0  ([\d.]+) s \(([\d.]+) s in all\)", capsys.readouterr().out)
    assert done, "the resumed run's line does not add the killed attempt's time"
    attempt, total = float(done[1]), float(done[2])
    assert abs(total - (killed["wall_s"] + attempt)) <= 0.15
    assert entry()["status"] == "done" and entry()["wall_s"] == total


def test_which_earlier_wall_times_count():
    from lens_steer.pipeline.sweep_board import _earlier_s

    mine = {"wall_s": 5, "config_hash": "h"}
    for status in ("interrupted", "failed", "running", "queued"):  # "running": a hard kill
        assert _earlier_s({**mine, "status": status}, "h", done=False) == 5.0
        assert _earlier_s({**mine, "status": status}, "h", done=True) == 5.0  # landed later
    assert _earlier_s({**mine, "status": "done"}, "h", done=True) == 5.0
    assert _earlier_s({**mine, "status": "done"}, "h", done=False) is None  # its folder is gone
    assert _earlier_s({**mine, "status": "failed"}, "another config", done=False) is None
    old = {"status": "done", "wall_s": 5}  # written before the hash was kept
    assert _earlier_s(old, "h", done=True) == 5.0
    assert _earlier_s({**old, "status": "interrupted"}, "h", done=False) is None
    for bad in (True, "5", float("nan"), float("inf"), -1.0, None):
        assert _earlier_s({**mine, "status": "failed", "wall_s": bad}, "h", done=False) is None
    assert _earlier_s(["not", "a", "record"], "h", done=False) is None
