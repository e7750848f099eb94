"""Every emotion -> churn analysis at once (stats.analyse): tables, degenerate input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.stats import (
    EMOTION_CHURN_COLUMNS,
    FINDINGS_COLUMNS,
    TIME_TO_CHURN_COLUMNS,
    analyse,
)
from cjresearch.errors import (
    SmallSampleWarning,
    StatisticalWarning,
)
from helpers.stats import CONTROLS, flags_of, run_toy, sample_personas, toy_study


def test_analyse_on_the_sample_gives_every_table_with_its_columns(small) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        result = analyse(
            small.tables.customers,
            small.observations,
            small.stage_emotion,
            stages=list(small.study.stages),
            personas=sample_personas(small),
            controls=CONTROLS,
            observation_end=small.tables.observation_end,
            interactions=True,
        )
    assert list(result.emotion_churn.columns) == list(EMOTION_CHURN_COLUMNS)
    assert list(result.time_to_churn.columns) == list(TIME_TO_CHURN_COLUMNS)
    assert list(result.findings.columns) == list(FINDINGS_COLUMNS)
    n_groups = 1 + sample_personas(small)["persona_name"].nunique()
    assert len(result.emotion_churn) == n_groups * len(small.study.stages)
    assert result.emotion_churn["persona"].iloc[0] == "all"
    # one family for every all-customers stage test; persona rows only where personas differ
    everyone = result.emotion_churn["persona"] == "all"
    family = result.emotion_churn["family"]
    assert family[everyone].str.startswith("findings: stage tests for all customers").all()
    assert family[~everyone].str.startswith("personas").all()
    assert (
        result.emotion_churn["q_value"][~everyone]
        .isna()
        .eq(~family[~everyone].str.startswith("personas at"))
        .all()
    )
    assert set(result.joint["persona"]) == {"all", *sample_personas(small)["persona_name"]}
    assert result.findings["rank"].tolist() == list(range(1, len(result.findings) + 1))
    top = result.findings.iloc[0]
    assert top["stage"] in {"onboarding", "support"} and top["q_value"] < 0.001
    # the planted effects are findings; every opportunity and solid sentence rests on one
    odds = result.emotion_churn.set_index(["persona", "stage"])
    assert odds.loc[("all", "onboarding"), "finding"] and odds.loc[("all", "support"), "finding"]
    found = set(odds.index[odds["finding"].astype(bool)])
    sized = result.findings[result.findings["kind"].isin(["opportunity", "odds_ratio"])]
    assert set(zip(sized["persona"], sized["stage"], strict=True)) <= found
    assert (
        set(
            map(
                tuple,
                result.opportunities.loc[
                    result.opportunities["finding"], ["persona", "stage"]
                ].to_numpy(),
            )
        )
        <= found
    )
    # no customer id reaches any table
    ids = set(small.tables.customers["customer_id"])
    for name, frame in result.tables().items():
        text = frame.astype(str).to_numpy().ravel()
        assert not ids & set(text), name
    curves = result.km_curves
    assert (curves["n_at_risk"] >= 10).all()
    for _, curve in curves.groupby(["persona", "stage", "tercile"]):
        assert (np.diff(curve["survival"].to_numpy()) <= 1e-12).all()
        assert (curve["ci_low"] <= curve["survival"] + 1e-12).all()
    onboarding = result.logrank.set_index(["persona", "stage"]).loc[("all", "onboarding")]
    assert onboarding["p_value"] < 0.001
    opp = result.opportunities
    assert opp["rank"].tolist() == list(range(1, len(opp) + 1))
    best = opp.iloc[0]
    assert best["churn_rate_if_better"] < best["churn_rate_modelled"]
    assert best["ci_low"] <= best["churn_rate_if_better"] <= best["ci_high"]
    assert "<table" in result._repr_html_()


def test_degenerate_cases_warn_and_flag_instead_of_crashing() -> None:
    toy = toy_study()
    customers = toy["customers"].copy()
    loyal = toy["personas"]["persona_name"].str.startswith("Loyal").to_numpy()
    customers.loc[loyal, "churned"] = False  # no churners in one persona
    customers.loc[loyal, "churn_date"] = pd.NaT
    toy["customers"] = customers
    with pytest.warns(SmallSampleWarning) as record:
        result = run_toy(toy)
    messages = " ".join(str(w.message) for w in record)
    assert "no_events" in messages and "no_customers" in messages
    odds = result.emotion_churn
    assert "no_customers" in flags_of(odds, "all", "c")  # a stage nobody reached
    assert flags_of(odds, "Loyal <b>ones</b>", "a") == {"no_events"}
    assert np.isnan(odds.loc[odds["stage"] == "c", "odds_ratio"]).all()
    assert "no_events" in flags_of(result.time_to_churn, "Loyal <b>ones</b>", "a")
    assert "no_customers" in flags_of(result.time_to_churn, "all", "c")
    assert "&lt;b&gt;" in result._repr_html_() and "<b>ones" not in result._repr_html_()


def test_one_emotion_value_for_everyone_is_flagged() -> None:
    toy = toy_study()
    toy["stage_emotion"] = toy["stage_emotion"].assign(emotion_mean=0.25)
    toy["observations"] = toy["observations"].assign(emotion=0.25)
    with pytest.warns(StatisticalWarning, match="no_variation"):
        result = run_toy(toy, stages=["a"])
    assert flags_of(result.emotion_churn, "all", "a") == {"no_variation"}
    assert flags_of(result.time_to_churn, "all", "a") == {"no_variation"}
    assert "few_distinct_values" in flags_of(result.logrank, "all", "a")


def test_inputs_are_not_mutated() -> None:
    toy = toy_study(n=200)
    before = {k: v.copy() for k, v in toy.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        run_toy(toy, controls=["plan", "tenure_months"])
    for name, frame in toy.items():
        pd.testing.assert_frame_equal(frame, before[name])
