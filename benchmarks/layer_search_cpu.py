"""A greedy layer search, λ-batched (``search_layers``), vs the naive loop (one ``score_choices``
pass per candidate set under ``ls.steer``), both driven by the same ``greedy_forward`` rule.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/layer_search_cpu.py [--threads 2] [--n 10]

SmolLM2-135M-Instruct fp32 on ARC-Challenge validation questions (zero-shot context), random unit
vectors on all 30 layers at λ = 4, greedy-forward up to ``--max-layers``. The search scores each
step's candidate sets as per-layer λ rows of one ``score_choices_lams`` call (sets that agree on
the lower blocks share them: engine/trunk.py); the naive loop steers each set with ``ls.steer``
and calls ``score_choices``. Both must take the same path with the same accuracy at every step.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n", type=int, default=10, help="validation questions")
    p.add_argument("--max-layers", type=int, default=3)
    p.add_argument("--cache-dir", default=os.environ.get("LENS_STEER_CACHE"))
    p.add_argument("--data-dir", default="../shared/data/arc_challenge")
    args = p.parse_args()

    import numpy as np
    import torch

    import lens_steer as ls
    from lens_steer.experiment import search_layers
    from lens_steer.experiment.layer_search import greedy_forward
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

    def naive(sets: list[tuple[int, ...]]) -> np.ndarray:
        cols = []
        for s in sets:
            with ls.steer(model, vecs, lam=[lam if k in s else 0.0 for k in vecs.layers]):
                cols.append(score_choices(model, task, exs, batch_size=8).correct)
        return np.array(cols, dtype=bool).T

    start = time.perf_counter()
    res = search_layers(model, vecs, task, exs, lam, max_layers=args.max_layers, batch_size=80,
                        progress=False)  # fmt: skip
    batched = time.perf_counter() - start
    start = time.perf_counter()
    path, rounds = greedy_forward(naive, vecs.layers, args.max_layers)
    naive_s = time.perf_counter() - start
    n_sets = sum(len(r.added) for r in rounds) + 1  # every candidate, and the empty set
    print(f"greedy-forward: {len(res.steps) - 1} step(s) taken, {n_sets} candidate sets scored, "
          f"{len(exs)} questions, {args.threads} threads")  # fmt: skip
    print(f"{'naive loop (a pass per set)':<30}{naive_s:>8.1f} s")
    print(f"{'search_layers (a pass a step)':<30}{batched:>8.1f} s   {naive_s / batched:.2f}x")
    same = [(s.layers, s.accuracy) for s in res.steps] == [(s.layers, s.accuracy) for s in path]
    print(f"same path and accuracies: {same}; path: {[s.layers for s in res.steps]}")


if __name__ == "__main__":
    main()
