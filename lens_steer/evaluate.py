"""Algorithm 3 and its controls: test-split accuracy unsteered, at λ*, with ITS, and against controls.

Conditions (each with n, accuracy + Wilson 95 % CI, and paired Δ / McNemar vs the baseline):

- ``baseline``: the unsteered model (λ = 0);
- ``steered``: λ* (``lam``: a float or a per-layer sequence);
- ``its``: the mode of the parsed answers over every λ of ``grid`` (see :mod:`lens_steer.its`);
- ``random-direction`` (control): a random unit vector per steered layer (seeded, same layers and
  λ*), and ``random-direction-its``: ITS over the same grid with those vectors;
- ``self-consistency`` (control for ITS): unsteered sampling at ``temperature`` with as many votes
  as ITS gets (``len(grid)`` unless ``n_self_consistency``), voted with the same rule.

Generation is shared: baseline, λ* and the ITS grid come from one λ-batched call (λ = 0 is the
baseline row), the random-direction conditions from a second, self-consistency from a third.
Under ``scoring="loglik"`` each condition's options are scored under ``steer`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch

from ._sweep import (
    PAPER_LAMBDA_GRID,
    GenerateFn,
    GridEntry,
    check_examples,
    check_scoring,
    check_shape,
    choice_columns,
    default_generate,
    entry_json,
    entry_str,
    generate_columns,
    make_prompts,
    normalize_entry,
    normalize_grid,
    prompt_hash,
)
from .eval_report import ConditionResult, EvalReport, Prediction, condition_result
from .its import ascending_order, vote
from .tasks.base import Example, Task
from .vectors import SteeringVectors

__all__ = ["CONTROLS", "evaluate", "random_directions"]

CONTROLS = ("random-direction", "self-consistency")


def random_directions(vectors: SteeringVectors, seed: int = 0) -> SteeringVectors:
    """Random directions on the same layers, each with the norm of the vector it replaces
    (unit norm for unit vectors); deterministic for a given ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    d = torch.randn(tuple(vectors.directions.shape), generator=gen, dtype=torch.float64)
    d = d / d.norm(dim=-1, keepdim=True)
    d = d * vectors.directions.detach().double().cpu().norm(dim=-1, keepdim=True)
    d = d.to(device=vectors.directions.device, dtype=vectors.directions.dtype)
    return vectors.replace(
        directions=d,
        explained_variance=None,
        sign_agreement=None,
        meta={"control": "random-direction", "control_seed": int(seed)},
    )


def _check_controls(controls: Any) -> tuple[str, ...]:
    if isinstance(controls, str):
        controls = (controls,)
    out = tuple(controls or ())
    bad = [c for c in out if c not in CONTROLS]
    if bad:
        raise ValueError(f"unknown control(s) {bad}: choose from {list(CONTROLS)}")
    return tuple(dict.fromkeys(out))


class _Rows:
    """Predictions for the single-output and voting conditions of one set of columns."""

    def __init__(self, task: Task, exs: list[Example], hashes: list[str | None]):
        self.task, self.exs, self.hashes = task, exs, hashes

    def single(
        self, outs: list[list[str]], k: int, ok: list[list[bool]] | None = None
    ) -> list[Prediction]:
        preds = []
        for i, ex in enumerate(self.exs):
            text = outs[i][k]
            if ok is None:  # generated text: parse and grade it
                answer, correct = self.task.parse(text, ex), self.task.is_correct(text, ex)
            else:  # a log-likelihood pick: the label is the answer
                answer, correct = text, ok[i][k]
            preds.append(Prediction(ex.id, self.hashes[i], (text,), (answer,), answer, correct))
        return preds

    def voted(self, outs: list[list[str]], cols: Sequence[int], parse: bool) -> list[Prediction]:
        preds = []
        for i, ex in enumerate(self.exs):
            texts = [outs[i][k] for k in cols]
            answers = [self.task.parse(t, ex) if parse else t for t in texts]
            v = vote(self.task, answers, ex)
            preds.append(
                Prediction(
                    ex.id,
                    self.hashes[i],
                    tuple(texts),
                    tuple(answers),
                    v.answer,
                    v.correct,
                    v.votes,
                    v.n_votes,
                )
            )
        return preds


def _prompting(loglik: bool, zero_shot: bool, fewshot: Sequence[Example] | None) -> Any:
    if loglik:
        return "score_choices default context (zero-shot)"
    if zero_shot:
        return "zero-shot"
    return "task few-shot" if fewshot is None else [ex.id for ex in fewshot]


def evaluate(
    model: Any,
    task: Task,
    examples: Sequence[Example],
    *,
    vectors: SteeringVectors | None = None,
    lam: Any = None,
    its: bool = False,
    grid: Sequence[Any] = PAPER_LAMBDA_GRID,
    controls: Sequence[str] = (),
    scoring: Literal["generate", "loglik"] = "generate",
    fewshot: Sequence[Example] | None = None,
    zero_shot: bool = False,
    positions: str = "all",
    relative: bool = False,
    max_new_tokens: int = 256,
    batch_size: int = 16,
    cache: Any = None,
    seed: int = 0,
    n_self_consistency: int | None = None,
    temperature: float = 0.7,
    generate_fn: GenerateFn | None = None,
    progress: bool = True,
    choice_options: dict[str, Any] | None = None,
) -> EvalReport:
    """Evaluate ``examples`` under every requested condition (see the module docstring).

    ``lam`` may also be a :class:`~lens_steer.tune.TuneResult` (its ``best`` is used). ``seed``
    seeds the random directions, the self-consistency sampling and the paired bootstrap.
    ``choice_options`` go to ``score_choices`` under ``scoring="loglik"``.
    """
    from .tune import TuneResult

    if isinstance(lam, TuneResult):
        lam = lam.best
    exs = check_examples(examples)
    check_scoring(scoring, exs, positions)
    ctrl = _check_controls(controls)
    n_layers = len(vectors) if vectors is not None else None
    if vectors is None and (lam is not None or its):
        raise ValueError(
            f"{'its=True' if its else 'lam'} needs steering vectors: pass vectors= "
            "(without vectors only the baseline and self-consistency can run)"
        )
    if lam is None and its is False and vectors is not None:
        raise ValueError("vectors given but neither lam nor its=True: nothing would be steered")
    lam_entry = normalize_entry(lam, n_layers, "lam") if lam is not None else None
    use_grid = its or "self-consistency" in ctrl
    entries = normalize_grid(grid, n_layers) if use_grid else ()
    if "random-direction" in ctrl and vectors is None:
        raise ValueError("the random-direction control needs vectors (and lam or its=True)")
    n_sc = len(entries) if n_self_consistency is None else int(n_self_consistency)
    if "self-consistency" in ctrl:
        if scoring == "loglik":
            raise ValueError(
                "the self-consistency control samples generations; it has no meaning under "
                "scoring='loglik'"
            )
        if n_sc < 1:
            raise ValueError(f"n_self_consistency must be >= 1, got {n_sc}")
        if not temperature > 0:
            raise ValueError(
                f"self-consistency samples: temperature must be > 0, got {temperature}"
            )

    steer_entries: list[GridEntry] = []  # λ* then the ITS grid, for the real and random vectors
    if lam_entry is not None:
        steer_entries.append(lam_entry)
    grid_cols = list(range(len(steer_entries), len(steer_entries) + (len(entries) if its else 0)))
    if its:
        steer_entries.extend(entries)
    its_order = [grid_cols[k] for k in ascending_order(entries)] if its else []
    loglik = scoring == "loglik"
    rand = random_directions(vectors, seed) if "random-direction" in ctrl else None  # type: ignore[arg-type]

    if loglik:
        hashes: list[str | None] = [None] * len(exs)
        rows = _Rows(task, exs, hashes)

        def columns(vecs: SteeringVectors | None, ents: Sequence[GridEntry | None]) -> Any:
            return choice_columns(
                model,
                task,
                exs,
                vecs,
                ents,
                relative=relative,
                batch_size=batch_size,
                choice_options=choice_options,
                cache=cache,
                progress=progress,
            )

        outs, ok = columns(vectors, [None, *steer_entries])
        routs, rok = columns(rand, steer_entries) if rand is not None else (None, None)
    else:
        gen = generate_fn or default_generate()
        prompts = make_prompts(task, model, exs, fewshot, zero_shot)
        rows = _Rows(task, exs, [prompt_hash(p) for p in prompts])
        kw = dict(
            positions=positions,
            relative=relative,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            stop_sequences=tuple(task.stop_sequences),
            cache=cache,
            progress=progress,
        )
        if vectors is None:
            outs = gen(model, prompts, **kw)
            check_shape(outs, len(exs), 1)
        else:
            outs = generate_columns(gen, model, prompts, vectors, [0.0, *steer_entries], kw)
        ok = rok = None
        routs = (
            generate_columns(gen, model, prompts, rand, steer_entries, kw)
            if rand is not None
            else None
        )
    shift = 1  # column 0 is the baseline in ``outs``

    conds: list[tuple[str, str, Any, list[Prediction], int | None]] = [
        ("baseline", "unsteered model", None, rows.single(outs, 0, ok), None)
    ]
    if lam_entry is not None:
        desc = f"steered at λ*={entry_str(lam_entry)}"
        conds.append(("steered", desc, lam_entry, rows.single(outs, shift, ok), None))
    if its:
        desc = f"ITS: mode over {len(entries)} λ"
        preds = rows.voted(outs, [c + shift for c in its_order], parse=not loglik)
        conds.append(("its", desc, entries, preds, len(entries)))
    if routs is not None:
        if lam_entry is not None:
            desc = f"random unit directions (seed {seed}) at λ*={entry_str(lam_entry)}"
            conds.append(("random-direction", desc, lam_entry, rows.single(routs, 0, rok), None))
        if its:
            desc = f"ITS over {len(entries)} λ with random unit directions (seed {seed})"
            preds = rows.voted(routs, its_order, parse=not loglik)
            conds.append(("random-direction-its", desc, entries, preds, len(entries)))
    if "self-consistency" in ctrl:
        samples = gen(model, prompts, **kw, temperature=temperature, n_samples=n_sc, seed=seed)
        check_shape(samples, len(exs), n_sc)
        desc = f"unsteered, {n_sc} samples at T={temperature:g}, majority vote"
        preds = rows.voted(samples, list(range(n_sc)), parse=True)
        conds.append(("self-consistency", desc, None, preds, n_sc))

    base = [p.correct for p in conds[0][3]]
    results: dict[str, ConditionResult] = {}
    for name, desc, lam_value, preds, n_votes in conds:
        ref = None if name == "baseline" else base
        results[name] = condition_result(name, desc, lam_value, preds, ref, n_votes, seed)

    config = {
        "lam": entry_json(lam_entry),
        "its": bool(its),
        "grid": [entry_json(e) for e in entries] if use_grid else None,
        "controls": list(ctrl),
        "scoring": scoring,
        "positions": positions,
        "relative": bool(relative),
        "max_new_tokens": None if loglik else int(max_new_tokens),
        "prompting": _prompting(loglik, zero_shot, fewshot),
        "temperature": float(temperature) if "self-consistency" in ctrl else None,
        "n_self_consistency": n_sc if "self-consistency" in ctrl else None,
        "seed": int(seed),
        "choice_options": dict(sorted((choice_options or {}).items())) if loglik else None,
        "vectors": None
        if vectors is None
        else {
            "layers": list(vectors.layers),
            "d_model": vectors.d_model,
            "meta": {k: vectors.meta[k] for k in sorted(vectors.meta)},
        },
    }
    return EvalReport(
        task=task.name,
        scoring=scoring,
        n=len(exs),
        example_ids=tuple(ex.id for ex in exs),
        conditions=results,
        config=config,
    )
