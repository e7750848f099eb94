"""Confidence intervals the tables share: Wilson, t from sums, Welch and the Katz risk ratio.

Every function works on arrays at once (one value per table cell) and leaves a cell missing
(NaN) where its interval cannot be computed, rather than raising: a table has cells with no
customers. The journey map, the persona table and the explorer's selections all use these, so
a churn interval means the same in a report and in the explorer.

- :func:`wilson_intervals`: a proportion (churn rates), Wilson's score interval;
- :func:`t_interval`: a mean and its t interval from the sums a table keeps (count, sum, sum
  of squares), e.g. the mean emotion over customers;
- :func:`welch_interval`: the difference of two means with Welch's interval;
- :func:`risk_ratio`: the ratio of two proportions with the Katz log interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from cjresearch.errors import CJResearchError

__all__ = ["Z95", "risk_ratio", "t_interval", "welch_interval", "wilson_intervals"]

#: The two-sided 95% normal quantile, ``scipy.stats.norm.ppf(0.975)``.
Z95 = 1.959963984540054


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        msg = f"confidence must be strictly between 0 and 1; got {confidence!r}."
        raise CJResearchError(msg)


def wilson_intervals(
    successes: Any, n: Any, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score intervals for many proportions at once.

    Parameters
    ----------
    successes, n
        Array-likes of the same shape: counts of successes and of trials
        (``0 <= successes <= n``).
    confidence
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    tuple of numpy.ndarray
        ``(low, high)`` as float arrays; NaN where ``n == 0``.

    Raises
    ------
    CJResearchError
        Shapes differ, counts are negative, or ``successes > n``, or ``confidence`` is
        outside (0, 1).

    Examples
    --------
    >>> low, high = wilson_intervals([10, 0], [50, 0])
    >>> round(float(low[0]), 4), round(float(high[0]), 4), bool(np.isnan(high[1]))
    (0.1124, 0.3304, True)
    """
    _check_confidence(confidence)
    s = np.asarray(successes, dtype=float)
    t = np.asarray(n, dtype=float)
    if s.shape != t.shape:
        msg = f"successes and n must have the same shape; got {s.shape} and {t.shape}."
        raise CJResearchError(msg)
    bad = ~np.isfinite(s) | ~np.isfinite(t) | (s < 0) | (t < 0) | (s > t)
    if bad.any():
        msg = (
            "successes and n must be finite counts with 0 <= successes <= n; "
            f"first bad pair: successes={s[bad].flat[0]!r}, n={t[bad].flat[0]!r}."
        )
        raise CJResearchError(msg)
    low = np.full(s.shape, np.nan)
    high = np.full(s.shape, np.nan)
    ok = t > 0
    if ok.any():
        lo, hi = proportion_confint(s[ok], t[ok], alpha=1 - confidence, method="wilson")
        low[ok] = lo
        high[ok] = hi
    return low, high


def t_interval(
    total: np.ndarray,
    total_sq: np.ndarray,
    n: np.ndarray,
    *,
    bounds: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A mean, its 95% t interval and the sample variance, from sums.

    Parameters
    ----------
    total, total_sq, n
        Arrays of one shape: the sum of the values, the sum of their squares and their
        number, per cell.
    bounds
        ``(low, high)`` to clip the interval to (the emotion scale is ``(-1, 1)``), or None.

    Returns
    -------
    tuple of numpy.ndarray
        ``(mean, ci_low, ci_high, variance)``; the mean is NaN where ``n == 0``, the interval
        and the variance where ``n < 2``.

    Examples
    --------
    >>> values = np.array([0.2, 0.4, 0.9])
    >>> mean, low, high, var = t_interval(values.sum(), (values**2).sum(), np.array(3.0))
    >>> round(float(mean), 4), round(float(var), 4), round(float(high - mean), 4)
    (0.5, 0.13, 0.8957)
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / np.where(n > 0, n, 1), np.nan)
        var = np.where(n > 1, (total_sq - n * mean**2) / np.maximum(n - 1, 1), np.nan)
        var = np.maximum(var, 0.0)
        half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * np.sqrt(var / np.maximum(n, 1))
    half = np.where(n > 1, half, np.nan)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = np.clip(low, *bounds), np.clip(high, *bounds)
    return mean, low, high, var


def welch_interval(
    m1: np.ndarray, v1: np.ndarray, n1: np.ndarray, m0: np.ndarray, v0: np.ndarray, n0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The difference of two means ``m1 - m0`` with Welch's 95% interval.

    ``v1, v0`` are the groups' sample variances and ``n1, n0`` their sizes; where the
    Welch-Satterthwaite degrees of freedom are not finite, ``n1 + n0 - 2`` (at least 1) are
    used.

    Returns
    -------
    tuple of numpy.ndarray
        ``(difference, ci_low, ci_high)``.

    Examples
    --------
    >>> gap, low, high = welch_interval(
    ...     np.array(0.5), np.array(0.04), np.array(20.0),
    ...     np.array(0.2), np.array(0.09), np.array(30.0),
    ... )
    >>> round(float(gap), 2), round(float(low), 4), round(float(high), 4)
    (0.3, 0.1578, 0.4422)
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        q1, q0 = v1 / n1, v0 / n0
        se = np.sqrt(q1 + q0)
        df = (q1 + q0) ** 2 / (q1**2 / (n1 - 1) + q0**2 / (n0 - 1))
        df = np.where(np.isfinite(df) & (df > 0), df, np.maximum(n1 + n0 - 2, 1))
        half = stats.t.ppf(0.975, df) * se
    gap = m1 - m0
    return gap, gap - half, gap + half


def risk_ratio(
    a: np.ndarray, n1: np.ndarray, c: np.ndarray, n0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Risk ratio ``(a / n1) / (c / n0)`` with the Katz 95% log interval.

    ``a`` of ``n1`` exposed and ``c`` of ``n0`` others had the outcome; 0.5 is added to every
    cell of a 2 x 2 table with an empty cell. NaN where ``n1`` or ``n0`` is 0.

    Returns
    -------
    tuple of numpy.ndarray
        ``(ratio, ci_low, ci_high)``.

    Examples
    --------
    >>> ratio, low, high = risk_ratio(np.array([30]), np.array([100]), np.array([20]),
    ...                               np.array([200]))
    >>> round(float(ratio[0]), 2), round(float(low[0]), 3), round(float(high[0]), 3)
    (3.0, 1.797, 5.008)
    """
    b, d = n1 - a, n0 - c
    empty = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    a_, b_, c_, d_ = (np.where(empty, x + 0.5, x) for x in (a, b, c, d))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (a_ / (a_ + b_)) / (c_ / (c_ + d_))
        se = np.sqrt(1 / a_ - 1 / (a_ + b_) + 1 / c_ - 1 / (c_ + d_))
        low, high = ratio * np.exp(-Z95 * se), ratio * np.exp(Z95 * se)
    ok = (n1 > 0) & (n0 > 0)
    return tuple(np.where(ok, x, np.nan) for x in (ratio, low, high))  # type: ignore[return-value]
