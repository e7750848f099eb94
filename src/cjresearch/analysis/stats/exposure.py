"""Exposure in time: when each customer reached each stage, how long they were followed, and
what counts as their emotion at a stage and as their outcome after it.

**Reach** comes from what customers did, not from what they said: a customer reached a stage
at their first event (or feedback) there (:func:`stage_reach`). A customer who reached a stage
and said nothing there is a non-respondent (missing data), not someone who never got there.

**Follow-up** (:func:`follow_up`) runs from ``signup_date`` (else the first activity) to the
churn date of churners and to the end of observation for the others. A churner without a
churn date is dated by their **last event or feedback** (an approximation: they left at or
after it; the tables say so with the flag ``churn_date_derived``); only a churner with no
activity at all is left out (``missing_churn_date``).

**The landmark design** (:func:`stage_frames`, the default, ``design="landmark"``), per stage:

- *exposure*: the mean of the emotions the customer expressed at the stage within
  ``exposure_window_days`` of reaching it;
- *landmark*: ``lag_days`` after the end of that window; only customers still with us at the
  landmark take part (whoever churned before it, including everyone who complained while
  leaving, is not compared);
- *outcome*: churn within ``horizon_days`` after the landmark, among the customers observed
  for the whole horizon (so that early and late reachers have the same time to churn). A
  churn hazard that changes with tenure is the Cox model's to handle: its time scale is the
  time since signup.

So every expression that counts was made at least ``lag_days`` before any churn it is related
to, and everyone compared had the same time at risk. ``design="whole_follow_up"`` is the 0.1
analysis (every emotion at the stage against churn at any time), kept to compare with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import codes
from cjresearch.analysis.settings import Settings

__all__ = ["REACH_COLUMNS", "days", "follow_up", "stage_frames", "stage_reach"]

DAY = pd.Timedelta(days=1)
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def days(values: pd.Series | pd.Index | object) -> np.ndarray:
    """Datetimes as float days since 1970-01-01 UTC (naive ones taken as UTC; NaT: NaN).

    The models do their time arithmetic in days: subtracting time-zone aware timestamps
    element by element goes through Python objects and costs seconds per stage.
    """
    series = pd.Series(values, copy=False) if not isinstance(values, pd.Series) else values
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series, utc=True)
    if series.dt.tz is None:
        series = series.dt.tz_localize("UTC")
    return ((series - _EPOCH) / DAY).to_numpy(dtype=float)


def with_days(frame: pd.DataFrame, source: str, target: str) -> pd.DataFrame:
    """``frame`` with ``target`` = :func:`days` of ``source`` (as it is when it has one)."""
    return frame if target in frame.columns else frame.assign(**{target: days(frame[source])})


#: The columns of :func:`stage_reach`.
REACH_COLUMNS = ("customer_id", "stage", "first_at", "last_at", "n_events")

#: The columns of one stage's frame (:func:`stage_frames`), indexed by customer.
FRAME_COLUMNS = (
    "reached_day",
    "landmark_day",
    "emotion",
    "responded",
    "at_risk",
    "full_horizon",
    "churned",
)


def stage_reach(events: pd.DataFrame, feedback: pd.DataFrame | None = None) -> pd.DataFrame:
    """When each customer reached each stage: their first and last event or feedback there.

    Parameters
    ----------
    events
        Canonical events (``customer_id, timestamp, stage``); emotion observations work too
        (reach then comes from expressed emotion only, so non-response cannot be told apart
        from not reaching: pass the events where you have them).
    feedback
        Canonical feedback (``customer_id, timestamp, stage``), or None.

    Returns
    -------
    pandas.DataFrame
        One row per customer and stage reached: ``customer_id, stage`` (text), ``first_at``
        and ``last_at`` (timestamps), ``n_events`` (events and feedback rows there).
    """
    require_columns(events, ("customer_id", "timestamp", "stage"), "events")
    parts = [events[["customer_id", "timestamp", "stage"]]]
    if feedback is not None:
        require_columns(feedback, ("customer_id", "timestamp", "stage"), "feedback")
        parts.append(feedback[["customer_id", "timestamp", "stage"]])
    parts = [p for p in parts if len(p)]
    stage = {p["stage"].dtype for p in parts}
    if len(stage) == 1 and isinstance(kind := stage.pop(), pd.CategoricalDtype):
        # the stages stay codes (text for every row took 2.6 GB at 1,000,000 customers), in
        # the order of their names, so that rows come out as they would grouped as text
        names = sorted(kind.categories, key=str)
        parts = [p.assign(stage=p["stage"].cat.reorder_categories(names)) for p in parts]
    else:
        parts = [p.assign(stage=p["stage"].astype("str")) for p in parts]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        return pd.DataFrame(columns=list(REACH_COLUMNS))
    dated = frame["stage"].notna().to_numpy() & frame["timestamp"].notna().to_numpy()
    if not dated.all():
        frame = frame[dated]
    out = frame.groupby(["customer_id", "stage"], observed=True, sort=True, as_index=False).agg(
        first_at=("timestamp", "min"), last_at=("timestamp", "max"), n_events=("timestamp", "size")
    )
    out["stage"] = out["stage"].astype("str")
    return out[list(REACH_COLUMNS)].reset_index(drop=True)


def follow_up(
    customers: pd.DataFrame, reach: pd.DataFrame, observation_end: pd.Timestamp
) -> pd.DataFrame:
    """Per customer: time origin, follow-up in days, churn event, why a customer is left out.

    Origin is ``signup_date`` (or the first activity when it is missing); the end is the
    churn date of churners (a churner without one: their last activity) and
    ``observation_end`` for the others (a churn date after ``observation_end`` is censored
    there).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer_id: ``origin_day`` (the origin, in :func:`days`),
        ``end_days`` (the customer's follow-up), ``admin_days`` (days from the origin to the
        end of observation), ``event`` (churn seen within follow-up), ``churned`` (the
        customers' flag), ``derived`` (the churn date was taken from the last activity) and
        ``excluded`` ('' or 'missing_churn_date' / 'no_follow_up').
    """
    ids = customers["customer_id"].to_numpy()
    by_customer = reach.groupby("customer_id", observed=True)
    first_seen = by_customer["first_at"].min().reindex(ids)
    last_seen = by_customer["last_at"].max().reindex(ids)
    if not len(reach):  # no activity at all: an empty frame has no datetime dtype
        first_seen = last_seen = pd.Series(pd.NaT, index=ids, dtype="datetime64[ns, UTC]")
    if "signup_date" in customers.columns:
        origin = pd.Series(customers["signup_date"].array, index=ids)
        origin = origin.fillna(first_seen)
    else:
        origin = first_seen
    churned = customers["churned"].to_numpy(dtype=bool)
    if "churn_date" in customers.columns:
        churn_date = pd.Series(customers["churn_date"].array, index=ids)
    else:
        churn_date = pd.Series(pd.NaT, index=ids, dtype=origin.dtype)
    derived = churned & churn_date.isna().to_numpy() & last_seen.notna().to_numpy()
    churn_date = churn_date.where(~derived, last_seen)
    # a churn after the end of observation is not seen: censored at the end
    seen = churned & (churn_date <= observation_end).to_numpy()
    end = churn_date.where(seen, observation_end)
    churned_unseen = churned & ~seen & churn_date.notna().to_numpy()
    event = churned & ~churned_unseen
    end_days = ((end - origin) / DAY).to_numpy(dtype=float)
    excluded = np.where(
        event & churn_date.isna().to_numpy(),
        "missing_churn_date",
        np.where(~(end_days > 0), "no_follow_up", ""),
    )
    return pd.DataFrame(
        {
            "origin_day": days(origin),
            "end_days": end_days,
            "admin_days": ((observation_end - origin) / DAY).to_numpy(dtype=float),
            "event": event,
            "churned": churned,
            "derived": derived & event,
            "excluded": excluded,
        },
        index=pd.Index(ids, name="customer_id"),
    )


def stage_frames(
    observations: pd.DataFrame,
    reach: pd.DataFrame,
    follow: pd.DataFrame,
    settings: Settings,
    *,
    lag_days: float | None = None,
    design: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Each stage's exposure and outcome per customer who reached it (see the module).

    ``lag_days`` and ``design`` default to the settings'. In the landmark design, customers
    left out of follow-up (``follow["excluded"]``) are not in any frame; the whole-follow-up
    design needs no follow-up and keeps them, with churn as the customers' flag.

    Returns
    -------
    dict of str to pandas.DataFrame
        By stage, indexed by customer_id: ``reached_day`` and ``landmark_day`` (days since
        the origin; the landmark is NaN in the whole-follow-up design), ``emotion`` (NaN for
        non-respondents), ``responded``, ``at_risk`` (still a customer at the landmark),
        ``full_horizon`` (observed for the whole horizon after it) and ``churned`` (the
        outcome: within the horizon after the landmark, or at any time).
    """
    lag = settings.lag_days if lag_days is None else float(lag_days)
    whole = (settings.design if design is None else design) == "whole_follow_up"
    usable = follow if whole else follow[follow["excluded"] == ""]
    reach = with_days(reach, "first_at", "first_day")
    observations = with_days(observations, "timestamp", "day")
    # positions in the stages, a categorical's few categories looked up once (not every row
    # as a Python string: 43 MB per column at 100,000 customers)
    stage_of_reach = codes(reach["stage"], settings.stages)
    stage_of_obs = codes(observations["stage"], settings.stages)
    expressed = observations["emotion"].notna().to_numpy()
    window = float(settings.exposure_window_days)
    frames: dict[str, pd.DataFrame] = {}
    for at, stage in enumerate(settings.stages):
        here = stage_of_reach == at
        first = pd.Series(
            reach["first_day"].to_numpy(dtype=float)[here],
            index=pd.Index(reach["customer_id"].array[here]),  # not the whole column as objects
        )
        first = first[first.index.isin(usable.index)]
        info = usable.loc[first.index]
        reached_day = first.to_numpy() - info["origin_day"].to_numpy(dtype=float)
        obs = observations.loc[(stage_of_obs == at) & expressed, ["customer_id", "day", "emotion"]]
        obs = obs[obs["customer_id"].isin(first.index)]
        if not whole:
            start = first.reindex(obs["customer_id"].to_numpy()).to_numpy()
            t = obs["day"].to_numpy(dtype=float)
            obs = obs[(t >= start) & (t <= start + window)]
        emotion = obs.groupby("customer_id", observed=True)["emotion"].mean()
        emotion = emotion.reindex(first.index).to_numpy(dtype=float)
        end_days = info["end_days"].to_numpy(dtype=float)
        if whole:
            landmark = np.full(len(first), np.nan)
            at_risk = full = np.ones(len(first), dtype=bool)
            churned = info["churned"].to_numpy(dtype=bool)
        else:
            landmark = reached_day + window + lag
            horizon = float(settings.horizon_days)
            at_risk = end_days > landmark
            full = info["admin_days"].to_numpy(dtype=float) >= landmark + horizon
            churned = info["event"].to_numpy(dtype=bool) & (end_days <= landmark + horizon)
        frames[stage] = pd.DataFrame(
            {
                "reached_day": reached_day,
                "landmark_day": landmark,
                "emotion": emotion,
                "responded": np.isfinite(emotion),
                "at_risk": at_risk,
                "full_horizon": full,
                "churned": churned,
            },
            index=pd.Index(first.index, name="customer_id"),
        )
    return frames
