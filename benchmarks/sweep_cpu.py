"""The README's tiny sweep (configs/sweeps/tiny.yaml, 4 runs) in this process vs as tasks on a
local Ray cluster, side by side in one process, from empty output folders.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/sweep_cpu.py [--cpus 2]

In-process, the sweep loads each model once and shares it across its runs (pipeline/pool.py);
on Ray each task is a worker that loads its own models. With 2 cores and ``num_cpus: 2`` per run
Ray runs one task at a time, so no speed-up is expected there: the table shows what the cluster
machinery costs on one small machine. Both must end with the same metrics.json "tasks".
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def _tasks(root: Path, name: str) -> dict:
    return json.loads((root / name / "metrics.json").read_text())["tasks"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sweep", default="configs/sweeps/tiny.yaml")
    p.add_argument("--cpus", type=int, default=2, help="the local Ray cluster's CPUs")
    args = p.parse_args()

    import ray

    from lens_steer.pipeline.sweep import load_sweep, run_sweep

    sweep = load_sweep(args.sweep)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("in-process", "ray"):
            root = Path(tmp) / mode
            start = time.perf_counter()
            if mode == "ray":
                ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
                up = time.perf_counter() - start
            _, failed = run_sweep(sweep, root, ray="local" if mode == "ray" else None,
                                  progress=False)  # fmt: skip
            wall = time.perf_counter() - start
            if mode == "ray":
                ray.shutdown()
            record = json.loads((root / "sweep.json").read_text())["runs"]
            runs = [r["wall_s"] for r in record.values()]
            rows.append((mode, wall, up if mode == "ray" else 0.0, runs, failed))
        same = all(_tasks(Path(tmp) / "in-process", r.name) == _tasks(Path(tmp) / "ray", r.name)
                   for r in sweep.runs)  # fmt: skip
    print(f"{args.sweep}: {len(sweep.runs)} runs, local Ray cluster of {args.cpus} CPUs\n")
    print(f"{'mode':<12} {'wall s':>8} {'ray.init s':>10}  per-run wall s (as recorded)")
    for mode, wall, up, runs, failed in rows:
        per = ", ".join(f"{w:.1f}" for w in runs)
        print(
            f"{mode:<12} {wall:8.1f} {up:10.1f}  {per}" + (f"  FAILED {failed}" if failed else "")
        )
    print(
        f"\nray / in-process wall: {rows[1][1] / rows[0][1]:.2f}×; metrics.json tasks equal: {same}"
    )


if __name__ == "__main__":
    main()
