"""CPU generation speed of ``ls.generate`` against transformers and the paper's sequential loop.

Everything runs side by side in one process on ``smollm2-135m-instruct`` (fp32, CPU) with GSM8K
test prompts rendered by the task (zero-shot unless ``--shots 5``):

1. Throughput at batch ``--batch-size``: transformers' ``generate`` on a plain HF model loaded
   separately (unsteered, greedy, ``min_new_tokens = max_new_tokens`` so every row makes the same
   number of tokens) against ``ls.generate`` steered at λ = 1 on every mapped layer (also with
   ``min_new_tokens``, no stop sequences), alternating, ``--repeats`` times; the best run of each.
   ``--no-share`` adds the fast path with shared-prefix prefill switched off (decode-side gains
   only), ``--hooks`` adds ``ls.generate(engine="hooks")`` (bridge forward + hook points) and
   ``--bridge`` adds TransformerLens' own ``bridge.generate`` inside ``ls.steer``.
2. ITS over the paper's 19 λ: the paper's sequential loop (Algorithm 3: for each λ, open
   ``ls.steer`` and generate each prompt in turn with ``bridge.generate``, greedy, batch 1) against
   one λ-batched ``ls.generate`` call per ``--its-batch-sizes`` entry; all stop at EOS or
   ``--new-tokens``. The parsed answers (``task.parse``) of every (prompt, λ) are compared.
   ``--its-ours-loop`` also times 19 ``ls.generate`` calls, one per λ. ``--its-paper-prompts N``
   runs the slow paper loop on the first N prompts only; speed is then compared per generation.

The steering vectors are random unit vectors on child layers 0-17 (the greedy n→n map from an
18-layer parent such as gemma-3-270m): speed does not depend on their values.

    .venv/bin/python benchmarks/generate_cpu.py --threads 1 --hooks --bridge --no-share \
        --repeats 2 --its-prompts 2 --its-batch-sizes 16,38
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache-dir", default=os.environ.get("LENS_STEER_CACHE", "/tmp/lscache"))
    p.add_argument("--data-dir", default="../shared/data/gsm8k")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--shots", type=int, default=0, choices=(0, 5))
    p.add_argument("--n-prompts", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--its-prompts", type=int, default=2)
    p.add_argument("--its-batch-sizes", default="16", help="comma-separated, one row each")
    p.add_argument(
        "--its-paper-prompts",
        type=int,
        default=None,
        help="run the (slow) paper loop on only the first N ITS prompts; speed is then compared "
        "per generation and answers on those prompts",
    )
    p.add_argument("--no-share", action="store_true", help="add a row without prefix sharing")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-its", action="store_true")
    p.add_argument("--hooks", action="store_true")
    p.add_argument("--bridge", action="store_true")
    p.add_argument("--its-ours-loop", action="store_true")
    return p.parse_args()


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    args = _args()
    import torch

    torch.set_num_threads(args.threads)
    import lens_steer as ls
    from lens_steer.activations import encode_text
    from lens_steer.engine.generate import generate
    from lens_steer.models import offline

    t_load, bridge = _timed(
        lambda: ls.load_model("smollm2-135m-instruct", device="cpu", cache_dir=args.cache_dir)
    )
    hf, tok = offline.load_hf("smollm2-135m-instruct", cache_dir=args.cache_dir)
    hf = hf.to(torch.float32).eval()
    task = ls.get_task("gsm8k", data_dir=args.data_dir)
    sp = task.splits(seed=0, n_val=50)
    zero = args.shots == 0
    prompts = [task.prompt(ex, tokenizer=tok, zero_shot=zero) for ex in sp.test[: args.n_prompts]]
    lengths = [len(encode_text(tok, p)) for p in prompts]
    gen = torch.Generator().manual_seed(0)
    dirs = torch.nn.functional.normalize(torch.randn(18, 576, generator=gen), dim=-1)
    vecs = ls.SteeringVectors(dirs, tuple(range(18)))
    n_new, bs = args.new_tokens, args.batch_size
    print(
        f"# smollm2-135m-instruct fp32, CPU {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, torch threads {args.threads}, torch {torch.__version__}; "
        f"GSM8K test prompts, {'zero' if zero else '5'}-shot, {len(prompts)} prompts, "
        f"prompt tokens {min(lengths)}-{max(lengths)} (mean {sum(lengths) / len(lengths):.0f}); "
        f"{n_new} new tokens; bridge load {t_load:.1f}s"
    )

    if not args.skip_throughput:
        tok.padding_side = "left"
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        if tok.bos_token and not prompts[0].startswith(tok.bos_token):
            raise SystemExit("prompts are expected to carry the chat template's BOS")

        def hf_run():
            with torch.inference_mode():
                hf.generate(
                    **enc,
                    max_new_tokens=n_new,
                    min_new_tokens=n_new,
                    do_sample=False,
                    pad_token_id=tok.pad_token_id,
                )

        def ours(engine="plain"):
            return lambda: generate(
                bridge,
                prompts,
                vectors=vecs,
                lams=[1.0],
                max_new_tokens=n_new,
                min_new_tokens=n_new,
                batch_size=bs,
                progress=False,
                engine=engine,
            )

        def tl_run():
            with ls.steer(bridge, vecs, lam=1.0), torch.inference_mode():
                for start in range(0, len(prompts), bs):
                    bridge.generate(
                        prompts[start : start + bs],
                        max_new_tokens=n_new,
                        do_sample=False,
                        stop_at_eos=False,
                        prepend_bos=False,
                        return_type="tokens",
                        verbose=False,
                    )

        def no_share():
            from lens_steer.engine import prefill as prefill_step

            saved = prefill_step.MIN_SHARED_PREFIX
            prefill_step.MIN_SHARED_PREFIX = 1 << 30
            try:
                ours()()
            finally:
                prefill_step.MIN_SHARED_PREFIX = saved

        methods = {
            "transformers generate, plain HF model, unsteered": hf_run,
            "ls.generate, steered λ=1 (fast path)": ours(),
        }
        if args.no_share:
            methods["ls.generate, steered λ=1 (fast path, no prefix sharing)"] = no_share
        if args.hooks:
            methods["ls.generate, steered λ=1 (engine='hooks')"] = ours("hooks")
        if args.bridge:
            methods["TL bridge.generate inside ls.steer(λ=1)"] = tl_run
        times: dict[str, list[float]] = {k: [] for k in methods}
        for _ in range(args.repeats):
            for name, fn in methods.items():
                times[name].append(_timed(fn)[0])
        base = min(times["transformers generate, plain HF model, unsteered"])
        n_tok = len(prompts) * n_new
        print(f"\n## Throughput: {len(prompts)} prompts × {n_new} tokens, batch {bs}")
        print("| method | best s | runs s | tokens/s | × transformers |")
        print("|---|---:|---|---:|---:|")
        for name, ts in times.items():
            runs = ", ".join(f"{t:.1f}" for t in ts)
            print(
                f"| {name} | {min(ts):.1f} | {runs} | {n_tok / min(ts):.1f} | {base / min(ts):.2f} |"
            )

    if not args.skip_its:
        its_prompts = prompts[: args.its_prompts]
        from lens_steer import PAPER_LAMBDA_GRID

        grid = list(PAPER_LAMBDA_GRID)
        n_paper = min(args.its_paper_prompts or len(its_prompts), len(its_prompts))
        ids = [torch.tensor([encode_text(tok, p)]) for p in its_prompts[:n_paper]]

        def paper_loop():
            outs = [[None] * len(grid) for _ in ids]
            with torch.inference_mode():
                for k, lam in enumerate(grid):
                    with ls.steer(bridge, vecs, lam=lam) as handle:
                        for i, x in enumerate(ids):
                            handle.reset()
                            seq = bridge.generate(
                                x,
                                max_new_tokens=n_new,
                                do_sample=False,
                                stop_at_eos=True,
                                return_type="tokens",
                                verbose=False,
                            )
                            new = seq[0, x.shape[1] :].tolist()
                            eos = tok.eos_token_id
                            new = new[: new.index(eos)] if eos in new else new
                            outs[i][k] = tok.decode(new, skip_special_tokens=True)
            return outs

        def batched(size):
            return lambda: generate(
                bridge,
                its_prompts,
                vectors=vecs,
                lams=grid,
                max_new_tokens=n_new,
                batch_size=size,
                progress=False,
            )

        def our_loop():
            cols = [
                generate(
                    bridge,
                    its_prompts,
                    vectors=vecs,
                    lams=[lam],
                    max_new_tokens=n_new,
                    batch_size=bs,
                    progress=False,
                )
                for lam in grid
            ]
            return [[c[i][0] for c in cols] for i in range(len(its_prompts))]

        t_paper, paper_out = _timed(paper_loop)
        rows = [("paper loop: per λ, per prompt bridge.generate (batch 1)", t_paper, paper_out)]
        for size in [int(x) for x in args.its_batch_sizes.split(",")]:
            t_ours, ours_out = _timed(batched(size))
            rows.append(
                (f"ls.generate, all 19 λ in one λ-batched call (batch {size})", t_ours, ours_out)
            )
        if args.its_ours_loop:
            t_loop, loop_out = _timed(our_loop)
            rows.append(("ls.generate called once per λ", t_loop, loop_out))
        n_rows = len(its_prompts) * len(grid)
        paper_rows = n_paper * len(grid)
        per_paper = t_paper / paper_rows
        print(
            f"\n## ITS: {len(its_prompts)} prompts × {len(grid)} λ = {n_rows} generations "
            f"(paper loop: first {n_paper} prompts, {paper_rows} generations), "
            f"≤ {n_new} new tokens, stop at EOS"
        )
        print(
            "| method | generations | s | s / generation | × paper loop "
            "| parsed answers = paper loop | texts = paper loop |"
        )
        print("|---|---:|---:|---:|---:|---|---|")
        ref = [[task.parse(t) for t in row] for row in paper_out]
        for name, t, out in rows:
            n_gen = len(out) * len(grid)
            head = out[:n_paper]
            parsed = [[task.parse(x) for x in row] for row in head]
            same_p = sum(
                a == b
                for r1, r2 in zip(parsed, ref, strict=True)
                for a, b in zip(r1, r2, strict=False)
            )
            same_t = sum(
                a == b
                for r1, r2 in zip(head, paper_out, strict=True)
                for a, b in zip(r1, r2, strict=False)
            )
            print(
                f"| {name} | {n_gen} | {t:.1f} | {t / n_gen:.2f} | {per_paper / (t / n_gen):.2f} "
                f"| {same_p}/{paper_rows} | {same_t}/{paper_rows} |"
            )


if __name__ == "__main__":
    main()
