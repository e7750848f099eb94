"""Intervals: Wilson, t from sums, Welch and the Katz risk ratio, against independent formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cjresearch.analysis.intervals import (
    Z95,
    risk_ratio,
    t_interval,
    welch_interval,
    wilson_intervals,
)
from cjresearch.errors import CJResearchError
from helpers.reference import wilson_closed_form

# --- Wilson -----------------------------------------------------------------------------


def test_wilson_intervals_match_closed_form() -> None:
    assert stats.norm.ppf(0.975) == Z95
    low, high = wilson_intervals([10], [50])
    exp_low, exp_high = wilson_closed_form(10, 50, Z95)
    assert low[0] == pytest.approx(exp_low, abs=1e-12)
    assert high[0] == pytest.approx(exp_high, abs=1e-12)
    assert (round(low[0], 4), round(high[0], 4)) == (0.1124, 0.3304)


def test_wilson_intervals_other_confidence_and_edges() -> None:
    z = 2.5758293035489004  # scipy.stats.norm.ppf(0.995)
    low, high = wilson_intervals([3], [7], confidence=0.99)
    assert (low[0], high[0]) == pytest.approx(wilson_closed_form(3, 7, z), abs=1e-12)
    assert wilson_intervals([0], [10])[0][0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_intervals([10], [10])[1][0] == pytest.approx(1.0, abs=1e-12)
    assert all(math.isnan(v[0]) for v in wilson_intervals([0], [0]))


def test_wilson_intervals_vectorised() -> None:
    k = np.array([10, 0, 3])
    n = np.array([50, 0, 7])
    low, high = wilson_intervals(k, n)
    assert low[0] == pytest.approx(wilson_closed_form(10, 50, Z95)[0])
    assert np.isnan(low[1]) and np.isnan(high[1])
    assert high[2] == pytest.approx(wilson_closed_form(3, 7, Z95)[1])
    assert k.tolist() == [10, 0, 3]  # not mutated


@pytest.mark.parametrize(
    ("k", "n", "confidence", "match"),
    [
        (5, 4, 0.95, "0 <= successes <= n"),
        (-1, 4, 0.95, "0 <= successes <= n"),
        (1, 4, 1.0, "confidence must be strictly between 0 and 1"),
        (1, 4, 0.0, "confidence must be strictly between 0 and 1"),
    ],
)
def test_wilson_intervals_reject_bad_input(k: int, n: int, confidence: float, match: str) -> None:
    with pytest.raises(CJResearchError, match=match):
        wilson_intervals([k], [n], confidence=confidence)


def test_wilson_intervals_reject_shape_mismatch() -> None:
    with pytest.raises(CJResearchError, match="same shape"):
        wilson_intervals([1, 2], [3])


# --- t, Welch, Katz ---------------------------------------------------------------------


def test_t_interval_from_sums_equals_scipy_on_the_values() -> None:
    rng = np.random.default_rng(1)
    groups = [rng.uniform(-1, 1, n) for n in (2, 5, 40)]
    total = np.array([g.sum() for g in groups] + [0.0, 0.7])
    squares = np.array([(g**2).sum() for g in groups] + [0.0, 0.49])
    n = np.array([len(g) for g in groups] + [0, 1], dtype=float)
    mean, low, high, var = t_interval(total, squares, n)
    for i, values in enumerate(groups):
        reference = stats.t.interval(0.95, len(values) - 1, values.mean(), stats.sem(values))
        assert mean[i] == pytest.approx(values.mean(), abs=1e-12)
        assert var[i] == pytest.approx(values.var(ddof=1), abs=1e-12)
        assert (low[i], high[i]) == pytest.approx(reference, abs=1e-12)
    assert np.isnan(mean[3]) and np.isnan(low[3]) and np.isnan(var[3])  # no values
    assert mean[4] == 0.7 and np.isnan(low[4]) and np.isnan(high[4])  # one value
    _, clipped_low, clipped_high, _ = t_interval(total, squares, n, bounds=(-0.1, 0.1))
    assert np.nanmax(clipped_high) <= 0.1 and np.nanmin(clipped_low) >= -0.1


def test_welch_interval_equals_scipy_welch_t_test() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.3, 0.4, 25), rng.normal(0.0, 0.8, 60)
    gap, low, high = welch_interval(
        np.array(a.mean()),
        np.array(a.var(ddof=1)),
        np.array(float(len(a))),
        np.array(b.mean()),
        np.array(b.var(ddof=1)),
        np.array(float(len(b))),
    )
    reference = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert float(gap) == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    assert (float(low), float(high)) == pytest.approx((reference.low, reference.high), abs=1e-10)


def test_risk_ratio_is_katz_with_half_added_to_empty_tables() -> None:
    a, n1, c, n0 = (
        np.array(v, dtype=float) for v in ([30, 0, 5], [100, 40, 50], [20, 8, 0], [200, 80, 0])
    )
    ratio, low, high = risk_ratio(a, n1, c, n0)
    se = math.sqrt(1 / 30 - 1 / 100 + 1 / 20 - 1 / 200)  # Katz et al. (1978)
    assert ratio[0] == pytest.approx(3.0)
    assert (low[0], high[0]) == pytest.approx((3 * math.exp(-Z95 * se), 3 * math.exp(Z95 * se)))
    # an empty cell: 0.5 added to every cell of that table
    a_, b_, c_, d_ = 0.5, 40.5, 8.5, 72.5
    assert ratio[1] == pytest.approx((a_ / (a_ + b_)) / (c_ / (c_ + d_)))
    assert np.isnan([ratio[2], low[2], high[2]]).all()  # no comparison group
