"""λ-batched log-likelihood scoring vs one ``score_choices`` pass per λ under ``ls.steer``.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/loglik_cpu.py [--threads 2] [--n 10]

SmolLM2-135M-Instruct fp32 on ARC-Challenge validation questions (zero-shot context, 4-5 options),
steered by random unit vectors on child layers 0-17, over λ = 0 plus the paper's 19 values. The
reference scores each λ with ``score_choices`` inside ``ls.steer`` (what a sweep does without the
λ-batched scorer); it runs on ``--ref-lams`` of the λ values and is compared per (question, λ).
Scores of both must agree (max |Δ log p| is printed). ``--hook mlp_out`` (or attn_out,
resid_pre) puts the vectors at another hook point and also times the bridge's hook engine, which
served those points before the plain decoder hooked their HF modules.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n", type=int, default=10, help="validation questions")
    p.add_argument("--ref-lams", type=int, default=3, help="λ values the reference loop scores")
    p.add_argument("--batch-size", type=int, default=80)
    p.add_argument("--cache-dir", default=os.environ.get("LENS_STEER_CACHE"))
    p.add_argument("--data-dir", default="../shared/data/arc_challenge")
    p.add_argument("--hook", default="resid_post", help="the vectors' hook point")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    import lens_steer as ls
    from lens_steer import PAPER_LAMBDA_GRID

    model = ls.load_model("smollm2-135m-instruct", device="cpu", cache_dir=args.cache_dir)
    task = ls.get_task("arc_challenge", data_dir=args.data_dir)
    exs = list(task.splits(seed=0).val[: args.n])
    g = torch.Generator().manual_seed(0)
    dirs = torch.nn.functional.normalize(torch.randn(18, 576, generator=g), dim=-1)
    vecs = ls.SteeringVectors(dirs, tuple(range(18)), meta={"hook_point": f"hook_{args.hook}"})
    lams = [0.0, *PAPER_LAMBDA_GRID]

    start = time.perf_counter()
    ours = ls.score_choices_lams(
        model, task, exs, vecs, lams, batch_size=args.batch_size, progress=False
    )
    t_ours = time.perf_counter() - start

    t_hooks = None
    if args.hook != "resid_post":
        start = time.perf_counter()
        ls.score_choices_lams(model, task, exs, vecs, lams, batch_size=args.batch_size,
                              engine="hooks", progress=False)  # fmt: skip
        t_hooks = time.perf_counter() - start
    ref_lams = list(PAPER_LAMBDA_GRID[: args.ref_lams])
    start = time.perf_counter()
    ref = {}
    for lam in ref_lams:
        with ls.steer(model, vecs, lam=lam):
            ref[lam] = ls.score_choices(model, task, exs, batch_size=16)
    t_ref = time.perf_counter() - start
    diff = max(
        abs(a - b)
        for lam in ref_lams
        for x, y in zip(ours[lams.index(lam)].logprobs, ref[lam].logprobs, strict=True)
        for a, b in zip(x, y, strict=True)
    )
    same = sum(ours[lams.index(lam)].predicted == ref[lam].predicted for lam in ref_lams)
    per_ref = t_ref / (len(exs) * len(ref_lams))
    per_ours = t_ours / (len(exs) * len(lams))
    print(
        f"# smollm2-135m-instruct fp32, torch threads {args.threads}, {len(exs)} ARC-Challenge "
        f"validation questions, zero-shot context, vectors at {args.hook}"
    )
    print("| method | (question, λ) scored | s | s per (question, λ) | × reference |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| `score_choices` under `ls.steer`, once per λ (batch 16) | {len(exs) * len(ref_lams)} "
        f"| {t_ref:.1f} | {per_ref:.3f} | 1.00 |"
    )
    print(
        f"| `ls.score_choices_lams`, 20 λ in one call (batch {args.batch_size}) "
        f"| {len(exs) * len(lams)} | {t_ours:.1f} | {per_ours:.3f} | {per_ref / per_ours:.2f} |"
    )
    if t_hooks is not None:
        per_hooks = t_hooks / (len(exs) * len(lams))
        print(
            f"| the same through the bridge's hooks (`engine='hooks'`) | {len(exs) * len(lams)} "
            f"| {t_hooks:.1f} | {per_hooks:.3f} | {per_ref / per_hooks:.2f} |"
        )
    print(f"max |Δ log p| = {diff:.2e}; identical picks on {same}/{len(ref_lams)} λ")


if __name__ == "__main__":
    main()
