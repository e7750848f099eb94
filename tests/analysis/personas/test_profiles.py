"""Profiles: the persona table, persona traits and generated names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjresearch.analysis.personas.profiles import (
    PERSONA_TABLE_COLUMNS,
    PROFILE_COLUMNS,
    TRAIT_COLUMNS,
    VERBATIM_COLUMNS,
    persona_names,
    persona_table,
    persona_traits,
    persona_verbatims,
    usage_profile,
)
from cjresearch.datasets.sample import PERSONAS
from cjresearch.errors import CJResearchError
from helpers import sample_pipeline
from helpers.reference import wilson_closed_form

# --- Persona table ----------------------------------------------------------------------


@pytest.fixture
def labelled() -> tuple[pd.Series, pd.Series]:
    ids = list("abcdefg")
    labels = pd.Series([2, 0, 0, 2, 2, 0, 2], index=ids)
    churned = pd.Series([True, False, True, False, False, False, True], index=ids)
    return labels, churned[::-1]  # order differs on purpose


def test_persona_table_golden(labelled: tuple[pd.Series, pd.Series]) -> None:
    labels, churned = labelled
    before = (labels.copy(), churned.copy())
    out = persona_table(labels, churned, stability={2: 0.8}, names={0: "Zero"})
    assert list(out.columns) == list(PERSONA_TABLE_COLUMNS)
    assert isinstance(out.index, pd.RangeIndex)
    assert out["persona_id"].tolist() == [0, 2]
    assert out["persona_id"].dtype == "int64"
    assert out["persona_name"].tolist() == ["Zero", "Persona 2"]
    assert out["n_customers"].tolist() == [3, 4]
    assert out["share"].tolist() == pytest.approx([3 / 7, 4 / 7])
    # counted by hand: persona 0 = b, c, f (c churned); persona 2 = a, d, e, g (a, g churned)
    assert out["churn_rate"].tolist() == pytest.approx([1 / 3, 2 / 4])
    z = 1.959963984540054
    assert out["churn_ci_low"].tolist() == pytest.approx(
        [wilson_closed_form(1, 3, z)[0], wilson_closed_form(2, 4, z)[0]]
    )
    assert out["churn_ci_high"].tolist() == pytest.approx(
        [wilson_closed_form(1, 3, z)[1], wilson_closed_form(2, 4, z)[1]]
    )
    assert np.isnan(out["stability"].iloc[0])
    assert out["stability"].iloc[1] == 0.8
    pd.testing.assert_series_equal(labels, before[0])
    pd.testing.assert_series_equal(churned, before[1])


def test_persona_table_rejects_different_customers(labelled) -> None:
    labels, churned = labelled
    with pytest.raises(CJResearchError, match=r"same customers.*1 only in labels"):
        persona_table(labels, churned.drop("a"))


def test_persona_table_rejects_bad_inputs(labelled) -> None:
    labels, churned = labelled
    with pytest.raises(CJResearchError, match="boolean or 0/1"):
        persona_table(labels, churned.replace({True: 2}).astype(int))
    with pytest.raises(CJResearchError, match="integer persona ids"):
        persona_table(labels.astype(float) + 0.5, churned)
    with pytest.raises(CJResearchError, match="missing persona labels"):
        persona_table(labels.astype(float).where(labels != 0), churned)
    with pytest.raises(CJResearchError, match="must be unique"):
        persona_table(pd.concat([labels, labels]), churned)
    with pytest.raises(CJResearchError, match="must be a pandas Series"):
        persona_table(labels, churned.tolist())  # type: ignore[arg-type]
    with pytest.raises(CJResearchError, match=r"stability names unknown persona id\(s\) \[7\]"):
        persona_table(labels, churned, stability={7: 0.5})
    with pytest.raises(CJResearchError, match=r"known persona ids: \[0, 2\]"):
        persona_table(labels, churned, names={1: "x"})


# --- Traits -----------------------------------------------------------------------------


@pytest.fixture
def tiny_features() -> tuple[pd.DataFrame, pd.Series]:
    features = pd.DataFrame(
        {
            "customer_id": list("abcdef"),
            "spend": [1.0, 2.0, 3.0, 10.0, 12.0, np.nan],
            "flag": [True, True, False, False, False, False],
            "const": [5.0] * 6,
            "sparse": [1.0, np.nan, np.nan, 2.0, 3.0, 4.0],
            "plan": ["pro", "pro", "basic", "basic", None, "basic"],
        }
    )
    labels = pd.Series([0, 0, 0, 1, 1, 1], index=list("abcdef")).sample(frac=1, random_state=1)
    return features, labels


def _cohen_d(a: np.ndarray, b: np.ndarray) -> float:
    # pooled SD computed by hand with numpy (ddof=1 sample variances)
    sp = np.sqrt(
        ((len(a) - 1) * np.var(a, ddof=1) + (len(b) - 1) * np.var(b, ddof=1))
        / (len(a) + len(b) - 2)
    )
    return float((a.mean() - b.mean()) / sp)


def test_persona_traits_golden(tiny_features) -> None:
    features, labels = tiny_features
    before = features.copy()
    out = persona_traits(features, labels, top=10)
    assert list(out.columns) == list(TRAIT_COLUMNS)
    assert isinstance(out.index, pd.RangeIndex)
    p0 = out[out["persona_id"] == 0].set_index("feature")
    # sparse has one non-missing value in persona 0: skipped
    assert set(p0.index) == {"spend", "flag", "const", "plan=basic", "plan=pro"}
    spend = p0.loc["spend"]
    assert spend["persona_value"] == pytest.approx(2.0)
    assert spend["overall_value"] == pytest.approx(28.0 / 5)
    assert spend["std_diff"] == pytest.approx(_cohen_d(np.array([1, 2, 3.0]), np.array([10, 12.0])))
    assert spend["direction"] == "lower"
    flag = p0.loc["flag"]
    assert flag["persona_value"] == pytest.approx(2 / 3)
    assert flag["std_diff"] == pytest.approx(_cohen_d(np.array([1, 1, 0.0]), np.array([0, 0, 0.0])))
    assert flag["direction"] == "higher"
    assert p0.loc["const", "std_diff"] == 0.0  # pooled SD 0
    pro = p0.loc["plan=pro"]
    # plan is missing for e (persona 1): rest = d, f
    assert pro["std_diff"] == pytest.approx(_cohen_d(np.array([1, 1, 0.0]), np.array([0, 0.0])))
    assert pro["overall_value"] == pytest.approx(2 / 5)
    assert p0["rank"].tolist() == [1, 2, 3, 4, 5]
    assert p0["std_diff"].abs().is_monotonic_decreasing
    p1 = out[out["persona_id"] == 1].set_index("feature")
    assert p1.loc["spend", "std_diff"] == pytest.approx(-spend["std_diff"])
    assert "sparse" not in p1.index
    pd.testing.assert_frame_equal(features, before)


def test_persona_traits_top_limits_rows(tiny_features) -> None:
    features, labels = tiny_features
    out = persona_traits(features, labels, top=2)
    assert out.groupby("persona_id")["rank"].apply(list).tolist() == [[1, 2], [1, 2]]


def test_persona_traits_rejects_bad_inputs(tiny_features) -> None:
    features, labels = tiny_features
    with pytest.raises(CJResearchError, match="top must be a positive integer"):
        persona_traits(features, labels, top=0)
    with pytest.raises(CJResearchError, match="no 'customer_id' column"):
        persona_traits(features.drop(columns="customer_id"), labels)
    with pytest.raises(CJResearchError, match="must be unique"):
        persona_traits(pd.concat([features, features.head(1)]), labels)
    with pytest.raises(CJResearchError, match="same customers"):
        persona_traits(features, labels.drop("a"))
    with pytest.raises(CJResearchError, match="at least two personas"):
        persona_traits(features, labels * 0)


@st.composite
def _labelled_frames(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Series, int]:
    n_personas = draw(st.integers(2, 4))
    per = draw(st.integers(2, 6))
    n = n_personas * per
    n_features = draw(st.integers(1, 7))
    values = st.floats(-100, 100, allow_nan=False).map(lambda v: round(v, 3))
    data = {f"f{j}": draw(st.lists(values, min_size=n, max_size=n)) for j in range(n_features)}
    features = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], **data})
    labels = pd.Series(np.repeat(np.arange(n_personas), per), index=features["customer_id"])
    return features, labels, draw(st.integers(1, 8))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_labelled_frames())
def test_persona_traits_ranks_property(case: tuple[pd.DataFrame, pd.Series, int]) -> None:
    features, labels, top = case
    before = features.copy()
    out = persona_traits(features, labels, top=top)
    n_features = features.shape[1] - 1
    assert sorted(out["persona_id"].unique().tolist()) == sorted(labels.unique().tolist())
    for _, group in out.groupby("persona_id"):
        assert group["rank"].tolist() == list(range(1, min(top, n_features) + 1))
        d = group["std_diff"].abs().to_numpy()
        assert (np.diff(d) <= 1e-12).all()
        assert set(group["direction"]) <= {"higher", "lower"}
    pd.testing.assert_frame_equal(features, before)


# --- Names ------------------------------------------------------------------------------


def _traits(rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    persona, feature, direction = zip(*rows, strict=True)
    frame = pd.DataFrame({"persona_id": persona, "feature": feature, "direction": direction})
    frame["rank"] = frame.groupby("persona_id").cumcount() + 1
    return frame


def test_persona_names_vocabulary() -> None:
    traits = _traits(
        [
            (0, "channel_share_phone", "higher"),
            (0, "reached_support", "higher"),
            (0, "age", "higher"),
            (1, "events_per_30_days", "lower"),
            (1, "emotion_onboarding", "lower"),
            (2, "plan=premium", "higher"),
            (2, "plan=premium", "higher"),  # duplicate phrase: skipped
            (2, "events_per_30_days", "higher"),
            (3, "age", "lower"),
            (3, "emotion_usage", "higher"),
            (4, "tenure_days", "higher"),
        ]
    )
    before = traits.copy()
    assert persona_names(traits) == {
        0: "Phone-first, support-heavy",
        1: "Occasional, unhappy at onboarding",
        2: "Premium plan, highly active",
        3: "Younger, happy at usage",
        4: "Tenure_days higher",
    }
    pd.testing.assert_frame_equal(traits, before)


def test_persona_names_unique_suffixes_and_overrides() -> None:
    traits = _traits(
        [
            (3, "age", "higher"),
            (1, "age", "higher"),
            (2, "channel_share_app", "higher"),
            (5, "age", "higher"),
        ]
    )
    names = persona_names(traits)
    assert names == {1: "Older (A)", 2: "App-first", 3: "Older (B)", 5: "Older (C)"}
    assert persona_names(traits, overrides={3: "Seniors"})[3] == "Seniors"


def test_persona_names_errors() -> None:
    traits = _traits([(0, "age", "higher"), (1, "age", "lower")])
    with pytest.raises(
        CJResearchError, match=r"unknown persona id\(s\) \[9\].*known persona ids: \[0, 1\]"
    ):
        persona_names(traits, overrides={9: "Nine"})
    with pytest.raises(CJResearchError, match="must be unique"):
        persona_names(traits, overrides={0: "Younger"})
    with pytest.raises(CJResearchError, match=r"lacks column\(s\) \['rank'\]"):
        persona_names(traits.drop(columns="rank"))


# --- End to end on the sample study -----------------------------------------------------

KEYS = [p.key for p in PERSONAS]


@pytest.fixture(scope="module")
def sample_profiles():
    pipeline = sample_pipeline(3000)
    study, tables, features = pipeline.sample, pipeline.tables, pipeline.features
    labels = pd.Series(study.truth["customer_persona"]).map(KEYS.index)
    churned = tables.customers.set_index("customer_id")["churned"]
    traits = persona_traits(features, labels)
    names = persona_names(traits)
    table = persona_table(labels, churned, names=names)
    return study, traits, names, table


def test_sample_names_recover_planted_traits(sample_profiles) -> None:
    _, traits, names, table = sample_profiles
    # PERSONAS: phone_first has phone share 0.45 (others <= 0.2); app_natives app share
    # 0.45 and age ~27 (youngest)
    assert "Phone-first" in names[KEYS.index("phone_first")]
    app = names[KEYS.index("app_natives")]
    assert "App-first" in app or "younger" in app.lower()
    assert len(set(names.values())) == len(PERSONAS)
    assert table["persona_name"].tolist() == [names[i] for i in range(len(PERSONAS))]
    assert (traits.groupby("persona_id")["rank"].max() == 5).all()


def test_sample_pain_personas_churn_more(sample_profiles) -> None:
    study, _, _, table = sample_profiles
    pain = {KEYS.index(k) for k in study.truth["pain_point"]["personas"]}
    assert pain
    is_pain = table["persona_id"].isin(pain)
    assert table.loc[is_pain, "churn_rate"].min() > table.loc[~is_pain, "churn_rate"].max()
    assert (table["churn_ci_low"] <= table["churn_rate"]).all()
    assert (table["churn_rate"] <= table["churn_ci_high"]).all()
    assert table["n_customers"].sum() == 3000


# --- channel and stage profile ------------------------------------------------------------


def test_usage_profile_is_the_mean_share_and_reach_per_persona() -> None:
    features = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "channel_share_web": [1.0, 0.5, 0.0],
            "channel_share_app": [0.0, 0.5, 1.0],
            "reached_support": [True, False, True],
        }
    )
    assignments = pd.DataFrame(
        {"customer_id": ["c", "a", "b"], "persona_id": [2, 1, 1], "persona_name": ["Y", "X", "X"]}
    )
    out = usage_profile(features, assignments)
    assert out.columns.tolist() == list(PROFILE_COLUMNS)
    assert out["persona_name"].tolist() == ["all"] * 3 + ["X"] * 3 + ["Y"] * 3
    x = out[out["persona_name"] == "X"].set_index("item")
    assert x.loc["web", "value"] == 0.75 and x.loc["app", "value"] == 0.25
    assert x.loc["support", "kind"] == "stage" and x.loc["support", "value"] == 0.5
    assert (x["n_customers"] == 2).all()
    assert out["persona_id"].isna().sum() == 3
    with pytest.raises(CJResearchError, match="assignments cover 2 of the 3"):
        usage_profile(features, assignments.head(2))


# --- representative verbatims ---------------------------------------------------------------


def _comments() -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"c{i}" for i in range(14)]
    texts = [
        "Great app, love it",
        "Love the app, great",
        "The app is fine",
        "It is ok I guess",
        "Terrible, call me on +44 20 7946 0958",
        "awful service, mail me at jo@example.com",
        "good",
        "very good",
        "fine",
        "ok",
        "bad",
        "fine",
        "small persona says hi",
        "small persona again",
    ]
    feedback = pd.DataFrame({"customer_id": ids, "text": texts})
    assignments = pd.DataFrame(
        {
            "customer_id": ids,
            "persona_id": [1] * 12 + [2] * 2,
            "persona_name": ["Big"] * 12 + ["Small"] * 2,
        }
    )
    return feedback, assignments


def test_persona_verbatims_are_typical_redacted_and_only_for_large_enough_groups() -> None:
    feedback, assignments = _comments()
    out = persona_verbatims(feedback, assignments, per_persona=3, min_group_size=10)
    assert out.columns.tolist() == list(VERBATIM_COLUMNS)
    assert set(out["persona_name"]) == {"Big"}  # Small has 2 customers with a comment
    assert out["rank"].tolist() == [1, 2, 3]
    assert (out["n_customers_with_text"] == 12).all()
    median = out["persona_median_emotion"].iloc[0]
    distance = (out["text_emotion"] - median).abs()
    assert distance.is_monotonic_increasing
    assert out["text"].is_unique
    everything = persona_verbatims(feedback, assignments, per_persona=20, min_group_size=10)
    joined = " ".join(everything["text"])
    assert "jo@example.com" not in joined and "7946" not in joined
    assert "[email]" in joined and "[phone]" in joined
    assert "customer_id" not in everything
    assert persona_verbatims(None, assignments).empty
