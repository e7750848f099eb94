"""Journey maps from data (cjresearch.analysis.journey_map)."""

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
    JourneyMap,
    build_map,
    funnel,
    transitions,
)
from cjresearch.analysis.journeys import stage_transitions
from cjresearch.analysis.privacy import check_publishable
from cjresearch.data.tables import load_tables
from cjresearch.errors import CJResearchError, StatisticalWarning
from helpers import MakeStudy, planted_personas, sample_journey_map, sample_pipeline

N = 3_000

# The issue's published columns, in order (tables/journey_map.csv and pain_points.csv).
ISSUE_MAP_COLUMNS = [
    "persona", "stage", "n_customers", "reach", "conversion_next", "median_days",
    "emotion_mean", "emotion_ci_low", "emotion_ci_high", "churn_rate", "top_touchpoint",
    "top_channel", "suppressed",
]  # fmt: skip
ISSUE_PAIN_COLUMNS = [
    "persona", "stage", "touchpoint", "n_customers", "emotion_mean", "churn_lift",
    "lift_ci_low", "lift_ci_high", "drop_off", "score", "rank",
]  # fmt: skip


@pytest.fixture(scope="module")
def pipeline():
    return sample_pipeline(N)


@pytest.fixture(scope="module")
def jm() -> JourneyMap:
    return sample_journey_map(N)


def test_the_planted_pain_ranks_first_for_the_personas_it_hits(jm, pipeline) -> None:
    truth = pipeline.sample.truth
    names = {p["key"]: p["name"] for p in truth["personas"]}
    hit = [names[k] for k in truth["pain_point"]["personas"]]
    assert len(hit) >= 2
    first = jm.pain_points[jm.pain_points["rank"] == 1].set_index("persona")
    for persona in [*hit, "all"]:
        assert first.loc[persona, "touchpoint"] == truth["pain_point"]["touchpoint"]
        assert first.loc[persona, "stage"] == truth["pain_point"]["stage"]
        assert first.loc[persona, "lift_ci_low"] > 1
        assert first.loc[persona, "emotion_mean"] < 0


def test_tables_have_the_published_columns(jm) -> None:
    assert list(jm.journey_map.columns) == list(JOURNEY_MAP_COLUMNS)
    assert list(jm.journey_map.columns[: len(ISSUE_MAP_COLUMNS)]) == ISSUE_MAP_COLUMNS
    assert list(jm.pain_points.columns) == list(PAIN_POINT_COLUMNS)
    assert list(jm.pain_points.columns[: len(ISSUE_PAIN_COLUMNS)]) == ISSUE_PAIN_COLUMNS
    assert list(jm.transitions.columns) == list(TRANSITION_COLUMNS)
    assert list(jm.opportunities.columns) == list(OPPORTUNITY_COLUMNS)
    assert set(jm.tables()) == {
        "journey_map", "funnel", "touchpoints", "channels", "transitions", "variants",
        "pain_points", "opportunities", "verbatims",
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


def test_stage_transitions_of_all_equal_the_journeys_function(jm, pipeline) -> None:
    expected = stage_transitions(pipeline.tables.events, stages=pipeline.study.stages)
    got = jm.transitions[
        (jm.transitions["persona"] == "all") & (jm.transitions["level"] == "stage")
    ]
    got = got.reset_index(drop=True)
    assert got["from_stage"].astype(str).tolist() == expected["from_stage"].astype(str).tolist()
    assert got["to_stage"].astype(str).tolist() == expected["to_stage"].astype(str).tolist()
    assert got["kind"].tolist() == expected["kind"].tolist()
    shown = ~got["suppressed"]
    assert shown.sum() >= 15
    assert got["n_transitions"][shown].tolist() == expected["n_transitions"][shown].tolist()
    assert got["n_customers"][shown].tolist() == expected["n_customers"][shown].tolist()
    assert (expected["n_customers"][~shown] < jm.min_group_size).all()
    assert got.loc[~shown, ["n_transitions", "n_customers"]].isna().all().all()


def test_touchpoint_transitions_match_a_pandas_shift(jm, pipeline) -> None:
    events = pipeline.tables.events
    nxt = events.groupby("customer_id", observed=True)[["touchpoint", "stage"]].shift(-1)
    pairs = pd.DataFrame(
        {
            "a": events["touchpoint"].astype(str),
            "b": nxt["touchpoint"].astype(str),
            "customer": events["customer_id"],
        }
    )[nxt["touchpoint"].notna()]
    counts = pairs.groupby(["a", "b"]).size()
    got = jm.transitions[
        (jm.transitions["persona"] == "all") & (jm.transitions["level"] == "touchpoint")
    ]
    top = got.sort_values("n_transitions", ascending=False).iloc[0]
    assert top["n_transitions"] == counts[(top["from_touchpoint"], top["to_touchpoint"])]
    shown = got["n_transitions"].notna()
    assert (
        got["n_transitions"].sum()
        == counts[
            list(zip(got["from_touchpoint"][shown], got["to_touchpoint"][shown], strict=True))
        ].sum()
    )
    assert set(got["kind"]) <= {"forward", "backward", "loop", "within"}
    loops = got[got["kind"] == "loop"]
    assert (loops["from_touchpoint"] == loops["to_touchpoint"]).all()


def test_funnel_and_public_functions_agree_with_the_map(jm, pipeline) -> None:
    p = pipeline
    personas = planted_personas(p.sample.truth)
    alone = funnel(p.tables.events, p.tables.customers, stages=p.study.stages, personas=personas)
    pd.testing.assert_frame_equal(alone, jm.funnel)
    flows = transitions(
        p.tables.events, p.tables.customers, stages=p.study.stages, personas=personas
    )
    pd.testing.assert_frame_equal(flows, jm.transitions)
    merged = jm.funnel.merge(jm.journey_map, on=["persona", "stage"], suffixes=("", "_map"))
    assert (merged["n_customers"] == merged["n_customers_map"]).all()
    assert np.allclose(merged["conversion"], merged["reach_of_previous"], equal_nan=True)


def test_variants_follow_the_first_reach_order(jm, pipeline) -> None:
    events = pipeline.tables.events
    first = events.groupby(["customer_id", "stage"], observed=True)["timestamp"].min().reset_index()
    first = first.sort_values(["customer_id", "timestamp"], kind="stable")
    paths = first.groupby("customer_id", observed=True)["stage"].agg(
        lambda s: " > ".join(s.astype(str))
    )
    expected = paths.value_counts()
    top = jm.variants[jm.variants["persona"] == "all"].iloc[0]
    assert top["path"] == expected.index[0]
    assert top["n_customers"] == expected.iloc[0]
    assert top["churn_ci_low"] <= top["churn_rate"] <= top["churn_ci_high"]
    assert (jm.variants["n_customers"] >= jm.min_group_size).all()


def test_pain_point_lift_matches_a_two_by_two_table(jm, pipeline) -> None:
    events = pipeline.tables.events
    customers = pipeline.tables.customers.set_index("customer_id")["churned"]
    onboarding = events[events["stage"] == "onboarding"]
    at_stage = set(onboarding["customer_id"].astype(str))
    hit = set(onboarding.loc[onboarding["touchpoint"] == "setup_failed", "customer_id"].astype(str))
    others = at_stage - hit
    p1 = customers.loc[sorted(hit)].mean()
    p0 = customers.loc[sorted(others)].mean()
    row = jm.pain_points[
        (jm.pain_points["persona"] == "all") & (jm.pain_points["touchpoint"] == "setup_failed")
    ].iloc[0]
    assert row["n_customers"] == len(hit)
    assert row["n_comparison"] == len(others)
    assert row["churn_lift"] == pytest.approx(p1 / p0)
    assert row["lift_ci_low"] < row["churn_lift"] < row["lift_ci_high"]
    # score documented as the mean of three terms in [0, 1]
    assert jm.pain_points["score"].min() >= 0 and jm.pain_points["score"].max() <= 1
    assert (jm.pain_points.groupby("persona")["rank"].min() == 1).all()


def test_verbatims_are_redacted_and_representative(jm) -> None:
    v = jm.verbatims
    assert len(v)
    assert (v.groupby(["persona", "stage", "touchpoint"], observed=True).size() <= 3).all()
    assert set(v["kind"]) <= {"most negative", "typical"}
    for text in v["text"]:
        assert "@" not in text and "4111" not in text and "?" not in text
    for _, group in v.groupby(["persona", "touchpoint"]):
        worst = group[group["kind"] == "most negative"]["text_emotion"].iloc[0]
        assert worst == group["text_emotion"].min()
        assert group["text"].is_unique
    assert (v["n_texts"] >= jm.min_group_size).all()


def test_opportunities_from_pain_points_are_associational(jm) -> None:
    opp = jm.opportunities
    assert len(opp) and set(opp["source"]) == {"pain_points"}
    assert all("association" in r for r in opp["reason"])
    for _, group in opp.groupby("persona"):
        assert group["score"].is_monotonic_decreasing
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
    np.testing.assert_allclose(opp["score"], opp["reach"] * opp["effect"])


def test_opportunities_from_an_emotion_churn_table(pipeline) -> None:
    p = pipeline
    emotion_churn = pd.DataFrame(
        {
            "persona": ["all", "all", "all", "all"],
            "stage": ["onboarding", "support", "awareness", "usage"],
            "n_customers": [3000, 1200, 2700, 5],
            "n_churned": [800, 400, 700, 2],
            "unit_size": 0.5,
            "odds_ratio": [0.6, 0.7, 1.0, 0.1],
            "ci_low": [0.5, 0.6, 0.9, 0.01],
            "ci_high": [0.7, 0.85, 1.1, 0.5],
            "p_value": 0.001,
            "q_value": 0.002,
            "family": "stage",
            "flags": "",
        }
    )
    result = build_map(
        p.tables.events,
        p.tables.customers,
        stage_emotion=p.stage_emotion,
        stages=p.study.stages,
        emotion_churn=emotion_churn,
    )
    opp = result.opportunities
    # awareness: interval spans 1; usage: 5 customers (below min_group_size)
    assert opp["stage"].tolist() == ["onboarding", "support"]
    reach = result.journey_map.set_index("stage")["reach"]
    assert opp["score"].iloc[0] == pytest.approx(reach["onboarding"] * 0.4)
    assert opp["touchpoint"].isna().all()
    assert "odds ratio 0.60" in opp["reason"].iloc[0] and "association" in opp["reason"].iloc[0]
    assert result.verbatims.empty  # no feedback given


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
    with pytest.raises(CJResearchError, match="unknown transition level"):
        transitions(events, customers, stages=stages, levels=["page"])
