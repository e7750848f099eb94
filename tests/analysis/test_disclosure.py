"""One suppression pass over everything published: small counts, complements, the same cell
in two tables, differencing across personas, withdrawn personas. Each case is attacked
with tests/helpers/attacker.py (written apart from the pass) before and after."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.disclosure import protect
from helpers.attacker import leaks

K = 10


def _stage_rows(counts: dict[str, int], churned: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "persona": list(counts),
            "stage": "onboarding",
            "n_customers": list(counts.values()),
            "n_churned": [churned[p] for p in counts],
            "odds_ratio": 1.5,
            "flags": None,
        }
    )


def test_small_counts_and_their_complements_are_blanked_and_flagged() -> None:
    table = pd.DataFrame(
        {
            "persona": ["all", "all", "all", "all"],
            "stage": ["a", "b", "c", "d"],
            "n_customers": [500, 500, 50, 400],
            "n_churned": [1, 200, 45, 100],  # 1 churner; 5 stayers at c
            "odds_ratio": [2.0, 1.1, 0.9, 1.2],
            "flags": None,
        }
    )
    before = table.copy()
    out, report = protect({"emotion_churn": table}, min_group_size=K, n_customers=500)
    got = out["emotion_churn"]
    assert got["suppressed"].tolist() == [True, False, True, False]
    assert got.loc[[0, 2], ["n_customers", "n_churned", "odds_ratio"]].isna().all().all()
    assert got.loc[1, "odds_ratio"] == pytest.approx(1.1)
    assert got["stage"].tolist() == ["a", "b", "c", "d"]  # keys kept
    pd.testing.assert_frame_equal(table, before)  # the input is not modified
    assert report.as_dict()["blanked_rows"] == {"emotion_churn": 2}
    assert leaks({"emotion_churn": table}, k=K, n_customers=500)
    assert leaks(out, k=K, n_customers=500) == []


def test_a_churn_rate_that_implies_a_few_churners_is_blanked() -> None:
    table = pd.DataFrame(
        {"persona": ["all"], "stage": ["a"], "n_customers": [40], "churn_rate": [0.05],
         "suppressed": [False]}
    )  # fmt: skip
    out, _ = protect({"journey_map": table}, min_group_size=K, n_customers=40)
    assert out["journey_map"]["suppressed"].tolist() == [True]
    assert np.isnan(out["journey_map"]["churn_rate"].iloc[0])


def test_the_all_row_minus_visible_personas_reveals_nothing() -> None:
    # persona C (6 customers) is suppressed by its analysis; all - A - B = 6 would give it away
    table = _stage_rows(
        {"all": 306, "A": 200, "B": 100, "C": 6}, {"all": 90, "A": 50, "B": 38, "C": 2}
    )
    table.loc[3, ["n_customers", "n_churned", "odds_ratio"]] = np.nan
    table["suppressed"] = [False, False, False, True]
    found = leaks({"emotion_churn": table}, k=K, n_customers=306)
    assert any("all - personas of n_customers = 6" in leak for leak in found)
    out, _ = protect({"emotion_churn": table}, min_group_size=K, n_customers=306)
    got = out["emotion_churn"]
    # the smallest visible persona (B) goes too: what is left out is then 106, not 6
    assert got["suppressed"].tolist() == [False, False, True, True]
    assert leaks(out, k=K, n_customers=306) == []


def test_a_count_hidden_in_one_table_is_hidden_in_every_table_that_shows_it() -> None:
    touchpoints = pd.DataFrame(
        {
            "persona": ["all", "A", "B"],
            "stage": "support",
            "touchpoint": "call",
            "n_customers": [130.0, 126.0, np.nan],
            "suppressed": [False, False, True],
        }
    )
    pain_points = pd.DataFrame(
        {
            "persona": ["all", "A"],
            "stage": "support",
            "touchpoint": "call",
            "n_customers": [130, 126],
            "churn_rate": [0.5, 0.5],
        }
    )
    verbatims = pd.DataFrame(
        {"persona": ["A"], "stage": ["support"], "touchpoint": ["call"], "text": ["Too slow"],
         "n_texts": [40]}
    )  # fmt: skip
    tables = {"touchpoints": touchpoints, "pain_points": pain_points, "verbatims": verbatims}
    assert leaks(tables, k=K, n_customers=130)  # all - A = 4 in touchpoints
    out, report = protect(tables, min_group_size=K, n_customers=130)
    # A goes in touchpoints (secondary), so in pain_points (the same count) and its quotes
    assert out["touchpoints"]["suppressed"].tolist() == [False, True, True]
    assert out["pain_points"]["persona"].tolist() == ["all"]
    assert out["verbatims"].empty
    assert report.as_dict()["removed_rows"] == {"pain_points": 1, "verbatims": 1}
    assert leaks(out, k=K, n_customers=130) == []


def test_a_persona_whose_size_must_be_hidden_is_withdrawn_everywhere() -> None:
    personas = pd.DataFrame(
        {
            "persona_id": [1, 2, 3],
            "persona_name": ["A", "B", "C"],
            "n_customers": [300.0, 40.0, np.nan],  # C has 4 customers: 344 - 300 - 40
            "share": [300 / 344, 40 / 344, np.nan],
            "suppressed": [False, False, True],
        }
    )
    journey = _stage_rows({"all": 344, "A": 300, "B": 40}, {"all": 100, "A": 80, "B": 20})
    journey["suppressed"] = False
    findings = pd.DataFrame({"persona": ["B", "A"], "stage": "onboarding", "text": ["x", "y"]})
    tables = {"personas": personas, "journey_map": journey, "findings": findings}
    assert any("study total" in leak for leak in leaks(tables, k=K, n_customers=344))
    out, _ = protect(tables, min_group_size=K, n_customers=344)
    assert out["personas"]["suppressed"].tolist() == [False, True, True]
    assert out["journey_map"].set_index("persona")["suppressed"].to_dict() == {
        "all": False,
        "A": False,
        "B": True,
    }
    assert out["findings"]["persona"].tolist() == ["A"]
    assert leaks(out, k=K, n_customers=344) == []


def test_only_the_figures_of_a_partial_count_go_with_it() -> None:
    # emotion was given by 30 + 25 of 60: the 5 of C are hidden, so B's emotion goes too,
    # but B's customers (who are many) stay visible
    table = pd.DataFrame(
        {
            "persona": ["all", "A", "B", "C"],
            "stage": "usage",
            "touchpoint": "app",
            "n_customers": [300, 150, 100, 50],
            "n_emotion": [60, 30, 25, np.nan],
            "emotion_mean": [0.1, 0.2, 0.0, np.nan],
            "suppressed": False,
        }
    )
    out, report = protect({"touchpoints": table}, min_group_size=K, n_customers=300)
    got = out["touchpoints"].set_index("persona")
    assert np.isnan(got.loc["B", "n_emotion"]) and np.isnan(got.loc["B", "emotion_mean"])
    assert got.loc["B", "n_customers"] == 100 and not got.loc["B", "suppressed"]
    assert report.as_dict()["blanked_cells"] == {"touchpoints": 2}
    assert leaks(out, k=K, n_customers=300) == []


def test_counts_that_are_not_people_are_left_alone() -> None:
    variants = pd.DataFrame(
        {"persona": ["all"], "rank": [1], "path": ["a > b"], "n_stages": [2],
         "n_customers": [400]}
    )  # fmt: skip
    out, report = protect({"variants": variants}, min_group_size=K, n_customers=400)
    pd.testing.assert_frame_equal(out["variants"], variants)
    assert report.as_dict() == {"blanked_rows": {}, "removed_rows": {}, "blanked_cells": {}}
