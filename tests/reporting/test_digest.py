"""The findings digest: few sentences, odds and hazard merged, nulls in one line, one
direction shared with the forest plots."""

from __future__ import annotations

import json

import pandas as pd

from cjresearch.reporting import charts
from cjresearch.reporting.digest import digest, lower_emotion_ratio

STAGES = ["awareness", "onboarding", "support", "renewal"]


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    odds = pd.DataFrame(
        {
            "persona": ["all"] * 4 + ["App-first, younger"] * 4,
            "stage": STAGES * 2,
            "n_customers": [5842, 17901, 6725, 900, 3000, 5623, 1250, 300],
            "n_churned": [1707, 5280, 2245, 150, 600, 1100, 400, 50],
            "unit_size": 0.5,
            "odds_ratio": [0.99, 0.44, 0.51, 1.02, 0.98, 0.45, 0.48, 1.4],
            "ci_low": [0.92, 0.43, 0.47, 0.8, 0.8, 0.40, 0.40, 1.05],
            "ci_high": [1.06, 0.46, 0.54, 1.3, 1.2, 0.51, 0.58, 1.9],
            "p_value": [0.7, 0.0, 0.0, 0.8, 0.9, 0.0, 0.0, 0.02],
            "q_value": [0.74, 0.0, 0.0, 0.85, 0.9, 0.0, 0.0, 0.04],
            "flags": ["", "", "", "", "", "", "", "low_epv"],
        }
    )
    hazards = odds.rename(columns={"odds_ratio": "hazard_ratio", "n_churned": "n_events"})
    hazards["hazard_ratio"] = [0.99, 0.53, 0.60, 1.0, 1.0, 0.52, 0.55, 1.1]
    hazards["ci_low"] = [0.93, 0.52, 0.57, 0.8, 0.8, 0.48, 0.47, 0.8]
    hazards["ci_high"] = [1.05, 0.55, 0.63, 1.2, 1.2, 0.57, 0.63, 1.5]
    hazards["q_value"] = [0.9, 0.0, 0.0, 0.9, 0.9, 0.0, 0.0, 0.6]
    return odds, hazards


def test_one_sentence_per_stage_odds_and_hazard_merged() -> None:
    odds, hazards = _tables()
    found = digest(odds, hazards, stages=STAGES, alpha=0.05, personas=["all"])
    assert len(found.findings) == 2  # onboarding and support, each once
    onboarding = next(f for f in found.findings if f.stage == "onboarding").text
    # 1 / 0.44 = 2.27 (1 / 0.46 = 2.17, 1 / 0.43 = 2.33); 1 / 0.53 = 1.89
    assert "2.27 times the odds (2.17\u20132.33)" in onboarding
    assert "1.89 times the rate over time" in onboarding
    assert onboarding.startswith("Customers who felt 0.5 points worse at onboarding churned more")
    assert found.nulls == (
        "No clear association between emotion and churn at 2 other stages (awareness, renewal)."
    )
    html = str(found.html)
    assert html.count("<li>") == 2 and html.count("<h4") == 2


def test_persona_names_are_quoted_and_shaky_findings_tentative() -> None:
    odds, hazards = _tables()
    found = digest(odds, hazards, stages=STAGES, alpha=0.05, personas=["App-first, younger"])
    renewal = next(f for f in found.findings if f.stage == "renewal")
    assert renewal.tentative and renewal.text.startswith("Tentative (few churners")
    assert "\u201cApp-first, younger\u201d customers who felt" in renewal.text
    assert "churned less" in renewal.text  # OR 1.4 per step higher: worse felt, less churn
    own = digest(odds, hazards, stages=STAGES, alpha=0.05, personas=["App-first, younger"],
                 own="App-first, younger")  # fmt: skip
    assert all(f.text.count("this persona") <= 1 for f in own.findings)
    assert found.sentences(1)[0].startswith("\u201cApp-first")  # solid ones first


def test_text_and_forest_plot_say_the_same_direction() -> None:
    odds, _ = _tables()
    found = digest(odds, None, stages=STAGES, alpha=0.05, personas=["all"])
    chart = charts.forest_plot(odds[odds["persona"] == "all"], stages=STAGES)
    spec = chart.to_dict()
    rows = [r for d in spec["datasets"].values() for r in d if r.get("stage") == "onboarding"]
    shown = rows[0]["shown"]
    assert shown > 1 and f"{shown:.2f} times the odds" in found.findings[0].text
    assert "lower churn" in json.dumps(spec) and "higher churn" in json.dumps(spec)
    assert lower_emotion_ratio(0.44, 0.43, 0.46)[0] == shown


def test_nothing_significant_says_so() -> None:
    odds, hazards = _tables()
    odds["q_value"], hazards["q_value"] = 0.5, 0.5
    found = digest(odds, hazards, stages=STAGES, alpha=0.05)
    assert found.findings == []
    assert "No association between emotion and churn clears" in str(found.html)
    assert "8 persona and stage combinations" in (found.nulls or "")
    assert digest(None, None, stages=STAGES, alpha=0.05).findings == []
