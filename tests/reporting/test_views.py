"""What the report notebooks show (cjresearch.reporting.views), on the notebook fixture study."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cjresearch.errors import CJResearchError
from cjresearch.reporting import analyses, views
from cjresearch.reporting.figures import Figure
from helpers import FIXTURE_STUDY

FIXTURE = FIXTURE_STUDY


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("views")
    study = folder / "study"
    shutil.copytree(FIXTURE, study, ignore=shutil.ignore_patterns("processed", "reports"))
    artifacts = folder / "artifacts"
    views.open_artifacts(artifacts, study_file=study / "study.toml")  # computes them once
    return study / "study.toml", artifacts


def test_without_artifacts_or_a_study_the_message_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CJResearchError, match="run `cjresearch build` on the study first"):
        views.open_artifacts(tmp_path)


def test_persona_view_shows_only_that_persona_and_all(built) -> None:
    _, artifacts = built
    opened = views.open_artifacts(artifacts)
    pid, name = opened.personas[0]
    view = views.persona_view(artifacts, pid)
    assert view.name == name
    assert set(view.tables["journey_map"]["persona"].astype(str)) == {name, "all"}
    assert view.title.split(",")[0].split("-")[0] in view.card and "customers" in view.card
    assert "They " in view.card  # traits as sentences
    assert "customer_id" not in "".join(view.tables)
    assert "instruments" in view.tables
    labels = view.tables["labels"]  # the data's words, and of the personas only this one's name
    assert set(labels.loc[labels["kind"] == "persona", "name"]) == {name}
    assert {"stage", "touchpoint"} <= set(labels["kind"])
    assert view.canvas.lane_keys[:3] == ["actions", "channels", "emotion"]
    figure = view.emotion_curve
    assert isinstance(figure, Figure) and figure.to_dict()["$schema"]
    assert figure.alt.startswith("Emotion per stage") and 'alt="Emotion per stage' in figure.html
    with pytest.raises(CJResearchError, match="has no report"):
        views.persona_view(artifacts, 999)


def test_stage_view_is_one_stage_for_every_persona(built) -> None:
    _, artifacts = built
    view = views.stage_view(artifacts, "onboarding")
    assert set(view.tables["journey_map"]["stage"].astype(str)) == {"onboarding"}
    assert "all" in set(view.tables["journey_map"]["persona"].astype(str))
    view.emotion_by_persona.to_dict()
    assert "Personas at Onboarding" in view.personas_compared
    assert "NPS" in view.scores or "no NPS" in view.scores
    with pytest.raises(CJResearchError, match="not in the study"):
        views.stage_view(artifacts, "checkout")


def test_analyses_use_the_build_or_recompute_when_settings_differ(built) -> None:
    study, artifacts = built
    as_built = analyses.persona_analysis(study, artifacts)
    assert not as_built.refitted
    assert "[" not in as_built.summary and "Personas as built" in as_built.summary
    refit = analyses.persona_analysis(study, artifacts, k=2)
    assert refit.refitted and len(refit.personas) == 2
    churn = analyses.emotion_churn_analysis(study, artifacts)
    assert not churn.recomputed
    assert "per step of lower emotion" in churn.emotion_churn
    other = analyses.emotion_churn_analysis(study, artifacts, stages=["onboarding"], unit_size=1.0)
    assert other.recomputed
    assert set(other.tables["emotion_churn"]["stage"].astype(str)) == {"onboarding"}
    assert (other.tables["emotion_churn"]["unit_size"] == 1.0).all()
    with pytest.raises(CJResearchError, match="not in the study"):
        analyses.emotion_churn_analysis(study, artifacts, stages=["checkout"])
    with pytest.raises(CJResearchError, match="is not one of"):
        analyses.emotion_churn_analysis(study, artifacts, persona="nobody")


def test_tables_are_escaped_and_suppressed_cells_say_so() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {"touchpoint": ["<script>x</script>", "ok"], "n_customers": [None, 40.0]}
    ).assign(suppressed=[True, False])
    out = views.table_html(frame)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "\u2020" in out and "Withheld" in out and ">suppressed<" not in out
    assert ">Customers<" in out and "n_customers" not in out
    assert "Nothing to show" in views.table_html(frame.iloc[0:0])


def test_stage_view_has_the_lag_table_and_its_warning(built) -> None:
    _, artifacts = built
    lag = views.stage_view(artifacts, "onboarding").lag_sensitivity
    assert set(lag.table["stage"].astype(str)) == {"onboarding"}
    assert {"landmark logit", "lagged Cox"} <= set(lag.table["model"])
    assert isinstance(lag.warning, str)
    assert "emotion_churn_lag.csv" in lag._repr_html_()
    warned = views.LagSensitivity("At <b>support</b>, the association shrinks", lag.table)
    page = warned._repr_html_()
    assert "Warning:" in page and "&lt;b&gt;support&lt;/b&gt;" in page
    assert "holds as the lag grows" in views.LagSensitivity("", lag.table)._repr_html_()
