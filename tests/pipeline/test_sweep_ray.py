"""`lens-steer sweep --ray` on a local Ray cluster (2 CPUs): the runs equal the in-process
sweep's; a worker killed mid-run is retried and ends identical; a failing run is recorded while
the others finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lens_steer.errors import InputError
from lens_steer.pipeline.sweep import parse_sweep, run_sweep
from lens_steer.pipeline.sweep_ray import CRASH_ONCE_ENV

ray = pytest.importorskip("ray", reason="ray comes with install.sh (.[cluster])")
pytestmark = pytest.mark.usefixtures("one_thread")


def test_joining_a_cluster_that_is_not_there_says_how_to_start_one(sweep_base, tmp_path):
    assert not ray.is_initialized()  # runs before the module's local cluster starts
    sweep = parse_sweep({"base": sweep_base, "vary": {"seed": [0]}}, base_dir=tmp_path)
    with pytest.raises(InputError, match="no Ray cluster reachable there.*ray start --head"):
        run_sweep(sweep, tmp_path / "out", ray="auto", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _tasks(root: Path, name: str) -> dict:
    return json.loads((root / name / "metrics.json").read_text())["tasks"]


def test_ray_runs_equal_in_process_runs(sweep_base, cluster, tmp_path):
    sweep = parse_sweep({"base": sweep_base, "vary": {"seed": [0, 1], "transfer.width": ["truncate", "ridge"]}},
                        base_dir=tmp_path)  # fmt: skip
    here, failed_here = run_sweep(sweep, tmp_path / "here", progress=False)
    there, failed_there = run_sweep(sweep, tmp_path / "ray", ray="local", progress=False)
    assert failed_here == failed_there == []
    record = json.loads((there / "sweep.json").read_text())["runs"]
    assert len(record) == 4 and all(r["status"] == "done" for r in record.values())
    for run in sweep.runs:
        assert _tasks(here, run.name) == _tasks(there, run.name)


def test_a_killed_worker_is_retried_and_ends_identical(sweep_base, cluster, tmp_path, monkeypatch):
    sweep = parse_sweep({"base": sweep_base, "vary": {"seed": [3]}}, base_dir=tmp_path)
    name = sweep.runs[0].name
    here, _ = run_sweep(sweep, tmp_path / "here", progress=False)
    monkeypatch.setenv(CRASH_ONCE_ENV, str(tmp_path / "crashes"))
    there, failed = run_sweep(sweep, tmp_path / "ray", ray="local", progress=False)
    assert (tmp_path / "crashes" / f"{name}.crashed").is_file()  # the first attempt died
    assert failed == [] and _tasks(here, name) == _tasks(there, name)


def test_a_failing_run_on_ray_is_recorded(sweep_base, cluster, tmp_path):
    sweep = parse_sweep({"base": sweep_base, "vary": {"child": [sweep_base["child"], str(tmp_path / "gone")]}},
                        base_dir=tmp_path)  # fmt: skip
    root, failed = run_sweep(sweep, tmp_path / "ray", ray="local", max_parallel=1, progress=False)
    assert failed == ["tiny__child=gone"]
    record = json.loads((root / "sweep.json").read_text())["runs"]
    assert record["tiny__child=child"]["status"] == "done"
    assert (
        record["tiny__child=gone"]["status"] == "failed"
        and "gone" in record["tiny__child=gone"]["error"]
    )
    # both timed by the driver from the hand-over: a failed attempt's time counts too
    assert record["tiny__child=child"]["wall_s"] > 0
    assert record["tiny__child=gone"]["wall_s"] >= 0  # recorded (it fails within a blink)


def test_a_run_no_node_can_hold_is_refused(sweep_base, cluster, tmp_path):
    raw = {"base": sweep_base, "vary": {"seed": [0]}, "resources": {"num_gpus": 1}}
    sweep = parse_sweep(raw, base_dir=tmp_path)
    with pytest.raises(InputError, match="no node of the Ray cluster has the resources"):
        run_sweep(sweep, tmp_path / "ray", ray="local", progress=False)
    assert not (tmp_path / "ray" / "sweep.json").exists()
