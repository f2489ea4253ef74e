"""Is another CPU matrix-product backend faster for the study's model? torch's default fp32
``F.linear`` (MKL on x86 builds) against a oneDNN ``Linear`` whose weight is pre-packed once
(``torch.utils.mkldnn.to_mkldnn``), dense input and output as a model would use it, on
SmolLM2-135M's shapes (d 576, MLP 1536, vocabulary 49,152).

    .venv/bin/python benchmarks/matmul_backends.py [--threads 2] [--reps 20]

Run it with the cores to itself: anything beside it (a study at nice 19 included) lowers the
figures by a third or more. Prints GFLOP/s per backend and the time ratio; the outputs agree to float rounding.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

SHAPES = (  # (m, k, n, what): m = rows of tokens in one forward pass
    (1280, 576, 1536, "MLP up/gate"),
    (1280, 1536, 576, "MLP down"),
    (1280, 576, 576, "attention projection"),
    (256, 576, 49152, "unembedding"),
)


def seconds(module: Callable[[Any], Any], x: Any, reps: int) -> float:
    module(x)  # warm-up: oneDNN picks and JITs its kernel on the first call
    start = time.perf_counter()
    for _ in range(reps):
        module(x)
    return (time.perf_counter() - start) / reps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=20)
    args = p.parse_args()

    import torch
    from torch.utils import mkldnn

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads, fp32\n")
    print("| m × k × n | what | default GFLOP/s | oneDNN packed GFLOP/s | default / oneDNN time "
          "| max abs diff |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|")
    with torch.inference_mode():
        for m, k, n, what in SHAPES:
            x, plain = torch.randn(m, k), torch.nn.Linear(k, n, bias=False)
            packed = mkldnn.to_mkldnn(plain)
            gflop = 2 * m * k * n / 1e9
            t_plain, t_packed = seconds(plain, x, args.reps), seconds(packed, x, args.reps)
            diff = (plain(x) - packed(x)).abs().max().item()
            print(f"| {m} × {k} × {n} | {what} | {gflop / t_plain:.1f} | {gflop / t_packed:.1f} "
                  f"| {t_plain / t_packed:.2f} | {diff:.1e} |")  # fmt: skip


if __name__ == "__main__":
    main()
