"""Sizing (stats.sizing): modelled churn if emotion were one step better."""

from __future__ import annotations

from cjresearch.analysis.stats import (
    opportunities,
)
from helpers.stats import toy_study


def test_opportunities_stand_alone() -> None:
    toy = toy_study(n=600)
    # followed to mid-2026: every customer's landmark horizon (62-242 days) is observed
    opp = opportunities(
        toy["customers"], toy["observations"], stages=["a", "b"], observation_end="2026-06-01"
    )
    a = opp.set_index("stage").loc["a"]
    assert a["churn_rate_if_better"] < a["churn_rate_modelled"]
    assert a["change_ci_high"] < 0
