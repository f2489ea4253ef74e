"""λ robustness (paper Fig. 3): accuracy vs λ per child with 95% CI bands, the baseline and the
random-direction control, from run directories.

    python analyses/lambda_curve.py runs/demo [more runs...] [--task gsm8k] -o lambda.html
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lens_steer.analysis import lambda_curve, write_figure


def main(argv: Sequence[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--task", help="one task (default: every task, one panel each)")
    p.add_argument("-o", "--out", default="lambda_curve.html")
    args = p.parse_args(argv)
    fig = lambda_curve(args.run_dirs, args.task)
    print(f"wrote {write_figure(fig, args.out)}")
    return fig


if __name__ == "__main__":
    main()
