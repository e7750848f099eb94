"""Pain points, opportunities and verbatims of the journey map (journey_map.pain_points)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.emotion import score_texts
from cjresearch.analysis.journey_map import build_map
from cjresearch.analysis.journey_map.evidence import KINDS
from helpers import planted_personas


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
    # score documented as the sum over the evidence kinds of terms in [0, 1], positive
    # exactly for pain points
    pains = jm.pain_points
    assert pains["score"].min() >= 0 and pains["score"].max() <= len(KINDS)
    assert ((pains["score"] > 0) == pains["is_pain_point"]).all()
    ranked = pains[pains["is_pain_point"]]
    assert (ranked.groupby("persona")["rank"].min() == 1).all()


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
            # the statistics step's verdict: only findings become opportunities
            "finding": [True, True, False, True],
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
    stage_level = opp[opp["source"] == "emotion_churn"]
    # awareness: not a finding; usage: 5 customers (below min_group_size)
    assert stage_level["stage"].tolist() == ["onboarding", "support"]
    assert set(opp["source"]) == {"emotion_churn", "pain_points"}  # ranked together
    assert opp["rank"].tolist() == list(range(1, len(opp) + 1))
    at = result.journey_map[result.journey_map["persona"] == "all"].set_index("stage")
    reach, p_churn = at.loc["onboarding", "reach"], at.loc["onboarding", "churn_rate"]
    # effect: the drop in churn with odds ratio 0.6, p - p OR / (1 - p + p OR)
    effect = p_churn - p_churn * 0.6 / (1 - p_churn + p_churn * 0.6)
    assert stage_level["score"].iloc[0] == pytest.approx(reach * effect)
    assert stage_level["touchpoint"].isna().all()
    reason = stage_level["reason"].iloc[0]
    assert "odds ratio 0.60" in reason and "association" in reason
    assert result.verbatims.empty  # no feedback given


# Comments whose score the CX lexicon changes ("crashed", "froze": 0 in plain VADER).
CX_SENSITIVE = ["the setup wizard crashed twice", "app froze at login", "it crashed again"]


def test_quoted_comments_are_scored_with_the_settings_lexicon(pipeline) -> None:
    p = pipeline
    feedback = p.tables.feedback.copy()
    at_pain = (
        (feedback["stage"] == "onboarding")
        & (feedback["touchpoint"] == "setup_failed")
        & feedback["text"].notna()
    ).to_numpy()
    assert at_pain.sum() >= 30
    feedback.loc[at_pain, "text"] = np.resize(CX_SENSITIVE, at_pain.sum())
    texts = pd.Series(CX_SENSITIVE)
    assert (score_texts(texts, cx_lexicon=False) != score_texts(texts, cx_lexicon=True)).all()
    for cx_lexicon in (False, True):
        result = build_map(
            p.tables.events,
            p.tables.customers,
            p.observations,
            p.stage_emotion,
            feedback,
            stages=p.study.stages,
            personas=planted_personas(p.sample.truth),
            cx_lexicon=cx_lexicon,
        )
        v = result.verbatims
        quoted = v[(v["stage"] == "onboarding") & (v["touchpoint"] == "setup_failed")]
        assert len(quoted) >= 3 and set(quoted["text"]) <= set(CX_SENSITIVE)
        raw = pd.Series(quoted["text"].tolist())  # no personal data: redacted = as written
        np.testing.assert_array_equal(
            quoted["text_emotion"].to_numpy(), score_texts(raw, cx_lexicon=cx_lexicon).to_numpy()
        )
        other = score_texts(raw, cx_lexicon=not cx_lexicon).to_numpy()
        assert (quoted["text_emotion"].to_numpy() != other).all()
