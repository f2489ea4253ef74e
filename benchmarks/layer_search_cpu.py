"""A layer-search step, λ-batched (``search_layers``), vs the naive loop (one ``score_choices``
pass per candidate set under ``ls.steer``).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/layer_search_cpu.py [--threads 2] [--n 10]

SmolLM2-135M-Instruct fp32 on ARC-Challenge validation questions (zero-shot context), random unit
vectors on all 30 layers at λ = 4. The step is the first of a greedy-forward search, i.e.
``strategy="single"``: the plain model and each layer alone, 31 candidate sets. The search scores
them as 31 per-layer λ rows of one ``score_choices_lams`` call; the naive loop steers each set
with ``ls.steer`` and calls ``score_choices``. Both must give the same accuracy for every set.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n", type=int, default=10, help="validation questions")
    p.add_argument("--cache-dir", default=os.environ.get("LENS_STEER_CACHE"))
    p.add_argument("--data-dir", default="../shared/data/arc_challenge")
    args = p.parse_args()

    import numpy as np
    import torch

    import lens_steer as ls
    from lens_steer.experiment import search_layers
    from lens_steer.tasks import score_choices

    torch.set_num_threads(args.threads)
    model = ls.load_model("smollm2-135m-instruct", device="cpu", cache_dir=args.cache_dir)
    task = ls.get_task("arc_challenge", data_dir=args.data_dir)
    exs = list(task.splits(seed=0).val[: args.n])
    n_layers = int(model.cfg.n_layers)
    g = torch.Generator().manual_seed(0)
    dirs = torch.nn.functional.normalize(torch.randn(n_layers, 576, generator=g), dim=-1)
    vecs = ls.SteeringVectors(dirs, tuple(range(n_layers)))
    lam = 4.0

    start = time.perf_counter()
    res = search_layers(model, vecs, task, exs, lam, strategy="single", batch_size=80,
                        progress=False)  # fmt: skip
    batched = time.perf_counter() - start
    start = time.perf_counter()
    naive = []
    for step in res.steps:
        per_layer = [lam if k in step.layers else 0.0 for k in vecs.layers]
        with ls.steer(model, vecs, lam=per_layer):
            naive.append(float(np.mean(score_choices(model, task, exs, batch_size=8).correct)))
    naive_s = time.perf_counter() - start
    print(f"{len(res.steps)} candidate sets, {len(exs)} questions, {args.threads} threads")
    print(f"{'naive loop (a pass per set)':<30}{naive_s:>8.1f} s")
    print(f"{'search_layers (one pass)':<30}{batched:>8.1f} s   {naive_s / batched:.2f}x")
    same = [s.accuracy for s in res.steps] == naive
    print(f"same accuracy for every set: {same}; best: {res.best}")


if __name__ == "__main__":
    main()
