"""How much of the emotion -> churn association rides on the lag: the lag-sensitivity table
and its plain-language warning.

Customers who are about to leave often say so: the angry chat, the cancellation call. Their
last words at a stage are a symptom of leaving, not evidence that the feeling caused it, and
they make a strong association between emotion and churn out of nothing. So the models count
an emotion only ``lag_days`` before the outcome it is related to. :func:`lag_sensitivity`
refits the all-customers models of every stage at each lag of ``settings.lags`` (and the
study's own): the landmark logit (landmark ``exposure_window_days + lag`` after reaching the
stage) and the lagged Cox model. An association that is real stays about the same as the lag
grows; one made by customers complaining on their way out **collapses**: strong at lag 0,
much weaker a few weeks later. :func:`lag_warnings` says so in words for every stage and
model where the estimate at lag 0 is significant and the estimate at the largest lag is less
than half as strong (on the log scale) or of the other sign; :func:`lag_sensitive_stages`
names the stages whose estimate at the study's lag itself still shrinks by more than half at
the largest lag (the build flags their rows ``lag_sensitive`` and makes no finding of them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cjresearch.analysis._codes import codes
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats._common import LAG_COLUMNS, finish
from cjresearch.analysis.stats._survival import start_stop
from cjresearch.analysis.stats.exposure import stage_frames
from cjresearch.analysis.stats.logistic import logit_cell, model_frame
from cjresearch.analysis.stats.survival import cox_cell, follow_flags

__all__ = ["COX", "LOGIT", "lag_sensitive_stages", "lag_sensitivity", "lag_warnings"]

#: The ``model`` values of the lag table.
LOGIT = "landmark logit"
COX = "lagged Cox"
_WORDS = {LOGIT: "odds ratio", COX: "hazard ratio"}


def lag_sensitivity(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    reach: pd.DataFrame,
    follow: pd.DataFrame,
    settings: Settings,
) -> pd.DataFrame:
    """The ``emotion_churn_lag`` table of encoded inputs (all customers only).

    Returns
    -------
    pandas.DataFrame
        One row per stage, model and lag: ``stage, model`` (``"landmark logit"`` or
        ``"lagged Cox"``), ``lag_days, n_customers, n_churned`` (churned within the horizon;
        for the Cox model, churn events), ``ratio`` (odds or hazard ratio per ``unit_size``
        of emotion), ``ci_low, ci_high, p_value, study_lag`` (True at the study's lag) and
        ``flags``.
    """
    base = customers.set_index("customer_id")[list(settings.controls)]
    extra = follow_flags(follow, pd.Index(customers["customer_id"]))
    reach_stage = codes(reach["stage"], settings.stages)
    reached = {s: int((reach_stage == i).sum()) for i, s in enumerate(settings.stages)}
    rows: list[dict[str, Any]] = []
    for lag in sorted({*map(float, settings.lags), float(settings.lag_days)}):
        frames = stage_frames(
            observations, reach, follow, settings, lag_days=lag, design="landmark"
        )
        for stage in settings.stages:
            frame = frames[stage]
            counts = {"n_reached": len(frame), "n_responded": int(frame["responded"].sum())}
            cell = logit_cell(model_frame(frame, base), settings, counts).row
            rows.append(
                {
                    **cell,
                    "stage": stage,
                    "model": LOGIT,
                    "lag_days": lag,
                    "ratio": cell["odds_ratio"],
                }
            )
            counts = {"n_reached": reached[stage], "n_responded": counts["n_responded"]}
            cox = cox_cell(
                start_stop(observations, follow, stage, lag_days=lag), base, settings, extra, counts
            )
            rows.append(
                {
                    **cox,
                    "stage": stage,
                    "model": COX,
                    "lag_days": lag,
                    "ratio": cox["hazard_ratio"],
                    "n_churned": cox["n_events"],
                }
            )
    frame = pd.DataFrame(rows)
    frame["study_lag"] = frame["lag_days"] == float(settings.lag_days)
    order = {s: i for i, s in enumerate(settings.stages)}
    frame = frame.sort_values(
        ["stage", "model", "lag_days"], key=lambda c: c.map(order) if c.name == "stage" else c
    )
    return finish(frame, LAG_COLUMNS)


def _strength(row: pd.Series) -> float:
    ratio = float(row["ratio"])
    return float(np.log(ratio)) if np.isfinite(ratio) and ratio > 0 else float("nan")


def _collapsed(start: pd.Series, end: pd.Series) -> bool:
    """Whether the association at ``end`` is less than half as strong as at ``start`` (on
    the log scale) or of the other sign."""
    a, b = _strength(start), _strength(end)
    if not (np.isfinite(a) and np.isfinite(b)) or a == 0:
        return False
    return bool(np.sign(a) != np.sign(b) or abs(b) < 0.5 * abs(a))


def lag_warnings(table: pd.DataFrame, *, alpha: float, unit_size: float) -> pd.DataFrame:
    """The plain-language warning of every stage whose association collapses as the lag
    grows (see the module), from a lag table.

    Returns
    -------
    pandas.DataFrame
        ``stage, text``: one row per stage that needs a warning (the models that collapse
        named in one sentence).
    """
    out = []
    for stage, part in table.groupby("stage", sort=False):
        said = []
        lag_days = (
            float(part.loc[part["study_lag"], "lag_days"].iloc[0])
            if part["study_lag"].any()
            else None
        )
        for model, rows in part.groupby("model", sort=False):
            rows = rows[np.isfinite(rows["ratio"].to_numpy(dtype=float))].sort_values("lag_days")
            if len(rows) < 2:
                continue
            first, last = rows.iloc[0], rows.iloc[-1]
            if not (first["p_value"] < alpha and _collapsed(first, last)):
                continue
            said.append(
                f"the {_WORDS[str(model)]} per {unit_size:g} points of emotion is "
                f"{first['ratio']:.2f} at a lag of {first['lag_days']:g} days and "
                f"{last['ratio']:.2f} at {last['lag_days']:g} days"
            )
        if not said:
            continue
        study = f" The tables use a lag of {lag_days:g} days." if lag_days is not None else ""
        out.append(
            {
                "stage": str(stage),
                "text": (
                    f"At {stage}, the association between emotion and churn shrinks as the lag "
                    f"grows: {'; '.join(said)}. That is the signature of customers saying how "
                    "they feel while they are already leaving: what they say then goes with "
                    "churn but is no evidence that the feeling led to it. Read the estimates "
                    f"at the longer lags.{study}"
                ),
            }
        )
    return pd.DataFrame(out, columns=["stage", "text"])


def lag_sensitive_stages(table: pd.DataFrame, *, alpha: float) -> dict[str, set[str]]:
    """By model (``"landmark logit"``, ``"lagged Cox"``), the stages whose estimate at the
    study's lag is significant and less than half as strong (or reversed) at the largest
    lag of the table."""
    out: dict[str, set[str]] = {LOGIT: set(), COX: set()}
    for (stage, model), rows in table.groupby(["stage", "model"], sort=False):
        rows = rows[np.isfinite(rows["ratio"].to_numpy(dtype=float))].sort_values("lag_days")
        study = rows[rows["study_lag"]]
        if study.empty or rows["lag_days"].iloc[-1] <= study["lag_days"].iloc[0]:
            continue
        at_study, last = study.iloc[0], rows.iloc[-1]
        if at_study["p_value"] < alpha and _collapsed(at_study, last):
            out[str(model)].add(str(stage))
    return out
