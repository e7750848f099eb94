"""The sample study: deterministic, always valid, and its planted truth is what truth.json says."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjresearch.analysis.emotion import emotion_observations, stage_emotion
from cjresearch.data.study import load_study, study_from_dict
from cjresearch.data.tables import load_tables, validate_tables
from cjresearch.datasets.sample import EFFECTS, STAGES, generate_sample, study_toml, write_sample
from helpers import REPO


@pytest.fixture(scope="module")
def sample():
    return generate_sample(20_000, seed=7)


def test_same_seed_same_study_and_another_seed_another() -> None:
    a, b, c = (
        generate_sample(500, seed=3),
        generate_sample(500, seed=3),
        generate_sample(500, seed=4),
    )
    for table in ("customers", "events", "feedback"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))
    assert a.truth == b.truth
    assert not a.events.equals(c.events)


def test_written_files_are_byte_identical_for_a_seed(tmp_path: Path) -> None:
    first = write_sample(tmp_path / "a", n_customers=300, seed=11)
    second = write_sample(tmp_path / "b", n_customers=300, seed=11)
    for name in ("customers.csv", "events.csv", "feedback.csv", "truth.json", "study.toml"):
        assert (first.parent / name).read_bytes() == (second.parent / name).read_bytes(), name


def test_the_committed_sample_study_file_is_the_generators() -> None:
    committed = (REPO / "data" / "sample" / "study.toml").read_text()
    assert committed == study_toml(output="../../reports", artifacts="../processed/sample")


def test_shape_of_the_default_study(sample) -> None:
    events, feedback = sample.events, sample.feedback
    assert len(sample.customers) == 20_000
    assert 400_000 <= len(events) <= 600_000  # "about half a million events"
    assert events["touchpoint"].nunique() >= 20
    assert set(events["channel"]) >= {"web", "app", "email", "phone", "store", "social"}
    assert list(pd.unique(events["stage"].sort_values(key=lambda s: s.map(STAGES.index)))) == list(
        STAGES
    )
    assert set(feedback["instrument"]) == {"nps", "csat", "ces", "rating", "text"}
    assert feedback["text"].notna().sum() > 10_000
    assert 4 <= sample.truth["n_personas"] <= 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dropped row would warn: the sample must be clean
        tables = validate_tables(
            _STUDY,
            {"customers": sample.customers, "events": events, "feedback": feedback},
        )
    assert tables.drops == ()


def test_truth_names_every_customers_persona_and_personas_differ(sample) -> None:
    truth = sample.truth
    personas = pd.Series(truth["customer_persona"])
    assert personas.index.tolist() == sample.customers["customer_id"].tolist()
    customers = sample.customers.assign(persona=personas.to_numpy())
    # attributes differ by persona (what segmentation has to find)
    age = customers.groupby("persona")["age"].mean()
    assert age.max() - age.min() > 25
    channels = (
        sample.events.assign(persona=sample.events["customer_id"].map(personas))
        .groupby("persona")["channel"]
        .value_counts(normalize=True)
        .unstack()
    )
    assert channels.loc["phone_first", "phone"] > 3 * channels.loc["app_natives", "phone"]
    assert channels.loc["app_natives", "app"] > 3 * channels.loc["store_loyalists", "app"]


def _measured(sample) -> pd.DataFrame:
    observations = emotion_observations(
        sample.events,
        sample.feedback,
        valence={"setup_failed": -0.9, "payment_error": -0.6, "tutorial": 0.3},
        rating_scale=(1, 5),
    )
    wide = stage_emotion(observations).pivot(
        index="customer_id", columns="stage", values="emotion_mean"
    )
    return sample.customers.join(wide, on="customer_id")


def test_churn_falls_with_onboarding_emotion(sample) -> None:
    frame = _measured(sample).dropna(subset=["onboarding"])
    tercile = pd.qcut(frame["onboarding"], 3, labels=["low", "mid", "high"])
    rates = frame.groupby(tercile, observed=True)["churned"].mean()
    assert rates["low"] > rates["mid"] > rates["high"]
    assert rates["low"] - rates["high"] > 0.15


def test_planted_effects_are_recovered_by_the_planted_model(sample) -> None:
    """An exact-specification logit (statsmodels) on the emotion as cjresearch measures it
    recovers the effects truth.json states, and awareness has no effect."""
    frame = _measured(sample)
    reached_support = sample.events.groupby("customer_id")["stage"].apply(
        lambda s: (s == "support").any()
    )
    model_frame = frame.assign(
        churned=frame["churned"].astype(int),
        support_reached=frame["customer_id"].map(reached_support).astype(int),
        tenure_c=frame["tenure_months"] - 12,
        **{f"e_{s}": frame[s].fillna(0.0) for s in EFFECTS},
    )
    fit = smf.logit(
        "churned ~ C(plan, Treatment('standard')) + tenure_c + support_reached"
        " + e_awareness + e_onboarding + e_support",
        data=model_frame,
    ).fit(disp=False)
    ci = fit.conf_int()
    truth = sample.truth["churn_model"]
    for stage, effect in truth["effects"].items():
        low, high = ci.loc[f"e_{stage}"]
        assert low <= effect <= high, (stage, effect, low, high)
    assert fit.pvalues["e_onboarding"] < 1e-6 and fit.params["e_onboarding"] < 0
    assert fit.pvalues["e_support"] < 1e-6 and fit.params["e_support"] < 0


def test_the_planted_pain_point_hits_its_personas(sample) -> None:
    personas = pd.Series(sample.truth["customer_persona"])
    failed = set(sample.events.loc[sample.events["touchpoint"] == "setup_failed", "customer_id"])
    share = personas.index.to_series().isin(failed).groupby(personas.to_numpy()).mean()
    hit = sample.truth["pain_point"]["personas"]
    assert set(hit) == {"phone_first", "bargain_hunters"}
    assert share[hit].min() > 3 * share.drop(hit).max()
    churn = {p["key"]: p["churn_rate"] for p in sample.truth["personas"]}
    assert min(churn[p] for p in hit) > max(v for k, v in churn.items() if k not in hit)


_STUDY = study_from_dict(
    {
        "study": {"name": "S", "stages": list(STAGES), "observation_end": "2026-06-30"},
        "data": {"customers": "c.csv", "events": "e.csv", "feedback": "f.csv"},
        "emotion": {"rating_scale": [1, 5]},
    },
    path="study.toml",
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
def test_generated_studies_of_any_size_and_seed_validate(n: int, seed: int) -> None:
    sample = generate_sample(n, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dropped row would be a warning: there must be none
        tables = validate_tables(
            _STUDY,
            {"customers": sample.customers, "events": sample.events, "feedback": sample.feedback},
        )
    assert tables.drops == ()
    assert len(tables.customers) == n


def test_written_study_loads_from_its_own_study_file(tmp_path: Path) -> None:
    study_path = write_sample(tmp_path, n_customers=200, seed=1, fmt="parquet")
    tables = load_tables(load_study(study_path))
    assert len(tables.customers) == 200
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["n_customers"] == 200
    assert np.isclose(truth["churn_rate"], tables.customers["churned"].mean())
