"""Start/stop rows with a lagged time-varying emotion, Kaplan-Meier, log-rank (not API)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from cjresearch.analysis.stats.exposure import with_days


def is_stage(values: pd.Series, stage: str) -> np.ndarray:
    """``values == stage`` as text; a categorical column is compared on its few categories
    and its integer codes (not by turning every row into a Python string)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        names = values.cat.categories.astype("str").to_numpy()
        return np.isin(values.cat.codes.to_numpy(), np.flatnonzero(names == stage))
    return values.astype("str").to_numpy() == stage


def start_stop(
    observations: pd.DataFrame, follow: pd.DataFrame, stage: str, *, lag_days: float = 0.0
) -> pd.DataFrame:
    """Counting-process rows for one stage: one row per interval between the times a
    customer's emotion observations at the stage start to count, carrying the running mean
    of what counts so far.

    An expression made at day ``t`` (since the origin) counts from ``t + lag_days`` (floored
    at 0): a customer enters the risk set when their first expression starts to count, the
    covariate changes only when another one does, and only the last row carries the churn
    event. So an expression made within ``lag_days`` before churning never counts, and a
    churn before the first expression counts does not count at all. Expressions that would
    count only at or after the end of follow-up are ignored.

    Returns columns ``customer_id, start, stop, event, emotion``.
    """
    observations = with_days(observations, "timestamp", "day")
    here = is_stage(observations["stage"], stage)
    here &= observations["emotion"].notna().to_numpy()
    usable = follow[follow["excluded"] == ""]
    # positions in the follow-up table, not label look-ups: one integer gather per column
    at = usable.index.get_indexer(observations["customer_id"].to_numpy()[here])
    known = at >= 0
    at = at[known]
    day = observations["day"].to_numpy(dtype=float)[here][known]
    t = day - usable["origin_day"].to_numpy(dtype=float)[at]
    frame = pd.DataFrame(
        {
            "customer_id": usable.index.to_numpy()[at],
            "t": np.maximum(t + float(lag_days), 0.0),
            "emotion": observations["emotion"].to_numpy(dtype=float)[here][known],
            "end": usable["end_days"].to_numpy(dtype=float)[at],
            "event": usable["event"].to_numpy(dtype=bool)[at],
        }
    )
    frame = frame[frame["t"].to_numpy() < frame["end"].to_numpy()]
    grouped = frame.groupby(["customer_id", "t"], sort=True, observed=True).agg(
        total=("emotion", "sum"),
        count=("emotion", "size"),
        end=("end", "first"),
        event=("event", "first"),
    )
    grouped = grouped.reset_index()
    by_customer = grouped.groupby("customer_id", sort=False, observed=True)
    running = by_customer["total"].cumsum() / by_customer["count"].cumsum()
    following = by_customer["t"].shift(-1)
    last = following.isna()
    return pd.DataFrame(
        {
            "customer_id": grouped["customer_id"].to_numpy(),
            "start": grouped["t"].to_numpy(dtype=float),
            "stop": following.fillna(grouped["end"]).to_numpy(dtype=float),
            "event": (last & grouped["event"]).to_numpy(dtype=bool),
            "emotion": running.to_numpy(dtype=float),
        }
    )


def kaplan_meier(
    time: np.ndarray,
    status: np.ndarray,
    entry: np.ndarray,
    grid: np.ndarray,
) -> pd.DataFrame:
    """Kaplan-Meier survival (statsmodels ``SurvfuncRight``, delayed entry) on a time grid,
    with log-log 95% intervals and the number at risk just before each grid time."""
    # statsmodels counts a row at risk at its entry time; (entry, time] wants it out
    fit = SurvfuncRight(time, status, entry=np.nextafter(entry, np.inf))
    times = np.asarray(fit.surv_times)
    prob = np.asarray(fit.surv_prob)
    se = np.asarray(fit.surv_prob_se)
    if len(times) == 0:  # no event: everyone stays
        times, prob, se = np.zeros(1), np.ones(1), np.zeros(1)
    index = np.searchsorted(times, grid, side="right") - 1
    surv = np.where(index >= 0, prob[np.maximum(index, 0)], 1.0)
    s_se = np.where(index >= 0, se[np.maximum(index, 0)], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_log_se = s_se / (surv * np.abs(np.log(surv)))
        centre = np.log(-np.log(surv))
        low = np.exp(-np.exp(centre + 1.959964 * log_log_se))
        high = np.exp(-np.exp(centre - 1.959964 * log_log_se))
    full = (surv >= 1.0) | ~np.isfinite(log_log_se)
    low = np.where(full, surv, low)
    high = np.where(full, surv, high)
    entry_sorted = np.sort(entry)
    time_sorted = np.sort(time)
    at_risk = np.searchsorted(entry_sorted, grid, side="left") - np.searchsorted(
        time_sorted, grid, side="left"
    )
    return pd.DataFrame(
        {"time": grid, "survival": surv, "ci_low": low, "ci_high": high, "n_at_risk": at_risk}
    )


def log_rank(
    time: np.ndarray, status: np.ndarray, group: np.ndarray, entry: np.ndarray
) -> tuple[float, float]:
    """Log-rank chi-square and p-value (statsmodels ``survdiff``) across groups; both NaN
    when the test is not defined (a singular variance: e.g. every event in one group at
    one time, as on small studies)."""
    try:
        chi2, p = survdiff(time, status, group, entry=np.nextafter(entry, np.inf))
    except np.linalg.LinAlgError:
        return float("nan"), float("nan")
    return float(chi2), float(p)
