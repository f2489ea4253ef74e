"""Which layers carry the effect? A search over subsets of the steered layers, on validation.

The paper steers every mapped layer and never asks. ``search_layers`` asks with three strategies:

- ``"greedy-forward"``: from no layers, add the layer whose inclusion most raises accuracy; stop
  at ``max_layers`` or when the best addition's paired-bootstrap 95 % CI of Δ accuracy (against
  the set before it) does not lie above 0. Every round's candidates are kept (``rounds``), so a
  search that stops at once still says which layer came closest and by how much.
- ``"single"``: each layer alone.
- ``"leave-one-out"``: all layers but each.

Every candidate set of a step is one row of the same λ-batched call: its λ is λ on the set's
layers and 0 on the others (``score_choices_lams`` and ``generate`` take such per-layer rows; in
log-likelihood scoring, rows agreeing on the lower blocks compute them once), so a greedy step
costs about one λ sweep, not one pass per candidate. Selection happens on the examples given
— use the validation split; the chosen set is then tested by ``evaluate`` on the test split,
which the search never saw.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import InputError
from ..options import OptionFields, Options
from ..tasks.base import Example, Task
from ..vectors import SteeringVectors
from . import stats
from .lambda_sweep import check_examples, check_scoring

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "search_layers", "LayerSearch", "SearchStep", "GreedyRound", "STRATEGIES", "greedy_forward",
    "describe_stop",
]  # fmt: skip

STRATEGIES = ("greedy-forward", "single", "leave-one-out")
Strategy = Literal["greedy-forward", "single", "leave-one-out"]
#: per-example verdicts ``[n_examples, n_sets]`` of steering each layer set
Scorer = Callable[[list[tuple[int, ...]]], np.ndarray]


@dataclass(frozen=True)
class SearchStep:
    """One layer set: its accuracy with a Wilson 95 % CI, and (greedy steps) the paired
    bootstrap Δ against the set before it."""

    layers: tuple[int, ...]
    accuracy: float
    ci95: tuple[float, float]
    n_correct: int
    n: int
    delta: tuple[float, float, float] | None = None  # (Δ, lo, hi)

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "accuracy": round(self.accuracy, 6),
            "ci95": [round(x, 6) for x in self.ci95],
            "n_correct": self.n_correct,
            "n": self.n,
            "delta": None if self.delta is None else [round(x, 6) for x in self.delta],
        }


@dataclass(frozen=True)
class GreedyRound:
    """One greedy round: each candidate (``base`` plus the layer ``added[i]``) with its number
    correct, the best candidate's layer, its paired-bootstrap Δ against ``base`` and whether it
    was kept (the CI of Δ lay above 0). The last round of a search that stopped early is the one
    not kept: it records why the search stopped."""

    base: tuple[int, ...]
    added: tuple[int, ...]
    n_correct: tuple[int, ...]
    n: int
    best: int
    delta: tuple[float, float, float]
    kept: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": list(self.base),
            "candidates": [{"added": k, "n_correct": c} for k, c in zip(self.added, self.n_correct,
                                                                        strict=True)],
            "n": self.n,
            "best": self.best,
            "delta": [round(x, 6) for x in self.delta],
            "kept": self.kept,
        }  # fmt: skip


@dataclass(frozen=True)
class LayerSearch:
    """The search's path (``steps``: the chosen sets in order, or every set scored for
    "single" / "leave-one-out"), ``best``, the most accurate set on the path, and (greedy) every
    round's candidates."""

    strategy: str
    lam: float
    steps: tuple[SearchStep, ...]
    best: tuple[int, ...]
    rounds: tuple[GreedyRound, ...] = ()

    @property
    def table(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.steps]

    @property
    def stopped(self) -> str | None:
        """Why a greedy search ended: ``"ci"`` (the best addition's CI of Δ reached 0),
        ``"max_layers"`` or ``"exhausted"`` (every layer taken); ``None`` for the maps."""
        if not self.rounds:
            return None
        if not self.rounds[-1].kept:
            return "ci"
        return "exhausted" if len(self.rounds[-1].added) == 1 else "max_layers"

    def to_dict(self) -> dict[str, Any]:
        out = {"strategy": self.strategy, "lam": self.lam, "steps": self.table,
               "best": list(self.best)}  # fmt: skip
        if self.rounds:
            out["rounds"] = [r.to_dict() for r in self.rounds]
            out["stopped"] = self.stopped
        return out


def _step(layers: tuple[int, ...], correct: np.ndarray, delta=None) -> SearchStep:
    acc, lo, hi = stats.accuracy_ci(correct)
    return SearchStep(layers, acc, (lo, hi), int(correct.sum()), int(correct.size), delta)


def greedy_forward(
    score: Scorer, layers: Sequence[int], max_layers: int
) -> tuple[list[SearchStep], list[GreedyRound]]:
    """The greedy path from the empty set (the plain model) and every round scored on the way;
    ties go to the lowest layer.

    The empty set rides in the first step's pass: under the shared trunk (engine/trunk.py) it
    costs next to nothing there, while alone it would be a pass of its own."""
    current: tuple[int, ...] = ()
    cands = [(k,) for k in layers] if max_layers >= 1 else []
    both = score([current, *cands])
    prev, correct = both[:, 0], both[:, 1:]
    path, rounds = [_step(current, prev)], []
    while cands:
        j = int(np.argmax(correct.mean(axis=0)))
        delta = stats.paired_bootstrap(prev, correct[:, j])
        added = tuple(k for k in layers if k not in current)  # cands[i] = current + added[i]
        kept = delta[1] > 0  # else the best addition's 95 % CI reaches 0: nothing improves enough
        counts = tuple(int(x) for x in correct.sum(axis=0))
        rounds.append(GreedyRound(current, added, counts, len(prev), added[j], delta, kept))
        if not kept:
            break
        current, prev = cands[j], correct[:, j]
        path.append(_step(current, prev, delta))
        cands = [tuple(sorted((*current, k))) for k in layers if k not in current]
        if len(current) >= max_layers or not cands:
            break
        correct = score(cands)
    return path, rounds


def _pp(x: float) -> str:
    v = round(100 * x, 1)
    return f"{v if v else 0.0:+.1f}"  # never "-0.0"


def describe_stop(record: Mapping[str, Any]) -> str:
    """Why a greedy search (``LayerSearch.to_dict()``, or a run's ``layer_search.json``)
    stopped, in words; for ``"ci"`` its nearest miss: the last round's best addition, how many
    candidates tied with it (ties go to the lowest layer, so a lone "L0" may be one of many),
    its count and Δ against the set before it. Empty for a map or an older record."""
    stopped = record.get("stopped")
    if stopped != "ci":
        words = {"max_layers": "max_layers reached", "exhausted": "every layer taken"}
        return f"stopped: {words[stopped]}" if stopped in words else ""
    r = record["rounds"][-1]
    counts = {c["added"]: c["n_correct"] for c in r["candidates"]}
    tied = sum(c == counts[r["best"]] for c in counts.values()) - 1
    d, lo, hi = (_pp(x) for x in r["delta"])
    return (f"stopped: best addition to {list(r['base'])} L{r['best']}"
            f"{f' (tied with {tied} more)' if tied else ''}, {counts[r['best']]}/{r['n']},"
            f" Δ {d} pp [{lo}, {hi}]: its CI reaches 0")  # fmt: skip


def _scorer(model, vectors, task, exs, lam, opts, scoring, choice_options) -> Scorer:
    """Per-example verdicts of each layer set: a set is one per-layer λ row (λ on it, 0 on the
    other layers) of one λ-batched call, log-likelihood picks or generated answers graded."""
    from ..engine.generate import generate
    from ..engine.loglik import score_choices_lams
    from ..steer import relative_norms
    from .lambda_sweep import decoding_kwargs, make_prompts

    norms = relative_norms(model, vectors, None, None) if opts.relative else None
    prompts = make_prompts(task, model, exs, opts) if scoring == "generate" else []

    def score(sets: list[tuple[int, ...]]) -> np.ndarray:
        rows = [tuple(lam if k in s else 0.0 for k in vectors.layers) for s in sets]
        if scoring == "generate":
            kw = decoding_kwargs(task, opts)
            outs = generate(model, prompts, vectors=vectors, lams=rows, reference_norms=norms, **kw)
            return np.array(
                [[task.is_correct(t, ex) for t in row] for row, ex in zip(outs, exs, strict=True)],
                dtype=bool,
            ).reshape(len(exs), len(sets))
        kw = dict(relative=opts.relative, reference_norms=norms, batch_size=opts.batch_size)
        kw.update(cache=opts.cache, progress=opts.progress, op=opts.op, **(choice_options or {}))
        res = score_choices_lams(model, task, exs, vectors, rows, **kw)
        return np.array([r.correct for r in res], dtype=bool).T

    return score


def search_layers(
    model: Any,
    vectors: SteeringVectors,
    task: Task,
    examples: Sequence[Example],
    lam: float,
    *,
    strategy: Strategy = "greedy-forward",
    max_layers: int | None = None,
    scoring: Literal["loglik", "generate"] = "loglik",
    choice_options: dict[str, Any] | None = None,
    options: Options | None = None,
    **overrides: Unpack[OptionFields],
) -> LayerSearch:
    """Search the subsets of ``vectors.layers`` steered at ``lam`` (see the module docstring).

    Args:
        model: a TransformerBridge (every step is one λ-batched log-likelihood pass).
        vectors: the steering vectors whose layers are searched.
        task: the task: candidates are compared by log-likelihood picks (multiple choice) or
            by graded greedy generations (``scoring="generate"``, any task).
        examples: validation items — selection happens here, so never the test split.
        lam: the λ on every layer of a candidate set (relative with ``options.relative``).
        strategy: "greedy-forward" (default), "single" or "leave-one-out".
        max_layers: greedy's largest set (default: every layer).
        scoring: "loglik" (default) or "generate" (prompted as ``options`` say: few-shot,
            zero-shot, max_new_tokens); either way a step is one λ-batched call.
        choice_options: ``length_normalize`` / ``target`` for the choice scorer.
        options: the shared :class:`~lens_steer.Options` (relative, op, positions, batch_size,
            cache, prompting, decoding); keywords of the same names override it.

    Returns:
        A :class:`LayerSearch`: ``.steps`` (each set's accuracy and CI), ``.best``, ``.table``;
        greedy: ``.rounds`` (every candidate of every round) and ``.stopped`` (why it ended).

    Raises:
        InputError: an unknown strategy; ``op="clamp"`` (λ = 0 outside a set would clamp those
            layers to 0, not leave them alone); a non-positive ``max_layers``.
        ValueError: an unknown scoring, loglik on a task without options, no examples.
    """
    opts = Options.build(options, overrides, "search_layers")
    exs = check_examples(examples)
    check_scoring(scoring, exs, opts.positions)
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}: choose one of {STRATEGIES}")
    if opts.op == "clamp":
        raise InputError(
            "search_layers needs λ = 0 to leave a layer alone: use op 'add' or 'ablate'"
        )
    layers = list(vectors.layers)
    k = len(layers) if max_layers is None else int(max_layers)
    if k < 1:
        raise InputError(f"max_layers must be ≥ 1, got {max_layers}")
    score = _scorer(model, vectors, task, exs, float(lam), opts, scoring, choice_options)
    rounds: list[GreedyRound] = []
    if strategy == "greedy-forward":
        steps, rounds = greedy_forward(score, layers, k)
    else:
        full = tuple(layers)
        sets = [(x,) for x in layers] if strategy == "single" else [
            tuple(y for y in layers if y != x) for x in layers
        ]  # fmt: skip
        sets = [(), *sets] if strategy == "single" else [full, *sets]
        correct = score(sets)
        steps = [_step(s, correct[:, i]) for i, s in enumerate(sets)]
    best = max(steps, key=lambda s: (s.accuracy, -len(s.layers))).layers
    return LayerSearch(strategy, float(lam), tuple(steps), best, tuple(rounds))
