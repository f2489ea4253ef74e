"""Shared machinery of λ sweeps (tuning, ITS, evaluation): grids, generation columns, choice picks.

A *grid entry* is either a scalar λ (a float) or a per-layer λ (a tuple of floats, one per steered
layer in ``vectors.layers`` order). Scalar entries are λ-batched: one ``generate`` call with one λ
per batch row covers all of them. A per-layer entry cannot ride in a λ-batch (per-row λ is one
scalar per row), so it gets its own call on the vectors scaled layer by layer — λ_l·v_l at λ = 1,
which is exactly what ``steer(model, vectors, lam=per_layer)`` adds, ``relative=True`` included
(the reference norm multiplies each layer's λ either way) — leaving the position bookkeeping of
every prompt to the generation engine.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..errors import InputError
from ..options import Options
from ..tasks.base import Example, Task
from ..vectors import SteeringVectors

GridEntry = float | tuple[float, ...]
GenerateFn = Callable[..., list[list[str]]]

SCORINGS = ("generate", "loglik")


def paper_grid() -> tuple[float, ...]:
    small = tuple(round(0.01 * i, 2) for i in range(1, 10))
    large = tuple(round(0.1 * i, 1) for i in range(1, 11))
    return small + large


PAPER_LAMBDA_GRID: tuple[float, ...] = paper_grid()


def _finite(value: Any, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {x}")
    return x


def normalize_entry(lam: Any, n_layers: int | None, what: str = "λ") -> GridEntry:
    """A float, or a tuple of finite floats with one value per steered layer."""
    if isinstance(lam, torch.Tensor):
        lam = lam.item() if lam.ndim == 0 else lam.tolist()
    if isinstance(lam, (str, bytes)):
        raise ValueError(f"{what} must be a number or a per-layer sequence, got {lam!r}")
    if isinstance(lam, Sequence):
        values = tuple(_finite(v, f"{what}[{i}]") for i, v in enumerate(lam))
        if not values:
            raise ValueError(f"{what} is an empty per-layer sequence")
        if n_layers is not None and len(values) != n_layers:
            raise ValueError(
                f"{what} has {len(values)} per-layer values but the vectors steer {n_layers} "
                "layers: give one λ per layer in vectors.layers order"
            )
        return values
    return _finite(lam, what)


def normalize_grid(grid: Any, n_layers: int | None) -> tuple[GridEntry, ...]:
    """Validate a λ grid: non-empty, finite, per-layer entries of the right length."""
    if grid is None:
        raise ValueError("the λ grid is empty (None): give at least one λ")
    if isinstance(grid, torch.Tensor):
        grid = grid.tolist()
    if isinstance(grid, (int, float)):
        raise ValueError(f"grid must be a sequence of λ values, got the single number {grid!r}")
    entries = tuple(normalize_entry(g, n_layers, f"grid[{i}]") for i, g in enumerate(grid))
    if not entries:
        raise ValueError("the λ grid is empty: give at least one λ")
    return entries


def is_scalar(entry: GridEntry) -> bool:
    return isinstance(entry, float)


def entry_json(entry: GridEntry | None) -> float | list[float] | None:
    if entry is None:
        return None
    return rnd(entry) if is_scalar(entry) else [rnd(x) for x in entry]  # type: ignore[union-attr]


def entry_str(entry: GridEntry | None) -> str:
    if entry is None:
        return "-"
    if is_scalar(entry):
        return f"{entry:g}"
    return "[" + ",".join(f"{x:g}" for x in entry) + "]"  # type: ignore[union-attr]


def rnd(x: float | None, digits: int = 6) -> float | None:
    """Round for JSON: one rule everywhere, so the same run writes the same bytes."""
    if x is None:
        return None
    y = round(float(x), digits)
    return 0.0 if y == 0 else y  # no "-0.0"


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


def default_generate() -> GenerateFn:
    try:
        from ..engine.generate import generate
    except ImportError as err:  # pragma: no cover - generate.py ships with the package
        raise ImportError(
            "lens_steer.generate is not available; pass generate_fn= to use another engine"
        ) from err
    return generate


def check_examples(examples: Sequence[Example]) -> list[Example]:
    exs = list(examples)
    if not exs:
        raise ValueError("no examples: an empty list has no accuracy")
    return exs


def check_scoring(scoring: str, examples: Sequence[Example], positions: str) -> None:
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r}: choose one of {SCORINGS}")
    if scoring == "loglik":
        bad = [ex.id for ex in examples if not ex.choices]
        if bad:
            raise ValueError(
                f"scoring='loglik' needs multiple-choice examples; {bad[0]!r} has no choices "
                "(use scoring='generate' for open-answer tasks)"
            )
        if positions != "all":
            raise ValueError(
                f"scoring='loglik' steers every position (positions='all'); {positions!r} has no "
                "meaning when options are scored by a single forward pass without generation"
            )


def make_prompts(
    task: Task, model: Any, examples: Sequence[Example], options: Options
) -> list[str]:
    """Each example's prompt in the model's chat template, prompted as ``options`` say."""
    tok = getattr(model, "tokenizer", None)
    fewshot, zero_shot = options.fewshot, options.zero_shot
    return [task.prompt(ex, tokenizer=tok, fewshot=fewshot, zero_shot=zero_shot) for ex in examples]


def decoding_kwargs(task: Task, options: Options) -> dict[str, Any]:
    """What a generation engine is called with: the decoding options and the task's stops."""
    return dict(options.decoding(), stop_sequences=tuple(task.stop_sequences))


def scale_layers(vectors: SteeringVectors, lam: tuple[float, ...]) -> SteeringVectors:
    """``vectors`` with row l multiplied by ``lam[l]``: per-layer λ folded into the directions."""
    scale = torch.tensor(lam, dtype=vectors.directions.dtype, device=vectors.directions.device)
    return vectors.replace(directions=vectors.directions * scale.reshape(-1, 1))


def generate_columns(
    generate_fn: GenerateFn,
    model: Any,
    prompts: Sequence[str],
    vectors: SteeringVectors,
    entries: Sequence[GridEntry],
    gen_kwargs: dict[str, Any],
) -> list[list[str]]:
    """``outs[i][k]``: prompt i at ``entries[k]``; scalar entries share one λ-batched call."""
    n = len(prompts)
    cols: dict[int, list[str]] = {}
    scalar = [k for k, e in enumerate(entries) if is_scalar(e)]
    unique: list[float] = []
    for k in scalar:
        if entries[k] not in unique:
            unique.append(entries[k])  # type: ignore[arg-type]
    if unique:
        outs = generate_fn(model, list(prompts), vectors=vectors, lams=unique, **gen_kwargs)
        check_shape(outs, n, len(unique))
        for k in scalar:
            j = unique.index(entries[k])  # type: ignore[arg-type]
            cols[k] = [outs[i][j] for i in range(n)]
    for k, e in enumerate(entries):
        if not is_scalar(e):
            check_per_layer_op(gen_kwargs.get("op", "add"))
            scaled = scale_layers(vectors, e)  # type: ignore[arg-type]
            outs = generate_fn(model, list(prompts), vectors=scaled, lams=[1.0], **gen_kwargs)
            check_shape(outs, n, 1)
            cols[k] = [outs[i][0] for i in range(n)]
    return [[cols[k][i] for k in range(len(entries))] for i in range(n)]


def check_shape(outs: Any, n: int, k: int) -> None:
    if len(outs) != n or any(len(row) != k for row in outs):
        shape = (len(outs), sorted({len(r) for r in outs}))
        raise RuntimeError(f"the generator returned {shape} outputs for {n} prompts × {k} columns")


def choice_columns(
    model: Any,
    task: Task,
    examples: Sequence[Example],
    vectors: SteeringVectors | None,
    entries: Sequence[GridEntry | None],
    options: Options,
    choice_options: dict[str, Any] | None,
) -> tuple[list[list[str]], list[list[bool]]]:
    """Log-likelihood picks ``[i][k]`` and their verdicts, steered at each entry (None: unsteered).

    On a TransformerBridge every entry is a row of one λ-batched pass, per-layer ones as per-layer
    rows (:func:`lens_steer.engine.loglik.score_choices_lams`); other models get ``score_choices``
    under ``steer`` once per entry. Of ``options``, relative λ, batch size, cache and progress apply.
    """
    from ..activations import residual_norms
    from ..anchors import ANCHOR_TEXTS

    opts = dict(choice_options or {})
    unknown = sorted(set(opts) - {"length_normalize", "target"})
    if unknown:
        raise ValueError(
            f"unknown choice_options {unknown}: allowed are 'length_normalize' and 'target'"
        )
    norms = None
    if options.relative and vectors is not None and any(e is not None for e in entries):
        norms = residual_norms(model, list(ANCHOR_TEXTS), vectors.layers)
    scores = (_lam_batched if hasattr(model, "original_model") else _per_entry)(
        model, task, examples, vectors, entries, options, norms, opts
    )
    picks = [[scores[e].predicted[i] for e in entries] for i in range(len(examples))]
    correct = [[bool(scores[e].correct[i]) for e in entries] for i in range(len(examples))]
    return picks, correct


def _lam_batched(model, task, exs, vectors, entries, options, norms, opts):
    from ..engine.loglik import score_choices_lams

    kw = dict(relative=options.relative, reference_norms=norms, batch_size=options.batch_size)
    kw.update(cache=options.cache, progress=options.progress, op=options.op, **opts)
    out: dict[Any, Any] = {}
    # the unsteered entry rides in the λ-batch as λ = 0, except under clamp (0 is a steering)
    plain_apart = options.op == "clamp" and None in entries
    if plain_apart:
        out[None] = score_choices_lams(model, task, exs, None, [0.0], **kw)[0]
    if any(e is not None and not is_scalar(e) for e in entries):
        check_per_layer_op(options.op)
    # per-layer entries are rows of the same pass (rows agreeing on lower blocks share them)
    in_batch = list(dict.fromkeys(e for e in entries if e is not None or not plain_apart))
    if in_batch:
        lams = [0.0 if e is None else e for e in in_batch]
        res = score_choices_lams(model, task, exs, vectors, lams, **kw)
        out.update(zip(in_batch, res, strict=True))
    return out


def check_op_settings(options: Options, entries: Sequence[Any]) -> None:
    """Refuse, before any model work, an op the options or grid cannot carry."""
    from ..steer import check_op

    check_op(options.op, options.relative)
    if any(e is not None and not is_scalar(e) for e in entries):
        check_per_layer_op(options.op)


def check_per_layer_op(op: str) -> None:
    """A per-layer λ is folded into the vectors (``scale_layers``), which only "add" reads:
    ablate and clamp use the unit direction, so the λ would be lost."""
    if op != "add":
        raise InputError(
            f"per-layer λ grid entries work with op='add' only (op={op!r} uses unit directions, "
            "so a λ folded into them would be lost): use a grid of single λ values"
        )


def _per_entry(model, task, exs, vectors, entries, options, norms, opts):
    from ..steer import steer
    from ..tasks.choices import score_choices

    out: dict[Any, Any] = {}
    for entry in dict.fromkeys(entries):
        if entry is None or vectors is None:
            out[entry] = score_choices(model, task, exs, batch_size=options.batch_size, **opts)
        else:
            rel, op = options.relative, options.op
            with steer(model, vectors, lam=entry, relative=rel, reference_norms=norms, op=op):
                out[entry] = score_choices(model, task, exs, batch_size=options.batch_size, **opts)
    return out
