"""Sizing (stats.sizing): modelled churn if emotion were one step better."""

from __future__ import annotations

from cjresearch.analysis.stats import (
    opportunities,
)
from helpers.stats import toy_study


def test_opportunities_stand_alone() -> None:
    toy = toy_study(n=600)
    opp = opportunities(toy["customers"], toy["stage_emotion"], stages=["a", "b"])
    a = opp.set_index("stage").loc["a"]
    assert a["churn_rate_if_better"] < a["churn_rate_modelled"]
    assert a["change_ci_high"] < 0
