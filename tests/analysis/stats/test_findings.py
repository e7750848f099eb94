"""Findings (stats.findings): associational sentences, shaky results labelled."""

from __future__ import annotations

import re
import warnings

from cjresearch.analysis.stats import (
    analyse,
    findings,
)
from cjresearch.errors import (
    StatisticalWarning,
)
from helpers.stats import CONTROLS, sample_personas

CAUSAL = re.compile(
    r"\b(?:cause[sd]?|causing|drives?|driven|leads? to|because|impact|effect)\b", re.I
)


def test_findings_are_associational_and_label_shaky_results(small) -> None:
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
        )
    texts = result.findings["text"]
    assert len(texts) > 10
    assert not texts.str.contains(CAUSAL).any(), texts[texts.str.contains(CAUSAL)].tolist()
    solid = result.findings[result.findings["kind"] == "odds_ratio"].iloc[0]
    assert re.search(
        r"times the odds of churning in the 180 days from 30 days later \(odds ratio; "
        r"95% CI [\d.]+-[\d.]+; q",
        solid["text"],
    )
    # a row with a shaky flag is labelled tentative
    odds = result.emotion_churn.copy()
    odds.loc[:, "flags"] = "low_epv"
    relabelled = findings(odds, alpha=0.05)
    assert relabelled["text"].str.startswith("Tentative").all()
    assert (relabelled["kind"].isin(["odds_ratio", "no_clear_association"])).all()
    null = result.findings[result.findings["kind"] == "no_clear_association"]
    assert null["text"].str.startswith(("No clear association", "Tentative")).all()
