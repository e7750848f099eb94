"""Partial pooling of many estimates: empirical-Bayes adaptive shrinkage.

When dozens of touchpoints are compared at once, the largest raw estimates are partly luck;
pooling them partially, each towards "no effect" by as much as its own noise and the spread of
all of them warrant, gives estimates and intervals that hold up across the whole family (the
touchpoint that looked worst on 12 customers is pulled back, the one measured on 4,000 is
not). :func:`shrink` does this with the *adaptive shrinkage* prior of Stephens (2017,
"False discovery rates: a new deal", Biostatistics 18:275-294; the R package ``ashr``):

- the true effects ``theta_i`` are drawn from a mixture of normals centred on 0,
  ``sum_k pi_k N(0, sigma_k^2)``, on a fixed grid of ``sigma_k`` from 0 (a point mass at
  "no effect") to about twice the largest observed effect, each step a factor of sqrt(2);
- each estimate is ``x_i ~ N(theta_i, s_i^2)`` with its standard error ``s_i``;
- the weights ``pi_k`` are estimated by maximum likelihood (EM) with a Dirichlet penalty
  that favours the null component, so that a family with no real effects is shrunk to none.
  ``ashr`` uses a penalty of 10, made for families of thousands; a family of touchpoints has
  tens, where 10 would outweigh the data, so the default penalty is worth a tenth of the
  family's size (``1 + min(9, n / 10)``: 10 from 90 estimates on);
- each estimate's posterior is then a mixture of normals (and the point mass), from which
  its mean, sd, 95% interval (quantiles found by bisection) and random draws come.

The prior is unimodal at 0 but, unlike a single normal, has heavy tails: one large, precise
effect among many null ones stays large, while noisy ones shrink to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from cjresearch.errors import CJResearchError

__all__ = ["Shrunk", "shrink"]

#: The largest prior weight of the null component (ashr's ``nullweight``).
NULL_WEIGHT = 10.0
_SE_FLOOR = 1e-8
_EM_STEPS = 500


@dataclass(frozen=True)
class Shrunk:
    """Posterior summaries of a family of estimates (NaN where the input was missing).

    Attributes
    ----------
    mean, sd
        Posterior mean and standard deviation of each true effect.
    low, high
        The central posterior interval at the requested level (95% by default).
    weights
        The fitted prior: ``(sigma, pi)`` pairs, the null component first.
    """

    mean: np.ndarray
    sd: np.ndarray
    low: np.ndarray
    high: np.ndarray
    weights: tuple[tuple[float, float], ...]
    _post_w: np.ndarray
    _post_m: np.ndarray
    _post_v: np.ndarray
    _ok: np.ndarray

    def draws(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, len(estimates))`` draws from each posterior (NaN where missing)."""
        out = np.full((n, len(self.mean)), np.nan)
        if not self._ok.any():
            return out
        w, m, v = self._post_w, self._post_m, self._post_v
        cumulative = np.cumsum(w, axis=1)
        u = rng.random((n, len(w)))
        component = (u[:, :, None] > cumulative[None, :, :]).sum(axis=2)
        component = np.minimum(component, w.shape[1] - 1)
        rows = np.arange(len(w))[None, :]
        centre = m[rows, component]
        spread = np.sqrt(v[rows, component])
        out[:, self._ok] = centre + spread * rng.standard_normal((n, len(w)))
        return out


def shrink(
    estimate: np.ndarray,
    se: np.ndarray,
    *,
    level: float = 0.95,
    null_weight: float | None = None,
) -> Shrunk:
    """Adaptive shrinkage of a family of estimates towards 0 (see the module docstring).

    Parameters
    ----------
    estimate, se
        One estimate and its standard error per member (same shape, 1-d). Members with a
        missing or non-finite value take no part and get NaN.
    level
        Coverage of the posterior interval.
    null_weight
        Penalty in favour of the null component (1 is none); default ``1 + min(9, n / 10)``
        for ``n`` usable estimates.

    Returns
    -------
    Shrunk

    Raises
    ------
    CJResearchError
        Shapes differ, a standard error is negative, or ``level`` is not in (0, 1).

    Examples
    --------
    One large, precise effect among noisy small ones stays large; the noisy ones are pulled
    to about no effect, with intervals that hold 0 (here the fitted prior puts much of its
    weight on "no effect", so their intervals reach it exactly):

    >>> out = shrink(np.array([6.0, 0.1, -0.2, 0.3]), np.array([0.5, 1.0, 1.0, 1.0]))
    >>> round(float(out.mean[0]), 1), round(float(out.mean[1]), 2)
    (6.0, 0.01)
    >>> bool(out.low[0] > 4), bool(out.low[1] <= 0 <= out.high[1])
    (True, True)
    """
    x = np.asarray(estimate, dtype=np.float64)
    s = np.asarray(se, dtype=np.float64)
    if x.shape != s.shape or x.ndim != 1:
        msg = f"estimate and se must be 1-d arrays of one shape, found {x.shape} and {s.shape}"
        raise CJResearchError(msg)
    if (s[np.isfinite(s)] < 0).any():
        msg = "standard errors must not be negative"
        raise CJResearchError(msg)
    if not 0 < level < 1:
        msg = f"level must be between 0 and 1, found {level!r}"
        raise CJResearchError(msg)
    n = len(x)
    ok = np.isfinite(x) & np.isfinite(s)
    nan = np.full(n, np.nan)
    if not ok.any():
        empty = np.zeros((0, 1))
        return Shrunk(nan, nan.copy(), nan.copy(), nan.copy(), (), empty, empty, empty, ok)
    xs, ss = x[ok], np.maximum(s[ok], _SE_FLOOR)
    if null_weight is None:
        null_weight = 1 + min(NULL_WEIGHT - 1, len(xs) / 10)
    sigma = _grid(xs, ss)
    total = ss[:, None] ** 2 + sigma[None, :] ** 2
    log_lik = stats.norm.logpdf(xs[:, None], 0.0, np.sqrt(total))
    pi = _em(log_lik, null_weight)
    log_post = log_lik + np.log(np.maximum(pi, 1e-300))[None, :]
    log_post -= log_post.max(axis=1, keepdims=True)
    w = np.exp(log_post)
    w /= w.sum(axis=1, keepdims=True)
    shrinkage = sigma[None, :] ** 2 / total
    m = xs[:, None] * shrinkage
    v = ss[:, None] ** 2 * shrinkage
    mean = (w * m).sum(axis=1)
    sd = np.sqrt(np.maximum((w * (v + m**2)).sum(axis=1) - mean**2, 0.0))
    tail = (1 - level) / 2
    low, high = _quantile(w, m, v, tail), _quantile(w, m, v, 1 - tail)
    out = [nan.copy() for _ in range(4)]
    for target, values in zip(out, (mean, sd, low, high), strict=True):
        target[ok] = values
    weights = tuple((float(a), float(b)) for a, b in zip(sigma, pi, strict=True))
    return Shrunk(out[0], out[1], out[2], out[3], weights, w, m, v, ok)


def _grid(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    """0, then sigma_min * sqrt(2)^j up to twice the largest effect (ashr's default grid)."""
    smallest = max(float(s.min()) / 10, _SE_FLOOR)
    excess = float(np.max(x**2 - s**2))
    largest = 2 * np.sqrt(excess) if excess > 0 else 8 * smallest
    largest = max(largest, smallest * 2)
    steps = int(np.ceil(np.log(largest / smallest) / np.log(np.sqrt(2)))) + 1
    return np.concatenate([[0.0], smallest * np.sqrt(2.0) ** np.arange(steps)])


def _em(log_lik: np.ndarray, null_weight: float) -> np.ndarray:
    """Mixture weights by penalised EM (Dirichlet penalty ``null_weight`` on the null)."""
    k = log_lik.shape[1]
    prior = np.ones(k)
    prior[0] = null_weight
    pi = np.full(k, 1.0 / k)
    pi[0] = 0.5
    pi[1:] = 0.5 / max(k - 1, 1)
    shifted = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    for _ in range(_EM_STEPS):
        joint = shifted * pi[None, :]
        resp = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-300)
        updated = resp.sum(axis=0) + prior - 1
        updated = np.maximum(updated, 0.0)
        updated /= updated.sum()
        if np.max(np.abs(updated - pi)) < 1e-8:
            return updated
        pi = updated
    return pi


def _quantile(w: np.ndarray, m: np.ndarray, v: np.ndarray, p: float) -> np.ndarray:
    """The ``p`` quantile of each row's mixture of normals (variance 0: a point mass)."""
    sd = np.sqrt(v)
    lo = np.min(m - 12 * sd, axis=1) - 1e-9
    hi = np.max(m + 12 * sd, axis=1) + 1e-9

    def cdf(q: np.ndarray) -> np.ndarray:
        z = q[:, None] - m
        with np.errstate(divide="ignore", invalid="ignore"):
            normal = stats.norm.cdf(z / np.where(sd > 0, sd, 1.0))
        return (w * np.where(sd > 0, normal, (z >= 0).astype(float))).sum(axis=1)

    for _ in range(80):
        mid = (lo + hi) / 2
        below = cdf(mid) < p
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    found = (lo + hi) / 2
    # a quantile that falls on the point mass at 0 is 0, not a bisection's last digit
    return np.where(np.abs(found) < 1e-7, 0.0, found)
