"""GPU benchmark for issue 7: steered, λ-batched ``ls.generate`` against transformers' ``generate``.

    python benchmarks/gpu.py --static --its         # H100: Qwen3-0.6B and Llama-3.1-8B shapes
    python benchmarks/gpu.py --tiny --device cpu    # the same code on tiny shapes (smoke run)

Random weights in the paper's architectures (speed does not depend on the values), bf16, prompts
of ``--prompt-len`` random tokens, ``--new`` new tokens with ``min_new_tokens`` equal to it (so
random weights cannot stop early), greedy. One process; each row is the best of two timed runs
after a warm-up, tokens/s counts generated tokens. Rows per architecture and batch size:

- transformers ``generate``, dynamic cache, unsteered (the reference, "× HF dynamic" = 1);
- transformers ``generate`` with ``cache_implementation="static"`` (``--static``; it compiles);
- ``ls.generate`` for each of ``--engines`` ("graph": static cache + CUDA graphs, the default on
  CUDA; "plain": the eager fast path), steered at 4 λ values per prompt (one λ per row), and
  unsteered with the share of tokens identical to transformers' greedy output;
- the TransformerLens Bridge's ``generate`` inside ``ls.steer`` (``--bridge``: slow).

Each row is timed twice over: for ``--new`` tokens (end to end, prefill included, as the issue's
targets compare) and for one token (prefill and the first token); their difference is the
decoding time, shown as decode tok/s, against HF's decoding time, and as a share of the
memory-bandwidth limit: every weight plus the KV cache read once per decoding step at
``--bandwidth`` bytes/s. (At 512-token prompts and 64 new tokens, the prefill is a large share of
an 8B model's end-to-end time.) After the table: the graph capture time (paid
once per shape, not per λ or batch) and checks that the captured path steers (steered ≠ unsteered,
two calls identical, share of tokens equal to the eager engine's). ``--its`` adds the paper's 19-λ
ITS over ``--its-prompts`` prompts: transformers ``generate`` with a steering hook, one call per λ
(the paper's loop), one ``ls.generate`` call per λ, and one λ-batched call.
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
    p.add_argument("--engines", default="graph,plain", help="ls.generate engines to time")
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


class Table:
    """Rows of the printed table; each knows its arch's reference time and bandwidth limit."""

    def __init__(self, args: argparse.Namespace):
        self.args, self.rows, self.ref = args, [], {}

    def add(self, arch, batch, method, seconds, first, cfg, n_params, elem) -> None:
        """``seconds`` for ``--new`` tokens, ``first`` for one (prefill + first token, or None):
        their difference is the decoding time, which the bandwidth limit is about."""
        a = self.args
        tps = batch * a.new / seconds
        kv_len = a.prompt_len + a.new // 2
        limit = _bandwidth_limit(cfg, n_params, elem, batch, kv_len, a.bandwidth)
        ref, ref_first = self.ref.get((arch, batch), (float("nan"), None))
        decode = "| | | |"
        if first is not None and a.new > 1 and seconds - first > 0.1 * seconds:
            span = seconds - first  # (too small a difference to read: noise, left out)
            d_tps = batch * (a.new - 1) / span
            d_ratio = (ref - ref_first) / span if ref_first is not None else float("nan")
            decode = f"| {d_tps:,.0f} tok/s | {d_ratio:.2f} | {d_tps / limit:.1%} |"
        self.rows.append(
            f"| {arch} | {batch} | {method} | {tps:,.0f} tok/s | {ref / seconds:.2f} {decode} "
            f"{seconds:.2f} s |"
        )


def _steering_hooks(hf: Any, dirs: Any, lam: float) -> list[Any]:
    """The paper's way: a forward hook on every decoder layer adding λ·v to its output."""
    from lens_steer.engine.plain import decoder_layers

    handles = []
    for layer, d in zip(decoder_layers(hf), dirs, strict=True):
        delta = (lam * d).to(next(hf.parameters()).dtype).to(next(hf.parameters()).device)

        def hook(module, args, output, delta=delta):
            (output[0] if isinstance(output, tuple) else output).add_(delta)

        handles.append(layer.register_forward_hook(hook))
    return handles


def run_arch(name: str, args: argparse.Namespace, table: Table, notes: list[str]) -> None:
    import torch
    import transformers

    import lens_steer as ls
    from lens_steer import PAPER_LAMBDA_GRID
    from lens_steer.engine import decoder_stats
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
    batches = [int(b) for b in args.batches.split(",")]
    ids = torch.randint(
        4, cfg.vocab_size, (max(*batches, args.its_prompts), args.prompt_len), generator=gen
    )
    # The BOS string up front: ls.generate then adds no second one (a Bridge's tokenizer may add
    # BOS where the plain tokenizer does not), so both sides read the same ids.
    prompts = ["<s> " + " ".join(f"w{int(t)}" for t in row) for row in ids]
    n_new, grid = args.new, list(PAPER_LAMBDA_GRID)
    layers = tuple(range(cfg.num_hidden_layers))
    g = torch.Generator().manual_seed(2)
    dirs = torch.nn.functional.normalize(
        torch.randn(len(layers), cfg.hidden_size, generator=g), dim=-1
    )
    vecs = ls.SteeringVectors(dirs, layers)

    def add(b: int, method: str, t: float, first: float | None = None) -> None:
        table.add(name, b, method, t, first, cfg, n_params, elem)

    def timed(fn: Any) -> tuple[float, float, Any]:
        """Best time of ``fn(n_new)``, of ``fn(1)`` (prefill + first token), and the output."""
        t, out = _best(lambda: fn(n_new), dev)
        return t, _best(lambda: fn(1), dev)[0], out

    def hf_generate(prompts_, batch: int, n: int = n_new, **extra) -> list[str]:
        outs = []
        for i in range(0, len(prompts_), batch):
            enc = tok(prompts_[i : i + batch], return_tensors="pt", add_special_tokens=False)
            enc = enc.to(dev)
            with torch.inference_mode():
                out = hf.generate(**enc, max_new_tokens=n, min_new_tokens=n,
                                  do_sample=False, pad_token_id=tok.pad_token_id, **extra)  # fmt: skip
            outs += tok.batch_decode(out[:, enc["input_ids"].shape[1] :])
        return outs

    # transformers first: booting a Bridge switches the HF model to eager attention in place.
    ref_out = {}
    for b in batches:
        t, t1, ref_out[b] = timed(lambda n, b=b: hf_generate(prompts[:b], b, n))
        table.ref[(name, b)] = (t, t1)
        add(b, "HF generate, dynamic cache, unsteered", t, t1)
        if args.static:
            start = time.perf_counter()
            hf_generate(prompts[:b], b, cache_implementation="static")
            compile_s = time.perf_counter() - start
            t, t1, _ = timed(
                lambda n, b=b: hf_generate(prompts[:b], b, n, cache_implementation="static")
            )
            add(b, f"HF static cache (first call {compile_s:.0f} s)", t, t1)
    its_prompts, t_paper = prompts[: args.its_prompts], None
    if args.its:
        _sync(dev)
        start = time.perf_counter()
        for lam in grid:
            handles = _steering_hooks(hf, dirs, lam)
            hf_generate(its_prompts, 64)
            for h in handles:
                h.remove()
        _sync(dev)
        t_paper = time.perf_counter() - start

    bridge = ls.load_model(hf, tokenizer=tok, device=dev, dtype=dtype)
    engines = args.engines.split(",")
    outs: dict[tuple[str, int, str], list[list[str]]] = {}
    for b in batches:
        lams = [0.5, 1.0, 2.0, 4.0] if b >= 4 else [1.0]
        for engine in engines:

            def run(p, n, engine=engine, b=b, **k):
                return ls.generate(bridge, p, engine=engine, max_new_tokens=n, min_new_tokens=n,
                                   batch_size=b, progress=False, **k)  # fmt: skip

            t, t1, outs[(engine, b, "steered")] = timed(
                lambda n, b=b, lams=lams, run=run: run(
                    prompts[: b // len(lams)], n, vectors=vecs, lams=lams
                )
            )
            add(b, f"ls.generate {engine}, steered, {len(lams)} λ per prompt", t, t1)
            t, t1, out = timed(lambda n, b=b, run=run: run(prompts[:b], n))
            same = _same_tokens([o[0] for o in out], ref_out[b])
            add(b, f"ls.generate {engine}, unsteered ({same:.1%} tokens = HF)", t, t1)
            outs[(engine, b, "unsteered")] = out
        if args.bridge:

            def tl(b=b):
                with ls.steer(bridge, vecs, lam=1.0), torch.inference_mode():
                    return bridge.generate(prompts[:b], max_new_tokens=n_new, do_sample=False,
                                           stop_at_eos=False, prepend_bos=False, verbose=False)  # fmt: skip

            add(b, "TL Bridge generate in ls.steer", _best(tl, dev)[0])
    if "graph" in engines:
        held = decoder_stats(bridge)
        if not dev.startswith("cuda"):
            notes.append(f"{name}: no CUDA, so the graph engine ran its static steps eagerly")
        else:
            used = "used" if held["graphs"] else "NOT used (capture failed: see the warning)"
            notes.append(
                f"{name}: graph capture {held['capture_s']:.1f} s in all for "
                f"{len(held['captured'])} shapes (paid once per shape), graphs {used}, buffers "
                f"{held['buffer_bytes'] / 2**30:.1f} GB"
            )
        for b in batches:
            lams = [0.5, 1.0, 2.0, 4.0] if b >= 4 else [1.0]
            kw_gen = dict(max_new_tokens=n_new, min_new_tokens=n_new, batch_size=b, progress=False)
            again = ls.generate(bridge, prompts[: b // len(lams)], vectors=vecs, lams=lams,
                                engine="graph", **kw_gen)  # fmt: skip
            steered = outs[("graph", b, "steered")]
            flat = lambda rows: [x for r in rows for x in r]  # noqa: E731
            unsteered = [o[0] for o in outs[("graph", b, "unsteered")]][: len(steered)]
            moved = sum(r[-1] != u for r, u in zip(steered, unsteered, strict=True))
            line = (f"{name} b{b}: graph steered call repeated identically: {again == steered}; "
                    f"rows changed by the largest λ: {moved}/{len(steered)}")  # fmt: skip
            if "plain" in engines:
                same = _same_tokens(flat(steered), flat(outs[("plain", b, "steered")]))
                line += f"; steered tokens = plain engine: {same:.1%}"
            notes.append(line)
    if args.its:
        kw_gen = dict(max_new_tokens=n_new, min_new_tokens=n_new, batch_size=64, progress=False)
        _sync(dev)
        start = time.perf_counter()
        for lam in grid:
            ls.generate(bridge, its_prompts, vectors=vecs, lams=[lam], **kw_gen)
        _sync(dev)
        t_loop = time.perf_counter() - start
        start = time.perf_counter()
        ls.generate(bridge, its_prompts, vectors=vecs, lams=grid, **kw_gen)
        _sync(dev)
        t_one = time.perf_counter() - start
        label = f"ITS {len(its_prompts)}×{len(grid)} λ"
        for method, t in (
            ("HF generate + steering hook, one call per λ (paper)", t_paper),
            ("ls.generate, one call per λ", t_loop),
            ("ls.generate, one λ-batched call", t_one),
        ):
            table.rows.append(
                f"| {name} | {label} | {method} | {t:.1f} s | {t_paper / t:.2f} | | | | |"
            )


def main() -> None:
    args = _args()
    import torch

    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(
        f"# {args.device} ({device}), {args.dtype}, torch {torch.__version__}, prompts "
        f"{args.prompt_len} tokens, {args.new} new, greedy{' (tiny shapes)' if args.tiny else ''}"
    )
    print(
        "| arch | batch | method | tok/s end to end | × HF dynamic | decode tok/s "
        "| × HF dynamic | of bandwidth limit | time |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    notes: list[str] = []
    for name in args.archs.split(","):
        table = Table(args)
        run_arch(name, args, table, notes)
        for row in table.rows:
            print(row, flush=True)
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
