"""The generated studies with truth in time (cjresearch.datasets.scenarios) plant what they
say: about-to-leave complaints just before churn, non-response among reachers, no dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjresearch.datasets.scenarios import SCENARIO_STAGES, Scenario, generate_scenario

DAY = pd.Timedelta(days=1)


def test_complaints_come_in_the_30_days_before_churn() -> None:
    study = generate_scenario(600, Scenario("leaving", about_to_leave=1.0), seed=1)
    customers = study.customers.set_index("customer_id")
    assert set(study.events["stage"]) == set(SCENARIO_STAGES)
    support = study.events[(study.events["stage"] == "support") & study.events["emotion"].notna()]
    churn = customers.loc[support["customer_id"], "churn_date"].to_numpy()
    before = (churn - support["timestamp"].to_numpy()) / np.timedelta64(1, "D")
    close = (before >= 0) & (before <= 30)
    # every churner who was a customer for 30 days complained within 30 days of leaving
    assert close.sum() >= 0.9 * customers["churned"].sum()
    assert support.loc[close, "emotion"].mean() < -0.5
    # nothing happens after churn or after the end of observation
    last = study.events.groupby("customer_id")["timestamp"].max()
    dated = customers["churn_date"].reindex(last.index)
    assert (last[dated.notna()] <= dated[dated.notna()]).all()
    assert (last < study.observation_end).all()


def test_non_response_leaves_reached_stages_without_emotion_and_dates_can_be_dropped() -> None:
    study = generate_scenario(500, Scenario("silent", response=0.5, churn_dates=False), seed=2)
    assert "churn_date" not in study.customers.columns
    onboarding = study.events[study.events["stage"] == "onboarding"]
    reached = onboarding["customer_id"].nunique()
    said = onboarding.loc[onboarding["emotion"].notna(), "customer_id"].nunique()
    assert reached == 500 and 0.4 < said / reached < 0.6
    assert study.truth["response"] == 0.5 and study.truth["n_customers"] == 500


def test_bad_scenarios_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="mechanism must be 'hazard' or 'landmark'"):
        Scenario("x", mechanism="other")
    with pytest.raises(ValueError, match="response must be in"):
        Scenario("x", response=0.0)
    with pytest.raises(ValueError, match="n_customers must be at least 10"):
        generate_scenario(5, Scenario())
