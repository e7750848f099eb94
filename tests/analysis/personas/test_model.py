"""The personas step: one model from features to named, stable personas, saved and reloaded."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from cjresearch.analysis.personas.model import (
    ASSIGNMENT_COLUMNS,
    fit_personas,
    load_persona_model,
    name_overrides,
)
from cjresearch.analysis.personas.profiles import PERSONA_TABLE_COLUMNS, TRAIT_COLUMNS
from cjresearch.errors import CJResearchError, StatisticalWarning, StudyFileError
from helpers import FIXTURES, sample_pipeline

FAST = {"n_bootstrap": 3, "n_init": 3}


@pytest.fixture(scope="module")
def pipeline():
    return sample_pipeline(20_000)


@pytest.fixture(scope="module")
def model(pipeline):
    return fit_personas(
        pipeline.features,
        _churned(pipeline.tables.customers),
        requested=pipeline.study.personas.features,
        seed=7,
        **FAST,
    )


def _churned(customers: pd.DataFrame) -> pd.Series:
    return customers.set_index("customer_id")["churned"]


def test_auto_k_recovers_the_planted_personas(model, pipeline) -> None:
    truth = pipeline.sample.truth
    assignments = model.assignments()
    assert assignments.columns.tolist() == list(ASSIGNMENT_COLUMNS)
    planted = assignments["customer_id"].map(truth["customer_persona"])
    assert model.segmentation.k == truth["n_personas"]
    assert adjusted_rand_score(planted, assignments["persona_id"]) >= 0.8


def test_tables_have_the_published_columns(model) -> None:
    assert model.personas.columns.tolist() == list(PERSONA_TABLE_COLUMNS)
    assert model.traits.columns.tolist() == list(TRAIT_COLUMNS)
    assert model.personas["persona_id"].tolist() == sorted(model.names)
    assert model.personas["stability"].between(0, 1).all()
    assert (model.traits.groupby("persona_id").size() == 5).all()
    assert "customer_id" not in model.personas and "customer_id" not in model.traits


def test_same_seed_gives_identical_assignments(pipeline) -> None:
    small = pipeline.features.head(3_000)
    churned = _churned(pipeline.tables.customers).loc[small["customer_id"]]
    first = fit_personas(small, churned, k="auto", k_range=(2, 6), seed=3, **FAST)
    second = fit_personas(small, churned, k="auto", k_range=(2, 6), seed=3, **FAST)
    pd.testing.assert_frame_equal(first.assignments(), second.assignments())
    assert first.names == second.names


def test_rebuild_on_95_percent_keeps_every_id_and_name(model, pipeline) -> None:
    rng = np.random.default_rng(2026)
    keep = rng.random(len(pipeline.features)) >= 0.05
    features = pipeline.features[keep].reset_index(drop=True)
    churned = _churned(pipeline.tables.customers).loc[features["customer_id"]]
    # another seed too, so that k-means numbers its segments differently
    rebuilt = fit_personas(
        features, churned, requested=model.features, seed=8, previous=model, **FAST
    )
    assert rebuilt.names == model.names
    assert not rebuilt.matching.births and not rebuilt.matching.deaths
    before = model.assignments().set_index("customer_id")["persona_id"]
    after = rebuilt.assignments().set_index("customer_id")["persona_id"]
    agree = (before.loc[after.index] == after).mean()
    assert agree > 0.95


def test_names_from_the_study_file_win_and_must_name_real_personas(model, pipeline) -> None:
    features, churned = pipeline.features, _churned(pipeline.tables.customers)
    renamed = fit_personas(
        features,
        churned,
        requested=model.features,
        k=5,
        seed=7,
        names={1: "Early adopters"},
        previous=model,
        n_bootstrap=0,
        n_init=3,
    )
    assert renamed.names[1] == "Early adopters"
    assert renamed.names[2] == model.names[2]
    with pytest.raises(StudyFileError, match=r"persona ids \[9\]"):
        fit_personas(features, churned, requested=model.features, k=5, names={9: "x"}, **FAST)
    assert name_overrides({"3": "Loyal"}) == {3: "Loyal"}
    with pytest.raises(StudyFileError, match="whole numbers"):
        name_overrides({"loyal": "Loyal"})


def test_a_changed_feature_set_starts_ids_afresh_with_a_warning(model, pipeline) -> None:
    with pytest.warns(StatisticalWarning, match="feature set changed"):
        other = fit_personas(
            pipeline.features,
            _churned(pipeline.tables.customers),
            requested=["channel_share_*", "age"],
            k=3,
            previous=model,
            **FAST,
        )
    assert sorted(other.names) == [1, 2, 3]


def test_save_load_and_assign_new_customers(model, pipeline, tmp_path) -> None:
    path = model.save(tmp_path)
    loaded = load_persona_model(tmp_path)
    assert path.name == "personas_model.joblib"
    new = pipeline.features.tail(50).reset_index(drop=True)
    assigned = loaded.assign(new)
    expected = model.assignments().set_index("customer_id").loc[new["customer_id"]]
    assert assigned["persona_id"].tolist() == expected["persona_id"].tolist()
    assert assigned["persona_name"].tolist() == expected["persona_name"].tolist()


def test_loading_nothing_or_junk_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(CJResearchError, match="no saved persona model"):
        load_persona_model(tmp_path)
    (tmp_path / "personas_model.joblib").write_bytes(b"not a model")
    with pytest.raises(CJResearchError, match="not a saved persona model"):
        load_persona_model(tmp_path)


def test_small_or_degenerate_input_is_a_message(pipeline) -> None:
    features = pipeline.features.head(4)
    churned = _churned(pipeline.tables.customers).loc[features["customer_id"]]
    with pytest.raises(CJResearchError, match="too few for k=5"):
        fit_personas(features, churned, k=5, **FAST)
    constant = features.assign(age=40, plan="basic")
    with pytest.raises(CJResearchError, match="every feature is constant"):
        fit_personas(constant, churned, requested=["age", "plan"], k=2, **FAST)
    no_emotion = pipeline.features.head(300).assign(
        **{c: np.nan for c in pipeline.features.filter(like="emotion_").columns}
    )
    churned = _churned(pipeline.tables.customers).loc[no_emotion["customer_id"]]
    result = fit_personas(
        no_emotion, churned, requested=["emotion_*", "channel_share_*"], k=2, **FAST
    )
    assert any("every value is missing" in note for note in result.notes)


def test_a_model_saved_by_the_flat_layout_still_loads_and_assigns_alike() -> None:
    # pickled by cjresearch 0.1.0, whose classes lived in cjresearch.persona_model,
    # cjresearch.personas and cjresearch.identities (see tests/fixtures/legacy_0.1.0)
    legacy = FIXTURES / "legacy_0.1.0"
    model = load_persona_model(legacy)
    features = pd.read_parquet(legacy / "features.parquet")
    before = pd.read_parquet(legacy / "assignments.parquet")
    after = model.assign(features)
    assert after["customer_id"].tolist() == before["customer_id"].tolist()
    assert after["persona_id"].tolist() == before["persona_id"].tolist()
    assert after["persona_name"].tolist() == before["persona_name"].tolist()
    assert "cjresearch.persona_model" not in sys.modules  # the old names were only borrowed
