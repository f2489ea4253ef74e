"""Algorithm 3 and its controls: test-split accuracy unsteered, at λ*, with ITS, and against controls.

Conditions (each with n, accuracy + Wilson 95 % CI, and paired Δ / McNemar vs the baseline):

- ``baseline``: the unsteered model (λ = 0);
- ``steered``: λ* (``lam``: a float or a per-layer sequence);
- ``its``: the mode of the parsed answers over every λ of ``grid`` (see :mod:`lens_steer.experiment.its`);
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch

from ..options import OptionFields, Options
from ..tasks.base import Example, Task
from ..vectors import SteeringVectors
from .conditions import Condition, Source, Table, plan_conditions, score_conditions
from .lambda_sweep import (
    PAPER_LAMBDA_GRID,
    GenerateFn,
    GridEntry,
    check_examples,
    check_op_settings,
    check_scoring,
    check_shape,
    choice_columns,
    decoding_kwargs,
    default_generate,
    entry_json,
    generate_columns,
    make_prompts,
    normalize_entry,
    normalize_grid,
    prompt_hash,
)
from .report import EvalReport

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["CONTROLS", "evaluate", "random_directions"]

CONTROLS = ("random-direction", "self-consistency")


def random_directions(vectors: SteeringVectors, seed: int = 0) -> SteeringVectors:
    """Random directions on the same layers, each with the norm of the vector it replaces
    (unit norm for unit vectors); deterministic for a given ``seed``.

    Args:
        vectors: the vectors to replace (the random-direction control).
        seed: seeds one Gaussian draw for all layers at once, so a layer's direction also
            depends on how many layers and which width ``vectors`` has.

    Returns:
        :class:`~lens_steer.SteeringVectors` on the same layers, device and dtype, without
        explained variance or sign agreement, the original ``meta`` plus ``control`` and
        ``control_seed``.
    """
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


@dataclass(frozen=True)
class _Settings:
    """How :func:`evaluate` runs and records its conditions: the shared :class:`Options` and the
    evaluate-only settings. The engines and the config record each convert what they need, so
    that conversion stays in one place."""

    scoring: str
    options: Options
    seed: int
    temperature: float
    generate_fn: GenerateFn | None
    choice_options: dict[str, Any] | None


@dataclass(frozen=True)
class _Spec:
    """What :func:`evaluate` runs, after :func:`_validate`: λ* and the grid normalised, the
    controls deduplicated, the number of self-consistency votes settled."""

    exs: list[Example]
    vectors: SteeringVectors | None
    lam: GridEntry | None
    its: bool
    grid: tuple[GridEntry, ...] | None  # None unless ITS or self-consistency reads it
    controls: tuple[str, ...]
    n_sc: int
    settings: _Settings

    @property
    def its_grid(self) -> tuple[GridEntry, ...] | None:
        """The grid ITS votes over; None when ITS does not run."""
        return self.grid if self.its else None


def _validate(
    examples: Sequence[Example],
    vectors: SteeringVectors | None,
    lam: Any,
    its: bool,
    grid: Sequence[Any],
    controls: Sequence[str],
    n_self_consistency: int | None,
    settings: _Settings,
) -> _Spec:
    """Check every argument before anything runs, so a bad call fails before the first generation;
    the checks run in a fixed order, so a call with several faults always names the same one."""
    from .tune import TuneResult

    if isinstance(lam, TuneResult):
        lam = lam.best
    exs = check_examples(examples)
    check_scoring(settings.scoring, exs, settings.options.positions)
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
        _check_self_consistency(settings, n_sc)
    check_op_settings(settings.options, [lam_entry, *entries])
    grid_used = entries if use_grid else None
    return _Spec(exs, vectors, lam_entry, its, grid_used, ctrl, n_sc, settings)


def _check_self_consistency(settings: _Settings, n_sc: int) -> None:
    if settings.scoring == "loglik":
        raise ValueError(
            "the self-consistency control samples generations; it has no meaning under "
            "scoring='loglik'"
        )
    if n_sc < 1:
        raise ValueError(f"n_self_consistency must be >= 1, got {n_sc}")
    if not settings.temperature > 0:
        raise ValueError(
            f"self-consistency samples: temperature must be > 0, got {settings.temperature}"
        )


def _run(
    model: Any, task: Task, spec: _Spec, steer: Sequence[GridEntry]
) -> tuple[dict[Source, Table], list[str | None]]:
    """Every table the conditions read, and each example's prompt hash (None under loglik, which
    scores the task's default context rather than a prompt built here)."""
    rand = None
    if "random-direction" in spec.controls:
        rand = random_directions(spec.vectors, spec.settings.seed)  # type: ignore[arg-type]
    if spec.settings.scoring == "loglik":
        return _run_loglik(model, task, spec, steer, rand), [None] * len(spec.exs)
    return _run_generate(model, task, spec, steer, rand)


def _run_loglik(
    model: Any,
    task: Task,
    spec: _Spec,
    steer: Sequence[GridEntry],
    rand: SteeringVectors | None,
) -> dict[Source, Table]:
    s = spec.settings

    def columns(vecs: SteeringVectors | None, ents: Sequence[GridEntry | None]) -> Table:
        return choice_columns(model, task, spec.exs, vecs, ents, s.options, s.choice_options)

    tables: dict[Source, Table] = {"real": columns(spec.vectors, [None, *steer])}
    if rand is not None:
        tables["random"] = columns(rand, steer)
    return tables


def _run_generate(
    model: Any,
    task: Task,
    spec: _Spec,
    steer: Sequence[GridEntry],
    rand: SteeringVectors | None,
) -> tuple[dict[Source, Table], list[str | None]]:
    """Three calls at most, in this order: the real vectors (λ = 0 and the steered entries in one
    λ-batch), the random directions, then the self-consistency samples."""
    s, n = spec.settings, len(spec.exs)
    gen = s.generate_fn or default_generate()
    prompts = make_prompts(task, model, spec.exs, s.options)
    kw = decoding_kwargs(task, s.options)
    if spec.vectors is None:
        outs = gen(model, prompts, **kw)
        check_shape(outs, n, 1)
    elif s.options.op == "clamp":  # clamp at λ = 0 is a steering: the baseline runs apart
        plain = gen(model, prompts, **kw)
        check_shape(plain, n, 1)
        steered = generate_columns(gen, model, prompts, spec.vectors, list(steer), kw)
        outs = [[p[0], *row] for p, row in zip(plain, steered, strict=True)]
    else:
        outs = generate_columns(gen, model, prompts, spec.vectors, [0.0, *steer], kw)
    tables: dict[Source, Table] = {"real": (outs, None)}
    if rand is not None:
        tables["random"] = (generate_columns(gen, model, prompts, rand, steer, kw), None)
    if "self-consistency" in spec.controls:
        samples = gen(
            model, prompts, **kw, temperature=s.temperature, n_samples=spec.n_sc, seed=s.seed
        )
        check_shape(samples, n, spec.n_sc)
        tables["samples"] = (samples, None)
    return tables, [prompt_hash(p) for p in prompts]


def _prompting(loglik: bool, zero_shot: bool, fewshot: Sequence[Example] | None) -> Any:
    if loglik:
        return "score_choices default context (zero-shot)"
    if zero_shot:
        return "zero-shot"
    return "task few-shot" if fewshot is None else [ex.id for ex in fewshot]


def _config(spec: _Spec) -> dict[str, Any]:
    """The report's config: every setting that shapes the numbers, as JSON, with None for those
    that had no effect (max_new_tokens under loglik, temperature without self-consistency)."""
    s, o, vectors = spec.settings, spec.settings.options, spec.vectors
    loglik, sc = s.scoring == "loglik", "self-consistency" in spec.controls
    return {
        "lam": entry_json(spec.lam),
        "its": bool(spec.its),
        "grid": None if spec.grid is None else [entry_json(e) for e in spec.grid],
        "controls": list(spec.controls),
        "scoring": s.scoring,
        "positions": o.positions,
        "relative": bool(o.relative),
        "op": o.op,
        "max_new_tokens": None if loglik else int(o.max_new_tokens),
        "prompting": _prompting(loglik, o.zero_shot, o.fewshot),
        "temperature": float(s.temperature) if sc else None,
        "n_self_consistency": spec.n_sc if sc else None,
        "seed": int(s.seed),
        "choice_options": dict(sorted((s.choice_options or {}).items())) if loglik else None,
        "vectors": None
        if vectors is None
        else {
            "layers": list(vectors.layers),
            "d_model": vectors.d_model,
            "meta": {k: vectors.meta[k] for k in sorted(vectors.meta)},
        },
    }


def _report(
    task: Task,
    spec: _Spec,
    conds: Sequence[Condition],
    tables: dict[Source, Table],
    hashes: list[str | None],
) -> EvalReport:
    """Score the conditions (paired against the baseline) and record the config beside them."""
    return EvalReport(
        task=task.name,
        scoring=spec.settings.scoring,
        n=len(spec.exs),
        example_ids=tuple(ex.id for ex in spec.exs),
        conditions=score_conditions(task, spec.exs, hashes, conds, tables, spec.settings.seed),
        config=_config(spec),
    )


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
    seed: int = 0,
    n_self_consistency: int | None = None,
    temperature: float = 0.7,
    options: Options | None = None,
    generate_fn: GenerateFn | None = None,
    choice_options: dict[str, Any] | None = None,
    **overrides: Unpack[OptionFields],
) -> EvalReport:
    """Evaluate ``examples`` under every requested condition (see the module docstring).

    Args:
        model: the model (a TransformerLens HookedTransformer or TransformerBridge).
        task: the task that builds the prompts and parses and grades the answers.
        examples: the test items; every condition answers all of them, in this order.
        vectors: steering vectors; every steered condition and the random directions need them.
        lam: λ*, a float or a per-layer sequence, or a TuneResult (its ``best`` is used).
        its: also run ITS, the majority vote over every λ of ``grid``.
        grid: ITS's λ grid; its length is also self-consistency's default number of votes.
        controls: any of :data:`CONTROLS`.
        scoring: "generate" parses generated text; "loglik" picks the likeliest option.
        seed: seeds the random directions, the self-consistency sampling and the paired bootstrap.
        n_self_consistency: self-consistency votes; None for as many as ITS gets (``len(grid)``).
        temperature: self-consistency's sampling temperature.
        options: the shared :class:`~lens_steer.options.Options` (few-shot, zero-shot,
            positions, relative, max_new_tokens, batch_size, cache, progress); keywords of the
            same names override it.
        generate_fn: the generation engine; None for :func:`lens_steer.generate`.
        choice_options: ``length_normalize`` / ``target`` for ``score_choices`` under "loglik".

    Returns:
        An :class:`EvalReport` with one :class:`ConditionResult` per condition, baseline first.
    """
    opts = Options.build(options, overrides, "evaluate")
    settings = _Settings(scoring, opts, seed, temperature, generate_fn, choice_options)
    spec = _validate(examples, vectors, lam, its, grid, controls, n_self_consistency, settings)
    steer, conds = plan_conditions(
        spec.lam, spec.its_grid, spec.controls, seed=seed, n_sc=spec.n_sc, temperature=temperature
    )
    tables, hashes = _run(model, task, spec, steer)
    return _report(task, spec, conds, tables, hashes)
