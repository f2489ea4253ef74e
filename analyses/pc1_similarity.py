"""PC1 similarity of two models layer × layer (paper Fig. 2), for any widths.

With two models: the correlation over the same contrastive pairs of the projection scores on each
model's PC1 (width-free), linear CKA of the activations, and — same widths only — the cosine of
the PC1 vectors. With two vector files (same width): the cosine of their PC1 vectors.

    python analyses/pc1_similarity.py --parent-a gemma-3-270m --parent-b smollm2-135m-instruct \
        --task arc_challenge --data-dir ../shared/data/arc_challenge -o pc1.html
    python analyses/pc1_similarity.py --vectors a.safetensors b.safetensors -o pc1.html
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import lens_steer as ls
from lens_steer.analysis import (
    cka_similarity,
    pc1_similarity,
    projection_similarity,
    similarity_figure,
    write_figure,
)


def compare_models(model_a, model_b, pairs, labels, seed=0, batch_size=8):
    """Every applicable measure for two loaded models, as one figure."""
    kw = dict(labels=labels, batch_size=batch_size, progress=True)
    results = [projection_similarity(model_a, model_b, pairs, seed=seed, **kw)]
    texts = [p.positive for p in pairs] + [p.negative for p in pairs]
    results.append(cka_similarity(model_a, model_b, texts, **kw))
    if model_a.cfg.d_model == model_b.cfg.d_model:
        va = ls.extract(model_a, pairs, seed=seed, batch_size=batch_size)
        vb = ls.extract(model_b, pairs, seed=seed, batch_size=batch_size)
        results.append(pc1_similarity(va, vb, labels=labels))
    title = f"PC1 similarity: {labels[0]} × {labels[1]} ({len(pairs)} pairs)"
    return similarity_figure(results, title)


def main(argv: Sequence[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--vectors", nargs=2, metavar="FILE", help="two same-width vector files")
    p.add_argument("--parent-a", help="first model (alias, .gguf, HF directory or hub id)")
    p.add_argument("--parent-b", help="second model")
    p.add_argument("--task", default="arc_challenge")
    p.add_argument("--data-dir", help="the task's data folder (default: the hub)")
    p.add_argument("--strategy", default="corrupted-answer")
    p.add_argument("--n-pairs", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="float32")
    p.add_argument("-o", "--out", default="pc1_similarity.html")
    args = p.parse_args(argv)
    if args.vectors:
        a, b = (ls.SteeringVectors.load(f) for f in args.vectors)
        fig = pc1_similarity(a, b, labels=tuple(args.vectors)).figure()
    elif args.parent_a and args.parent_b:
        task = ls.get_task(args.task, data_dir=args.data_dir)
        train = task.splits(seed=args.seed).train
        pairs = ls.contrastive_pairs(
            task, train, strategy=args.strategy, n=args.n_pairs, seed=args.seed
        )
        load = dict(device=args.device, dtype=args.dtype)
        model_a = ls.load_model(args.parent_a, **load)
        model_b = ls.load_model(args.parent_b, **load)
        fig = compare_models(
            model_a, model_b, pairs, (args.parent_a, args.parent_b), args.seed, args.batch_size
        )
    else:
        p.error("give --parent-a and --parent-b, or --vectors A B")
    print(f"wrote {write_figure(fig, args.out)}")
    return fig


if __name__ == "__main__":
    main()
