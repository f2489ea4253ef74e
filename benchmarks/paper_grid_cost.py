"""What configs/paper-grid.yaml asks a GPU cluster for: generations and new tokens per run and in
all, and the GPU-hours that makes at a given decoding rate. Arithmetic, not a measurement.

    .venv/bin/python benchmarks/paper_grid_cost.py [--data ../shared/data] [--rate 2000 10000 50000]

Test-split sizes come from the local copies of the datasets (the same splits the hub serves). Per
test question a run generates 1 + |grid| rows (baseline, then every λ: λ* and ITS read these),
|grid| more with random directions (the random-direction control and its ITS), and |grid| unsteered
samples (self-consistency); per validation question |grid| rows (the λ sweep). New tokens are
bounded by max_new_tokens; answers that stop early cost less, so the hours are an upper bound for
a decoder running at ``--rate`` new tokens per second per GPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def rows_per_run(task: dict, n_test: int) -> int:
    from lens_steer.experiment import PAPER_LAMBDA_GRID

    def size(g) -> int:
        return len(PAPER_LAMBDA_GRID) if g == "paper" else len(g)

    grid = size(task["grid"])
    its = size(task["its_grid"]) if task.get("its_grid") is not None else grid
    # λ* is one of ITS's λ when ITS votes over the tuning grid; over another grid, one more column
    steered = (its + (task.get("its_grid") is not None)) if task["its"] else 1
    per_test = 1 + steered
    if "random-direction" in task["controls"]:
        per_test += steered
    if "self-consistency" in task["controls"]:
        per_test += its
    return n_test * per_test + (task["n_val"] or 0) * grid


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sweep", default="configs/paper-grid.yaml")
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--rate", type=float, nargs="+", default=[2000, 10000, 50000])
    args = p.parse_args()

    from lens_steer.pipeline.sweep import load_sweep
    from lens_steer.tasks import get_task

    sweep = load_sweep(args.sweep)
    cfg = sweep.runs[0].config
    total_rows = total_tokens = 0
    print(f"{'task':<14} {'n_test':>7} {'n_val':>6} {'rows/run':>10} {'max tok/run':>13}")
    for task in cfg["tasks"]:
        splits = get_task(task["name"], data_dir=Path(args.data) / task["name"]).splits(seed=0)
        n_test = task["n_test"] or len(splits.test)
        rows = rows_per_run(task, n_test)
        tokens = rows * task["max_new_tokens"]
        total_rows, total_tokens = total_rows + rows, total_tokens + tokens
        print(f"{task['name']:<14} {n_test:>7} {task['n_val']:>6} {rows:>10,} {tokens:>13,}")
    n = len(sweep.runs)
    print(f"\n{n} runs: {n * total_rows:,} generations, at most {n * total_tokens:,} new tokens")
    for rate in args.rate:
        hours = n * total_tokens / rate / 3600
        print(f"  at {rate:>8,.0f} new tokens/s per GPU: ≤ {hours:8,.0f} GPU-hours")


if __name__ == "__main__":
    main()
