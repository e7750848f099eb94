"""The journey map build and its persona x stage table (journey_map.stage_map); privacy."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.emotion import emotion_observations, stage_emotion
from cjresearch.analysis.journey_map import (
    JOURNEY_MAP_COLUMNS,
    OPPORTUNITY_COLUMNS,
    PAIN_POINT_COLUMNS,
    TRANSITION_COLUMNS,
    build_map,
)
from cjresearch.analysis.privacy import check_publishable
from cjresearch.data.tables import load_tables
from cjresearch.errors import CJResearchError, StatisticalWarning
from helpers import MakeStudy

ISSUE_MAP_COLUMNS = [
    "persona", "stage", "n_customers", "reach", "conversion_next", "median_days",
    "emotion_mean", "emotion_ci_low", "emotion_ci_high", "churn_rate", "top_touchpoint",
    "top_channel", "suppressed",
]  # fmt: skip


ISSUE_PAIN_COLUMNS = [
    "persona", "stage", "touchpoint", "n_customers", "emotion_mean", "churn_lift",
    "lift_ci_low", "lift_ci_high", "drop_off", "score", "rank",
]  # fmt: skip


def test_tables_have_the_published_columns(jm) -> None:
    assert list(jm.journey_map.columns) == list(JOURNEY_MAP_COLUMNS)
    assert list(jm.journey_map.columns[: len(ISSUE_MAP_COLUMNS)]) == ISSUE_MAP_COLUMNS
    assert list(jm.pain_points.columns) == list(PAIN_POINT_COLUMNS)
    assert list(jm.pain_points.columns[: len(ISSUE_PAIN_COLUMNS)]) == ISSUE_PAIN_COLUMNS
    assert list(jm.transitions.columns) == list(TRANSITION_COLUMNS)
    assert list(jm.opportunities.columns) == list(OPPORTUNITY_COLUMNS)
    assert set(jm.tables()) == {
        "journey_map", "funnel", "touchpoints", "channels", "transitions", "variants",
        "pain_points", "opportunities", "verbatims", "ordered_funnel", "step_conversion",
    }  # fmt: skip
    stage = jm.journey_map["stage"]
    assert stage.cat.ordered and list(stage.cat.categories) == list(jm.stages)
    assert jm.personas[0] == "all"
    assert jm.journey_map["persona"].unique().tolist() == list(jm.personas)


def test_no_customer_id_in_any_table(jm, pipeline) -> None:
    ids = pipeline.tables.customers["customer_id"]
    for name, table in jm.tables().items():
        check_publishable(table, name=name, customer_ids=ids)
    assert "C0000" not in jm._repr_html_()


def test_map_counts_match_the_journey_features(jm, pipeline) -> None:
    # Independent computation: customer_features' reached_<s> flags and pandas means.
    features = pipeline.features.merge(pipeline.tables.customers[["customer_id", "churned"]])
    rows = jm.journey_map[jm.journey_map["persona"] == "all"].set_index("stage")
    for stage in jm.stages:
        reached = features[f"reached_{stage}"]
        assert rows.loc[stage, "n_customers"] == reached.sum()
        assert rows.loc[stage, "reach"] == pytest.approx(reached.mean())
        assert rows.loc[stage, "churn_rate"] == pytest.approx(features["churned"][reached].mean())
        emotion = features[f"emotion_{stage}"].dropna()
        assert rows.loc[stage, "emotion_mean"] == pytest.approx(emotion.mean())
        assert rows.loc[stage, "n_emotion"] == len(emotion)
        assert rows.loc[stage, "emotion_ci_low"] < rows.loc[stage, "emotion_mean"]
        assert rows.loc[stage, "median_days"] == pytest.approx(
            features[f"days_in_{stage}"].dropna().median()
        )
    onboarding = rows.loc["onboarding"]
    nxt = features["reached_onboarding"] & features["reached_usage"]
    assert onboarding["conversion_next"] == pytest.approx(
        nxt.sum() / features["reached_onboarding"].sum()
    )
    assert rows.loc["usage", "reach_of_previous"] == pytest.approx(onboarding["conversion_next"])


def small_count_cells(table: pd.DataFrame, min_group_size: int) -> list[str]:
    """Cells of customer counts below the threshold (n_stages is a path length, not a count)."""
    bad = []
    for column in table.columns:
        if column.startswith("n_") and column != "n_stages":
            values = pd.to_numeric(table[column], errors="coerce")
            small = values[values.notna() & (values < min_group_size)]
            bad += [f"{column}={v}" for v in small]
    return bad


def test_every_persona_below_the_threshold_leaks_nothing(pipeline) -> None:
    p = pipeline
    customers = p.tables.customers.head(40)
    keep = set(customers["customer_id"].astype(str))
    events = p.tables.events[p.tables.events["customer_id"].astype(str).isin(keep)]
    se = p.stage_emotion[p.stage_emotion["customer_id"].astype(str).isin(keep)]
    feedback = p.tables.feedback[p.tables.feedback["customer_id"].astype(str).isin(keep)]
    personas = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "persona_id": np.arange(40) % 8,
            "persona_name": [f"P{i % 8}" for i in range(40)],
        }
    )
    with pytest.warns(StatisticalWarning, match="8 of 9 groups have fewer than 10"):
        result = build_map(
            events, customers, None, se, feedback, stages=p.study.stages, personas=personas
        )
    for name, table in result.tables().items():
        assert small_count_cells(table, 10) == [], name
        if "suppressed" in table.columns:
            persona_rows = table[table["persona"] != "all"]
            assert persona_rows["suppressed"].all(), name
        if "persona" in table.columns and name not in ("journey_map", "funnel"):
            visible = table[~table.get("suppressed", pd.Series(False, index=table.index))]
            assert set(visible["persona"]) <= {"all"}, name
    jmap = result.journey_map[result.journey_map["persona"] != "all"]
    assert (
        jmap[["n_customers", "reach", "emotion_mean", "churn_rate", "n_persona"]].isna().all().all()
    )
    assert "suppressed" in result._repr_html_()

    # Now the whole population is below the threshold: nothing at all is shown.
    with pytest.warns(StatisticalWarning):
        tiny = build_map(events, customers, None, se, feedback, stages=p.study.stages,
                         personas=personas, min_group_size=50)  # fmt: skip
    for name, table in tiny.tables().items():
        assert small_count_cells(table, 50) == [], name
    assert tiny.journey_map["suppressed"].all()
    assert tiny.pain_points.empty and tiny.variants.empty and tiny.verbatims.empty


def test_a_single_small_persona_cell_gets_a_complementary_one(pipeline) -> None:
    p = pipeline
    customers = p.tables.customers.head(300)
    keep = set(customers["customer_id"].astype(str))
    events = p.tables.events[p.tables.events["customer_id"].astype(str).isin(keep)]
    personas = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "persona_id": [0] * 150 + [1] * 140 + [2] * 10,
            "persona_name": ["big"] * 150 + ["mid"] * 140 + ["small"] * 10,
        }
    )
    result = build_map(events, customers, stages=p.study.stages, personas=personas,
                       min_group_size=10)  # fmt: skip
    for stage, group in result.journey_map.groupby("stage", observed=True):
        personas_only = group[group["persona"] != "all"]
        assert personas_only["suppressed"].sum() != 1, stage
    # the funnel repeats the counts, so it must hide the same cells
    assert result.funnel["suppressed"].tolist() == result.journey_map["suppressed"].tolist()
    for _, group in result.touchpoints.groupby(["stage", "touchpoint"], observed=True):
        assert group.loc[group["persona"] != "all", "suppressed"].sum() != 1


def test_clickstream_without_stages_or_surveys(make_study: MakeStudy, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 120
    rows = []
    start = pd.Timestamp("2026-01-01", tz="UTC")
    end = pd.Timestamp("2026-04-30", tz="UTC")
    for i in range(n):
        t = start + pd.Timedelta(days=float(rng.uniform(0, 20)))
        failed = rng.random() < 0.3
        funnel_steps = ["home", "pricing", "pay"] + (["pay_error"] if failed else [])
        times = [t + pd.Timedelta(hours=6 * k) for k in range(len(funnel_steps))]
        if failed and rng.random() < 0.8:
            # customers with a payment error mostly stop coming back
            uses = [times[-1] + pd.Timedelta(days=float(d)) for d in rng.uniform(1, 10, 2)]
        else:
            span = (end - times[-1]).days - 1
            uses = [times[-1] + pd.Timedelta(days=float(d)) for d in rng.uniform(1, span, 8)]
        for touchpoint, when in [
            *zip(funnel_steps, times, strict=True),
            *(("use", u) for u in uses),
        ]:
            rows.append({"user": f"u{i:03d}", "ts": when.isoformat(), "event": touchpoint})
    events = pd.DataFrame(rows)
    customers = pd.DataFrame({"customer_id": [f"u{i:03d}" for i in range(n)]})
    study = make_study(
        {"customers": customers, "events": events},
        study={"name": "Clicks", "stages": ["awareness", "consideration", "purchase", "usage"],
               "observation_end": "2026-04-30"},
        data={"customers": "customers.csv", "events": "events.csv"},
        columns={"events": {"customer_id": "user", "timestamp": "ts", "touchpoint": "event"}},
        stage_map={"home": "awareness", "pricing": "consideration", "pay": "purchase",
                   "pay_error": "purchase", "use": "usage"},
        valence={"pay_error": -1.0, "use": 0.4},
        churn={"inactivity_days": 30},
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        tables = load_tables(study)
    assert tables.feedback is None and "stage" in tables.events
    observations = emotion_observations(tables.events, None, valence=study.valence)
    result = build_map(
        tables.events,
        tables.customers,
        observations,
        stage_emotion(observations),
        None,
        stages=study.stages,
        min_group_size=5,
    )
    rows = result.journey_map.set_index("stage")
    assert rows.loc["awareness", "n_customers"] == n
    assert np.isnan(rows.loc["awareness", "emotion_mean"])  # no signal there: not neutral
    assert rows.loc["purchase", "emotion_mean"] < rows.loc["usage", "emotion_mean"]
    assert 0 < rows.loc["usage", "churn_rate"] < 1
    top = result.pain_points.iloc[0]
    assert (top["stage"], top["touchpoint"]) == ("purchase", "pay_error")
    assert top["lift_ci_low"] > 1
    assert result.verbatims.empty
    assert result.channels.empty  # the log has no channel
    assert set(result.transitions["level"]) == {"stage", "touchpoint"}
    for name, table in result.tables().items():
        check_publishable(table, name=name, customer_ids=customers["customer_id"])


def test_inputs_are_not_modified(pipeline) -> None:
    p = pipeline
    events = p.tables.events.head(2000).sample(frac=1.0, random_state=1)  # unsorted on purpose
    before = events.copy()
    customers = p.tables.customers
    result = build_map(events, customers, stages=p.study.stages)
    pd.testing.assert_frame_equal(events, before)
    sorted_result = build_map(
        events.sort_values(["customer_id", "timestamp"], kind="stable"),
        customers,
        stages=p.study.stages,
    )
    pd.testing.assert_frame_equal(result.transitions, sorted_result.transitions)


def test_bad_inputs_say_what_to_fix(pipeline) -> None:
    p = pipeline
    events, customers = p.tables.events.head(200), p.tables.customers
    stages = p.study.stages
    named_all = pd.DataFrame(
        {"customer_id": ["C0000001"], "persona_id": [0], "persona_name": ["all"]}
    )
    with pytest.raises(CJResearchError, match="may not be named 'all'"):
        build_map(events, customers, stages=stages, personas=named_all)
    stranger = pd.DataFrame({"customer_id": ["X"], "persona_id": [0], "persona_name": ["A"]})
    with pytest.raises(CJResearchError, match="personas names customers not in customers"):
        build_map(events, customers, stages=stages, personas=stranger)
    with pytest.raises(CJResearchError, match="min_group_size"):
        build_map(events, customers, stages=stages, min_group_size=0)
    with pytest.raises(CJResearchError, match=r"no column\(s\) \['churned'\]"):
        build_map(events, customers.drop(columns="churned"), stages=stages)
    with pytest.raises(CJResearchError, match="not among the stages"):
        build_map(events, customers, stages=["awareness", "purchase"])
