"""ls.stats against scipy on known tables, plus the input checks."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from scipy import stats as sps

from lens_steer.experiment import stats


def _paired(b_only: int, s_only: int, both: int, neither: int) -> tuple[list[bool], list[bool]]:
    """Paired outcomes with the given 2x2 McNemar table."""
    base = [True] * b_only + [False] * s_only + [True] * both + [False] * neither
    steered = [False] * b_only + [True] * s_only + [True] * both + [False] * neither
    return base, steered


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (59, 100), (612, 1319), (1, 1)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    acc, lo, hi = stats.accuracy_ci([True] * k + [False] * (n - k))
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert acc == pytest.approx(k / n)
    assert lo == pytest.approx(ref.low, abs=1e-12)
    assert hi == pytest.approx(ref.high, abs=1e-12)


def test_accuracy_ci_other_level_and_inputs() -> None:
    ref = sps.binomtest(7, 20).proportion_ci(confidence_level=0.9, method="wilson")
    _, lo, hi = stats.accuracy_ci(np.array([1] * 7 + [0] * 13), confidence=0.9)
    assert (lo, hi) == pytest.approx((ref.low, ref.high))
    torch = pytest.importorskip("torch")
    assert stats.accuracy_ci(torch.tensor([True, False]))[0] == 0.5


@pytest.mark.parametrize(
    "table",
    [(0, 0, 5, 5), (3, 0, 10, 2), (5, 12, 40, 43), (30, 41, 500, 748), (1, 1, 0, 0), (0, 9, 1, 1)],
)
def test_mcnemar_matches_exact_binomial(table: tuple[int, int, int, int]) -> None:
    base, steered = _paired(*table)
    b, c = table[0], table[1]
    expected = 1.0 if b + c == 0 else sps.binomtest(min(b, c), b + c, 0.5).pvalue
    assert stats.mcnemar(base, steered) == pytest.approx(expected, rel=1e-12)
    assert stats.mcnemar(steered, base) == pytest.approx(expected, rel=1e-12)  # symmetric


def test_mcnemar_large_n_stays_finite() -> None:
    base, steered = _paired(1500, 1600, 100, 100)
    p = stats.mcnemar(base, steered)
    assert p == pytest.approx(sps.binomtest(1500, 3100, 0.5).pvalue, rel=1e-9)


def test_paired_bootstrap_delta_ci_and_seed() -> None:
    base, steered = _paired(20, 35, 100, 45)
    delta, lo, hi = stats.paired_bootstrap(base, steered, n_boot=4000, seed=0)
    assert delta == pytest.approx((35 - 20) / 200)
    assert lo < delta < hi
    assert stats.paired_bootstrap(base, steered, n_boot=4000, seed=0) == (delta, lo, hi)
    assert stats.paired_bootstrap(base, steered, n_boot=4000, seed=1) != (delta, lo, hi)
    # Same percentile bootstrap of the mean paired difference, computed by scipy.
    diff = np.array(steered, dtype=float) - np.array(base, dtype=float)
    ref = sps.bootstrap(
        (diff,), np.mean, n_resamples=4000, method="percentile", random_state=0
    ).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.01)
    assert hi == pytest.approx(ref.high, abs=0.01)


def test_paired_bootstrap_no_difference_is_degenerate() -> None:
    same = [True, False, True, True]
    assert stats.paired_bootstrap(same, same, n_boot=50) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("fn", [stats.paired_bootstrap, stats.mcnemar])
def test_paired_input_errors(fn) -> None:
    with pytest.raises(ValueError, match="same items"):
        fn([True, False], [True])
    with pytest.raises(ValueError, match="empty"):
        fn([], [])


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="empty"):
        stats.accuracy_ci([])
    with pytest.raises(ValueError, match=r"correct\[1\] = None"):
        stats.accuracy_ci([True, None])
    with pytest.raises(ValueError, match=r"correct\[2\] = 2"):
        stats.accuracy_ci([1, 0, 2])
    with pytest.raises(ValueError, match="1-D"):
        stats.accuracy_ci([[True, False]])
    with pytest.raises(ValueError, match="confidence"):
        stats.accuracy_ci([True], confidence=95)
    with pytest.raises(ValueError, match="n_boot"):
        stats.paired_bootstrap([True], [False], n_boot=0)


@pytest.mark.parametrize(
    "pvalues",
    [
        [0.01, 0.04, 0.03, 0.005],
        [0.2, 0.2, 0.01, 0.5, 0.049, 1.0],
        [0.0, 1.0],
        [0.03],
        list(np.random.default_rng(3).uniform(0, 0.2, size=40)),
    ],
)
def test_holm_matches_statsmodels(pvalues: list[float]) -> None:
    from statsmodels.stats.multitest import multipletests

    _, ref, _, _ = multipletests(pvalues, alpha=0.05, method="holm")
    assert stats.holm(pvalues) == pytest.approx(list(ref), abs=1e-12)


@pytest.mark.parametrize("bad", [[0.1, float("nan")], [1.2], [-0.1], [[0.1, 0.2]]])
def test_holm_refuses_what_is_not_a_p_value(bad) -> None:
    with pytest.raises(ValueError, match="p-values in \\[0, 1\\]"):
        stats.holm(bad)


@pytest.mark.parametrize("n,discordant", [(1172, 0.10), (1172, 0.25), (299, 0.15)])
def test_mcnemar_mde_has_its_power_by_simulation(n: int, discordant: float) -> None:
    """At the MDE the exact McNemar test (scipy's binomial test on the discordant pairs, the
    oracle) rejects at α = 0.05 in about 80 % of simulated studies; at half of it far less."""
    mde = stats.mcnemar_mde(n, discordant)
    rng = np.random.default_rng(0)

    def power(delta: float, sims: int = 1500) -> float:
        probs = [(discordant - delta) / 2, (discordant + delta) / 2, 1 - discordant]
        counts = rng.multinomial(n, probs, size=sims)
        rejected = [sps.binomtest(int(c), int(b + c)).pvalue <= 0.05 for b, c, _ in counts]
        return float(np.mean(rejected))

    assert 0.75 <= power(mde) <= 0.85
    assert power(mde / 2) < 0.4
    assert stats.mcnemar_mde(4 * n, discordant) < mde  # more items, smaller effects


def test_mcnemar_mde_says_when_n_is_too_small() -> None:
    with pytest.raises(ValueError, match="cannot reach 80% power.*add items"):
        stats.mcnemar_mde(5, 0.1)
    for power in (1.0, 0.3):
        with pytest.raises(ValueError, match="power in \\[0.5, 1\\)"):
            stats.mcnemar_mde(100, 0.1, power=power)
