"""The imputation draw of the joint model (stats._impute): predictive mean matching that
treats tied fitted values alike, and imputations that are *proper* (their spread carries the
uncertainty about the imputation model, so Rubin's total variance is the observed data's)."""

from __future__ import annotations

import numpy as np
import pytest

from cjresearch.analysis.stats import _impute
from cjresearch.analysis.stats._impute import DONORS, donors, impute, rubin, stable_argsort


def test_tied_fitted_values_are_all_donors_alike() -> None:
    """A predictor with two values gives two blocks of equal fitted values: every row of the
    nearer block is a candidate donor, each as often (a stable sort used to hand the same
    DONORS rows at the block's edge to every missing value)."""
    fitted = np.repeat([0.0, 1.0], 200)
    wanted = np.full(20_000, 0.1)
    chosen = donors(fitted, wanted, np.random.default_rng(1))
    assert set(chosen) == set(range(200))  # the whole block, nothing from the other
    counts = np.bincount(chosen, minlength=200)
    # 100 draws each on average; a uniform draw keeps every count within 100 +- 45 (4.5 sd)
    assert counts.min() > 55
    assert counts.max() < 145


def test_donors_are_the_nearest_fitted_values() -> None:
    rng = np.random.default_rng(2)
    fitted = rng.normal(size=300)
    wanted = np.concatenate([rng.normal(size=500), [-9.0, 9.0]])  # beyond both ends too
    chosen = donors(fitted, wanted, rng)
    distance = np.abs(fitted[None, :] - wanted[:, None])
    radius = np.sort(distance, axis=1)[:, DONORS - 1]  # the DONORS-th nearest
    assert (distance[np.arange(len(wanted)), chosen] <= radius).all()
    # beyond the ends the DONORS extreme rows are drawn, not only the very last
    ends = donors(fitted, np.full(2000, 9.0), rng)
    assert set(ends) == set(np.argsort(fitted)[-DONORS:])


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_imputations_are_proper_rubin_variance_of_a_mean(seed: int) -> None:
    """Reference: under missing completely at random, with a predictor unrelated to the
    imputed column, the observed values are all there is to know about its mean: its variance
    is s^2 / n_observed (Rubin 1987, 4.4; Rubin and Schenker 1986 show that a hot deck that
    does not draw its model, as matching on tied fitted values from a fixed fit does, gives
    a total variance about 25% too small here, and that the approximate Bayesian bootstrap
    puts it right). Rubin's total variance of the mean over 100 imputations must match it."""
    rng = np.random.default_rng(seed)
    n = 400
    group = (rng.random(n) < 0.5).astype(float)  # two tie blocks of fitted values
    values = np.clip(rng.normal(0, 0.45, n), -1, 1)
    missing = rng.random(n) < 0.5
    data = np.column_stack([group, np.where(missing, np.nan, values)])
    mask = np.column_stack([np.zeros(n, dtype=bool), missing])
    draws = np.random.default_rng(seed + 100)
    means, variances = [], []
    for _ in range(100):
        completed = impute(data, mask, np.ones((n, 2), dtype=bool), draws, cycles=1)[:, 1]
        assert set(completed[missing]) <= set(values[~missing])  # matched: observed values
        means.append(completed.mean())
        variances.append(completed.var(ddof=1) / n)
    _, se, _ = rubin(np.array(means), np.array(variances), n - 1)
    observed = values[~missing]
    reference = observed.var(ddof=1) / len(observed)
    # the ratio of two variances, one estimated from 100 imputations: within 2 sd (+-15%);
    # the improper draw (a fixed fit, ties drawn alike) gives 0.70-0.81 on these seeds
    assert se**2 / reference == pytest.approx(1.0, abs=0.15)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_fast_stable_sort_is_numpys_stable_sort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shapes = [
        rng.normal(size=5000),  # no ties
        rng.integers(0, 4, 5000) * 0.25,  # blocks of ties
        np.round(rng.normal(size=5000), 2),  # some ties
        np.where(rng.random(50) < 0.5, -0.0, 0.0),  # -0 and 0 are equal
        np.array([np.nan, 1.0, np.nan, 0.0]),  # not finite: numpy's own sort
        np.array([3.0]),
        np.array([]),
    ]
    for values in shapes:
        assert np.array_equal(stable_argsort(values), np.argsort(values, kind="stable"))


def _draw_as_written_first(design, column, fit, gaps, rng):
    """The draw as it was first written (fancy indexing, fresh arrays, one thread; the
    regression itself shared): the reference the faster draw must give to the last float."""
    counts = np.bincount(rng.integers(0, len(fit), len(fit)), minlength=len(fit))
    drawn = counts > 0
    rows = fit[drawn]
    x, weight = design[rows], counts[drawn].astype(float)
    gram = x.T @ (x * weight[:, None])
    fitted = design @ _impute.coefficients(gram, weight.sum(), column)  # unchanged
    ranked_rows = np.repeat(
        np.argsort(fitted[rows], kind="stable"),
        counts[drawn][np.argsort(fitted[rows], kind="stable")],
    )
    ranked = fitted[rows][ranked_rows]
    wanted = fitted[gaps]
    by_value = np.argsort(wanted)
    sought = wanted[by_value]
    radius = _impute._nearest_distance(ranked, sought, min(DONORS, len(ranked)))
    slack = radius * (1 + 1e-9) + 1e-12
    low, high = np.empty(len(gaps), dtype=np.int64), np.empty(len(gaps), dtype=np.int64)
    low[by_value] = np.searchsorted(ranked, sought - slack, side="left")
    high[by_value] = np.searchsorted(ranked, sought + slack, side="right")
    pick = low + np.floor(rng.random(len(gaps)) * np.maximum(high - low, 1)).astype(np.int64)
    return x[ranked_rows[np.clip(pick, 0, len(ranked) - 1)], column]


@pytest.mark.parametrize("threads", [False, True])
def test_the_draw_is_the_draw_as_first_written_to_the_last_float(threads, monkeypatch) -> None:
    """Gathers by take into arrays made once, the donors sorted in a second thread while the
    gaps are: the same draws (ties included: a predictor with three values)."""
    monkeypatch.setattr(_impute, "THREAD_VALUES", 0 if threads else 10**12)
    rng = np.random.default_rng(8)
    n = 30_000
    design = np.column_stack(
        [np.ones(n), rng.normal(size=n), rng.integers(0, 3, n).astype(float), rng.normal(size=n)]
    )
    fit, gaps = np.flatnonzero(rng.random(n) < 0.6), np.flatnonzero(rng.random(n) < 0.3)
    scratch = (np.empty((len(fit), 4)), np.empty((len(fit), 4)))
    for column in (1, 3):
        expected = _draw_as_written_first(design, column, fit, gaps, np.random.default_rng(3))
        got = _impute._draw(design, column, fit, gaps, np.random.default_rng(3), scratch)
        assert np.array_equal(got, expected)
