"""λ-batched log-likelihood scoring of multiple-choice options: a whole λ sweep in one pass.

:func:`lens_steer.score_choices` scores every option at one steering strength (whatever hooks are
on the model). A sweep over the paper's 19 λ would call it 19 times, each a full forward of every
(example, option) with logits over the whole vocabulary at every position. :func:`score_choices_lams`
instead holds one λ per batch row (the generation engine's per-row steering, :mod:`lens_steer.engine.decode`),
groups the rows of one example so the question context is computed once per λ and only the
option tokens once per (option, λ) (:mod:`lens_steer.engine.prefill`), and computes logits only at
the option positions. Scores are cached by content like generations, so a resumed run redoes
nothing it already scored.

The arithmetic is :func:`lens_steer.steer`'s with ``positions="all"``; the tests check the
scores against ``score_choices`` under ``steer`` at every λ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from ..activations import model_device, pad_id
from ..steer import check_op
from ..tasks.base import Example, Task
from ..tasks.choices import ChoiceScores, OptionRow, check_options, finalise, option_rows
from ..vectors import SteeringVectors
from . import decode as decoder
from .plan import (
    pick_engine,
    steer_spec,
    steering_engine,
    steering_key_fields,
    unsteered,
    usable_cache,
)
from .store import GenerationCache, content_key, model_fingerprint

__all__ = ["score_choices_lams"]


def _row_key(base: dict[str, Any], row: OptionRow, steering: dict[str, Any] | None) -> str:
    return content_key(dict(base, ids=row.ids, n_cont=row.n_cont, steering=steering))


def _batches(
    todo: Sequence[tuple[int, int]], rows: Sequence[OptionRow], batch_size: int
) -> list[list[tuple[int, int]]]:
    """Rows (option, λ column) grouped by example, cut into batches of whole λ columns.

    One example per batch keeps the question context shared by every row, and the batches of an
    example depend only on which of its λ columns are still to do, so a resumed run re-forms the
    same batches (and gets the same floats) as an uninterrupted one.
    """
    by_example: dict[int, dict[int, list[tuple[int, int]]]] = {}
    for r, k in todo:
        by_example.setdefault(rows[r].example, {}).setdefault(k, []).append((r, k))
    out: list[list[tuple[int, int]]] = []
    for cols in by_example.values():
        batch: list[tuple[int, int]] = []
        for k in sorted(cols):
            if batch and len(batch) + len(cols[k]) > batch_size:
                out.append(batch)
                batch = []
            batch.extend(cols[k])
        if batch:
            out.append(batch)
    return out


def score_choices_lams(
    model: Any,
    task: Task,
    examples: Sequence[Example],
    vectors: SteeringVectors | None,
    lams: Sequence[float | tuple[float, ...]],
    *,
    relative: bool = False,
    reference_norms: Float[Tensor, " layer"] | None = None,
    length_normalize: bool | Literal["chars", "tokens"] = False,
    target: Literal["text", "label"] = "text",
    batch_size: int = 64,
    cache: GenerationCache | str | Path | None = None,
    progress: bool = True,
    engine: str = "auto",
    op: str = "add",
) -> list[ChoiceScores]:
    """Score the options of ``examples`` steered at each λ of ``lams``; one result per λ.

    Args:
        model: a TransformerBridge with a tokenizer (:func:`lens_steer.load_model`).
        task: the multiple-choice task whose options are scored.
        examples: items with ``choices``.
        vectors: steering vectors; None (or λ = 0) is the unsteered model.
        lams: the λ values; each becomes one result. An entry may be a tuple with one λ per
            steered layer (``vectors.layers`` order): a row steering a subset of layers, as a
            layer search scores its candidate sets in one pass.
        relative: scale λ by the model's mean residual norm per layer, as ``steer`` does.
        reference_norms: those norms, when already measured.
        length_normalize: divide each option's log-likelihood by its length ("chars",
            "tokens"; True means "chars").
        target: score the option's text or its label.
        batch_size: (option, λ) rows per forward pass.
        cache: a :class:`~lens_steer.GenerationCache` or its path; cached rows are not
            recomputed.
        progress: show a progress bar.
        engine: as for :func:`lens_steer.generate`.
        op: "add", "ablate" or "clamp", as for :func:`lens_steer.steer`; every λ is a row of the
            same forward pass for each (with "clamp", λ = 0 is a steering, not the plain model).

    Returns:
        One :class:`~lens_steer.tasks.choices.ChoiceScores` per λ, in ``lams`` order. The context
        is the zero-shot one of :func:`lens_steer.tasks.choice_context`.
    """
    examples = check_options(target, length_normalize, batch_size, examples)
    lams = [tuple(float(v) for v in x) if isinstance(x, (tuple, list)) else float(x) for x in lams]
    if not lams:
        raise ValueError("lams is empty: give at least one λ")
    tok = getattr(model, "tokenizer", None)
    if tok is None:
        raise ValueError("score_choices_lams needs a model with a tokenizer (ls.load_model)")
    check_op(op, relative)
    cache = usable_cache(cache, model)
    rows = option_rows(task, examples, tok, None, target, getattr(model.cfg, "n_ctx", None))
    steered, engine = steering_engine(pick_engine(model, engine), engine, vectors, lams, op, model)
    key_fields = None
    if cache is not None:
        steering = (vectors if steered else None, relative, reference_norms, op)
        key_fields = _key_fields(model, *steering)
    sums, keys, todo = _lookup(cache, rows, lams, key_fields)
    if todo:  # all cached: no model work at all, not even the relative norms
        spec = None
        if steered:
            spec = steer_spec(model, vectors, "all", relative, reference_norms, None, op)
        # scoring never decodes: the CUDA-graph engine's prefill is the plain decoder's
        backend = decoder.make_backend(model, "plain" if engine == "graph" else engine)
        place = (model_device(model), pad_id(model), next(model.parameters()).dtype)
        bar = tqdm(total=len(todo), desc="loglik", unit="row", disable=not progress, leave=False)
        with torch.inference_mode():
            for batch in _batches(todo, rows, batch_size):
                done = _score_batch(backend, place, spec, rows, lams, batch)
                _record(done, rows, sums, keys, lams, cache)
                bar.update(len(batch))
        bar.close()
    return [finalise(examples, rows, s, length_normalize, target) for s in sums]


Cell = tuple[int, int]  # (option row, λ index)
Lam = float | tuple[float, ...]  # one λ, or one per steered layer


def _key_fields(
    model: Any, vectors: SteeringVectors | None, relative: bool, norms: Tensor | None, op: str
) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """What every cache key holds (model, dtype), when steered what its steering holds, and the
    op (which decides whether λ = 0 is unsteered)."""
    param = next(model.parameters())
    base = dict(kind="loglik", model=model_fingerprint(model), dtype=str(param.dtype))
    steer = None
    if vectors is not None:
        steer = steering_key_fields(vectors, "all", relative, norms, None, op)
    return base, steer, op


def _lookup(
    cache: GenerationCache | None,
    rows: Sequence[OptionRow],
    lams: list[Lam],
    key_fields: tuple[dict[str, Any], dict[str, Any] | None, str] | None,
) -> tuple[list[dict[Cell, float]], dict[Cell, str], list[Cell]]:
    """Per-λ sums already cached (keyed by (example, option)), every cell's cache key, and the
    cells still to score."""
    sums: list[dict[Cell, float]] = [{} for _ in lams]
    todo = [(r, k) for k in range(len(lams)) for r in range(len(rows))]
    if cache is None or key_fields is None:
        return sums, {}, todo
    base, steer, op = key_fields
    keys: dict[Cell, str] = {}
    for r, k in todo:
        steered = steer is not None and not unsteered(lams[k], op)
        steering = dict(steer, lam=lams[k]) if steered else None
        keys[(r, k)] = _row_key(base, rows[r], steering)
    hits = cache.get_many(keys.values())
    for (r, k), key in keys.items():
        if key in hits:
            sums[k][(rows[r].example, rows[r].option)] = float(hits[key])
    return sums, keys, [t for t in todo if keys[t] not in hits]


def _score_batch(
    backend: Any,
    place: tuple[torch.device, int, torch.dtype],
    spec: Any,
    rows: Sequence[OptionRow],
    lams: list[Lam],
    batch: list[Cell],
) -> list[tuple[Cell, float]]:
    """Each cell's summed log-probability of its option tokens, in one steered forward pass;
    ``place`` is the model's (device, pad id, dtype)."""
    device, pad, dtype = place
    backend.before_batch()
    batch_lams = [lams[k] for _, k in batch]
    adder = decoder.Adder(spec, batch_lams, device, dtype) if spec is not None else None
    width = max(rows[r].n_cont for r, _ in batch) + 1
    flags = torch.zeros(len(batch), width, dtype=torch.bool)
    targets = []
    for b, (r, _) in enumerate(batch):  # logits at t predict token t + 1
        flags[b, width - 1 - rows[r].n_cont : width - 1] = True
        targets.extend(rows[r].ids[-rows[r].n_cont :])
    seqs = [rows[r].ids for r, _ in batch]
    with backend.attach(adder):
        logits = _prefill(backend, seqs, batch_lams, adder, pad, device, flags.to(device))
    logp: Float[Tensor, "option_token vocab"] = torch.log_softmax(logits.float(), dim=-1)
    picked = logp.gather(-1, torch.tensor(targets, device=logp.device)[:, None])[:, 0]
    sizes = [rows[r].n_cont for r, _ in batch]
    return [
        (cell, float(part.sum())) for cell, part in zip(batch, picked.split(sizes), strict=True)
    ]


def _record(
    done: list[tuple[Cell, float]],
    rows: Sequence[OptionRow],
    sums: list[dict[Cell, float]],
    keys: dict[Cell, str],
    lams: list[Lam],
    cache: GenerationCache | None,
) -> None:
    """Add a batch's sums to ``sums`` and write them to the cache in one transaction."""
    writes = {}
    for (r, k), value in done:
        sums[k][(rows[r].example, rows[r].option)] = value
        if cache is not None:
            writes[keys[(r, k)]] = (repr(value), {"lam": lams[k], "kind": "loglik"})
    if cache is not None:
        cache.put_many(writes)


def _prefill(backend, seqs, lams, adder, pad, device, flags) -> torch.Tensor:
    """Logits at the flagged positions; rows of one λ compute their common context once, and
    rows steering different layer subsets share the blocks below where they differ
    (:mod:`.trunk`)."""
    from .prefill import prefill
    from .trunk import trunk_logits

    if adder is not None:
        n_conts = [int(n) for n in flags.sum(-1).tolist()]
        got = trunk_logits(backend, [list(s) for s in seqs], n_conts, adder, pad, device)
        if got is not None:
            return got

    width = flags.shape[1]
    pre = prefill(backend, seqs, lams, adder, pad, device, capacity=0, keep=flags, tail=width)
    return pre.logits
