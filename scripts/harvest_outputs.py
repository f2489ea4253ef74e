"""Harvest real outputs of small models on GSM8K, MATH and ARC-Challenge for the grading corpus.

Why this exists: the answer parsers and graders (``task.parse`` / ``task.is_correct``) are tested
against a corpus of model outputs with human verdicts (``tests/data/grading/``). Hand-written
outputs are too tidy; small models really write answers that are cut off by the token limit,
run on into a hallucinated next question, restate the few-shot format, or (when steered hard)
degenerate into repetition, whitespace floods and garbage. This script collects such outputs,
greedily and reproducibly, so that humans can grade them. It records no verdict.

Each line of the output JSONL is one output::

    {"task": "gsm8k" | "math" | "arc", "model": ..., "steering": "none" | description,
     "example_id": ..., "gold": ..., ["labels": [...], "choices": [...]  (ARC only)],
     "question": ..., "output": ...}

Degenerate outputs come from steering with one random unit direction per layer at a large
relative strength (λ times the model's mean residual norm at that layer). With
``--demo-predictions`` (default ``runs/demo/gsm8k/predictions.json``, when present) the distinct
test outputs of a ``lens-steer demo`` run are appended too.

Example (CPU, about 10 minutes for SmolLM2 on 2 cores)::

    .venv/bin/python scripts/harvest_outputs.py --models smollm2-135m-instruct gemma-3-270m
    .venv/bin/python scripts/harvest_outputs.py --append --models gemma-3-270m --n-examples 10
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

import lens_steer as ls
from lens_steer.tasks.base import Example
from lens_steer.testing import unit_directions

REPO = Path(__file__).resolve().parent.parent
log = logging.getLogger("harvest_outputs")

# Short task name written to the corpus -> lens_steer task name.
TASKS: dict[str, str] = {"gsm8k": "gsm8k", "math": "math", "arc": "arc_challenge"}
# Long enough for most answers, short enough that some are cut off (which we want).
MAX_NEW_TOKENS: dict[str, int] = {"gsm8k": 160, "math": 200, "arc": 160}
DEMO_MODEL = "smollm2-135m-instruct (demo)"


def test_sample(task: Any, short: str, n: int, seed: int) -> list[Example]:
    """``n`` test examples of ``task``, chosen with ``seed`` (kept in test-set order)."""
    sp = task.splits(seed=0) if short == "arc" else task.splits(seed=0, n_val=50)
    test = list(sp.test)
    idx = sorted(random.Random(seed).sample(range(len(test)), min(n, len(test))))
    return [test[i] for i in idx]


def record(short: str, model_name: str, steering: str, ex: Example, output: str) -> dict[str, Any]:
    """One corpus line (no verdict: humans grade these)."""
    row: dict[str, Any] = {
        "task": short,
        "model": model_name,
        "steering": steering,
        "example_id": ex.id,
        "gold": ex.answer,
    }
    if short == "arc":
        row["labels"] = list(ex.labels)
        row["choices"] = list(ex.choices)
    row["question"] = ex.question
    row["output"] = output
    return row


def random_vectors(model: Any, seed: int) -> ls.SteeringVectors:
    """One random unit direction for every layer of ``model`` (a control, not a concept)."""
    n_layers, d_model = int(model.cfg.n_layers), int(model.cfg.d_model)
    return ls.SteeringVectors(
        directions=unit_directions(n_layers, d_model, seed=seed),
        layers=tuple(range(n_layers)),
        meta={"method": "random", "seed": seed},
    )


def harvest_model(
    model_name: str,
    data_root: Path,
    tasks: Sequence[str],
    n_examples: int,
    n_degenerate: int,
    lams: Sequence[float],
    batch_size: int,
    seed: int,
) -> Iterable[list[dict[str, Any]]]:
    """Yield the corpus lines of ``model_name``, one list per (task, steering) block."""
    t0 = time.perf_counter()
    model = ls.load_model(model_name, device="cpu")
    log.info("%s loaded in %.0f s", model_name, time.perf_counter() - t0)
    vecs = random_vectors(model, seed)
    for short in tasks:
        task = ls.get_task(TASKS[short], data_dir=data_root / TASKS[short])
        exs = test_sample(task, short, n_examples, seed)
        prompts = [task.prompt(ex, tokenizer=model.tokenizer) for ex in exs]
        max_new = MAX_NEW_TOKENS[short]

        t = time.perf_counter()
        outs = ls.generate(
            model, prompts, max_new_tokens=max_new, batch_size=batch_size, progress=False
        )
        log.info(
            "%s %s: %d greedy outputs in %.0f s",
            model_name,
            short,
            len(outs),
            time.perf_counter() - t,
        )
        yield [record(short, model_name, "none", ex, o[0]) for ex, o in zip(exs, outs, strict=True)]

        if n_degenerate <= 0 or not lams:
            continue
        t = time.perf_counter()
        k = min(n_degenerate, len(exs))
        steered = ls.generate(
            model,
            prompts[:k],
            vectors=vecs,
            lams=list(lams),
            relative=True,
            max_new_tokens=max_new,
            batch_size=batch_size,
            progress=False,
        )
        rows = []
        for ex, cols in zip(exs[:k], steered, strict=True):
            for lam, out in zip(lams, cols, strict=True):
                desc = (
                    f"random unit direction per layer (seed {seed}), relative λ={lam:g} "
                    "(fraction of mean ‖h‖), all positions"
                )
                rows.append(record(short, model_name, desc, ex, out))
        log.info(
            "%s %s: %d steered outputs in %.0f s",
            model_name,
            short,
            len(rows),
            time.perf_counter() - t,
        )
        yield rows


def demo_rows(path: Path, data_root: Path) -> list[dict[str, Any]]:
    """Distinct (example, output) pairs of every condition in a demo ``predictions.json``."""
    report = json.loads(path.read_text())
    task = ls.get_task(TASKS["gsm8k"], data_dir=data_root / TASKS["gsm8k"])
    by_id = {ex.id: ex for ex in task.load("test")}
    seen: set[tuple[str, str]] = set()
    rows = []
    for name, cond in report["conditions"].items():
        lam = cond.get("lam")
        steering = "none" if name == "baseline" else f"demo condition {name!r} (λ={lam})"
        for pred in cond.get("predictions", []):
            ex = by_id.get(pred["id"])
            if ex is None:
                log.warning("demo prediction for unknown test id %r skipped", pred["id"])
                continue
            outputs = [pred["output"]] if "output" in pred else list(pred.get("outputs", []))
            for out in outputs:
                if (ex.id, out) in seen:
                    continue
                seen.add((ex.id, out))
                rows.append(record("gsm8k", DEMO_MODEL, steering, ex, out))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--models",
        nargs="*",
        default=["smollm2-135m-instruct"],
        help="offline model aliases, run in this order (none: only the demo outputs)",
    )
    p.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    p.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=REPO / "tests/data/grading/real_outputs.jsonl")
    p.add_argument("--n-examples", type=int, default=25, help="test examples per task")
    p.add_argument(
        "--n-degenerate",
        type=int,
        default=8,
        help="prompts per task also generated with strong random steering",
    )
    p.add_argument(
        "--lams",
        type=float,
        nargs="*",
        default=[0.08, 0.3],
        help="relative λ of the random steering (one output per λ)",
    )
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--append",
        action="store_true",
        help="append to --out instead of overwriting it (e.g. a second model later)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument(
        "--demo-predictions",
        type=Path,
        default=REPO / "runs/demo/gsm8k/predictions.json",
        help="append this demo run's distinct outputs when the file exists",
    )
    args = p.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n = 0
    # Written block by block, so an interrupted run keeps what it finished.
    with args.out.open("a" if args.append else "w", encoding="utf-8") as f:
        for model_name in args.models:
            for rows in harvest_model(
                model_name,
                args.data_root,
                args.tasks,
                args.n_examples,
                args.n_degenerate,
                args.lams,
                args.batch_size,
                args.seed,
            ):
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                n += len(rows)
        if args.demo_predictions.exists():
            rows = demo_rows(args.demo_predictions, args.data_root)
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += len(rows)
            log.info("appended %d demo outputs from %s", len(rows), args.demo_predictions)
    log.info("wrote %d outputs to %s in %.0f s", n, args.out, time.perf_counter() - start)


if __name__ == "__main__":
    main()
