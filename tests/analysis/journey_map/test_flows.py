"""Flows of the journey map (journey_map.flows): transitions, funnel, variants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.journey_map import funnel, transitions
from cjresearch.analysis.journeys import stage_transitions
from cjresearch.errors import CJResearchError
from helpers import planted_personas


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


def test_an_unknown_transition_level_is_an_error(pipeline) -> None:
    p = pipeline
    events, customers = p.tables.events.head(200), p.tables.customers
    with pytest.raises(CJResearchError, match="unknown transition level"):
        transitions(events, customers, stages=p.study.stages, levels=["page"])
