"""Emotion and time to churn: Cox models with a lagged time-varying emotion, and
Kaplan-Meier curves by emotion tercile from the landmark.

:func:`time_to_churn` fits a Cox model per stage and persona in start/stop form: an emotion
expressed at a stage counts from ``lag_days`` after it was expressed (so what a customer says
within ``lag_days`` before leaving never counts), the covariate is the running mean of what
counts so far, and a customer enters the risk set when their first expression starts to
count. :func:`survival_curves` gives Kaplan-Meier curves by tercile of the landmark design's
exposure (emotion within the exposure window), each customer entering at their landmark, with
a log-rank test. The solver and the start/stop rows are in
:mod:`cjresearch.analysis.stats._cox` and :mod:`cjresearch.analysis.stats._survival`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import _modelling as m
from cjresearch.analysis.stats._common import (
    KM_COLUMNS,
    LOGRANK_COLUMNS,
    TIME_TO_CHURN_COLUMNS,
    add_q,
    check_common,
    controls_for,
    finish,
    groups,
    join_flags,
    warn,
)
from cjresearch.analysis.stats._cox import fit_cox
from cjresearch.analysis.stats._survival import is_stage, kaplan_meier, log_rank, start_stop
from cjresearch.analysis.stats.exposure import stage_frames
from cjresearch.analysis.stats.logistic import prepare
from cjresearch.data.schema import ALL

__all__ = ["survival_curves", "time_to_churn"]

#: The design named in the ``time_to_churn`` table.
LAGGED = "lagged time-varying"


def cox_cell(
    rows: pd.DataFrame,
    controls_frame: pd.DataFrame,
    settings: Settings,
    extra_flags: list[str],
    counts: dict[str, int],
) -> dict[str, Any]:
    controls, unit_size, min_group_size = (
        settings.controls,
        settings.unit_size,
        settings.min_group_size,
    )
    flags = list(extra_flags)
    n = int(rows["customer_id"].nunique())
    n_events = int(rows["event"].sum())
    out: dict[str, Any] = {
        **counts,
        "n_customers": n,
        "n_events": n_events,
        "hazard_ratio": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": np.nan,
        "ph_ok": pd.NA,
    }
    if counts["n_reached"] == 0:
        return {**out, "flags": join_flags([*flags, "no_customers"])}
    if n == 0 and counts["n_responded"] == 0:
        return {**out, "flags": join_flags([*flags, "no_feedback"])}
    if n < min_group_size:
        return {**out, "flags": join_flags([*flags, "small_group"])}
    per_customer = controls_frame.loc[pd.unique(rows["customer_id"])]
    design, complete = controls_for(per_customer, controls, flags)
    keep = rows["customer_id"].isin(complete.index[complete.to_numpy()]).to_numpy()
    rows = rows[keep]
    n_events = int(rows["event"].sum())
    out.update(n_customers=int(rows["customer_id"].nunique()), n_events=n_events)
    if n_events == 0:
        return {**out, "flags": join_flags([*flags, "no_events"])}
    e = rows["emotion"].to_numpy(dtype=float)
    if e.min() == e.max():
        return {**out, "flags": join_flags([*flags, "no_variation"])}
    x = np.column_stack(
        [e / unit_size, design.reindex(rows["customer_id"].to_numpy()).to_numpy(dtype=float)]
    )
    if n_events / x.shape[1] < m.MIN_EPV:
        flags.append("low_epv")
    fit = fit_cox(rows["start"].to_numpy(), rows["stop"].to_numpy(), rows["event"].to_numpy(), x)
    if not fit.converged or not np.all(np.isfinite(fit.cov)):
        flags.append("not_converged")
    beta = float(fit.params[0])
    if abs(beta) > 10:
        flags.append("quasi_separation")
    if m.vif(x, 0) > m.MAX_VIF:
        flags.append("high_vif")
    variance = float(fit.cov[0, 0])
    if not variance >= 0 and "not_converged" not in flags:
        flags.append("not_converged")  # an unconverged solver can give a negative variance
    ratio, low, high, p = m.wald(beta, float(np.sqrt(variance)) if variance >= 0 else np.nan)
    ph_ok: object = pd.NA
    if len(fit.event_times) >= 3 and np.ptp(fit.event_times) > 0:
        residual = fit.schoenfeld[:, 0]
        if np.ptp(residual) > 0:
            _r, ph_p = sps.pearsonr(residual, np.log(fit.event_times))
            ph_ok = bool(ph_p >= 0.05)
            if not ph_ok:
                flags.append("ph_violated")
    return {
        **out,
        "hazard_ratio": ratio,
        "ci_low": low,
        "ci_high": high,
        "p_value": p,
        "ph_ok": ph_ok,
        "flags": join_flags(flags),
    }


def time_to_churn(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    *,
    reach: pd.DataFrame | None = None,
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Hazard of churn per step of stage emotion, with a lagged time-varying emotion.

    Time runs from ``signup_date`` (else the customer's first activity) to the churn date
    for churners (without one: their last activity) and ``observation_end`` for the others,
    in days. For each stage, an expression counts from ``lag_days`` after it was made; a
    customer enters the risk set when their first expression counts (delayed entry) and the
    covariate is the running mean of the expressions that count so far (start/stop rows).
    So an emotion expressed within ``lag_days`` before churning never counts, and a churn
    before the first expression counts does not count at all. Cox model with Efron ties (a
    vectorised solver pinned to statsmodels ``PHReg``), baseline controls as covariates. The
    proportional-hazards check correlates the emotion's Schoenfeld residuals with log time
    (``ph_ok`` is False when p < 0.05). ``reach``, ``settings`` and ``options`` are those of
    :func:`~cjresearch.analysis.stats.emotion_churn`.

    Returns
    -------
    pandas.DataFrame
        ``persona, stage, n_customers, n_events, unit_size, hazard_ratio, ci_low, ci_high,
        p_value, q_value, ph_ok, flags, design, n_reached`` (reached the stage),
        ``n_responded`` (expressed an emotion there), ``lag_days, finding`` (False here: set
        by :func:`~cjresearch.analysis.stats.analyse`).
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    customers, observations, reach, personas, follow = prepare(
        customers, observations, reach, personas, observation_end
    )
    table = cox_table(customers, observations, reach, follow, personas, settings)
    warn("time_to_churn", table)
    return table


def follow_flags(follow: pd.DataFrame, ids: pd.Index) -> list[str]:
    """The follow-up flags of a group: churners left out, churn dates derived."""
    mine = follow.loc[follow.index.intersection(ids)]
    flags = []
    if (mine["excluded"] == "missing_churn_date").any():
        flags.append("missing_churn_date")
    if mine["derived"].any():
        flags.append("churn_date_derived")
    return flags


def cox_table(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    reach: pd.DataFrame,
    follow: pd.DataFrame,
    personas: pd.DataFrame | None,
    settings: Settings,
    *,
    lag_days: float | None = None,
) -> pd.DataFrame:
    """The ``time_to_churn`` table of encoded inputs: a Cox model per group and stage, with
    q-values over its own tests (``lag_days`` defaults to the settings')."""
    lag = settings.lag_days if lag_days is None else float(lag_days)
    controls_frame = customers.set_index("customer_id")[list(settings.controls)]
    said = observations["emotion"].notna().to_numpy()
    out = []
    # the groups and their follow-up flags are the same at every stage: found once
    grouped = [
        (label, ids, follow_flags(follow, ids)) for label, ids in groups(customers, personas)
    ]
    for stage in settings.stages:
        rows = start_stop(observations, follow, stage, lag_days=lag)
        reached = pd.Index(
            pd.unique(reach["customer_id"].to_numpy()[is_stage(reach["stage"], stage)])
        )
        expressed = pd.Index(
            pd.unique(
                observations["customer_id"].to_numpy()[
                    is_stage(observations["stage"], stage) & said
                ]
            )
        )
        for label, ids, flags in grouped:
            mine = rows if label == ALL else rows[rows["customer_id"].isin(ids)]
            counts = {
                "n_reached": int(reached.isin(ids).sum()),
                "n_responded": int(expressed.isin(ids).sum()),
            }
            cell = cox_cell(mine, controls_frame, settings, flags, counts)
            out.append({"persona": label, "stage": stage, **cell})
    frame = pd.DataFrame(out).assign(
        unit_size=float(settings.unit_size), design=LAGGED, lag_days=lag, finding=False
    )
    frame = add_q(frame, settings.correction, "Cox per stage x persona")
    frame = finish(frame, TIME_TO_CHURN_COLUMNS)
    frame["ph_ok"] = frame["ph_ok"].astype("boolean")
    return frame


def survival_curves(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    *,
    reach: pd.DataFrame | None = None,
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    n_points: int = 60,
    settings: Settings | None = None,
    **options: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan-Meier curves of staying by emotion tercile at each stage, and log-rank tests.

    In the landmark design, the customers who gave feedback at a stage within the exposure
    window and were still customers at the landmark are split into terciles of that emotion
    (``low``, ``middle``, ``high``) and followed from the landmark (delayed entry) to churn
    or the end of observation, censored (the whole-follow-up design: terciles of the mean
    emotion at any time, entry when reaching the stage). Time is counted in days since the
    origin as in :func:`time_to_churn`. Curves are evaluated on a grid of ``n_points`` times
    and cut where fewer than ``min_group_size`` remain at risk (``reach``, ``settings`` and
    ``options`` as for :func:`~cjresearch.analysis.stats.emotion_churn`).

    Returns
    -------
    tuple of pandas.DataFrame
        Curves: ``persona, stage, tercile, time, survival, ci_low, ci_high, n_at_risk``
        (time in days since the origin); tests: ``persona, stage, n_customers, n_events,
        chi2, p_value, flags, q_value`` (over the table's own tests), ``design, lag_days``.
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    customers, observations, reach, personas, follow = prepare(
        customers, observations, reach, personas, observation_end
    )
    frames = stage_frames(observations, reach, follow, settings)
    curves, tests = km_tables(customers, frames, follow, personas, settings, n_points=n_points)
    warn("survival_curves", tests)
    return curves, tests


def _entries(frame: pd.DataFrame, follow: pd.DataFrame, landmark: bool) -> pd.DataFrame:
    """Entry, end of follow-up and status (days since the origin) and the emotion of the
    customers of one stage's frame that the curves follow."""
    usable = follow[follow["excluded"] == ""]
    frame = frame[frame["responded"].to_numpy() & frame.index.isin(usable.index)]
    if landmark:
        frame = frame[frame["at_risk"].to_numpy()]
    info = usable.loc[frame.index]
    start = frame["landmark_day"] if landmark else frame["reached_day"]
    out = pd.DataFrame(
        {
            "entry": np.maximum(start.to_numpy(dtype=float), 0.0),
            "time": info["end_days"].to_numpy(dtype=float),
            "status": info["event"].to_numpy(dtype=bool).astype(int),
            "emotion": frame["emotion"].to_numpy(dtype=float),
        },
        index=frame.index,
    )
    # the curves count a customer at risk just after entry (see kaplan_meier): a stop within
    # one float step of the entry (two computations of one day) leaves nobody at risk
    return out[out["time"] > np.nextafter(out["entry"].to_numpy(), np.inf)]


def km_tables(
    customers: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    follow: pd.DataFrame,
    personas: pd.DataFrame | None,
    settings: Settings,
    *,
    n_points: int = 60,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``km_curves`` and ``logrank`` tables of encoded inputs and the stages' frames."""
    landmark = settings.design == "landmark"
    min_group_size = settings.min_group_size
    curves: list[pd.DataFrame] = []
    tests: list[dict[str, Any]] = []
    for stage in settings.stages:
        frame = _entries(frames[stage], follow, landmark)
        for label, ids in groups(customers, personas):
            sub = frame[frame.index.isin(ids)]
            flags = follow_flags(follow, ids)
            record: dict[str, Any] = {
                "persona": label,
                "stage": stage,
                "n_customers": len(sub),
                "n_events": int(sub["status"].sum()),
                "chi2": np.nan,
                "p_value": np.nan,
            }
            if len(sub) == 0:
                tests.append({**record, "flags": join_flags([*flags, "no_customers"])})
                continue
            if len(sub) < min_group_size:
                tests.append({**record, "flags": join_flags([*flags, "small_group"])})
                continue
            made, stats, more = _tercile_curves(sub, min_group_size, n_points)
            curves += [c.assign(persona=label, stage=stage) for c in made]
            record.update(stats)
            tests.append({**record, "flags": join_flags([*flags, *more])})
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    curve_frame = finish(curve_frame, KM_COLUMNS)
    test_frame = pd.DataFrame(tests).assign(
        design=settings.design, lag_days=float(settings.lag_days) if landmark else np.nan
    )
    test_frame = add_q(test_frame, settings.correction, "log-rank").drop(columns="family")
    return curve_frame, finish(test_frame, LOGRANK_COLUMNS)


def _tercile_curves(
    sub: pd.DataFrame, min_group_size: int, n_points: int
) -> tuple[list[pd.DataFrame], dict[str, float], list[str]]:
    """One group's curves by emotion tercile, its log-rank test and flags."""
    flags: list[str] = []
    bins = pd.qcut(sub["emotion"], 3, duplicates="drop")
    n_bins = len(bins.cat.categories)
    names = ["low", "middle", "high"] if n_bins == 3 else [f"q{i + 1}" for i in range(3)]
    tercile = np.asarray(names, dtype=object)[bins.cat.codes.to_numpy()]
    if n_bins < 3:
        flags.append("few_distinct_values")
    grid = np.linspace(0.0, float(sub["time"].max()), n_points)
    curves = []
    for name in names[:n_bins]:
        part = sub[tercile == name]
        if len(part) < min_group_size:
            flags.append("small_group")
            continue
        curve = kaplan_meier(
            part["time"].to_numpy(), part["status"].to_numpy(), part["entry"].to_numpy(), grid
        )
        curves.append(curve[curve["n_at_risk"] >= min_group_size].assign(tercile=name))
    stats: dict[str, float] = {}
    if n_bins >= 2 and sub["status"].sum() > 0:
        chi2, p = log_rank(
            sub["time"].to_numpy(), sub["status"].to_numpy(), tercile, sub["entry"].to_numpy()
        )
        stats = {"chi2": chi2, "p_value": p}
        if np.isnan(p):
            flags.append("test_undefined")
    elif sub["status"].sum() == 0:
        flags.append("no_events")
    return curves, stats, flags
