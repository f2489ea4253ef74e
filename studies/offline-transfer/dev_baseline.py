"""Unsteered Dev accuracy of a child, which a run does not record (its λ grid starts above 0).

    HF_HUB_OFFLINE=1 .venv/bin/python studies/offline-transfer/dev_baseline.py \
        --child qwen2.5-coder-0.5b-instruct

The findings read each run's Dev choice against this count: λ\\* "gains two questions" only means
something beside what the child scores with nothing added. SmolLM2's count is in
``pilot_relative.txt`` (its baseline line); the sibling child's was measured with this script, its
output kept in ``dev_baseline.txt``. The scoring is the run's own unsteered pass (λ = 0, no
vectors, the study's batch size), so the count is the one the run would have logged.
"""

from __future__ import annotations

import argparse
from typing import Any

BATCH_SIZE = 64  # base.yaml's tasks[0].batch_size: the batch can move a score's last bits


def dev_accuracy(model: Any, task: Any, batch_size: int = BATCH_SIZE) -> tuple[int, int]:
    """(correct, questions) of ``model`` on the whole Dev split, nothing steered."""
    import lens_steer as ls

    dev = task.splits(seed=0, n_val=None).val
    (scores,) = ls.score_choices_lams(model, task, dev, None, [0.0], batch_size=batch_size)
    return sum(scores.correct), len(dev)


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser()
    p.add_argument("--child", default="qwen2.5-coder-0.5b-instruct")
    p.add_argument("--data-dir", default="../shared/data/arc_challenge")
    args = p.parse_args(argv)

    import lens_steer as ls

    model = ls.load_model(args.child, device="cpu")
    task = ls.get_task("arc_challenge", data_dir=args.data_dir)
    k, n = dev_accuracy(model, task)
    line = f"{args.child}: unsteered ARC-Challenge Dev accuracy {k}/{n} = {k / n:.3f}"
    print(line)
    return line


if __name__ == "__main__":
    main()
