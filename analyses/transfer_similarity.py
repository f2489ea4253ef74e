"""Child-space similarity after transfer: the parent's vectors carried into the child with each
width map (ridge, truncate, ...) against the child's own PC1 on the same pairs (cosine).

    python analyses/transfer_similarity.py --parent gemma-3-270m --child smollm2-135m-instruct \
        --task arc_challenge --data-dir ../shared/data/arc_challenge -o transfer.html
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import lens_steer as ls
from lens_steer.analysis import transfer_similarity, write_figure


def main(argv: Sequence[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--parent", required=True)
    p.add_argument("--child", required=True)
    p.add_argument("--task", default="arc_challenge")
    p.add_argument("--data-dir", help="the task's data folder (default: the hub)")
    p.add_argument("--strategy", default="corrupted-answer")
    p.add_argument("--n-pairs", type=int, default=32)
    p.add_argument("--n-anchor", type=int, default=64, help="texts the ridge map is fitted on")
    p.add_argument("--widths", nargs="+", default=["ridge", "truncate"])
    p.add_argument("--layer-map", default="greedy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="float32")
    p.add_argument("-o", "--out", default="transfer_similarity.html")
    args = p.parse_args(argv)
    task = ls.get_task(args.task, data_dir=args.data_dir)
    train = task.splits(seed=args.seed).train
    pairs = ls.contrastive_pairs(
        task, train, strategy=args.strategy, n=args.n_pairs, seed=args.seed
    )
    load = dict(device=args.device, dtype=args.dtype)
    parent, child = ls.load_model(args.parent, **load), ls.load_model(args.child, **load)
    vecs = ls.extract(parent, pairs, seed=args.seed)
    res = transfer_similarity(
        vecs,
        child,
        pairs,
        source_model=parent,
        widths=args.widths,
        layer_map=args.layer_map,
        anchor_texts=[ex.question for ex in train[: args.n_anchor]],
        seed=args.seed,
        progress=True,
    )
    fig = res.figure()
    print(f"wrote {write_figure(fig, args.out)}")
    return fig


if __name__ == "__main__":
    main()
