"""Words for the data's names: the study's [labels], automatic labels, traits, persona names."""

from __future__ import annotations

import pandas as pd
import pytest

from cjresearch.analysis.labels import Labels, auto_label, labels_table, quoted
from cjresearch.data.study import study_from_dict
from cjresearch.errors import StudyFileError

STAGES = ["awareness", "onboarding", "support"]


def test_study_labels_win_and_the_rest_reads_as_words() -> None:
    labels = Labels({"setup_failed": "Setup failed", "web": "Our website"}, stages=STAGES)
    assert labels("setup_failed") == "Setup failed"
    assert labels("account_setup") == "Account setup"
    assert labels("faq-page") == "FAQ page"
    assert labels("Sign up (web)") == "Sign up (web)"  # the researcher's own spelling
    assert labels("onboarding") == "Onboarding"
    assert labels.channel("web") == "Our website"  # a study label is kept as given
    assert labels.channel("app") == "the app"
    assert labels.feature("reached_support") == "Reached Support"
    assert labels.feature("plan=premium") == "Plan: Premium"
    assert auto_label("a_b") == "A b"


@pytest.mark.parametrize(
    ("feature", "mine", "overall", "direction", "expected"),
    [
        ("channel_share_app", 0.8763, 0.3701, "higher",
         "They use the app for 88% of their interactions, against 37% overall."),
        ("channel_share_email", 0.0098, 0.0884, "lower",
         "They use email for under 1% of their interactions, against 9% overall."),
        ("age", 26.98, 43.14, "lower", "They are 27 years old on average, against 43 overall."),
        ("plan=premium", 0.79, 0.18, "higher",
         "79% of them have plan \u201cPremium\u201d, against 18% overall."),
        ("reached_support", 0.8, 0.41, "higher", "80% of them reach Support, against 41% overall."),
        ("events_per_30_days", 3.2, 2.4, "higher",
         "They interact 3.2 times a month on average, against 2.4 overall."),
        ("n_touchpoints", 12.4, 9.0, "higher",
         "They use 12 different touchpoints on average, against 9.0 overall."),
        ("emotion_onboarding", 0.35, -0.1, "higher",
         "They feel +0.35 at Onboarding on average (\u22121 to +1), against \u22120.10 overall."),
    ],
)  # fmt: skip
def test_traits_read_as_sentences(feature, mine, overall, direction, expected) -> None:
    text = Labels(stages=STAGES).trait(feature, mine, overall, direction)
    assert text == expected
    assert "_" not in text and "e+" not in text and "e-0" not in text


def test_generated_persona_names_lose_raw_feature_names_study_names_stay() -> None:
    labels = Labels(stages=STAGES)
    traits = pd.DataFrame(
        {
            "persona_id": [1, 1, 2, 2, 3],
            "feature": [
                "events_per_30_days",
                "n_touchpoints",
                "channel_share_web",
                "channel_share_email",
                "recency_days",
            ],
            "direction": ["higher", "lower", "higher", "higher", "higher"],
        }
    )
    personas = pd.DataFrame(
        {
            "persona_id": [1, 2, 3],
            "persona_name": [
                "Highly active, n_touchpoints lower",
                "Web-first, Email-first",
                "Our loyal core",
            ],
        }
    )
    shown = labels.persona_names(personas, traits, fixed=[3])
    assert shown == {
        "Highly active, n_touchpoints lower": "Highly active, few touchpoints",
        "Web-first, Email-first": "Web- and email-first",
        "Our loyal core": "Our loyal core",
    }
    for name in shown.values():
        assert "_" not in name
    assert labels.persona_name("Web-first, Email-first (B)") == "Web- and email-first (B)"
    assert quoted("App-first, younger") == "\u201cApp-first, younger\u201d"


def test_the_labels_table_says_where_each_label_comes_from() -> None:
    labels = Labels({"setup_failed": "Setup failed"}, stages=STAGES, channels=["app"])
    table = labels_table(
        labels,
        stages=STAGES,
        touchpoints=["setup_failed", "account_setup", None],
        channels=["app"],
        features=["channel_share_app"],
        personas={"Web-first, Email-first": "Web- and email-first"},
    )
    assert list(table.columns) == ["kind", "name", "label", "source"]
    rows = {(r.kind, r.name): (r.label, r.source) for r in table.itertuples()}
    assert rows[("touchpoint", "setup_failed")] == ("Setup failed", "study")
    assert rows[("touchpoint", "account_setup")] == ("Account setup", "automatic")
    assert rows[("feature", "channel_share_app")] == (
        "Share of interactions in the app",
        "automatic",
    )
    assert rows[("persona", "Web-first, Email-first")][0] == "Web- and email-first"


def test_the_study_file_takes_labels_and_refuses_blank_or_long_ones(tmp_path) -> None:
    base = {
        "study": {"name": "S", "stages": ["a", "b"]},
        "data": {"customers": "c.csv", "events": "e.csv"},
    }
    study = study_from_dict({**base, "labels": {"setup_failed": "Setup failed"}}, path=tmp_path)
    assert study.labels == {"setup_failed": "Setup failed"}
    with pytest.raises(StudyFileError, match=r"\[labels\].*the labels of \['x'\] are blank"):
        study_from_dict({**base, "labels": {"x": " "}}, path=tmp_path)
    with pytest.raises(StudyFileError, match="labels of at most 100 characters"):
        study_from_dict({**base, "labels": {"x": "y" * 101}}, path=tmp_path)
