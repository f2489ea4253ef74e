"""GPU benchmark for issue 7: steered, λ-batched ``ls.generate`` against transformers' ``generate``.

    python benchmarks/gpu.py                          # H100: Qwen3-0.6B and Llama-3.1-8B shapes
    python benchmarks/gpu.py --tiny --device cpu      # the same code on tiny shapes (smoke run)

Random weights in the paper's architectures (speed does not depend on the values), bf16, prompts
of ``--prompt-len`` random tokens, ``--new`` new tokens with ``min_new_tokens`` equal to it (so
random weights cannot stop early), greedy. One process; each row is the best of two timed runs
after a warm-up, tokens/s counts generated tokens. Rows per architecture and batch size:

- transformers ``generate``, dynamic cache, unsteered (the reference);
- transformers ``generate`` with ``cache_implementation="static"`` (compile time on its own row);
- the TransformerLens Bridge's ``generate`` inside ``ls.steer`` (only with ``--bridge``: slow);
- ``ls.generate`` steered at 4 λ values per prompt (one λ per row), and unsteered.

Each row also shows its share of the memory-bandwidth limit: every weight plus the KV cache read
once per decoding step at ``--bandwidth`` bytes/s. ``--its`` adds the paper's 19-λ ITS over
``--its-prompts`` prompts: one λ-batched call against one ``ls.generate`` pass per λ. The share of
tokens identical to transformers' greedy output is printed for the unsteered rows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

ARCHS: dict[str, tuple[str, dict[str, Any]]] = {
    "qwen3-0.6b": (
        "Qwen3Config",
        dict(
            hidden_size=1024,
            intermediate_size=3072,
            num_hidden_layers=28,
            num_attention_heads=16,
            num_key_value_heads=8,
            head_dim=128,
            vocab_size=151936,
            max_position_embeddings=40960,
            rope_theta=1_000_000.0,
            tie_word_embeddings=True,
        ),
    ),
    "llama-3.1-8b": (
        "LlamaConfig",
        dict(
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=128256,
            max_position_embeddings=131072,
            rope_theta=500_000.0,
            tie_word_embeddings=False,
        ),
    ),
}
TINY = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    vocab_size=512,
    max_position_embeddings=2048,
)


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--archs", default=",".join(ARCHS))
    p.add_argument("--batches", default="1,64")
    p.add_argument("--prompt-len", type=int, default=512)
    p.add_argument("--new", type=int, default=64)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--bandwidth", type=float, default=3.35e12, help="bytes/s (H100 SXM HBM3)")
    p.add_argument("--bridge", action="store_true", help="also time the TL Bridge generate")
    p.add_argument("--static", action="store_true", help="also time HF's static cache")
    p.add_argument("--its", action="store_true", help="also time the 19-λ ITS sweep")
    p.add_argument("--its-prompts", type=int, default=64)
    p.add_argument("--tiny", action="store_true", help="tiny shapes (a smoke run on CPU)")
    return p.parse_args()


def _tokenizer(vocab: int) -> Any:
    """A word-level tokenizer with one word per id, saved and re-opened (the Bridge needs a path)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    specials = ["<s>", "</s>", "<pad>", "<unk>"]  # not "w…": added tokens match inside words
    words = {**{t: i for i, t in enumerate(specials)}, **{f"w{i}": i for i in range(4, vocab)}}
    core = Tokenizer(models.WordLevel(vocab=words, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    path = tempfile.mkdtemp(prefix="gpu_bench_tok_")
    tok.save_pretrained(path)
    return AutoTokenizer.from_pretrained(path)


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _best(fn, device: str, repeats: int = 2) -> tuple[float, Any]:
    fn()  # warm-up
    best, out = float("inf"), None
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        out = fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best, out


def _bandwidth_limit(cfg: Any, n_params: int, elem: int, batch: int, seq: int, bw: float) -> float:
    """Generated tokens/s if each step only read every weight and the KV cache once."""
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * seq * batch * elem
    return batch * bw / (n_params * elem + kv)


def _same_tokens(a: list[str], b: list[str]) -> float:
    same = total = 0
    for x, y in zip(a, b, strict=True):
        xs, ys = x.split(), y.split()
        total += max(len(xs), len(ys))
        same += sum(p == q for p, q in zip(xs, ys, strict=False))
    return same / max(total, 1)


def run_arch(name: str, args: argparse.Namespace) -> list[str]:
    import torch
    import transformers

    import lens_steer as ls
    from lens_steer._sweep import PAPER_LAMBDA_GRID
    from lens_steer.models import resolve_dtype

    cls_name, kw = ARCHS[name]
    kw = {**kw, **TINY} if args.tiny else kw
    cfg = getattr(transformers, cls_name)(**kw)
    dtype, dev = resolve_dtype(args.dtype), args.device
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(cfg, dtype=dtype).to(dev).eval()
    n_params = sum(p.numel() for p in hf.parameters())
    elem = torch.finfo(dtype).bits // 8
    tok = _tokenizer(cfg.vocab_size)
    gen = torch.Generator().manual_seed(1)
    max_batch = max(int(b) for b in args.batches.split(","))
    ids = torch.randint(
        4, cfg.vocab_size, (max(max_batch, args.its_prompts), args.prompt_len), generator=gen
    )
    # The BOS string up front: ls.generate then adds no second one (a Bridge's tokenizer may add
    # BOS where the plain tokenizer does not), so both sides read the same ids.
    prompts = ["<s> " + " ".join(f"w{int(t)}" for t in row) for row in ids]
    n_new = args.new
    rows: list[str] = []

    def hf_generate(batch: int, **extra):
        enc = tok(prompts[:batch], return_tensors="pt", add_special_tokens=False).to(dev)
        with torch.inference_mode():
            out = hf.generate(
                **enc,
                max_new_tokens=n_new,
                min_new_tokens=n_new,
                do_sample=False,
                pad_token_id=tok.pad_token_id,
                **extra,
            )
        return tok.batch_decode(out[:, enc["input_ids"].shape[1] :])

    ref: dict[int, tuple[float, list[str]]] = {}
    for b in (int(x) for x in args.batches.split(",")):
        ref[b] = _best(lambda b=b: hf_generate(b), dev)
        if args.static:
            start = time.perf_counter()
            hf_generate(b, cache_implementation="static")
            compile_s = time.perf_counter() - start
            t, _ = _best(lambda b=b: hf_generate(b, cache_implementation="static"), dev)
            rows.append(
                _row(
                    name,
                    b,
                    f"HF static cache (first call {compile_s:.0f} s)",
                    t,
                    b * n_new,
                    ref[b][0],
                    cfg,
                    n_params,
                    elem,
                    args,
                )
            )

    bridge = ls.load_model(hf, tokenizer=tok, device=dev, dtype=dtype)  # HF rows are done
    g = torch.Generator().manual_seed(2)
    layers = tuple(range(cfg.num_hidden_layers))
    dirs = torch.nn.functional.normalize(
        torch.randn(len(layers), cfg.hidden_size, generator=g), dim=-1
    )
    vecs = ls.SteeringVectors(dirs, layers)
    for b, (t_ref, ref_out) in ref.items():
        rows.append(
            _row(
                name,
                b,
                "HF generate, dynamic cache, unsteered",
                t_ref,
                b * n_new,
                t_ref,
                cfg,
                n_params,
                elem,
                args,
            )
        )
        lams = [0.5, 1.0, 2.0, 4.0] if b >= 4 else [1.0]
        n_prompts = b // len(lams)
        kw_gen = dict(max_new_tokens=n_new, min_new_tokens=n_new, batch_size=b, progress=False)
        t, _ = _best(
            lambda n=n_prompts, lams=lams, kw=kw_gen: ls.generate(
                bridge, prompts[:n], vectors=vecs, lams=lams, **kw
            ),
            dev,
        )
        rows.append(
            _row(
                name,
                b,
                f"ls.generate steered, {len(lams)} λ per prompt",
                t,
                b * n_new,
                t_ref,
                cfg,
                n_params,
                elem,
                args,
            )
        )
        t, out = _best(lambda b=b, kw=kw_gen: ls.generate(bridge, prompts[:b], **kw), dev)
        same = _same_tokens([o[0] for o in out], ref_out)
        rows.append(
            _row(
                name,
                b,
                f"ls.generate unsteered ({same:.1%} tokens = HF)",
                t,
                b * n_new,
                t_ref,
                cfg,
                n_params,
                elem,
                args,
            )
        )
        if args.bridge:

            def tl(b=b):
                with ls.steer(bridge, vecs, lam=1.0), torch.inference_mode():
                    return bridge.generate(
                        prompts[:b],
                        max_new_tokens=n_new,
                        do_sample=False,
                        stop_at_eos=False,
                        prepend_bos=False,
                        verbose=False,
                    )

            t, _ = _best(tl, dev)
            rows.append(
                _row(
                    name,
                    b,
                    "TL Bridge generate in ls.steer",
                    t,
                    b * n_new,
                    t_ref,
                    cfg,
                    n_params,
                    elem,
                    args,
                )
            )
    if args.its:
        grid = list(PAPER_LAMBDA_GRID)
        its_prompts = prompts[: args.its_prompts]
        kw_gen = dict(max_new_tokens=n_new, min_new_tokens=n_new, batch_size=64, progress=False)
        start = time.perf_counter()
        for lam in grid:
            ls.generate(bridge, its_prompts, vectors=vecs, lams=[lam], **kw_gen)
        _sync(dev)
        t_loop = time.perf_counter() - start
        start = time.perf_counter()
        ls.generate(bridge, its_prompts, vectors=vecs, lams=grid, **kw_gen)
        _sync(dev)
        t_one = time.perf_counter() - start
        rows.append(
            f"| {name} | ITS {len(its_prompts)}×19 λ | one ls.generate per λ | {t_loop:.1f} s "
            f"| | 1.00 | |"
        )
        rows.append(
            f"| {name} | ITS {len(its_prompts)}×19 λ | one λ-batched ls.generate | {t_one:.1f} s "
            f"| | {t_loop / t_one:.2f} | |"
        )
    return rows  # the models go with this frame


def _row(arch, batch, method, t, n_tokens, t_ref, cfg, n_params, elem, args) -> str:
    tps = n_tokens / t
    limit = _bandwidth_limit(
        cfg, n_params, elem, batch, args.prompt_len + args.new // 2, args.bandwidth
    )
    return (
        f"| {arch} | {batch} | {method} | {tps:,.0f} tok/s | {tps / limit:.1%} "
        f"| {t_ref / t:.2f} | {t:.2f} s |"
    )


def main() -> None:
    args = _args()
    import torch

    print(
        f"# {args.device} ({torch.cuda.get_device_name() if args.device.startswith('cuda') else 'cpu'}), "
        f"{args.dtype}, torch {torch.__version__}, prompts {args.prompt_len} tokens, {args.new} new, "
        f"greedy{' (tiny shapes)' if args.tiny else ''}"
    )
    print("| arch | batch | method | generated tok/s | of bandwidth limit | × HF dynamic | time |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name in args.archs.split(","):
        for row in run_arch(name, args):
            print(row, flush=True)
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
