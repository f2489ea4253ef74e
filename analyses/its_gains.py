"""ITS gains (paper Fig. 1/4): Δ accuracy vs baseline of λ* and ITS per child, grouped by parent,
with paired bootstrap CIs and the random-direction and self-consistency controls beside them.

    python analyses/its_gains.py runs/a runs/b [--task gsm8k] -o its_gains.html
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lens_steer.analysis import its_gains, write_figure


def main(argv: Sequence[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--task", help="one task (default: every task, one panel each)")
    p.add_argument("-o", "--out", default="its_gains.html")
    args = p.parse_args(argv)
    fig = its_gains(args.run_dirs, args.task)
    print(f"wrote {write_figure(fig, args.out)}")
    return fig


if __name__ == "__main__":
    main()
