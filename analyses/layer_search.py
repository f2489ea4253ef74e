"""Layer search on a run's child vectors: which of the steered layers carry the effect of λ*?
Greedy-forward (add the layer that helps most, stop when the gain's 95% CI reaches 0), each layer
alone, or all but each; scored on the run's validation split as the run scores the task.

    python analyses/layer_search.py runs/demo --task arc_challenge --max-layers 4 -o search.html
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lens_steer.analysis import layer_search_figure, run_layer_search, write_figure
from lens_steer.experiment.layer_search import STRATEGIES, describe_stop


def main(argv: Sequence[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--task", required=True)
    p.add_argument("--strategy", default="greedy-forward", choices=STRATEGIES)
    p.add_argument("--max-layers", type=int, help="greedy's largest set (default: all layers)")
    p.add_argument("--lam", type=float, help="λ to search at (default: the run's λ*)")
    p.add_argument("--n", type=int, help="first n validation examples (default: all)")
    p.add_argument("-o", "--out", default="layer_search.html")
    args = p.parse_args(argv)
    res = run_layer_search(
        args.run_dir,
        args.task,
        strategy=args.strategy,
        max_layers=args.max_layers,
        lam=args.lam,
        n=args.n,
        progress=True,
    )
    for step in res.table:
        lo, hi = step["ci95"]
        print(f"{str(step['layers']):<24} {step['accuracy']:.3f} [{lo:.3f}, {hi:.3f}]")
    stop = describe_stop(res.to_dict())
    print(f"best: {list(res.best)}" + (f" ({stop})" if stop else ""))
    fig = layer_search_figure(res, args.task)
    print(f"wrote {write_figure(fig, args.out)}")
    return fig


if __name__ == "__main__":
    main()
