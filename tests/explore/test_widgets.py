"""The explorer driven from Python: controls change the panes as the tables say they should."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cjresearch.explore.widgets import ALL_STAGES, Explorer
from cjresearch.reporting import views
from helpers import FIXTURE_STUDY

FIXTURE = FIXTURE_STUDY


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("explorer")
    study = folder / "study"
    shutil.copytree(FIXTURE, study, ignore=shutil.ignore_patterns("processed", "reports"))
    views.open_artifacts(folder / "artifacts", study_file=study / "study.toml")
    return folder / "artifacts"


@pytest.fixture
def explorer(artifacts: Path, tmp_path: Path) -> Explorer:
    return Explorer(artifacts, export_dir=tmp_path / "exports")


def _data(explorer: Explorer, pane: str) -> pd.DataFrame:
    """The rows a chart pane draws, from the spec the browser receives."""
    spec = getattr(explorer, f"{pane}_chart").spec
    rows = [row for values in spec.get("datasets", {}).values() for row in values]
    return pd.DataFrame(rows)


def _emotion_points(explorer: Explorer) -> pd.DataFrame:
    data = _data(explorer, "emotion")
    return data[data["emotion_mean"].notna()] if "emotion_mean" in data else data


def test_choosing_a_persona_shows_that_personas_emotion_from_the_tables(explorer) -> None:
    table = explorer.artifacts.table("journey_map")
    names = list(explorer.persona.options)
    assert names == [name for _, name in explorer.artifacts.personas]
    checked = 0
    for name in names:
        explorer.persona.value = (name,)
        points = _emotion_points(explorer)
        assert set(points["persona"]) <= {name, "all"}
        mine = points[points["persona"] == name].set_index("stage")["emotion_mean"]
        expected = table[(table["persona"] == name) & ~table["emotion_suppressed"]]
        expected = expected.set_index(expected["stage"].astype(str))["emotion_mean"]
        assert set(mine.index) == set(expected.index)
        np.testing.assert_allclose(mine.sort_index(), expected.sort_index(), atol=1e-9)
        checked += len(mine)
    assert checked >= 5  # the fixture is small; some stages of some personas are shown


def test_compare_adds_and_removes_all_customers(explorer) -> None:
    explorer.persona.value = explorer.persona.options[:1]
    explorer.compare.value = True
    assert "all" in set(_emotion_points(explorer)["persona"])
    assert "all" in set(_data(explorer, "funnel")["persona"])
    explorer.compare.value = False
    assert set(_emotion_points(explorer)["persona"]) == {explorer.persona.options[0]}


def test_the_map_follows_the_first_persona(explorer) -> None:
    first, second = explorer.persona.options[:2]
    explorer.persona.value = (first,)
    assert first in json.dumps(explorer.map_chart.spec)
    explorer.persona.value = (second,)
    title = explorer.map_chart.spec["title"]
    assert second in json.dumps(title) and first not in json.dumps(title)


def test_the_source_control_changes_the_emotion_to_that_source(explorer, artifacts) -> None:
    explorer.persona.value = ()
    explorer.compare.value = True
    explorer.source.value = "text"
    points = _emotion_points(explorer).set_index("stage")
    # brute force from the observations: each customer's mean text emotion, then the mean
    observations = pd.read_parquet(artifacts / "emotion_observations.parquet")
    text = observations[observations["source"] == "text"]
    per_customer = text.groupby(["stage", "customer_id"], observed=True)["emotion"].mean()
    by_stage = per_customer.groupby(level="stage", observed=True).agg(["mean", "size"])
    shown = by_stage[by_stage["size"] >= explorer.study_min]
    assert len(shown) > 0
    for stage, row in shown.iterrows():
        assert points.loc[str(stage), "emotion_mean"] == pytest.approx(row["mean"])
    assert "Free text" in json.dumps(explorer.emotion_chart.spec["title"])


def test_a_narrower_window_counts_fewer_customers(explorer) -> None:
    explorer.persona.value = ()
    explorer.compare.value = True
    whole = explorer.selection["journey_map"]["n_customers"].sum()
    periods = explorer.window.options
    explorer.window.value = (periods[len(periods) // 2], periods[-1])
    narrow = explorer.selection["journey_map"]["n_customers"].sum()
    assert narrow < whole
    assert periods[len(periods) // 2] in explorer.summary.value


def test_the_stage_control_narrows_the_models_and_pain_points(explorer) -> None:
    explorer.persona.value = ()
    explorer.compare.value = True
    explorer.stage.value = "onboarding"
    forest = _data(explorer, "forest")
    assert set(forest["stage"].dropna()) == {"onboarding"}
    pains = explorer.selection["pain_points"]
    assert set(pains["stage"].astype(str)) <= {"onboarding"}
    explorer.stage.value = ALL_STAGES
    assert len(set(_data(explorer, "forest")["stage"].dropna())) > 1


def test_invalid_combinations_show_a_message_instead_of_raising(explorer) -> None:
    explorer.persona.value = ()
    explorer.compare.value = False  # nothing left to show
    assert explorer.selection is None
    assert "pick at least one persona" in explorer.message.value
    assert explorer.export() is None
    explorer.compare.value = True
    assert explorer.selection is not None and explorer.message.value == ""
    # a single month where nothing reaches the minimum group size: a note, no exception
    explorer.window.value = (explorer.window.options[0], explorer.window.options[0])
    explorer.persona.value = explorer.persona.options[:1]
    assert explorer.selection is not None
    assert "fewer than" in explorer.message.value


def test_the_minimum_group_size_only_suppresses_more(explorer) -> None:
    assert explorer.min_group_size.min == explorer.study_min
    explorer.min_group_size.value = 1  # clamped by the slider, never below the study's
    assert explorer.min_group_size.value == explorer.study_min
    before = explorer.selection["journey_map"]["suppressed"].sum()
    explorer.min_group_size.value = explorer.min_group_size.max
    after = explorer.selection["journey_map"]["suppressed"].sum()
    assert after > before
    shown = explorer.selection["journey_map"]
    assert (shown["n_customers"].dropna() >= explorer.min_group_size.value).all()


def test_export_writes_the_views_tables_and_charts_without_ids(explorer, artifacts) -> None:
    explorer.persona.value = explorer.persona.options[:2]
    folder = explorer.export()
    assert folder is not None and folder.is_dir()
    names = {p.name for p in folder.iterdir()}
    assert {"journey_map.csv", "funnel.csv", "pain_points.csv", "emotion_churn.csv"} <= names
    assert {"map.svg", "emotion.svg", "funnel.svg", "forest.svg"} <= names
    assert str(folder) in explorer.message.value
    exported = pd.read_csv(folder / "journey_map.csv")
    assert set(exported["persona"]) == {*explorer.persona.options[:2], "all"}
    ids = pd.read_parquet(artifacts / "customers.parquet")["customer_id"].astype(str)
    text = "".join(p.read_text() for p in folder.iterdir())
    assert not any(i in text for i in ids.head(300))
    assert not list(folder.parent.glob("*.partial"))


def test_no_customer_id_reaches_any_pane_and_data_strings_are_escaped(explorer, artifacts) -> None:
    explorer.cube.verbatims.loc[:, "text"] = '<script>alert(1)</script>"><img onerror=x>'
    explorer.persona.value = ()
    explorer.stage.value = "onboarding"
    explorer.compare.value = True
    panes = [explorer.pain_pane.value, explorer.findings_pane.value, explorer.summary.value]
    specs = [json.dumps(getattr(explorer, f"{p}_chart").spec) for p in ("map", "emotion")]
    everything = "".join(panes + specs)
    ids = pd.read_parquet(artifacts / "customers.parquet")["customer_id"].astype(str)
    assert not any(i in everything for i in ids)
    assert "alert(1)" in explorer.pain_pane.value  # the planted pain point's comments
    assert "<script>" not in explorer.pain_pane.value
    assert "<img" not in explorer.pain_pane.value
    assert "&lt;script&gt;" in explorer.pain_pane.value


def test_updates_redraw_only_the_panes_that_change(explorer) -> None:
    explorer.persona.value = explorer.persona.options[:1]
    before = {p: getattr(explorer, f"{p}_chart").spec for p in ("map", "emotion", "forest")}
    explorer.stage.value = "purchase"  # the map and curves show every stage
    assert explorer.map_chart.spec is before["map"]
    assert explorer.emotion_chart.spec is before["emotion"]
    assert explorer.forest_chart.spec is not before["forest"]
    assert explorer.last_update_s >= 0


def test_artifacts_without_a_cube_get_one_computed_on_first_open(artifacts, tmp_path) -> None:
    from cjresearch.analysis.cube import CUBE_FILE, VERBATIMS_FILE, load_cube

    older = tmp_path / "older"
    shutil.copytree(artifacts, older)
    built = load_cube(older)
    assert built is not None
    (older / CUBE_FILE).unlink()
    (older / VERBATIMS_FILE).unlink()
    Explorer(older, export_dir=tmp_path / "exports")
    again = load_cube(older)
    assert again is not None and again.periods == built.periods
    np.testing.assert_array_equal(again.arrays["emotion_sum"], built.arrays["emotion_sum"])
    pd.testing.assert_frame_equal(again.verbatims, built.verbatims)


def test_the_whole_period_pain_points_are_the_published_table(explorer, artifacts) -> None:
    """One definition: for all customers and every persona over the whole period, the
    explorer lists exactly the published pain points (tables/pain_points), figure by
    figure, and its pane shows them with their evidence."""
    from cjresearch.analysis.journey_map.evidence import PAIN_POINT_COLUMNS
    from cjresearch.explore.selection import Query, select

    personas = tuple(explorer.persona.options)
    selection = select(explorer.cube, Query(personas=personas, min_group_size=explorer.study_min))
    published = pd.read_parquet(artifacts / "tables" / "pain_points.parquet")
    want = published[published["is_pain_point"].fillna(False).to_numpy(dtype=bool)]
    assert len(want) > 0  # the fixture has a planted pain point
    got = selection["pain_points"]

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.assign(stage=frame["stage"].astype(str))[list(PAIN_POINT_COLUMNS)]
        return out.sort_values(["persona", "stage", "touchpoint"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(
        ordered(got), ordered(want), check_dtype=False, check_categorical=False
    )
    explorer.persona.value = personas[:1]
    assert "evidence" in explorer.pain_pane.value
    assert "one definition" in explorer.pain_pane.value
