"""Algorithm 2: choose the steering strength λ on validation data.

Every λ of the grid is scored on the same examples; ``best`` is the λ with the highest accuracy,
ties going to the smallest λ (grid order when the grid holds per-layer λ vectors). Generation is
λ-batched: one ``generate`` call sweeps every scalar λ of the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..options import OptionFields, Options
from ..tasks.base import Example, Task
from ..vectors import SteeringVectors
from . import stats
from .lambda_sweep import (
    PAPER_LAMBDA_GRID,
    GenerateFn,
    GridEntry,
    check_examples,
    check_op_settings,
    check_scoring,
    choice_columns,
    decoding_kwargs,
    default_generate,
    entry_json,
    entry_str,
    generate_columns,
    is_scalar,
    make_prompts,
    normalize_grid,
    rnd,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["PAPER_LAMBDA_GRID", "TuneRow", "TuneResult", "tune_lambda"]


@dataclass(frozen=True)
class TuneRow:
    """One λ of the sweep: accuracy with its Wilson 95 % interval."""

    lam: GridEntry
    accuracy: float
    lo: float
    hi: float
    n_correct: int
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "lam": entry_json(self.lam),
            "accuracy": rnd(self.accuracy),
            "ci95": [rnd(self.lo), rnd(self.hi)],
            "n_correct": self.n_correct,
            "n": self.n,
        }


@dataclass(frozen=True, eq=False)
class TuneResult:
    """The λ sweep: ``best``, the accuracy ``table`` and every output behind it.

    ``outputs[i][k]`` is example i at ``grid[k]`` (generated text; under ``scoring="loglik"`` the
    picked label), ``answers[i][k]`` its parsed answer and ``correct[i, k]`` its verdict.
    """

    grid: tuple[GridEntry, ...]
    best: GridEntry
    best_index: int
    table: tuple[TuneRow, ...]
    outputs: tuple[tuple[str, ...], ...]
    answers: tuple[tuple[str | None, ...], ...]
    correct: np.ndarray
    example_ids: tuple[str, ...]
    scoring: str
    task: str

    @property
    def accuracies(self) -> tuple[float, ...]:
        return tuple(row.accuracy for row in self.table)

    @property
    def best_accuracy(self) -> float:
        return self.table[self.best_index].accuracy

    def summary_table(self) -> str:
        lines = [f"{'λ':>10}  {'acc':>6}  {'95% CI':>15}  {'k/n':>9}"]
        for k, row in enumerate(self.table):
            mark = "  *" if k == self.best_index else ""
            ci = f"[{row.lo:.3f}, {row.hi:.3f}]"
            lines.append(
                f"{entry_str(row.lam):>10}  {row.accuracy:6.3f}  {ci:>15}  "
                f"{f'{row.n_correct}/{row.n}':>9}{mark}"
            )
        return "\n".join(lines)

    def to_dict(self, outputs: bool = True) -> dict[str, Any]:
        """JSON-ready; ``outputs=False`` leaves out the per-example texts."""
        out: dict[str, Any] = {
            "task": self.task,
            "scoring": self.scoring,
            "n": len(self.example_ids),
            "best": entry_json(self.best),
            "best_index": self.best_index,
            "best_accuracy": rnd(self.best_accuracy),
            "grid": [entry_json(e) for e in self.grid],
            "table": [row.to_dict() for row in self.table],
        }
        if outputs:
            out["examples"] = [
                {
                    "id": ex_id,
                    "outputs": list(self.outputs[i]),
                    "answers": list(self.answers[i]),
                    "correct": [bool(c) for c in self.correct[i]],
                }
                for i, ex_id in enumerate(self.example_ids)
            ]
        return out


def pick_best(grid: Sequence[GridEntry], accuracies: Sequence[float]) -> int:
    """Index of the highest accuracy; ties → smallest λ (grid order if any entry is per-layer)."""
    top = max(accuracies)
    tied = [k for k, a in enumerate(accuracies) if a == top]
    if all(is_scalar(e) for e in grid):
        return min(tied, key=lambda k: (grid[k], k))
    return tied[0]


def table_rows(grid: Sequence[GridEntry], correct: np.ndarray) -> tuple[TuneRow, ...]:
    rows = []
    for k, entry in enumerate(grid):
        col = correct[:, k]
        acc, lo, hi = stats.accuracy_ci(col)
        rows.append(TuneRow(entry, acc, lo, hi, int(col.sum()), int(col.size)))
    return tuple(rows)


def _generate_and_grade(
    model: Any,
    vectors: SteeringVectors,
    task: Task,
    exs: list[Example],
    entries: tuple[GridEntry, ...],
    opts: Options,
    generate_fn: GenerateFn | None,
) -> tuple[list[list[str]], list[list[str | None]], np.ndarray]:
    """Outputs, parsed answers and verdicts ``[i][k]`` of every example at every grid entry."""
    gen = generate_fn or default_generate()
    prompts = make_prompts(task, model, exs, opts)
    outs = generate_columns(gen, model, prompts, vectors, entries, decoding_kwargs(task, opts))
    answers = [[task.parse(t, ex) for t in row] for row, ex in zip(outs, exs, strict=True)]
    correct = np.array(
        [[task.is_correct(t, ex) for t in row] for row, ex in zip(outs, exs, strict=True)],
        dtype=bool,
    ).reshape(len(exs), len(entries))
    return outs, answers, correct


def tune_lambda(
    model: Any,
    vectors: SteeringVectors,
    task: Task,
    examples: Sequence[Example],
    grid: Sequence[Any] = PAPER_LAMBDA_GRID,
    *,
    scoring: Literal["generate", "loglik"] = "generate",
    options: Options | None = None,
    generate_fn: GenerateFn | None = None,
    choice_options: dict[str, Any] | None = None,
    **overrides: Unpack[OptionFields],
) -> TuneResult:
    """Algorithm 2: accuracy of every λ in ``grid`` on ``examples``; ``best`` is the argmax.

    Args:
        model: the child model (a TransformerBridge λ-batches the whole grid in one pass).
        vectors: the steering vectors λ scales.
        task: builds the prompts, parses and grades the answers.
        examples: validation items (never the test split: λ* is chosen here).
        grid: floats, or per-layer λ sequences with one value per ``vectors.layers``.
        scoring: "generate" renders ``task.prompt``, generates greedily and grades with
            ``task.is_correct``; "loglik" (multiple choice) picks the likeliest option.
        options: the shared :class:`~lens_steer.options.Options` (few-shot, zero-shot,
            positions, relative, max_new_tokens, batch_size, cache, progress); keywords of the
            same names override it.
        generate_fn: replaces the generation engine (called like :func:`lens_steer.generate`).
        choice_options: ``length_normalize`` / ``target`` for ``score_choices`` under "loglik".

    Returns:
        A :class:`TuneResult`: the accuracy table with Wilson intervals, every output, ``best``.
    """
    if vectors is None:
        raise ValueError("tune_lambda needs steering vectors")
    opts = Options.build(options, overrides, "tune_lambda")
    entries = normalize_grid(grid, len(vectors))
    check_op_settings(opts, entries)
    exs = check_examples(examples)
    check_scoring(scoring, exs, opts.positions)
    if scoring == "loglik":
        outs, ok = choice_columns(model, task, exs, vectors, entries, opts, choice_options)
        answers = [list(row) for row in outs]
        correct = np.array(ok, dtype=bool).reshape(len(exs), len(entries))
    else:
        outs, answers, correct = _generate_and_grade(
            model, vectors, task, exs, entries, opts, generate_fn
        )
    table = table_rows(entries, correct)
    best = pick_best(entries, [row.accuracy for row in table])
    return TuneResult(
        grid=entries,
        best=entries[best],
        best_index=best,
        table=table,
        outputs=tuple(tuple(row) for row in outs),
        answers=tuple(tuple(row) for row in answers),
        correct=correct,
        example_ids=tuple(ex.id for ex in exs),
        scoring=scoring,
        task=task.name,
    )
