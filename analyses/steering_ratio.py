"""Steering ratio ‖λ·v‖ / mean‖h‖ per layer: from run directories (at λ*), or from a model and a
vector file for a list of λ.

    python analyses/steering_ratio.py runs/demo -o ratio.html
    python analyses/steering_ratio.py --model smollm2-135m-instruct --vectors child.safetensors \
        --lams 0.01 0.1 1 -o ratio.html
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import lens_steer as ls
from lens_steer.analysis import steering_ratio_curves, steering_ratio_figure, write_figure


def main(argv: Sequence[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR")
    p.add_argument("--task", help="one task of the runs (default: every task)")
    p.add_argument("--model", help="compute on this model instead of reading runs")
    p.add_argument("--vectors", help="the model's steering-vector file (with --model)")
    p.add_argument("--lams", type=float, nargs="+", default=list(ls.PAPER_LAMBDA_GRID))
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="float32")
    p.add_argument("-o", "--out", default="steering_ratio.html")
    args = p.parse_args(argv)
    if args.model:
        if not args.vectors:
            p.error("--model needs --vectors")
        model = ls.load_model(args.model, device=args.device, dtype=args.dtype)
        fig = steering_ratio_curves(model, ls.SteeringVectors.load(args.vectors), args.lams)
    elif args.run_dirs:
        fig = steering_ratio_figure(args.run_dirs, args.task)
    else:
        p.error("give RUN_DIR(s), or --model and --vectors")
    print(f"wrote {write_figure(fig, args.out)}")
    return fig


if __name__ == "__main__":
    main()
