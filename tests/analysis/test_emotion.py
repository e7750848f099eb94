"""Tests of the one emotion scale (cjresearch.analysis.emotion) and the CX lexicon."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from cjresearch.analysis._cx_lexicon import CX_NEUTRAL_WORDS, CX_PHRASES, CX_WORDS, PhraseRewriter
from cjresearch.analysis.emotion import (
    INSTRUMENT_SCALES,
    INSTRUMENTS,
    SCORED_INSTRUMENTS,
    SOURCES,
    TextAgreement,
    TextScorer,
    emotion_observations,
    normalise_scores,
    score_texts,
    stage_emotion,
    text_score_agreement,
)
from cjresearch.errors import CJResearchError
from helpers import FIXTURES

DATA = FIXTURES

# A text score this close to 0 counts as "neutral" when comparing with the human labels.
# 0.05 is VADER's own recommended threshold for its compound score.
NEUTRAL_BAND = 0.05

RATING_SCALE = (1.0, 10.0)
SCALES = {**INSTRUMENT_SCALES, "rating": RATING_SCALE}

KNOWN_FAILURES = {
    "The setup was a nightmare, support never answered": 0.4019,
    "I waited 40 minutes on hold and nobody helped me": 0.0,
    "Still waiting for my refund after three weeks": 0.0,
}


@pytest.fixture(scope="module")
def cx() -> TextScorer:
    return TextScorer()


@pytest.fixture(scope="module")
def plain() -> TextScorer:
    return TextScorer(cx_lexicon=False)


def utc(*stamps: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps), utc=True))


# --- normalise_scores: golden values ------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "score", "expected"),
    [
        ("nps", 0, -1.0),
        ("nps", 5, 0.0),
        ("nps", 10, 1.0),
        ("nps", 8, 0.6),
        ("csat", 1, -1.0),
        ("csat", 3, 0.0),
        ("csat", 5, 1.0),
        ("csat", 4, 0.5),
        ("ces", 1, 1.0),
        ("ces", 4, 0.0),
        ("ces", 7, -1.0),
        ("ces", 2, 2 / 3),
        ("rating", 1, -1.0),
        ("rating", 5.5, 0.0),
        ("rating", 10, 1.0),
        ("rating", 7, 1 / 3),
    ],
)
def test_normalise_golden_values(instrument: str, score: float, expected: float) -> None:
    out = normalise_scores(pd.Series([score]), instrument, rating_scale=RATING_SCALE)
    assert out.iloc[0] == pytest.approx(expected)


def test_normalise_per_row_instruments_keeps_index_and_missing() -> None:
    index = pd.Index([10, 20, 30, 40, 50, 60])
    scores = pd.Series([10, 1, 7, np.nan, np.nan, 3], index=index, name="score")
    instrument = pd.Series(["nps", "csat", "ces", "nps", "text", "rating"], index=index)
    out = normalise_scores(scores, instrument, rating_scale=(0, 4))
    expected = pd.Series([1.0, -1.0, -1.0, np.nan, np.nan, 0.5], index=index, name="score")
    pd.testing.assert_series_equal(out, expected)


def test_normalise_accepts_nullable_integers() -> None:
    out = normalise_scores(pd.Series([0, None, 10], dtype="Int64"), "nps")
    assert out.dtype == "float64"
    assert out.isna().tolist() == [False, True, False]


def test_normalise_does_not_mutate_input() -> None:
    scores = pd.Series([1.0, 5.0])
    before = scores.copy()
    normalise_scores(scores, "csat")
    pd.testing.assert_series_equal(scores, before)


def test_normalise_rating_without_scale_raises() -> None:
    with pytest.raises(CJResearchError, match="rating_scale"):
        normalise_scores(pd.Series([3.0]), "rating")
    with pytest.raises(CJResearchError, match="rating_scale"):
        normalise_scores(pd.Series([3.0, 5.0]), pd.Series(["nps", "rating"]))
    with pytest.raises(CJResearchError, match="rating_scale"):
        normalise_scores(pd.Series([], dtype="float64"), "rating")


@pytest.mark.parametrize("scale", [(5, 5), (10, 1), (0, float("inf")), ("a", "b"), (1,)])
def test_normalise_rejects_bad_rating_scale(scale: tuple) -> None:
    with pytest.raises(CJResearchError, match="rating_scale"):
        normalise_scores(pd.Series([3.0]), "rating", rating_scale=scale)


def test_normalise_unknown_instrument_lists_instruments() -> None:
    with pytest.raises(CJResearchError, match=r"unknown instrument 'stars'.*'nps', 'csat'"):
        normalise_scores(pd.Series([3.0]), "stars")
    with pytest.raises(CJResearchError, match="'NPS'"):
        normalise_scores(pd.Series([3.0, 4.0]), pd.Series(["nps", "NPS"]))


def test_normalise_rejects_misaligned_instrument_series() -> None:
    with pytest.raises(CJResearchError, match="same index"):
        normalise_scores(pd.Series([3.0]), pd.Series(["nps"], index=[5]))


def test_normalise_rejects_non_numbers() -> None:
    with pytest.raises(CJResearchError, match="numbers"):
        normalise_scores(pd.Series(["high"]), "nps")


def test_normalise_out_of_range_message_names_instrument_range_and_examples() -> None:
    with pytest.raises(
        CJResearchError, match=r"csat scores must lie in 1\.\.5; found 2 .*e\.g\. 0, 6"
    ):
        normalise_scores(pd.Series([0, 3, 6]), "csat")


# --- normalise_scores: properties --------------------------------------------------


@st.composite
def in_range(draw: st.DrawFn) -> tuple[str, list[float]]:
    instrument = draw(st.sampled_from(SCORED_INSTRUMENTS))
    low, high = SCALES[instrument]
    value = st.one_of(
        st.floats(min_value=low, max_value=high, allow_nan=False),
        st.integers(min_value=math.ceil(low), max_value=math.floor(high)),
    )
    return instrument, draw(st.lists(value, min_size=1, max_size=20))


@given(in_range())
def test_normalised_scores_stay_on_the_scale(case: tuple[str, list[float]]) -> None:
    instrument, values = case
    out = normalise_scores(pd.Series(values), instrument, rating_scale=RATING_SCALE)
    assert out.dtype == "float64"
    assert out.between(-1.0, 1.0).all()


@st.composite
def out_of_range(draw: st.DrawFn) -> tuple[str, float]:
    instrument = draw(st.sampled_from(SCORED_INSTRUMENTS))
    low, high = SCALES[instrument]
    value = draw(
        st.one_of(
            st.floats(max_value=low, exclude_max=True, allow_nan=False),
            st.floats(min_value=high, exclude_min=True, allow_nan=False),
            st.integers(max_value=math.ceil(low) - 1),
            st.integers(min_value=math.floor(high) + 1),
        )
    )
    return instrument, value


@given(out_of_range())
def test_out_of_range_scores_raise(case: tuple[str, float]) -> None:
    instrument, value = case
    low, high = SCALES[instrument]
    with pytest.raises(
        CJResearchError, match=rf"^{instrument} scores must lie in {low:g}\.\.{high:g}"
    ):
        normalise_scores(pd.Series([value]), instrument, rating_scale=RATING_SCALE)


# --- text scoring --------------------------------------------------------------------


@settings(max_examples=200)
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_text_scores_stay_on_the_scale(texts: list[str]) -> None:
    out = score_texts(texts)
    for text, value in zip(texts, out, strict=True):
        if text.strip():
            assert -1.0 <= value <= 1.0
        else:
            assert math.isnan(value)


@pytest.mark.parametrize("text", list(KNOWN_FAILURES))
def test_known_vader_failures_are_fixed_by_the_cx_lexicon(
    text: str, cx: TextScorer, plain: TextScorer
) -> None:
    # Why the lexicon exists: plain VADER calls these complaints positive or neutral.
    assert plain.score([text]).iloc[0] == pytest.approx(KNOWN_FAILURES[text], abs=1e-4)
    assert cx.score([text]).iloc[0] < -0.3


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("It was not a nightmare at all", 1),
        ("The setup was a nightmare", -1),
        ("Delivered on time", 1),
        ("Not on time, again", -1),
        ("Couldn't be happier with the service", 1),
        ("Support closed my ticket without fixing the issue", -1),
        ("They fixed it quickly", 1),
        ("The app didn\u2019t work", -1),
    ],
)
def test_vader_rules_still_apply_to_cx_phrases(text: str, sign: int, cx: TextScorer) -> None:
    assert np.sign(cx.score([text]).iloc[0]) == sign


def test_caps_emphasis_survives_phrase_rewriting(cx: TextScorer) -> None:
    loud, calm = cx.score(["I was left ON HOLD", "I was left on hold"])
    assert loud < calm < 0


def _labels(scores: pd.Series) -> np.ndarray:
    return np.where(
        scores >= NEUTRAL_BAND, "positive", np.where(scores <= -NEUTRAL_BAND, "negative", "neutral")
    )


def _agreement(path: Path, scorer: TextScorer) -> tuple[float, float]:
    labelled = pd.read_csv(path)
    scores = scorer.score(labelled["text"])
    accuracy = float((_labels(scores) == labelled["label"]).mean())
    rho = float(stats.spearmanr(labelled["score"], scores).statistic)
    return accuracy, rho


def test_labelled_sets_are_well_formed() -> None:
    main = pd.read_csv(DATA / "labelled_comments.csv")
    holdout = pd.read_csv(DATA / "labelled_comments_holdout.csv")
    assert len(main) >= 80
    assert len(holdout) >= 30
    for frame in (main, holdout):
        assert list(frame.columns) == ["text", "label", "score"]
        assert frame["label"].isin(["negative", "neutral", "positive"]).all()
        assert frame["score"].between(-1, 1).all()
        assert frame["text"].is_unique
    assert not set(main["text"]) & set(holdout["text"])
    assert set(KNOWN_FAILURES) <= set(main["text"])


# Measured (neutral band |score| < 0.05):
#   labelled_comments.csv (95):         plain VADER accuracy 0.653, rho 0.594;
#                                       CX lexicon  accuracy 0.979, rho 0.927.
#   labelled_comments_holdout.csv (38): plain VADER accuracy 0.658, rho 0.669;
#                                       CX lexicon  accuracy 0.974, rho 0.902.
# The holdout was written before the lexicon and never used to tune it; but both sets
# and the lexicon have the same author, so real feedback will score lower than this.
@pytest.mark.parametrize(
    ("name", "min_accuracy", "min_rho"),
    [("labelled_comments.csv", 0.80, 0.70), ("labelled_comments_holdout.csv", 0.75, 0.65)],
)
def test_cx_lexicon_agrees_with_human_labels(
    name: str, min_accuracy: float, min_rho: float, cx: TextScorer, plain: TextScorer
) -> None:
    accuracy, rho = _agreement(DATA / name, cx)
    plain_accuracy, plain_rho = _agreement(DATA / name, plain)
    assert accuracy >= min_accuracy
    assert accuracy > plain_accuracy
    assert rho >= min_rho
    assert rho > plain_rho


def test_score_keeps_series_index_and_marks_missing(cx: TextScorer) -> None:
    texts = pd.Series(
        ["Great service", None, "   ", np.nan, "", "Great service"], index=list("abcdef")
    )
    out = cx.score(texts)
    assert out.dtype == "float64"
    assert out.index.equals(texts.index)
    assert out.isna().tolist() == [False, True, True, True, True, False]
    assert out["a"] == out["f"] > 0


def test_score_of_an_iterable_has_a_range_index(cx: TextScorer) -> None:
    out = cx.score(iter(["Great", "Awful", None]))
    assert isinstance(out.index, pd.RangeIndex)
    assert out.iloc[0] > 0 > out.iloc[1]


def test_a_single_string_is_not_scored_letter_by_letter(cx: TextScorer) -> None:
    with pytest.raises(CJResearchError, match="single string"):
        cx.score("Great service")


def test_each_distinct_text_is_scored_once(monkeypatch: pytest.MonkeyPatch) -> None:
    scorer = TextScorer()
    seen: list[str] = []
    original = scorer._compound

    def counting(text: str) -> float:
        seen.append(text)
        return original(text)

    monkeypatch.setattr(scorer, "_compound", counting)
    scorer.score(pd.Series(["late again", "great", "late again"] * 1000))
    scorer.score(["great", "new one"])
    assert sorted(seen) == ["great", "late again", "new one"]


def test_long_texts_are_scored_by_sentence(cx: TextScorer) -> None:
    long_text = "I waited on hold for an hour. Nobody helped me. " * 200
    value = cx.score([long_text]).iloc[0]
    assert -1.0 <= value < -0.3


def test_score_texts_matches_a_fresh_scorer(cx: TextScorer, plain: TextScorer) -> None:
    texts = ["The engineer was polite and fixed the fault quickly", "Charged twice"]
    pd.testing.assert_series_equal(score_texts(texts), cx.score(texts))
    pd.testing.assert_series_equal(score_texts(texts, cx_lexicon=False), plain.score(texts))


def test_cx_lexicon_does_not_leak_into_plain_vader(cx: TextScorer) -> None:
    assert "support" not in cx._analyzer.lexicon
    assert SentimentIntensityAnalyzer().lexicon["support"] == 1.7
    assert TextScorer(cx_lexicon=False)._analyzer.lexicon["support"] == 1.7


def test_cx_lexicon_tables_are_consistent() -> None:
    vader = SentimentIntensityAnalyzer().lexicon
    assert all(-4.0 <= v <= 4.0 for v in CX_WORDS.values())
    assert not CX_NEUTRAL_WORDS & set(CX_WORDS)
    tokens = [p.token for p in CX_PHRASES]
    assert len(tokens) == len(set(tokens))
    assert not set(tokens) & set(vader)
    for phrase in CX_PHRASES:
        assert -4.0 <= phrase.valence <= 4.0
        body = phrase.pattern.replace("<HY>", r"[-\s]?")
        assert re.compile(body).groups == 0, phrase.name
    assert PhraseRewriter().rewrite("left on hold, no reply") == "left cx_on_hold, cx_no_reply"


# --- emotion_observations --------------------------------------------------------------


@pytest.fixture
def events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(["b", "a", "a", "c"], dtype="str"),
            "timestamp": utc("2024-01-03", "2024-01-02", "2024-01-01", "2024-01-01"),
            "touchpoint": pd.Series(["web", "call", "web", "shop"], dtype="str"),
            "stage": pd.Categorical(
                ["onboarding", "support", "onboarding", "onboarding"],
                categories=["onboarding", "support", "renewal"],
            ),
            "channel": ["web", "phone", "web", "store"],
            "emotion": [np.nan, np.nan, 0.5, np.nan],
        }
    )


@pytest.fixture
def feedback() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "b", "c", "d"], dtype="str"),
            "timestamp": utc("2024-01-05", "2024-01-04", "2024-01-06", "2024-01-07"),
            "stage": pd.Categorical(
                ["support", "onboarding", "renewal", "renewal"],
                categories=["onboarding", "support", "renewal"],
            ),
            "instrument": pd.Series(["nps", "csat", "text", "nps"], dtype="str"),
            "score": [0.0, 5.0, np.nan, np.nan],
            "text": pd.Series(
                ["I waited 40 minutes on hold and nobody helped me", "  ", "Great service", None],
                dtype="str",
            ),
        }
    )


VALENCE = {"web": 0.2, "call": -0.4}


def test_observations_sources_and_precedence(events: pd.DataFrame, feedback: pd.DataFrame) -> None:
    obs = emotion_observations(events, feedback, valence=VALENCE)
    got = {
        (row.customer_id, str(row.timestamp.date()), row.source): row.emotion
        for row in obs.itertuples()
    }
    text_a = score_texts(["I waited 40 minutes on hold and nobody helped me"]).iloc[0]
    assert got == pytest.approx(
        {
            ("a", "2024-01-01", "event"): 0.5,  # own emotion beats the web valence 0.2
            ("a", "2024-01-02", "valence"): -0.4,
            ("a", "2024-01-05", "nps"): -1.0,
            ("a", "2024-01-05", "text"): text_a,  # a second observation from the comment
            ("b", "2024-01-03", "valence"): 0.2,
            ("b", "2024-01-04", "csat"): 1.0,  # blank text: no text observation
            ("c", "2024-01-06", "text"): score_texts(["Great service"]).iloc[0],
        }
    )
    # c's shop event has no emotion and no valence; d's feedback has no score and no text.
    assert text_a < -0.3


def test_observations_shape_and_dtypes(events: pd.DataFrame, feedback: pd.DataFrame) -> None:
    obs = emotion_observations(events, feedback, valence=VALENCE)
    assert list(obs.columns) == [
        "customer_id",
        "timestamp",
        "stage",
        "touchpoint",
        "source",
        "emotion",
    ]
    assert isinstance(obs.index, pd.RangeIndex)
    assert obs["emotion"].dtype == "float64"
    assert obs["emotion"].between(-1, 1).all()
    assert obs["timestamp"].dtype == events["timestamp"].dtype
    assert obs["stage"].dtype == events["stage"].dtype
    assert list(obs["source"].cat.categories) == list(SOURCES)
    assert obs["touchpoint"].isna().sum() == 4  # feedback has no touchpoint column
    keys = list(zip(obs["customer_id"], obs["timestamp"], strict=True))
    assert keys == sorted(keys)


def test_observations_do_not_mutate_inputs(events: pd.DataFrame, feedback: pd.DataFrame) -> None:
    events_before, feedback_before = events.copy(), feedback.copy()
    emotion_observations(events, feedback, valence=VALENCE)
    pd.testing.assert_frame_equal(events, events_before)
    pd.testing.assert_frame_equal(feedback, feedback_before)


def test_observations_without_feedback_or_valence(events: pd.DataFrame) -> None:
    obs = emotion_observations(events, None)
    assert obs["source"].tolist() == ["event"]
    assert emotion_observations(events.drop(columns="emotion"), None).empty


def test_observations_with_plain_stage_and_feedback_touchpoint(
    events: pd.DataFrame, feedback: pd.DataFrame
) -> None:
    events = events.assign(stage=events["stage"].astype("str"))
    feedback = feedback.assign(
        stage=feedback["stage"].astype("str"),
        touchpoint=pd.Series(["call", "web", "shop", "web"], dtype="str"),
    )
    obs = emotion_observations(events, feedback, valence=VALENCE)
    assert not isinstance(obs["stage"].dtype, pd.CategoricalDtype)
    assert obs["touchpoint"].notna().all()


def test_observations_rating_needs_a_scale(events: pd.DataFrame, feedback: pd.DataFrame) -> None:
    feedback = feedback.assign(
        instrument=["rating", "csat", "text", "nps"], score=[4, 5, np.nan, 1]
    )
    with pytest.raises(CJResearchError, match="rating_scale"):
        emotion_observations(events, feedback)
    obs = emotion_observations(events, feedback, rating_scale=(1, 7))
    assert obs.loc[obs["source"] == "rating", "emotion"].tolist() == [0.0]


def test_observations_check_columns_and_ranges(events: pd.DataFrame) -> None:
    with pytest.raises(CJResearchError, match=r"events has no column\(s\) \['stage'\]"):
        emotion_observations(events.drop(columns="stage"), None)
    with pytest.raises(CJResearchError, match="emotion"):
        emotion_observations(events.assign(emotion=[2.0, np.nan, np.nan, np.nan]), None)
    with pytest.raises(CJResearchError, match="valence"):
        emotion_observations(events, None, valence={"web": -3})


# --- stage_emotion ---------------------------------------------------------------------


@pytest.fixture
def observations() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b"],
            "stage": pd.Categorical(
                ["onboarding", "onboarding", "support", "onboarding", "onboarding"],
                categories=["onboarding", "support"],
            ),
            "source": ["event", "text", "nps", "text", "csat"],
            "emotion": [0.5, -0.1, -1.0, 0.2, 0.6],
        }
    )


def test_stage_emotion_means_and_counts(observations: pd.DataFrame) -> None:
    out = stage_emotion(observations)
    expected = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "stage": pd.Categorical(
                ["onboarding", "support", "onboarding"], categories=["onboarding", "support"]
            ),
            "emotion_mean": [0.2, -1.0, 0.4],
            "n_observations": np.array([2, 1, 2], dtype="int64"),
        }
    )
    pd.testing.assert_frame_equal(out, expected)  # b never reached support: no row, not 0


def test_stage_emotion_source_filter(observations: pd.DataFrame) -> None:
    out = stage_emotion(observations, sources=["text"])
    assert out[["customer_id", "emotion_mean", "n_observations"]].to_dict("list") == {
        "customer_id": ["a", "b"],
        "emotion_mean": [-0.1, 0.2],
        "n_observations": [1, 1],
    }
    with pytest.raises(CJResearchError, match="unknown source"):
        stage_emotion(observations, sources=["txt"])


def test_stage_emotion_from_observations(events: pd.DataFrame, feedback: pd.DataFrame) -> None:
    obs = emotion_observations(events, feedback, valence=VALENCE)
    out = stage_emotion(obs)
    assert isinstance(out.index, pd.RangeIndex)
    assert out["n_observations"].sum() == len(obs)
    assert out["n_observations"].dtype == "int64"


# --- text_score_agreement --------------------------------------------------------------


def test_text_score_agreement_known_ranks() -> None:
    feedback = pd.DataFrame(
        {
            "instrument": ["nps", "nps", "csat", "ces", "text", "nps"],
            "score": [0.0, 6.0, 5.0, 4.0, np.nan, 9.0],
            "text": [
                "Terrible, awful service",
                "Good",
                "Excellent, wonderful, brilliant support",
                "It was fine",
                "Great",
                None,
            ],
        }
    )
    # Normalised -1, 0.2, 1, 0 rank like the texts (-0.7, 0.44, 0.9, 0.2): rho = 1.
    result = text_score_agreement(feedback)
    assert isinstance(result, TextAgreement)
    assert result.n_pairs == 4
    assert result.spearman_rho == pytest.approx(1.0)
    assert 0.0 <= result.p_value <= 1.0


def test_text_score_agreement_is_nan_when_undefined() -> None:
    two = pd.DataFrame(
        {"instrument": ["nps", "nps"], "score": [0.0, 10.0], "text": ["Bad", "Good"]}
    )
    result = text_score_agreement(two)
    assert result.n_pairs == 2
    assert math.isnan(result.spearman_rho)
    assert math.isnan(result.p_value)
    constant = pd.DataFrame(
        {"instrument": ["nps"] * 3, "score": [7.0] * 3, "text": ["a", "b", "c"]}
    )
    assert math.isnan(text_score_agreement(constant).spearman_rho)
    no_text = pd.DataFrame({"instrument": ["nps"], "score": [7.0]})
    assert text_score_agreement(no_text).n_pairs == 0


def test_public_constants() -> None:
    assert INSTRUMENT_SCALES == {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    assert SCORED_INSTRUMENTS == ("nps", "csat", "ces", "rating")
    assert INSTRUMENTS[-1] == "text"
    assert INSTRUMENTS[:-1] == SCORED_INSTRUMENTS


def test_valence_of_a_categorical_log_is_that_of_its_names() -> None:
    """The validated log holds touchpoints as categories, looked up once per name: the
    observations are those of the same log as plain text, a missing touchpoint and a name
    without a valence included (neither gives an observation)."""
    events = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c"],
            "timestamp": pd.to_datetime(
                ["2026-01-01", "2026-01-02", "2026-01-01", "2026-01-03", "2026-01-05"], utc=True
            ),
            "stage": ["awareness", "purchase", "awareness", "purchase", "purchase"],
            "touchpoint": ["ad", "checkout_error", None, "unknown_name", "ad"],
        }
    )
    valence = {"ad": 0.2, "checkout_error": -0.8}
    plain = emotion_observations(events, None, valence=valence)
    coded = emotion_observations(
        events.assign(touchpoint=events["touchpoint"].astype("category")), None, valence=valence
    )
    assert plain["emotion"].tolist() == [0.2, -0.8, 0.2]
    pd.testing.assert_frame_equal(
        coded.assign(touchpoint=coded["touchpoint"].astype(str)),
        plain.assign(touchpoint=plain["touchpoint"].astype(str)),
    )
