"""Exposure in time (stats.exposure): reach from events, follow-up with derived churn dates,
and the landmark logit pinned to a statsmodels fit on a frame built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from cjresearch.analysis.stats import REACH_COLUMNS, emotion_churn, follow_up, stage_reach
from cjresearch.analysis.stats.exposure import days
from helpers.stats import CONTROLS, UNIT

DAY = pd.Timedelta(days=1)


def test_reach_comes_from_events_and_feedback_not_from_emotion(small) -> None:
    reach = stage_reach(small.tables.events, small.tables.feedback)
    assert list(reach.columns) == list(REACH_COLUMNS)
    onboarding = reach[reach["stage"] == "onboarding"]
    assert len(onboarding) == len(small.tables.customers)  # everyone onboards in the sample
    said = small.stage_emotion[small.stage_emotion["stage"] == "onboarding"]
    assert len(said) < len(onboarding)  # some reached onboarding and said nothing there
    first = small.tables.events.groupby("customer_id", observed=True)["timestamp"].min()
    mine = reach.groupby("customer_id")["first_at"].min()
    assert (mine.reindex(first.index) <= first).all()  # feedback may come first, never later
    assert (reach["first_at"] <= reach["last_at"]).all() and (reach["n_events"] >= 1).all()


def test_churners_without_a_date_are_dated_by_their_last_activity() -> None:
    day = pd.Timestamp("2026-01-01", tz="UTC")
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "signup_date": [day] * 4,
            "churned": [True, True, False, True],
            "churn_date": [day + 40 * DAY, pd.NaT, pd.NaT, pd.NaT],
        }
    )
    events = pd.DataFrame(
        {
            "customer_id": ["a", "b", "b", "c"],
            "timestamp": [day + 5 * DAY, day + 3 * DAY, day + 25 * DAY, day + 9 * DAY],
            "stage": ["s", "s", "t", "s"],
        }
    )
    follow = follow_up(customers, stage_reach(events), day + 100 * DAY)
    assert follow.loc["a", "end_days"] == 40 and not follow.loc["a", "derived"]
    # b has no churn date: its last event (day 25, at stage t) dates its leaving
    assert follow.loc["b", "end_days"] == 25 and follow.loc["b", "derived"]
    assert follow.loc["c", "end_days"] == 100 and not follow.loc["c", "event"]
    # d churned and did nothing: it cannot be dated, so it is left out (and counted)
    assert follow.loc["d", "excluded"] == "missing_churn_date"
    assert follow.loc[["a", "b", "c"], "excluded"].eq("").all()


def test_days_are_float_days_since_the_epoch() -> None:
    stamps = pd.Series(pd.to_datetime(["1970-01-02T00:00", "1970-01-01T12:00", None], utc=True))
    np.testing.assert_allclose(days(stamps), [1.0, 0.5, np.nan])
    naive = pd.Series(pd.to_datetime(["1970-01-03"]))
    assert days(naive)[0] == 2.0  # naive times are taken as UTC


def _landmark_by_hand(pipeline, stage: str, window: float, lag: float, horizon: float):
    """The landmark logit's frame, written out with timestamps (independent of exposure.py)."""
    tables = pipeline.tables
    activity = pd.concat(
        [
            tables.events[["customer_id", "timestamp", "stage"]],
            tables.feedback[["customer_id", "timestamp", "stage"]],
        ]
    )
    activity = activity[activity["stage"].astype(str) == stage]
    reached = activity.groupby("customer_id", observed=True)["timestamp"].min().rename("reached")
    obs = pipeline.observations
    obs = obs[obs["stage"].astype(str) == stage].merge(
        reached, left_on="customer_id", right_index=True
    )
    inside = obs[
        (obs["timestamp"] >= obs["reached"]) & (obs["timestamp"] <= obs["reached"] + window * DAY)
    ]
    felt = inside.groupby("customer_id", observed=True)["emotion"].mean().rename("emotion")
    end = tables.observation_end
    frame = tables.customers.merge(reached, left_on="customer_id", right_index=True)
    frame = frame.merge(felt, left_on="customer_id", right_index=True, how="left")
    landmark = frame["reached"] + (window + lag) * DAY
    seen = frame["churned"] & (frame["churn_date"] <= end)
    stop = frame["churn_date"].where(seen, end)
    frame = frame.assign(
        landmark=landmark,
        at_risk=stop > landmark,
        full=end >= landmark + horizon * DAY,
        y=(seen & (stop <= landmark + horizon * DAY)).astype(int),
        step=frame["emotion"] / UNIT,
    )
    return reached, frame


@pytest.mark.parametrize(("stage", "lag"), [("onboarding", 30.0), ("support", 14.0)])
def test_landmark_logit_equals_statsmodels_on_a_frame_built_by_hand(small, stage, lag) -> None:
    """Reference: statsmodels.formula.api.logit on customers who reached the stage, gave
    feedback within 30 days of reaching it, were still customers at the landmark (30 + lag
    days after reaching it) and were observed for the 180 days after it; outcome: churn in
    those 180 days."""
    reached, frame = _landmark_by_hand(small, stage, 30.0, lag, 180.0)
    model = frame[frame["emotion"].notna() & frame["at_risk"] & frame["full"]]
    reference = smf.logit("y ~ step + tenure_months + C(plan)", data=model).fit(disp=False)
    table = emotion_churn(
        small.tables.customers,
        small.observations,
        reach=stage_reach(small.tables.events, small.tables.feedback),
        stages=[stage],
        controls=CONTROLS,
        unit_size=UNIT,
        lag_days=lag,
        observation_end=small.tables.observation_end,
    )
    row = table.iloc[0]
    ci = reference.conf_int().loc["step"]
    assert row["design"] == "landmark" and row["lag_days"] == lag
    assert row["n_reached"] == len(reached)
    assert row["n_responded"] == int(frame["emotion"].notna().sum())
    assert row["n_customers"] == len(model)
    assert row["n_churned"] == int(model["y"].sum())
    assert row["odds_ratio"] == pytest.approx(np.exp(reference.params["step"]), rel=1e-8)
    assert row["ci_low"] == pytest.approx(np.exp(ci[0]), rel=1e-8)
    assert row["ci_high"] == pytest.approx(np.exp(ci[1]), rel=1e-8)
    assert row["p_value"] == pytest.approx(reference.pvalues["step"], rel=1e-6)


def test_stage_reach_on_categorical_stages_equals_reach_on_text():
    # categorical stages (as loaded: the study's order, not the names') are grouped by
    # code; the rows must still come out as grouped on the text, stages by name
    stages = pd.CategoricalDtype(["usage", "awareness", "renewal"], ordered=True)
    t = pd.to_datetime(["2026-01-02", "2026-01-01", "2026-01-05", "2026-01-03", "2026-01-04"])
    events = pd.DataFrame(
        {
            "customer_id": ["b", "a", "a", "b", "a"],
            "timestamp": t.tz_localize("UTC"),
            "stage": ["usage", "renewal", "awareness", "awareness", "usage"],
        }
    )
    feedback = events.iloc[[1, 3]].assign(timestamp=lambda f: f["timestamp"] + pd.Timedelta("1h"))
    as_codes = stage_reach(events.astype({"stage": stages}), feedback.astype({"stage": stages}))
    as_text = stage_reach(events.astype({"stage": "str"}), feedback.astype({"stage": "str"}))
    pd.testing.assert_frame_equal(as_codes, as_text)
    assert as_codes["stage"].tolist() == ["awareness", "renewal", "usage", "awareness", "usage"]
