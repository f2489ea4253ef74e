"""Peak GPU memory of Algorithm 1 extraction from a 14B-class parent (issue 7).

    python benchmarks/gpu_extract.py                               # H100: phi-4's shape, bf16
    python benchmarks/gpu_extract.py --tiny --device cpu --dtype float32   # smoke run

A random-weight model of phi-4's architecture (Phi3ForCausalLM, d_model 5120, 40 layers, 14.7 B
parameters; memory does not depend on the weights' values), booted as a TransformerBridge in
bf16 on the GPU. For each prompt length, ``ls.extract`` over ``--pairs`` contrastive pairs at
``--batch`` texts per forward, against the usual approach (``run_with_cache`` over every
``hook_resid_post``, then the last token). Peak memory is ``torch.cuda.max_memory_allocated``
during the call, shown above the loaded weights and in all (the card has ~80 GB).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from gpu import _tokenizer  # noqa: E402  (the benchmark's one-word-per-id tokenizer)

PHI4 = dict(
    hidden_size=5120,
    intermediate_size=17920,
    num_hidden_layers=40,
    num_attention_heads=40,
    num_key_value_heads=10,
    vocab_size=100352,
    max_position_embeddings=16384,
    rope_theta=250_000.0,
    tie_word_embeddings=False,
)
IDS = dict(bos_token_id=0, eos_token_id=1, pad_token_id=2)  # the benchmark tokenizer's specials
TINY = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=512,
    max_position_embeddings=4096,
)


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lengths", default="128,1024,2048")
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--no-reference", action="store_true", help="skip run_with_cache")
    p.add_argument("--tiny", action="store_true", help="tiny shapes (a smoke run on CPU)")
    return p.parse_args()


def _pairs(n: int, length: int, vocab: int) -> list[tuple[str, str]]:
    body = " ".join(f"w{4 + (7 * i) % (vocab - 8)}" for i in range(length - 2))
    return [(f"<s> {body} w{4 + i}", f"<s> {body} w{5 + i}") for i in range(n)]


def _measure(fn: Any, device: str) -> tuple[float, float, Any]:
    """(seconds, peak GB allocated during ``fn`` or nan on CPU, result)."""
    import torch

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    out = fn()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    return seconds, peak, out


def main() -> None:
    args = _args()
    import torch
    import transformers

    import lens_steer as ls
    from lens_steer.models import resolve_dtype

    cfg = transformers.Phi3Config(**(TINY if args.tiny else PHI4), **IDS)
    dtype, dev = resolve_dtype(args.dtype), args.device
    torch.manual_seed(0)
    with torch.device(dev):  # initialise on the card: no 29 GB detour through host memory
        hf = transformers.AutoModelForCausalLM.from_config(cfg, dtype=dtype).eval()
    n_params = sum(p.numel() for p in hf.parameters())
    model = ls.load_model(hf, tokenizer=_tokenizer(cfg.vocab_size), device=dev, dtype=dtype)
    weights = torch.cuda.memory_allocated() / 2**30 if dev.startswith("cuda") else float("nan")
    layers = list(range(cfg.num_hidden_layers))
    hooks = [f"blocks.{i}.hook_resid_post" for i in layers]

    def reference(pairs: list[tuple[str, str]]) -> Any:
        texts = [t for pair in pairs for t in pair]
        rows = []
        for start in range(0, len(texts), args.batch):
            ids = model.tokenizer(
                texts[start : start + args.batch], return_tensors="pt", add_special_tokens=False
            ).input_ids.to(dev)
            with torch.inference_mode():
                _, cache = model.run_with_cache(ids, names_filter=lambda n: n in hooks)
            rows.append(torch.stack([cache[h][:, -1] for h in hooks], 1).float().cpu())
            del cache
        return torch.cat(rows)

    print(
        f"# {dev}, {args.dtype}, Phi3 {n_params / 1e9:.2f} B parameters "
        f"(d_model {cfg.hidden_size}, {cfg.num_hidden_layers} layers), weights {weights:.1f} GB, "
        f"{args.pairs} pairs, batch {args.batch}{' (tiny shapes)' if args.tiny else ''}"
    )
    print("| prompt tokens | method | peak above weights | peak in all | seconds |")
    print("|---:|---|---:|---:|---:|")
    for length in (int(x) for x in args.lengths.split(",")):
        pairs = _pairs(args.pairs, length, cfg.vocab_size)
        runs = [("lens_steer `extract`", lambda p=pairs: ls.extract(
            model, p, batch_size=args.batch, progress=False))]  # fmt: skip
        if not args.no_reference:
            runs.append(("`run_with_cache` + slice", lambda p=pairs: reference(p)))
        for name, fn in runs:
            try:
                seconds, peak, out = _measure(fn, dev)
            except torch.OutOfMemoryError:
                print(f"| {length} | {name} | out of memory | | |", flush=True)
                torch.cuda.empty_cache()
                continue
            if name.startswith("lens_steer"):
                assert out.directions.shape == (len(layers), cfg.hidden_size)
            print(
                f"| {length} | {name} | {peak - weights:.2f} GB | {peak:.1f} GB | {seconds:.1f} |",
                flush=True,
            )
            del out
            if dev.startswith("cuda"):
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
