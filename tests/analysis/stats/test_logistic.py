"""Logistic models of emotion and churn (stats.logistic): planted truth, golden fits, flags."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from cjresearch.analysis.stats import (
    emotion_churn,
    joint_model,
    stage_reach,
)
from cjresearch.datasets.sample import EFFECTS
from cjresearch.errors import (
    CJResearchError,
    SeparationWarning,
    SmallSampleWarning,
    StatisticalWarning,
)
from helpers.stats import CONTROLS, UNIT, flags_of, toy_study


def _fit(pipeline, *, design: str = "landmark", **options) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        return emotion_churn(
            pipeline.tables.customers,
            pipeline.observations,
            reach=stage_reach(pipeline.tables.events, pipeline.tables.feedback),
            observation_end=pipeline.tables.observation_end,
            design=design,
            **options,
        )


def test_per_stage_models_find_the_planted_stages_and_not_awareness(big) -> None:
    stages = ["awareness", "onboarding", "support"]
    table = _fit(big, stages=stages, controls=CONTROLS, unit_size=UNIT).set_index("stage")
    for stage in ("onboarding", "support"):
        assert table.loc[stage, "odds_ratio"] < 1  # planted: lower emotion, more churn
        assert table.loc[stage, "q_value"] < 0.001
    assert table.loc["awareness", "q_value"] >= 0.05
    assert (table["n_reached"] > 5_000).all()
    # the sample plants a logit of churn at any time: the whole-follow-up design is that
    # model, and onboarding alone carries no confounding stage before it: its interval
    # covers the truth
    whole = _fit(
        big, design="whole_follow_up", stages=stages, controls=CONTROLS, unit_size=UNIT
    ).set_index("stage")
    planted = np.exp(EFFECTS["onboarding"] * UNIT)
    assert whole.loc["onboarding", "ci_low"] <= planted <= whole.loc["onboarding", "ci_high"]
    assert (whole["n_customers"] > 5_000).all()


def test_joint_model_recovers_the_planted_odds_ratios(big) -> None:
    """The planted model is a joint logit with emotion 0 where unmeasured plus a
    support-reached term: the missing-indicator joint model is that model re-parametrised,
    so its intervals must cover exp(effect x unit) for every planted stage."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        joint = joint_model(
            big.tables.customers,
            big.observations,
            stages=["awareness", "onboarding", "support"],
            controls=CONTROLS,
            unit_size=UNIT,
            observation_end=big.tables.observation_end,
            design="whole_follow_up",  # the planted model is a logit of churn at any time
        )
    table = joint.summary.set_index("stage")
    for stage, effect in EFFECTS.items():
        planted = np.exp(effect * UNIT)
        assert table.loc[stage, "ci_low"] <= planted <= table.loc[stage, "ci_high"], stage
    assert table.loc["onboarding", "q_value"] < 0.001
    assert table.loc["support", "q_value"] < 0.001
    assert table.loc["awareness", "q_value"] >= 0.05
    diagnostics = joint.diagnostics.iloc[0]
    assert diagnostics["auc"] > 0.7
    assert 0.8 <= diagnostics["calibration_slope"] <= 1.2
    assert "missing-indicator" in joint.formula


def test_logistic_fit_equals_statsmodels_formula_logit(small) -> None:
    """Reference: statsmodels.formula.api.logit on the same frame (patsy's C() coding), in
    the whole-follow-up design (the landmark one is pinned in test_exposure.py)."""
    customers, per_stage = small.tables.customers, small.stage_emotion
    table = _fit(
        small, design="whole_follow_up", stages=["onboarding"], controls=CONTROLS, unit_size=UNIT
    )
    onboarding = per_stage[per_stage["stage"] == "onboarding"][["customer_id", "emotion_mean"]]
    frame = customers.merge(onboarding, on="customer_id")
    frame = frame.assign(churned=frame["churned"].astype(int), step=frame["emotion_mean"] / UNIT)
    reference = smf.logit("churned ~ step + tenure_months + C(plan)", data=frame).fit(disp=False)
    row = table.iloc[0]
    ci = reference.conf_int().loc["step"]
    assert row["n_customers"] == len(frame)
    assert row["odds_ratio"] == pytest.approx(np.exp(reference.params["step"]), rel=1e-8)
    assert row["ci_low"] == pytest.approx(np.exp(ci[0]), rel=1e-8)
    assert row["ci_high"] == pytest.approx(np.exp(ci[1]), rel=1e-8)
    assert row["p_value"] == pytest.approx(reference.pvalues["step"], rel=1e-6)


def test_holm_correction_reaches_the_table(small) -> None:
    bh = _fit(small, stages=["onboarding", "usage"])
    holm = _fit(small, stages=["onboarding", "usage"], correction="holm")
    np.testing.assert_allclose(holm["q_value"], multipletests(bh["p_value"], method="holm")[1])
    assert holm["family"].str.contains("Holm").all()


def test_perfect_separation_is_flagged_and_not_estimated() -> None:
    toy = toy_study()
    customers = toy["customers"].copy()
    a = toy["stage_emotion"].query("stage == 'a'").set_index("customer_id")["emotion_mean"]
    customers["churned"] = customers["customer_id"].map(a).to_numpy() < 0
    toy["customers"] = customers.assign(
        churn_date=(customers["signup_date"] + pd.Timedelta(days=50)).where(customers["churned"])
    )
    with pytest.warns(SeparationWarning, match="separation"):
        table = emotion_churn(
            toy["customers"], toy["observations"], stages=["a"], design="whole_follow_up"
        )
    assert "separation" in flags_of(table, "all", "a")
    assert np.isnan(table["odds_ratio"].iloc[0])


def test_small_groups_are_suppressed_and_constant_controls_dropped() -> None:
    toy = toy_study(n=30)
    customers = toy["customers"].assign(plan="basic")
    with pytest.warns(StatisticalWarning) as record:
        table = emotion_churn(
            customers,
            toy["observations"],
            design="whole_follow_up",
            stages=["a"],
            controls=["plan"],
            personas=toy["personas"],
            min_group_size=20,
        )
    assert "dropped_control:plan" in flags_of(table, "all", "a")
    assert flags_of(table, "Others", "a") == {"small_group"}
    assert table.loc[table["persona"] == "Others", "odds_ratio"].isna().all()
    assert any(issubclass(w.category, SmallSampleWarning) for w in record)


def test_bad_arguments_are_clear_errors() -> None:
    toy = toy_study(n=50)
    with pytest.raises(CJResearchError, match="control column"):
        emotion_churn(toy["customers"], toy["observations"], stages=["a"], controls=["nope"])
    with pytest.raises(CJResearchError, match="unit_size"):
        emotion_churn(toy["customers"], toy["observations"], stages=["a"], unit_size=0)
    with pytest.raises(CJResearchError, match="interactions=True needs"):
        joint_model(toy["customers"], toy["observations"], stages=["a"], interactions=True)
