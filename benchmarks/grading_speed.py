"""How long each grader takes on degenerate 200,000-character outputs (CPU ms, best of 3).

    .venv/bin/python benchmarks/grading_speed.py [--chars 200000]

Why: a model that degenerates into whitespace or a repeated phrase must not stall a λ sweep, and
the issue that asked for linear-time grading had inputs on which the old parsers ran for seconds
or never finished. tests/tasks/test_grading_timing.py holds every grader to a generous 1 s bound on
these same inputs (``lens_steer.testing.pathological_answers``); this script prints the figures
that go in benchmarks/RESULTS.md, plus a realistic answer for scale.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from lens_steer.tasks import Example, get_task
from lens_steer.testing import pathological_answers

EXAMPLES = {
    "gsm8k": Example(id="g", question="q", answer="18"),
    "math": Example(id="m", question="q", answer="\\frac{1}{2}"),
    "arc_challenge": Example(
        id="a", question="q", answer="C", labels=("A", "B", "C", "D"), choices=("w", "x", "y", "z")
    ),
}
REALISTIC = (
    "Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4, so 16 - 3 - 4 = 9 are left.\n"
    "She sells them at $2 each: 9 * 2 = $18.\n#### The final answer is: 18\n"
    "So the answer is $\\boxed{\\frac{1}{2}}$. The answer is (C)"
)


def cpu_ms(task_name: str, text: str, repeats: int = 3) -> float:
    task, ex = get_task(task_name), EXAMPLES[task_name]
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        task.is_correct(text, ex)
        best = min(best, time.process_time() - start)
    return 1000 * best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=200_000)
    args = parser.parse_args()
    inputs = {"realistic answer (270 chars)": REALISTIC, **pathological_answers(args.chars)}
    for name in EXAMPLES:  # import math-verify and compile patterns before timing
        cpu_ms(name, REALISTIC, repeats=1)
    print(f"| input ({args.chars:,} chars) | " + " | ".join(EXAMPLES) + " |")
    print("|---|" + "---:|" * len(EXAMPLES))
    worst = dict.fromkeys(EXAMPLES, 0.0)
    for kind, text in inputs.items():
        row = {name: cpu_ms(name, text) for name in EXAMPLES}
        for name, ms in row.items():
            worst[name] = max(worst[name], ms) if kind != "realistic answer (270 chars)" else 0
        print(f"| {kind} | " + " | ".join(f"{row[n]:.1f}" for n in EXAMPLES) + " |")
    print(
        "| **worst pathological** | " + " | ".join(f"**{worst[n]:.0f}**" for n in EXAMPLES) + " |"
    )


if __name__ == "__main__":
    main()
