"""Personas a researcher can defend, on generated studies of other shapes than the sample:
one population gives one persona, small clusters are merged, the early window."""

from __future__ import annotations

import functools
import tomllib

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.journeys import select_features
from cjresearch.analysis.personas.model import fit_personas
from cjresearch.analysis.personas.segment import ONE_PERSONA, one_population, segment
from cjresearch.analysis.settings import Settings
from cjresearch.artifacts import compute
from cjresearch.data.study import study_from_dict
from cjresearch.data.tables import validate_tables
from cjresearch.datasets import generated
from cjresearch.errors import StatisticalWarning

FAST = {"n_bootstrap": 3, "n_init": 2}


@functools.cache
def _features(name: str, n: int) -> tuple[pd.DataFrame, pd.Series]:
    study = getattr(generated, name)(n)
    parsed = study_from_dict(tomllib.loads(study.study_toml()), path="study.toml")
    tables = validate_tables(parsed, study.canonical_frames())
    settings = Settings.from_study(parsed)
    felt = compute.emotion(tables, settings, agreement=False)
    features = compute.features(tables, settings, felt.per_stage)
    return features, tables.customers.set_index("customer_id")["churned"]


def test_one_population_gives_one_persona_all_customers() -> None:
    features, churned = _features("one_population", 1_500)
    with pytest.warns(StatisticalWarning, match="no persona structure found"):
        model = fit_personas(features, churned, k="auto", k_range=(2, 5), seed=7, **FAST)
    assert model.segmentation.k == 1
    assert model.assignments()["persona_name"].unique().tolist() == [ONE_PERSONA]
    assert any("no persona structure found" in note for note in model.notes)
    evidence = model.segmentation.evidence
    assert evidence.loc[evidence["chosen"], "k"].tolist() == [1]


def test_segment_without_structure_chooses_k_1_with_the_evidence() -> None:
    # a single Gaussian cloud: k-means splits it reproducibly, but no better than it splits
    # draws of one population, so k = 1
    rng = np.random.default_rng(4)
    x = rng.multivariate_normal([0, 0, 0], [[1, 0.3, 0], [0.3, 1, 0], [0, 0, 1]], size=800)
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(800)]})
    frame[["a", "b", "c"]] = x
    with pytest.warns(StatisticalWarning, match="no persona structure found"):
        result = segment(frame, k="auto", k_range=(2, 4), seed=1, **FAST)
    assert result.k == 1
    assert result.labels.eq(0).all()
    assert result.evidence["k"].tolist() == [1, 2, 3, 4]


def test_three_separated_groups_still_give_three_segments() -> None:
    rng = np.random.default_rng(5)
    centres = np.array([[0, 0], [6, 0], [0, 6]])
    truth = np.repeat(np.arange(3), 300)
    x = centres[truth] + rng.normal(size=(900, 2))
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(900)], "a": x[:, 0]})
    frame["b"] = x[:, 1]
    result = segment(frame, k="auto", k_range=(2, 5), seed=1, **FAST)
    assert result.k == 3
    chosen = result.evidence[result.evidence["chosen"]].iloc[0]
    assert chosen["null_p_value"] <= 0.05


def test_the_one_population_null_keeps_each_columns_values() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.poisson(3, 500), rng.random(500) < 0.3, rng.normal(size=500)])
    draw = one_population(x.astype(np.float64), np.random.default_rng(1))
    assert draw.shape == x.shape
    for j in range(x.shape[1]):
        assert set(np.unique(draw[:, j])) <= set(np.unique(x[:, j]))


def test_clusters_below_min_group_size_are_merged_never_kept() -> None:
    rng = np.random.default_rng(2)
    big = rng.normal(size=(200, 2))
    other = rng.normal(size=(200, 2)) + np.array([8, 0])
    tiny = rng.normal(scale=0.1, size=(6, 2)) + np.array([0, 30])
    x = np.vstack([big, other, tiny])
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(x))], "a": x[:, 0]})
    frame["b"] = x[:, 1]
    kept = segment(frame, k=3, seed=1, n_bootstrap=2, n_init=3)
    assert kept.summary["n_customers"].min() == 6  # without a floor the 6 are a segment
    with pytest.warns(StatisticalWarning, match="merged"):
        merged = segment(frame, k=3, seed=1, n_bootstrap=2, n_init=3, min_size=10)
    assert merged.k == 2
    assert merged.summary["n_customers"].min() >= 10
    assert merged.summary["n_customers"].sum() == len(x)
    assert sorted(merged.labels.unique()) == [0, 1]
    assert len(merged.segment_stability) == 2


def test_early_features_do_not_depend_on_how_long_a_customer_stayed() -> None:
    features, churned = _features("one_population", 1_500)
    selected = select_features(features)
    assert all(c.startswith("early_") for c in selected.columns if c != "customer_id")
    # churn is unrelated to activity in this population: measured in the early window,
    # churners and the others are equally active
    joined = features.set_index("customer_id").join(churned)
    early = joined.groupby("churned")["early_events_per_30_days"].mean()
    assert abs(early[True] / early[False] - 1) < 0.1


def test_no_fitted_persona_has_a_churn_rate_of_0_or_100_percent() -> None:
    features, churned = _features("confounded", 3_000)
    model = fit_personas(features, churned, k=3, seed=7, min_group_size=10, **FAST)
    published = model.personas
    assert published["churn_rate"].between(0, 1, inclusive="neither").all()
    assert published["n_customers"].min() >= 10
