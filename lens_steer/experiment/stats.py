"""The statistics every reported number carries: accuracy CIs and paired steered-vs-base tests.

Steering effects on small models are often a few points, so a bare accuracy is not evidence:
accuracies get a Wilson interval (well behaved near 0 and 1 and for small n), and comparisons on
the same items use the pairing (a paired bootstrap of the difference and an exact McNemar test),
which is far more sensitive than comparing two independent intervals. Pure numpy + stdlib, so
nothing here needs scipy at run time (the tests check the numbers against scipy and statsmodels).
A study that makes many comparisons reports Holm–Bonferroni adjusted p-values (:func:`holm`) and
states up front the smallest effect its n can detect (:func:`mcnemar_mde`).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb, sqrt
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = [
    "as_bool_array",
    "accuracy_ci",
    "wilson_interval",
    "paired_bootstrap",
    "mcnemar",
    "holm",
    "mcnemar_mde",
]


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


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the order given.

    Rejecting every hypothesis whose adjusted p is ≤ α keeps the chance of any false rejection
    in the family ≤ α whatever the dependence between the tests (the comparisons of one study
    share a baseline, so they are not independent). Step-down: the k-th smallest p (from 0) is
    multiplied by m − k, then made monotone and capped at 1.
    """
    given = list(pvalues)
    p = np.asarray(given, dtype=np.float64)
    if p.ndim != 1 or not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"holm needs a flat list of p-values in [0, 1], got {given!r}")
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(np.argsort(p, kind="stable")):
        running = max(running, min(1.0, (m - rank) * float(p[i])))
        adjusted[i] = running
    return adjusted.tolist()


def mcnemar_mde(n: int, discordant: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest accuracy difference |Δ| that a two-sided McNemar test at level ``alpha``
    detects with probability ``power`` on ``n`` paired items, when a share ``discordant`` of the
    items is answered right by exactly one of the two conditions.

    Connor's (1987) normal approximation, solved for Δ: n·Δ² = (z₁₋α/₂·√ψ + z_power·√(ψ − Δ²))².
    The discordant share ψ is what makes paired tests sensitive: it is measured on validation
    (or a pilot), never on the test split. Raises if no Δ ≤ ψ is detectable.
    """
    if n < 1 or not 0 < discordant <= 1 or not 0 < alpha < 1 or not 0.5 <= power < 1:
        raise ValueError(
            f"need n ≥ 1, 0 < discordant ≤ 1, alpha in (0, 1) and power in [0.5, 1); got n={n}, "
            f"discordant={discordant}, alpha={alpha}, power={power}"
        )
    z_a, z_b = _z(1 - alpha), NormalDist().inv_cdf(power)

    def gap(delta: float) -> float:  # increasing in delta for power ≥ 0.5; its root is the MDE
        return sqrt(n) * delta - z_a * sqrt(discordant) - z_b * sqrt(discordant - delta**2)

    if gap(discordant) < 0:
        raise ValueError(
            f"n={n} items with {discordant:.1%} discordant cannot reach {power:.0%} power at "
            f"α={alpha}: no difference up to {discordant:.1%} is detectable; add items"
        )
    lo, hi = 0.0, discordant
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gap(mid) < 0 else (lo, mid)
    return hi
