"""Peak memory of Algorithm 1 extraction at two prompt lengths, against a full ``run_with_cache``.

Each row runs in its own subprocess (peak RSS is per process) on a random-weight model with
SmolLM2-135M's shape (d_model 576, 30 layers, vocab 49,152): memory does not depend on the weights.
The reference is what most steering code does: ``run_with_cache`` over the resid_post hooks, then
slice the last token — it keeps [batch, seq, d_model] per layer plus the logits.

    .venv/bin/python benchmarks/extract_memory.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

LENGTHS = (128, 1024)
BATCH = 8
N_PAIRS = 8


def _model():
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    import lens_steer as ls
    from lens_steer.testing import tiny_tokenizer

    cfg = LlamaConfig(
        vocab_size=49152,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    hf = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager").eval()
    return ls.load_model(hf, tokenizer=tiny_tokenizer(), device="cpu")


def _pairs(length: int) -> list[tuple[str, str]]:
    body = ("step by step we add the numbers " * 64)[: length - 8]
    return [(f"{body} = {i}", f"{body} = {i + 1}") for i in range(N_PAIRS)]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, length: int) -> None:
    import torch

    import lens_steer as ls

    model = _model()
    pairs = _pairs(length)
    base = _rss_mb()
    t0 = time.perf_counter()
    if kind == "lens_steer":
        ls.extract(model, pairs, batch_size=BATCH, progress=False)
    else:
        texts = [p for p, _ in pairs] + [n for _, n in pairs]
        rows = []
        for start in range(0, len(texts), BATCH):
            ids = model.tokenizer(texts[start : start + BATCH], return_tensors="pt", padding=True)
            with torch.inference_mode():
                _, cache = model.run_with_cache(
                    ids.input_ids, names_filter=lambda n: n.endswith("hook_resid_post")
                )
            rows.append(
                torch.stack([cache[f"blocks.{i}.hook_resid_post"][:, -1] for i in range(30)], 1)
            )
            del cache
    seconds = time.perf_counter() - t0
    print(json.dumps({"peak_extra_mb": _rss_mb() - base, "seconds": seconds}))


def main() -> None:
    rows = []
    for length in LENGTHS:
        for kind in ("lens_steer", "run_with_cache"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(length)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((length, kind, result["peak_extra_mb"], result["seconds"]))
    print(f"extraction of {N_PAIRS} pairs, batch {BATCH}, SmolLM2-135M shape, CPU fp32")
    print(f"{'prompt tokens':>13} | {'method':<15} | {'peak extra RSS (MB)':>19} | {'seconds':>7}")
    print("-" * 64)
    for length, kind, mb, s in rows:
        print(f"{length:>13} | {kind:<15} | {mb:>19.0f} | {s:>7.1f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
