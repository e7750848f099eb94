"""Design matrices, logistic fits with diagnostics, multiple testing (not API)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.tools import sm_exceptions

from cjresearch.analysis.intervals import Z95

MIN_EPV = 10.0
MAX_VIF = 5.0


def is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def control_design(frame: pd.DataFrame, controls: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Numeric controls as they are, categorical ones as treatment dummies (reference: the
    first level, as patsy's ``C()``); controls with one value are dropped and named."""
    columns: dict[str, np.ndarray] = {}
    dropped: list[str] = []
    for name in controls:
        values = frame[name]
        if is_categorical(values):
            if isinstance(values.dtype, pd.CategoricalDtype):
                levels = [c for c in values.cat.categories if (values == c).any()]
            else:
                levels = sorted(pd.unique(values.dropna()).tolist(), key=str)
            if len(levels) < 2:
                dropped.append(name)
                continue
            for level in levels[1:]:
                columns[f"{name}[T.{level}]"] = (values == level).to_numpy(dtype=float)
        else:
            numbers = values.to_numpy(dtype=float)
            seen = numbers[~np.isnan(numbers)]
            if seen.size == 0 or seen.min() == seen.max():  # no rows (a stage nobody reached)
                dropped.append(name)
                continue
            columns[name] = numbers
    return pd.DataFrame(columns, index=frame.index), dropped


def vif(x: np.ndarray, column: int) -> float:
    """Variance inflation of one column of a design without its intercept column."""
    if x.shape[1] < 2:
        return 1.0
    corr = np.corrcoef(x, rowvar=False)
    try:
        return float(np.linalg.inv(corr)[column, column])
    except np.linalg.LinAlgError:
        return float("inf")


def univariate_separation(y: np.ndarray, x: pd.DataFrame) -> str | None:
    """'separation' when one column alone splits churners from the others,
    'quasi_separation' when a dummy level or the edge of a column holds one outcome only."""
    found: str | None = None
    values = x.to_numpy(dtype=float)
    churned = y == 1
    for j in range(values.shape[1]):
        column = values[:, j]
        a, b = column[churned], column[~churned]
        if a.max() < b.min() or b.max() < a.min():
            return "separation"
        if np.all((column == 0.0) | (column == 1.0)):
            ones = y[column == 1]
            if len(ones) and (ones.min() == ones.max()):
                found = "quasi_separation"
        elif a.max() <= b.min() or b.max() <= a.min():
            found = "quasi_separation"
    return found


@dataclass(frozen=True)
class LogitFit:
    """What the tables and the opportunity sizing need from one logistic fit."""

    params: np.ndarray
    cov: np.ndarray
    x: np.ndarray
    names: list[str]
    flags: list[str]
    converged: bool
    loglik: float = float("nan")


def fit_logit(y: np.ndarray, x: pd.DataFrame) -> LogitFit | None:
    """``statsmodels`` Logit (Newton) on ``x`` plus an intercept, with separation and
    convergence turned into flags; None when the fit is impossible."""
    flags: list[str] = []
    design = sm.add_constant(x.to_numpy(dtype=float), has_constant="add")
    names = ["Intercept", *x.columns]
    found = univariate_separation(y, x)
    if found:
        flags.append(found)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sm.Logit(y, design).fit(method="newton", maxiter=100, disp=False)
        except (np.linalg.LinAlgError, ValueError, sm_exceptions.PerfectSeparationError):
            return None
    kinds = {type(w.message) for w in caught}
    if sm_exceptions.PerfectSeparationWarning in kinds and "separation" not in flags:
        flags = [f for f in flags if f != "quasi_separation"] + ["separation"]
    converged = bool(result.mle_retvals.get("converged", False))
    params = np.asarray(result.params, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cov = np.asarray(result.cov_params(), dtype=float)
    if not converged or not np.all(np.isfinite(cov)):
        flags.append("not_converged")
    if np.max(np.abs(design @ params)) > 15 and not {"separation", "quasi_separation"} & set(flags):
        flags.append("quasi_separation")
    return LogitFit(params, cov, design, names, flags, converged, float(result.llf))


def refit_logit(
    y: np.ndarray, x: pd.DataFrame, start: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """The estimates and their covariance of a model :func:`fit_logit` has fitted and
    checked, on other values of its columns (another completed data set), with Newton
    started at ``start`` (intercept first: that fit's estimates, so fewer steps reach the same
    maximum); None when the fit is impossible.

    Nothing is diagnosed: the first fit's flags stand for every refit, as they did when each
    refit was diagnosed and its flags dropped. The steps are statsmodels' ``Logit.fit(method=
    "newton")`` (its ridge of 1e-10 on the Hessian, its tolerance, its covariance from the
    Hessian at the maximum), written out so that each step predicts every row once: statsmodels
    predicts them once for the score, once for the Hessian, and four times more at the end (and
    checks the design's rank and perfect prediction after every step). The estimates are the
    same floats (``tests/analysis/stats/test_refit.py``); at 1,000,000 customers the
    refits took a sixth of the statistics.
    """
    return refit_design(y, sm.add_constant(x.to_numpy(dtype=float), has_constant="add"), start)


def refit_design(
    y: np.ndarray, design: np.ndarray, start: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`refit_logit` of a design that holds its intercept (first)."""
    if start is None:  # a model whose first fit failed: statsmodels' own start, zeros
        start = np.zeros(design.shape[1])
    try:
        return newton_logit(y, design, start)
    except (np.linalg.LinAlgError, ValueError):
        return None


_NEWTON_STEPS, _NEWTON_TOL, _NEWTON_RIDGE = 100, 1e-8, 1e-10  # statsmodels' newton defaults


def newton_logit(
    y: np.ndarray, design: np.ndarray, start: np.ndarray, *, max_steps: int = _NEWTON_STEPS
) -> tuple[np.ndarray, np.ndarray]:
    """The estimates and covariance of ``sm.Logit(y, design).fit(method="newton",
    start_params=start, maxiter=max_steps)``, by the same operations (see
    :func:`refit_logit`); ``design`` holds the intercept. Raises ``LinAlgError`` where
    statsmodels does (a singular Hessian)."""
    n = design.shape[0]
    old, new = np.full(design.shape[1], np.inf), np.asarray(start, dtype=float)
    weighted = np.empty_like(design)  # made once: see _logit_derivatives
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for _ in range(max_steps):
            if not np.any(np.abs(new - old) > _NEWTON_TOL):
                break
            hessian, score = _logit_derivatives(y, design, new, weighted)
            hessian[np.diag_indices_from(hessian)] += _NEWTON_RIDGE
            old, new = new, new - np.linalg.solve(hessian, -score / n)
        return new, np.linalg.inv(_logit_derivatives(y, design, new, weighted)[0]) / n


def _logit_derivatives(
    y: np.ndarray, design: np.ndarray, params: np.ndarray, weighted: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The Hessian of the mean negative log-likelihood and the score of the log-likelihood
    at ``params``, as statsmodels' ``Logit`` computes them (the same operations).

    ``weighted`` (like ``design``) receives the weighted design, in the layout numpy gives
    ``w * design.T`` (so the product is the same): at a million rows a fresh one each step
    is 100 MB of pages to fault in."""
    fitted = 1 / (1 + np.exp(-np.dot(design, params)))
    spread = np.multiply(fitted * (1 - fitted), design.T, out=weighted.T)
    return np.dot(spread, design) / design.shape[0], np.dot(y - fitted, design)


def wald(beta: float, se: float) -> tuple[float, float, float, float]:
    """Ratio, its 95% interval and the two-sided p-value of a log-scale coefficient."""
    if not (np.isfinite(beta) and np.isfinite(se)) or se <= 0:
        return (np.nan,) * 4
    z = beta / se
    with np.errstate(over="ignore"):  # an infinite bound is the honest answer (flagged)
        return (
            float(np.exp(beta)),
            float(np.exp(beta - Z95 * se)),
            float(np.exp(beta + Z95 * se)),
            float(2 * sps.norm.sf(abs(z))),
        )


def adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Benjamini-Hochberg or Holm adjusted p-values; missing p-values stay missing."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order]
    if method == "bh":
        q = ranked * m / np.arange(1, m + 1)
        q = np.minimum.accumulate(q[::-1])[::-1]
    else:
        q = np.maximum.accumulate(ranked * (m - np.arange(m)))
    out[order] = np.minimum(q, 1.0)
    return out


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney)."""
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = sps.rankdata(score)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def hosmer_lemeshow(y: np.ndarray, p: np.ndarray, groups: int = 10) -> float:
    """p-value of the Hosmer-Lemeshow test over deciles of predicted risk."""
    bins = pd.qcut(pd.Series(p).rank(method="first"), groups, labels=False)
    frame = pd.DataFrame({"y": y, "p": p, "bin": bins})
    g = frame.groupby("bin").agg(obs=("y", "sum"), exp=("p", "sum"), n=("y", "size"))
    denominator = g["exp"] * (1 - g["exp"] / g["n"])
    chi2 = float((((g["obs"] - g["exp"]) ** 2) / denominator.where(denominator > 0)).sum())
    return float(sps.chi2.sf(chi2, max(len(g) - 2, 1)))
