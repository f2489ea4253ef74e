"""The statistics every reported number carries: accuracy CIs and paired steered-vs-base tests.

Steering effects on small models are often a few points, so a bare accuracy is not evidence:
accuracies get a Wilson interval (well behaved near 0 and 1 and for small n), and comparisons on
the same items use the pairing (a paired bootstrap of the difference and an exact McNemar test),
which is far more sensitive than comparing two independent intervals. Pure numpy + stdlib, so
nothing here needs scipy at run time (the tests check the numbers against scipy).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb, sqrt
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["as_bool_array", "accuracy_ci", "wilson_interval", "paired_bootstrap", "mcnemar"]


def as_bool_array(values: Sequence[Any] | np.ndarray | Any, name: str = "values") -> np.ndarray:
    """``values`` (bools, 0/1 ints, a numpy array or CPU tensor) as a 1-D bool array.

    Anything else (``None`` for an unparsed answer, 0.5, strings) is an error rather than being
    silently coerced, because a wrong coercion changes the accuracy.
    """
    if hasattr(values, "detach"):  # torch tensor
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name}: expected a sequence of booleans, got {type(values).__name__}"
        ) from err
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D sequence of booleans, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(
            f"{name} is empty: there is nothing to score (did the split load any rows?)"
        )
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind in "iuf":
        bad = ~np.isin(arr, (0, 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name}[{i}] = {arr[i].item()!r}: only 0/1 or True/False are accepted"
            )
        return arr.astype(bool)
    for i, v in enumerate(arr.tolist()):
        if not isinstance(v, (bool, np.bool_)) and v not in (0, 1):
            raise ValueError(
                f"{name}[{i}] = {v!r}: only 0/1 or True/False are accepted "
                "(score unparsed answers as False with task.is_correct)"
            )
    return arr.astype(bool)


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes out of ``n``."""
    if n <= 0:
        raise ValueError(f"wilson_interval needs n > 0, got n={n}")
    if not 0 <= k <= n:
        raise ValueError(f"wilson_interval needs 0 <= k <= n, got k={k}, n={n}")
    z = _z(confidence)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_ci(
    correct: Sequence[Any] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``(accuracy, lo, hi)`` with a Wilson interval at ``confidence`` (95 % by default)."""
    arr = as_bool_array(correct, "correct")
    k, n = int(arr.sum()), int(arr.size)
    lo, hi = wilson_interval(k, n, confidence)
    return k / n, lo, hi


def _paired(base: Any, steered: Any) -> tuple[np.ndarray, np.ndarray]:
    b = as_bool_array(base, "base")
    s = as_bool_array(steered, "steered")
    if b.size != s.size:
        raise ValueError(
            f"base has {b.size} items but steered has {s.size}: paired statistics need the same "
            "items in the same order"
        )
    return b, s


def paired_bootstrap(
    base: Sequence[Any] | np.ndarray,
    steered: Sequence[Any] | np.ndarray,
    n_boot: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """``(delta, lo, hi)``: accuracy(steered) − accuracy(base) with a percentile bootstrap CI.

    Items are resampled as pairs, so the CI reflects the per-item agreement of the two runs.
    Deterministic for a given ``seed``; resampled in chunks to keep memory flat for large n.
    """
    b, s = _paired(base, steered)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    _z(confidence)  # validates the level
    diff = s.astype(np.int8) - b.astype(np.int8)
    n = diff.size
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot, dtype=np.float64)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = diff[idx].mean(axis=1)
    alpha = 1.0 - confidence
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(diff.mean()), float(lo), float(hi)


def mcnemar(base: Sequence[Any] | np.ndarray, steered: Sequence[Any] | np.ndarray) -> float:
    """Exact two-sided McNemar p-value: a binomial test on the discordant pairs.

    With b = items only base got right and c = items only steered got right, p = P(X ≤ min(b, c))
    doubled (capped at 1) for X ~ Binomial(b + c, 1/2). No discordant pairs → p = 1. Computed in
    exact integer arithmetic, so it stays accurate for thousands of items.
    """
    bb, ss = _paired(base, steered)
    b = int(np.sum(bb & ~ss))
    c = int(np.sum(~bb & ss))
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)
