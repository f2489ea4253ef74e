"""Batched, λ-batched, cached generation with steering: :func:`generate`.

``outs = generate(model, prompts, vectors=v, lams=[λ0, λ1, ...])`` returns ``outs[i][k]``, prompt
``i`` at ``lams[k]``. Every (prompt, λ) pair is one batch row carrying its own λ, so a whole λ grid
runs inside the same batches — never one pass per λ. Without ``lams`` (or without vectors) there is
one unsteered column; with ``temperature > 0`` and ``n_samples = s`` each λ gets ``s`` sampled
columns (``outs[i][k * s + j]``: λ ``k``, sample ``j``), seeded per (prompt, λ, sample) so a sample
does not depend on the batch it landed in. Greedy output equals transformers' own ``generate`` on
the same model, and steered output equals ``with ls.steer(model, v, lam=λ): generate(model, ...)``.

Inside an open ``ls.steer`` block (or with any other hook on the model) generation runs through the
bridge's hook points, so those hooks apply; the persistent ``cache`` is then not used, since it
cannot see what the hooks do. Otherwise the fast path runs the bridge's HF modules directly (see
:mod:`lens_steer.engine.decode`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torch import Tensor
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from typing_extensions import Unpack

from ..activations import chunks, encode, model_device, pad_id
from ..options import DECODING_FIELDS, POSITIONS, OptionFields, Options
from ..steer import check_fits, check_op
from ..vectors import SteeringVectors
from . import decode as decoder
from . import graph as graph_decoder
from .plan import (
    ENGINES,
    eos_ids,
    pick_engine,
    steer_spec,
    steering_engine,
    steering_key_fields,
    unsteered,
    usable_cache,
)
from .store import GenerationCache, content_key, model_fingerprint
from .types import Row, Settings, SteerSpec

__all__ = ["generate", "decoder_stats", "free_decoder_memory", "ENGINES"]


Lam = float | tuple[float, ...]  # one λ for every steered layer, or one per layer


def _check_lams(lams: Any, n_layers: int) -> list[Lam]:
    """Scalars, or per-layer rows (a list / tuple with one finite λ per steered layer: a layer
    search's candidate sets, λ on the set and 0 elsewhere)."""
    if isinstance(lams, Tensor):
        if lams.ndim > 2:
            raise ValueError(
                f"lams as a tensor is 1-D (λ) or 2-D (per-layer rows), got {lams.ndim}-D"
            )
        lams = lams.tolist() if lams.ndim == 2 else lams.reshape(-1).tolist()
    if isinstance(lams, (int, float)):
        lams = [lams]
    out: list[Lam] = []
    for i, lam in enumerate(lams):
        if isinstance(lam, (Sequence, Tensor)) and not isinstance(lam, str):
            row = tuple(float(x) for x in (lam.tolist() if isinstance(lam, Tensor) else lam))
            if len(row) != n_layers or not all(math.isfinite(x) for x in row):
                raise ValueError(
                    f"lams[{i}] is a per-layer λ row of {len(row)} values; it needs one finite "
                    f"λ per steered layer ({n_layers})"
                )
            out.append(row)
            continue
        x = float(lam)
        if not math.isfinite(x):
            raise ValueError(f"lams[{i}] must be finite, got {x}")
        out.append(x)
    if not out:
        raise ValueError("lams is empty")
    return out


def _lam_key(lam: Lam | None) -> float | list[float]:
    """A column's λ as a cache key and record holds it (a scalar exactly as before rows)."""
    return list(lam) if isinstance(lam, tuple) else float(lam or 0.0)


def _check_decoding(opts: Options, n_samples: int, temperature: float, min_new_tokens: int) -> None:
    if opts.positions not in POSITIONS:
        raise ValueError(f"unknown positions {opts.positions!r}: choose one of {POSITIONS}")
    if opts.max_new_tokens < 1 or opts.batch_size < 1 or n_samples < 1 or min_new_tokens < 0:
        raise ValueError("max_new_tokens, batch_size and n_samples must be ≥ 1")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be ≥ 0, got {temperature}")
    if n_samples > 1 and temperature == 0:
        raise ValueError("n_samples > 1 needs temperature > 0 (greedy samples are identical)")


def _check_stops(stop_sequences: Sequence[str] | str) -> tuple[str, ...]:
    stops = (stop_sequences,) if isinstance(stop_sequences, str) else tuple(stop_sequences)
    if any(not s for s in stops):
        raise ValueError("stop sequences must be non-empty strings")
    return stops


def _column_lams(model: Any, vectors: SteeringVectors | None, lams: Any) -> list[Lam | None]:
    """One λ per output column; ``[None]`` for a single unsteered column."""
    if lams is not None and vectors is None:
        raise ValueError("lams given without vectors: there is nothing to scale")
    if vectors is None:
        return [None]
    check_fits(model, vectors)
    if lams is None:
        warnings.warn("vectors given without lams: generating one unsteered column", stacklevel=3)
        return [None]
    return _check_lams(lams, len(vectors))


def generate(
    model: Any,
    prompts: Sequence[str],
    *,
    vectors: SteeringVectors | None = None,
    lams: Sequence[float] | float | Tensor | None = None,
    stop_sequences: Sequence[str] | str = (),
    temperature: float = 0.0,
    n_samples: int = 1,
    seed: int = 0,
    min_new_tokens: int = 0,
    reference_norms: Tensor | None = None,
    norm_texts: Sequence[str] | None = None,
    engine: str = "auto",
    options: Options | None = None,
    **overrides: Unpack[OptionFields],
) -> list[list[str]]:
    """Generate for every prompt at every λ (and sample); ``outs[i][k]`` is a string.

    One λ-batched pass decodes a whole λ sweep: each batch row carries its own λ, so a sweep of
    k values costs one generation over k × prompts rows, not k generations.

    Args:
        model: a TransformerBridge (fast paths) or any model ``steer`` accepts (hook path).
        prompts: rendered prompt strings (a chat template's BOS is not doubled).
        vectors: steering vectors; None for the unsteered model.
        lams: one λ per output column (needs ``vectors``): a number, or a row with one λ per
            steered layer (``vectors.layers`` order; a layer search's candidate sets). None with
            vectors: one unsteered column.
        stop_sequences: a row ends at the first of these (its text is cut before it), at EOS, or
            after ``max_new_tokens``.
        temperature: 0 for greedy; above 0 samples, seeded per row by ``seed``.
        n_samples: columns per λ (needs ``temperature > 0``).
        seed: the sampling seed.
        min_new_tokens: EOS is suppressed until this many tokens (like transformers).
        reference_norms: the per-layer mean residual norms a relative λ scales by; None measures
            them on ``norm_texts`` or the built-in anchor texts, as :func:`lens_steer.steer` does.
        norm_texts: texts to measure those norms on.
        engine: "auto" (the static decoder with CUDA graphs on a GPU, the plain fast path on CPU,
            the hook path when hooks are on the model), "graph", "plain" or "hooks"; all give the
            same tokens.
        options: the shared :class:`~lens_steer.options.Options` (positions, relative, op,
            max_new_tokens, batch_size, cache, progress); keywords of the same names override it.
            ``op`` ("add", "ablate", "clamp", as in :func:`lens_steer.steer`) keeps every
            column's λ a row of the same batch; with "clamp", λ = 0 is a steering (the component
            set to 0), not the plain model; the CUDA-graph decoder adds only, so other ops
            decode with "plain" on a GPU.
            The cache is read first; only misses are decoded, each finished batch written in one
            transaction.

    Returns:
        ``outs[i][k]``: prompt i's text in column k (λ-major, then sample).
    """
    if isinstance(prompts, str):
        raise TypeError("prompts must be a sequence of strings, got a single string")
    opts = Options.build(options, overrides, "generate", DECODING_FIELDS)
    prompts = list(prompts)
    _check_decoding(opts, n_samples, temperature, min_new_tokens)
    stops = _check_stops(stop_sequences)
    col_lams = _column_lams(model, vectors, lams)
    op = opts.op
    check_op(op, opts.relative)
    requested, engine = engine, pick_engine(model, engine)
    if not prompts:
        return []
    cache = usable_cache(opts.cache, model)
    if cache is None and opts.cache is not None:
        warnings.warn("hooks are on the model: the generation cache is bypassed", stacklevel=2)
    settings = Settings(
        max_new_tokens=int(opts.max_new_tokens),
        min_new_tokens=int(min_new_tokens),
        stop_sequences=stops,
        temperature=float(temperature),
        eos_ids=eos_ids(model),
    )
    columns = [(lam, s) for lam in col_lams for s in range(n_samples)]
    steered, engine = steering_engine(engine, requested, vectors, col_lams, op, model)
    norms = (opts.positions, opts.relative, reference_norms, norm_texts)
    steer_fields = steering_key_fields(vectors, *norms, op) if cache is not None and steered else {}
    outs, todo = _lookup(cache, model, prompts, columns, settings, seed, (steer_fields, op))
    if todo:
        spec = steer_spec(model, vectors, *norms, op) if steered else None
        job = _Job(prompts, columns, settings, seed, spec, opts.batch_size)
        _run(model, job, todo, outs, engine, cache, opts.progress)
    return [[str(x) for x in row] for row in outs]


def _lookup(
    cache: GenerationCache | None,
    model: Any,
    prompts: list[str],
    columns: list[tuple[float | None, int]],
    settings: Settings,
    seed: int,
    steering_of: tuple[dict[str, Any], str],
) -> tuple[list[list[str | None]], list[tuple[int, int, str | None]]]:
    """The outputs the cache already holds, and the (prompt, column, cache key) cells still to
    decode (every cell when there is no cache); ``steering_of`` is (key fields, op)."""
    steer_fields, op = steering_of
    sampled = settings.temperature > 0
    base = _base_fields(model, settings, seed if sampled else None) if cache is not None else {}
    outs: list[list[str | None]] = [[None] * len(columns) for _ in prompts]
    todo: list[tuple[int, int, str | None]] = []
    for i, prompt in enumerate(prompts):
        for k, (lam, s) in enumerate(columns):
            key = None
            if cache is not None:
                steering = None if unsteered(lam, op) else dict(steer_fields, lam=_lam_key(lam))
                sample = s if sampled else None
                key = content_key(dict(base, prompt=prompt, steering=steering, sample=sample))
            todo.append((i, k, key))
    if cache is None:
        return outs, todo
    hits = cache.get_many(key for _, _, key in todo)
    for i, k, key in todo:
        if key in hits:
            outs[i][k] = hits[key]
    return outs, [t for t in todo if t[2] not in hits]


def free_decoder_memory(model: Any) -> bool:
    """Free the graph engine's buffers and captured graphs for ``model``; whether any were held.

    They outlive a :func:`generate` call on purpose, so that later calls with the same shapes
    (a new λ grid, the next task) capture nothing: the KV buffers take ``rows × capacity`` slots
    per layer (about 11 GB for Llama-3.1-8B at 64 rows × 640 tokens in bf16). Call this before
    other memory-hungry work on the same GPU; ``torch.cuda.empty_cache()`` then returns the
    memory to the driver.
    """
    from .plain import plain_copies

    return any([graph_decoder.release(hf) for hf in plain_copies(model)])


def decoder_stats(model: Any) -> dict[str, Any]:
    """What the graph engine holds for ``model``: ``graphs`` (True: CUDA graphs; False: eager
    steps — CPU, or a capture that failed; None: not used yet), ``captured`` (the (rows,
    capacity) shapes), ``capture_s`` (seconds spent capturing, all shapes) and ``buffer_bytes``."""
    from .plain import plain_copies

    empty: dict[str, Any] = {"graphs": None, "captured": [], "capture_s": 0.0, "buffer_bytes": 0}
    for plain in plain_copies(model):
        found = graph_decoder.stats(plain)
        if found is not None:
            return found
    return empty


def _base_fields(model: Any, settings: Settings, seed: int | None) -> dict[str, Any]:
    param = next(model.parameters())
    return dict(
        model=model_fingerprint(model),
        dtype=str(param.dtype),
        device=param.device.type,
        max_new_tokens=settings.max_new_tokens,
        min_new_tokens=settings.min_new_tokens,
        stop=list(settings.stop_sequences),
        temperature=settings.temperature,
        eos=list(settings.eos_ids),
        seed=seed,
    )


@dataclass(frozen=True)
class _Job:
    prompts: list[str]
    columns: list[tuple[Lam | None, int]]  # (λ or None, sample index) per output column
    settings: Settings
    seed: int
    spec: SteerSpec | None
    batch_size: int


def _run(model, job: _Job, todo, outs, engine: str, cache, progress: bool) -> None:
    """Decode the ``todo`` rows batch by batch, filling ``outs`` and the cache."""
    prompts, columns, settings, spec = job.prompts, job.columns, job.settings, job.spec
    device, tok = model_device(model), model.tokenizer

    def plain(lam: Any) -> bool:  # unsteered rows share a seed (and a cache key) whatever λ
        return spec is None or unsteered(lam, spec.op)

    backend = decoder.make_backend(model, engine)
    needed = sorted({i for i, _, _ in todo})
    ids = dict(zip(needed, encode(model, [prompts[i] for i in needed]), strict=True))
    # Batches share as much as possible: rows of one λ together when positions="all" steers the
    # prompt (their common prefix is then computed once per batch), prompts of one template
    # together, then longest first (little padding).
    by_lam = spec is not None and spec.positions == "all"

    def order(t: tuple[int, int, str | None]) -> tuple:
        lam = columns[t[1]][0] or 0.0
        key = (tuple(lam) if isinstance(lam, tuple) else (lam,)) if by_lam else ()
        return (key, tuple(ids[t[0]][:64]), -len(ids[t[0]]), t[0], t[1])

    todo = sorted(todo, key=order)
    bar = tqdm(total=len(todo), desc="generate", unit="row", disable=not progress, leave=False)
    start, made = time.perf_counter(), [0]

    def on_step(new_tokens: int, finished: int) -> None:
        made[0] += new_tokens
        bar.update(finished)
        if progress:
            bar.set_postfix_str(
                f"{made[0] / max(time.perf_counter() - start, 1e-9):.1f} tok/s", refresh=False
            )

    pad = pad_id(model)
    for part in chunks(len(todo), job.batch_size):
        batch = todo[part]
        rows = []
        for i, k, key in batch:
            lam, s = columns[k]
            rseed = (
                decoder.row_seed(job.seed, prompts[i], None if plain(lam) else lam, s)
                if settings.temperature > 0
                else None
            )
            rows.append(Row(ids[i], lam if isinstance(lam, tuple) else float(lam or 0.0), rseed,
                            (i, k, key)))  # fmt: skip
        decode = graph_decoder.decode_batch_graph if engine == "graph" else decoder.decode_batch
        results = decode(backend, rows, settings, tok, pad, device, spec, on_step)
        writes = {}
        for row, res in zip(rows, results, strict=True):
            i, k, key = row.tag
            outs[i][k] = res.text
            if key is not None:
                lam, s = columns[k]
                writes[key] = (
                    res.text,
                    {
                        "finish": res.finish,
                        "n_tokens": len(res.tokens),
                        "lam": list(lam) if isinstance(lam, tuple) else lam,
                        "sample": s,
                    },  # fmt: skip
                )
        if cache is not None:
            cache.put_many(writes)
    bar.close()
