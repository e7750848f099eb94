"""Emotion and time to churn: Cox models with emotion as a time-varying covariate, and
Kaplan-Meier curves by emotion tercile.

:func:`time_to_churn` fits a Cox model per stage and persona in start/stop form (a customer
enters when first expressing an emotion at the stage; the covariate is the running mean of
what was expressed so far), with a proportional-hazards check; :func:`survival_curves` gives
Kaplan-Meier curves by emotion tercile with a log-rank test. The solver and the start/stop
rows are in :mod:`cjresearch.analysis.stats._cox` and :mod:`cjresearch.analysis.stats._survival`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from cjresearch._checks import require_columns
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import _modelling as m
from cjresearch.analysis.stats._common import (
    KM_COLUMNS,
    LOGRANK_COLUMNS,
    TIME_TO_CHURN_COLUMNS,
    check_common,
    controls_for,
    encode,
    end_of_observation,
    finish,
    groups,
    join_flags,
    warn,
    wide_emotion,
)
from cjresearch.analysis.stats._cox import fit_cox
from cjresearch.analysis.stats._survival import follow_up, kaplan_meier, log_rank, start_stop
from cjresearch.data.schema import ALL

__all__ = ["survival_curves", "time_to_churn"]


def _cox_cell(
    rows: pd.DataFrame, controls_frame: pd.DataFrame, settings: Settings, extra_flags: list[str]
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
        "n_customers": n,
        "n_events": n_events,
        "hazard_ratio": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": np.nan,
        "ph_ok": pd.NA,
    }
    if n == 0:
        return {**out, "flags": join_flags([*flags, "no_customers"])}
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
    ratio, low, high, p = m.wald(beta, float(np.sqrt(fit.cov[0, 0])))
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
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Hazard of churn per step of stage emotion, with emotion as a time-varying covariate.

    Time runs from ``signup_date`` (else the customer's first emotion observation) to
    ``churn_date`` for churners and ``observation_end`` for the others, in days. For each
    stage a customer enters the risk set when first expressing an emotion there (delayed
    entry), and the covariate is the running mean of the emotions expressed at the stage so
    far, updated at each new observation (start/stop rows). So emotion counts only from the
    moment it was expressed, and a churn before it was expressed does not count at all. Cox
    model with Efron ties (a vectorised solver pinned to statsmodels ``PHReg``), baseline
    controls as covariates. The proportional-hazards check correlates the emotion's
    Schoenfeld residuals with log time (``ph_ok`` is False when p < 0.05). ``settings`` and
    ``options`` are those of :func:`emotion_churn`.

    Returns
    -------
    pandas.DataFrame
        ``persona, stage, n_customers, n_events, unit_size, hazard_ratio, ci_low, ci_high,
        p_value, q_value, ph_ok, flags``.
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    require_columns(observations, ("customer_id", "timestamp", "stage", "emotion"), "observations")
    customers, observations, personas = encode(customers, observations, personas)
    table = cox_table(customers, observations, personas, settings, observation_end)
    warn("time_to_churn", table)
    return table


def cox_table(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    personas: pd.DataFrame | None,
    settings: Settings,
    observation_end: object,
) -> pd.DataFrame:
    """The ``time_to_churn`` table: a Cox model per group and stage, with q-values."""
    require_columns(observations, ("customer_id", "timestamp", "stage", "emotion"), "observations")
    end = end_of_observation(observations, observation_end)
    follow = follow_up(customers, observations, end)
    controls_frame = customers.set_index("customer_id")[list(settings.controls)]
    rows_by_stage = {stage: start_stop(observations, follow, stage) for stage in settings.stages}
    out = []
    for label, ids in groups(customers, personas):
        excluded = follow.loc[ids, "excluded"]
        extra = ["missing_churn_date"] if (excluded == "missing_churn_date").any() else []
        for stage in settings.stages:
            rows = rows_by_stage[stage]
            rows = rows[rows["customer_id"].isin(ids)] if label != ALL else rows
            cell = _cox_cell(rows, controls_frame, settings, extra)
            unit = float(settings.unit_size)
            out.append({"persona": label, "stage": stage, "unit_size": unit, **cell})
    frame = pd.DataFrame(out)
    frame["q_value"] = m.adjust(frame["p_value"].to_numpy(dtype=float), settings.correction)
    frame = finish(frame, TIME_TO_CHURN_COLUMNS)
    frame["ph_ok"] = frame["ph_ok"].astype("boolean")
    return frame


def survival_curves(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    stage_emotion: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    n_points: int = 60,
    settings: Settings | None = None,
    **options: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan-Meier curves of staying by emotion tercile at each stage, and log-rank tests.

    Customers who reached a stage are split into terciles of their stage emotion
    (``low``, ``middle``, ``high``); each enters at the first emotion expressed at the stage
    (delayed entry) and is followed as in :func:`time_to_churn`. Curves are evaluated on a
    grid of ``n_points`` times and cut where fewer than ``min_group_size`` remain at risk
    (``settings`` and ``options`` as for :func:`emotion_churn`).

    Returns
    -------
    tuple of pandas.DataFrame
        Curves: ``persona, stage, tercile, time, survival, ci_low, ci_high, n_at_risk``
        (time in days since signup); tests: ``persona, stage, n_customers, n_events, chi2,
        p_value, flags``.
    """
    settings = Settings.resolve(settings, **options)
    stages, min_group_size = settings.require_stages(), settings.min_group_size
    require_columns(customers, ("customer_id", "churned"), "customers")
    require_columns(observations, ("customer_id", "timestamp", "stage", "emotion"), "observations")
    end = end_of_observation(observations, observation_end)
    customers, observations, stage_emotion, personas = encode(
        customers, observations, stage_emotion, personas
    )
    follow = follow_up(customers, observations, end)
    usable = follow[follow["excluded"] == ""]
    wide = wide_emotion(stage_emotion)
    obs = observations[observations["emotion"].notna()]
    curves: list[pd.DataFrame] = []
    tests: list[dict[str, Any]] = []
    for stage in stages:
        frame = _entries(obs[obs["stage"] == stage], usable, wide, stage)
        for label, ids in groups(customers, personas):
            sub = frame[frame.index.isin(ids)]
            flags: list[str] = []
            record: dict[str, Any] = {
                "persona": label,
                "stage": stage,
                "n_customers": len(sub),
                "n_events": int(sub["status"].sum()),
                "chi2": np.nan,
                "p_value": np.nan,
            }
            if (follow.loc[ids, "excluded"] == "missing_churn_date").any():
                flags.append("missing_churn_date")
            if len(sub) == 0:
                tests.append({**record, "flags": join_flags([*flags, "no_customers"])})
                continue
            if len(sub) < min_group_size:
                tests.append({**record, "flags": join_flags([*flags, "small_group"])})
                continue
            bins = pd.qcut(sub["emotion"], 3, duplicates="drop")
            n_bins = len(bins.cat.categories)
            names = ["low", "middle", "high"] if n_bins == 3 else [f"q{i + 1}" for i in range(3)]
            tercile = np.asarray(names, dtype=object)[bins.cat.codes.to_numpy()]
            if n_bins < 3:
                flags.append("few_distinct_values")
            grid = np.linspace(0.0, float(sub["time"].max()), n_points)
            for name in names[:n_bins]:
                part = sub[tercile == name]
                if len(part) < min_group_size:
                    flags.append("small_group")
                    continue
                curve = kaplan_meier(
                    part["time"].to_numpy(),
                    part["status"].to_numpy(),
                    part["entry"].to_numpy(),
                    grid,
                )
                curve = curve[curve["n_at_risk"] >= min_group_size]
                curves.append(curve.assign(persona=label, stage=stage, tercile=name))
            if n_bins >= 2 and sub["status"].sum() > 0:
                chi2, p = log_rank(
                    sub["time"].to_numpy(),
                    sub["status"].to_numpy(),
                    tercile,
                    sub["entry"].to_numpy(),
                )
                record.update(chi2=chi2, p_value=p)
                if np.isnan(p):
                    flags.append("test_undefined")
            elif sub["status"].sum() == 0:
                flags.append("no_events")
            tests.append({**record, "flags": join_flags(flags)})
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    curve_frame = finish(curve_frame, KM_COLUMNS)
    test_frame = finish(pd.DataFrame(tests), LOGRANK_COLUMNS)
    warn("survival_curves", test_frame)
    return curve_frame, test_frame


def _entries(
    at_stage: pd.DataFrame, usable: pd.DataFrame, wide: pd.DataFrame, stage: str
) -> pd.DataFrame:
    """Per customer who expressed an emotion at the stage: entry (the first time they did),
    end of follow-up and status in days since the origin, and the stage emotion."""
    first = at_stage.groupby("customer_id", observed=True)["timestamp"].min()
    first = first[first.index.isin(usable.index)]
    info = usable.loc[first.index]
    entry = np.maximum(((first - info["origin"]) / pd.Timedelta(days=1)).to_numpy(float), 0)
    frame = pd.DataFrame(
        {
            "entry": entry,
            "time": info["end_days"].to_numpy(float),
            "status": info["event"].to_numpy(bool).astype(int),
            "emotion": wide[stage].reindex(first.index).to_numpy(float)
            if stage in wide.columns
            else np.nan,
        },
        index=first.index,
    )
    return frame[(frame["time"] > frame["entry"]) & frame["emotion"].notna()]
