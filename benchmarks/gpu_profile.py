"""Where a steered λ-batched ``ls.generate`` batch spends its time (issue 7: "say where the time
goes"), with ``torch.profiler``.

    python benchmarks/gpu_profile.py --out gpu-out                 # H100, Qwen3-0.6B shape, b64
    python benchmarks/gpu_profile.py --tiny --device cpu --dtype float32 --batch 8 --new 8

One warm-up call (captures the graphs), then one profiled call at ``--batch`` rows (4 λ per
prompt). Prints the wall time of each phase the engine names (``ls.prefill``, ``ls.load``,
``ls.step`` — one graph replay each on CUDA —, ``ls.sync``: the look at the tokens), the GPU
kernels by total time, and the GPU's busy share of the decoding wall time (how close the loop is
to being bound by the GPU rather than by the host). ``--out`` also receives a Chrome trace.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gpu import ARCHS, TINY, _tokenizer  # noqa: E402


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="qwen3-0.6b", choices=sorted(ARCHS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--prompt-len", type=int, default=512)
    p.add_argument("--new", type=int, default=64)
    p.add_argument("--engine", default="graph")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default="bfloat16")
    p.add_argument("--out", default=None, help="folder for trace.json")
    p.add_argument("--tiny", action="store_true")
    return p.parse_args()


def main() -> None:
    args = _args()
    import torch
    import transformers
    from torch.profiler import ProfilerActivity, profile

    import lens_steer as ls
    from lens_steer.models import resolve_dtype

    cls_name, kw = ARCHS[args.arch]
    cfg = getattr(transformers, cls_name)(**({**kw, **TINY} if args.tiny else kw))
    dtype, dev = resolve_dtype(args.dtype), args.device
    cuda = dev.startswith("cuda")
    torch.manual_seed(0)
    with torch.device(dev):
        hf = transformers.AutoModelForCausalLM.from_config(cfg, dtype=dtype).eval()
    tok = _tokenizer(cfg.vocab_size)
    ids = torch.randint(4, cfg.vocab_size, (args.batch, args.prompt_len))
    prompts = ["<s> " + " ".join(f"w{int(t)}" for t in row) for row in ids]
    bridge = ls.load_model(hf, tokenizer=tok, device=dev, dtype=dtype)
    layers = tuple(range(cfg.num_hidden_layers))
    dirs = torch.nn.functional.normalize(torch.randn(len(layers), cfg.hidden_size), dim=-1)
    lams = [0.5, 1.0, 2.0, 4.0]
    kw_gen = dict(
        vectors=ls.SteeringVectors(dirs, layers),
        lams=lams,
        max_new_tokens=args.new,
        min_new_tokens=args.new,
        batch_size=args.batch,
        progress=False,
        engine=args.engine,
    )
    batch_prompts = prompts[: args.batch // len(lams)]
    ls.generate(bridge, batch_prompts, **kw_gen)  # warm-up: captures the graphs
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        ls.generate(bridge, batch_prompts, **kw_gen)
        if cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
    events = prof.key_averages()
    phases = {e.key: e for e in events if e.key.startswith("ls.")}
    n_tok = args.batch * args.new
    print(
        f"# {args.arch} shape, {dev}, {args.dtype}, batch {args.batch} ({len(lams)} λ per prompt), "
        f"{args.prompt_len}-token prompts, {args.new} new, engine {args.engine}: {wall:.3f} s, "
        f"{n_tok / wall:,.0f} tok/s (profiler on)"
    )
    print("| phase | calls | host wall (ms) | share |")
    print("|---|---:|---:|---:|")
    for name in ("ls.prefill", "ls.load", "ls.step", "ls.sync"):
        if name in phases:
            e = phases[name]
            ms = e.cpu_time_total / 1e3
            print(f"| {name} | {e.count} | {ms:.1f} | {ms / 1e3 / wall:.1%} |")
    if cuda:
        kernels = defaultdict(lambda: [0.0, 0])
        for e in prof.events():
            if e.device_type == torch.autograd.DeviceType.CUDA:
                kernels[e.name][0] += e.device_time
                kernels[e.name][1] += 1
        busy = sum(t for t, _ in kernels.values()) / 1e6
        print(f"\nGPU busy {busy:.3f} s of {wall:.3f} s wall ({busy / wall:.0%})")
        print("| kernel | calls | GPU ms | share of busy |")
        print("|---|---:|---:|---:|")
        top = sorted(kernels.items(), key=lambda kv: -kv[1][0])[:20]
        for name, (us, count) in top:
            print(f"| {name[:90]} | {count} | {us / 1e3:.1f} | {us / 1e6 / busy:.1%} |")
    else:
        print(events.table(sort_by="cpu_time_total", row_limit=15))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(Path(args.out) / "trace.json"))


if __name__ == "__main__":
    main()
