"""Every grader reads a 200,000-character degenerate output in bounded time.

A model that degenerates into whitespace or a repeated phrase must not stall a λ sweep, so no
pattern may backtrack polynomially. This guards termination, not speed: a backtracking pattern
takes seconds to minutes on these inputs (some never finished before issue 13), a linear one
≤ 0.2 s, so the bound is a generous 3 s of this thread's CPU time (not wall time, and not the
process's, which counts other threads: torch's idle OpenMP workers spin after earlier tests and
once pushed a 0.3 s parse over 1 s on a 2-core CI machine). The speed figures are measured, not
asserted: benchmarks/grading_speed.py, in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from lens_steer.tasks import Example, get_task
from lens_steer.testing import pathological_answers

INPUTS = pathological_answers(200_000)
EXAMPLES = {
    "gsm8k": Example(id="g", question="q", answer="18"),
    "math": Example(id="m", question="q", answer="\\frac{1}{2}"),
    "arc_challenge": Example(
        id="a", question="q", answer="C", labels=("A", "B", "C", "D"), choices=("w", "x", "y", "z")
    ),
}


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Import math-verify and compile the patterns before anything is timed."""
    for name, ex in EXAMPLES.items():
        get_task(name).is_correct("The answer is $\\frac{1}{2}$. The answer is (C). #### 18", ex)


@pytest.mark.parametrize("task_name", list(EXAMPLES))
@pytest.mark.parametrize("kind", list(INPUTS))
def test_parse_is_fast_on_pathological_input(task_name: str, kind: str) -> None:
    task, text = get_task(task_name), INPUTS[kind]
    assert len(text) >= 199_000
    start = time.thread_time()
    task.parse(text, EXAMPLES[task_name])
    correct = task.is_correct(text, EXAMPLES[task_name])
    took = time.thread_time() - start
    assert took < 3.0, (
        f"{task_name} took {took:.2f} s of CPU on {kind!r}: does a pattern backtrack?"
    )
    assert correct is False  # none of these floods states the gold answer


@pytest.mark.parametrize("task_name", list(EXAMPLES))
def test_non_strings_are_refused_by_name(task_name: str) -> None:
    task = get_task(task_name)
    for bad in (None, 18, b"#### 18"):
        with pytest.raises(TypeError, match="text must be the model's output as a str"):
            task.parse(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="text must be"):
            task.is_correct(bad, EXAMPLES[task_name])  # type: ignore[arg-type]
