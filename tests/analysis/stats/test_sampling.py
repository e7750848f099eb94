"""The models of a study above ``max_model_customers``: a seeded stratified sample, stated."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import analyse, stage_reach
from cjresearch.analysis.stats._sample import model_sample
from cjresearch.datasets.sample import EFFECTS
from cjresearch.errors import ArgumentError, StatisticalWarning
from helpers import planted_personas
from helpers.stats import CONTROLS, UNIT

STAGES = ["awareness", "onboarding", "support"]


def _analyse(pipeline, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        return analyse(
            pipeline.tables.customers,
            pipeline.observations,
            reach=stage_reach(pipeline.tables.events, pipeline.tables.feedback),
            personas=planted_personas(pipeline.sample.truth),
            observation_end=pipeline.tables.observation_end,
            stages=STAGES,
            controls=CONTROLS,
            unit_size=UNIT,
            design="whole_follow_up",  # the sample plants a logit of churn at any time
            imputations=2,
            **options,
        )


def test_a_study_above_the_limit_is_modelled_on_a_stated_sample_that_covers_the_truth(big):
    result = _analyse(big, max_model_customers=8_000)
    odds = result.emotion_churn.set_index(["persona", "stage"])
    onboarding = odds.loc[("all", "onboarding")]
    # the whole study: about 19,000 customers reach onboarding; the sample: about 8,000
    assert 5_000 < onboarding["n_customers"] <= 8_000
    planted = np.exp(EFFECTS["onboarding"] * UNIT)  # the generator's own effect
    assert onboarding["ci_low"] <= planted <= onboarding["ci_high"]
    assert onboarding["q_value"] < 0.001
    stated = result.findings[result.findings["kind"] == "caveat"]["text"]
    assert stated.str.contains(
        "seeded stratified sample of 8,000 of the 20,000 customers", regex=False
    ).any()
    assert stated.str.contains("max_model_customers = 8,000", regex=False).any()
    # and every model row carries it, as the reports show flags in words
    for table in (result.emotion_churn, result.time_to_churn, result.logrank):
        assert table["flags"].str.contains("fitted_on_sample").all()


def test_the_sample_keeps_every_persona_s_churn_mix_and_is_seeded(big) -> None:
    customers = big.tables.customers
    personas = planted_personas(big.sample.truth)
    drawn = model_sample(customers, personas, limit=5_000, seed=7)
    assert drawn is not None
    assert len(drawn.rows) == 5_000
    assert np.array_equal(drawn.rows, np.sort(drawn.rows))
    again = model_sample(customers, personas, limit=5_000, seed=7)
    assert again is not None and np.array_equal(drawn.rows, again.rows)
    other = model_sample(customers, personas, limit=5_000, seed=8)
    assert other is not None and not np.array_equal(drawn.rows, other.rows)
    persona = personas.set_index("customer_id")["persona_id"].reindex(customers["customer_id"])
    frame = pd.DataFrame({"persona": persona.to_numpy(), "churned": customers["churned"]})
    share = frame.value_counts(normalize=True)
    sample_share = frame.iloc[drawn.rows].value_counts(normalize=True)
    # proportional allocation: each stratum's share within one customer of rounding
    assert (sample_share.reindex(share.index) - share).abs().max() <= 1 / 5_000 + 1e-12
    # inverse-probability weights: N_h / n_h, equal up to rounding, summing to the study
    assert drawn.weights.sum() == pytest.approx(len(customers))
    assert drawn.weights.max() / drawn.weights.min() < 1.01
    assert model_sample(customers, personas, limit=len(customers), seed=7) is None


def test_below_the_limit_every_customer_is_modelled(small) -> None:
    result = _analyse(small)  # the default limit, 1,000,000
    assert not result.findings["text"].str.contains("stratified sample").any()
    assert not result.emotion_churn["flags"].str.contains("fitted_on_sample").any()
    with pytest.raises(ArgumentError, match="max_model_customers must be a whole number"):
        Settings(max_model_customers=10)
