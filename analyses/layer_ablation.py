"""Per-layer ablation of a run's child vectors: steer one layer at a time and all but one at a
fixed λ (default: the run's λ*), accuracy per layer with 95% CIs; with --lams also a layer × λ map.

    python analyses/layer_ablation.py runs/demo --task arc_challenge --lams 0.1 0.5 1 -o ablation.html
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from lens_steer.analysis import run_layer_ablation, write_figure


def main(argv: Sequence[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--task", required=True)
    p.add_argument("--lam", type=float, help="λ to ablate at (default: the run's λ*)")
    p.add_argument("--lams", type=float, nargs="+", help="also a layer × λ heatmap over these")
    p.add_argument("--split", default="val", choices=("val", "test"))
    p.add_argument("--n", type=int, help="first n examples of the split (default: all)")
    p.add_argument("-o", "--out", default="layer_ablation.html")
    args = p.parse_args(argv)
    res = run_layer_ablation(
        args.run_dir,
        args.task,
        lam=args.lam,
        lams=args.lams,
        split=args.split,
        n=args.n,
        progress=True,
    )
    fig = res.figure()
    print(f"wrote {write_figure(fig, args.out)}")
    if res.grid is not None:
        out = Path(args.out)
        heat = out.with_name(f"{out.stem}_heatmap{out.suffix}")
        print(f"wrote {write_figure(res.heatmap_figure(), heat)}")
    return fig


if __name__ == "__main__":
    main()
