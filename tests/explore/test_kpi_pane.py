"""The explorer's KPI pane: the KPIs of the selected personas and stage, status and trend."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cjresearch.explore.widgets import ALL_STAGES, Explorer
from cjresearch.reporting import views
from helpers import FIXTURE_STUDY, measured_twice

HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample study (its six KPIs; one owner hostile) measured twice (--force)."""
    owner = {'owner = "Retention team"': f"owner = {json.dumps(HOSTILE)}"}
    root = tmp_path_factory.mktemp("kpi-pane")
    measured_twice(root, replace=owner)
    return root / "artifacts"


def _trend_rows(explorer: Explorer) -> pd.DataFrame:
    """The KPI points the trend pane draws (not its target rules)."""
    spec = explorer.kpi_trend_chart.spec
    rows = pd.DataFrame([row for rows in spec.get("datasets", {}).values() for row in rows])
    return rows[rows["kpi"].notna()] if "kpi" in rows else rows


def test_the_pane_shows_the_kpis_of_the_chosen_stage_with_status_and_trend(
    artifacts: Path, tmp_path: Path
) -> None:
    explorer = Explorer(artifacts, export_dir=tmp_path / "exports")
    kpis = explorer.kpis
    explorer.persona.value = explorer.persona.options[:1]
    explorer.stage.value = "onboarding"
    pane = explorer.kpi_pane.value
    onboarding = kpis[kpis["stage"] == "onboarding"]["kpi"].tolist()
    assert onboarding == ["Onboarding CSAT", "Onboarding effort", "Setup failures reached"]
    assert all(name in pane for name in onboarding)
    assert "Renewal churn" not in pane and "target met" in pane
    trend = _trend_rows(explorer)
    assert set(trend["kpi"]) == set(onboarding)
    # one point per build: the history's two measurements
    assert trend.groupby("kpi")["run_id"].nunique().eq(2).all()

    explorer.stage.value = "renewal"
    assert "Renewal churn" in explorer.kpi_pane.value
    assert "Onboarding CSAT" not in explorer.kpi_pane.value
    assert set(_trend_rows(explorer)["kpi"]) == {"Renewal churn"}
    # owners are data: escaped in the pane, made safe in the chart
    assert "<img" not in explorer.kpi_pane.value and "&lt;img" in explorer.kpi_pane.value

    explorer.stage.value = ALL_STAGES
    assert all(name in explorer.kpi_pane.value for name in kpis["kpi"])

    explorer.stage.value = "awareness"
    assert "No KPI for these personas at awareness" in explorer.kpi_pane.value
    assert "No KPI history yet" in json.dumps(explorer.kpi_trend_chart.spec)


def test_the_window_does_not_redraw_the_kpis_which_are_the_builds_figures(
    artifacts: Path, tmp_path: Path
) -> None:
    explorer = Explorer(artifacts, export_dir=tmp_path / "exports")
    explorer.stage.value = "onboarding"
    spec, pane = explorer.kpi_trend_chart.spec, explorer.kpi_pane.value
    periods = list(explorer.window.options)
    explorer.window.value = (periods[len(periods) // 2], periods[-1])
    assert explorer.kpi_trend_chart.spec is spec and explorer.kpi_pane.value == pane


def test_a_study_without_kpis_says_how_to_add_them(tmp_path: Path) -> None:
    study = tmp_path / "study"
    shutil.copytree(FIXTURE_STUDY, study, ignore=shutil.ignore_patterns("processed", "reports"))
    views.open_artifacts(tmp_path / "artifacts", study_file=study / "study.toml")
    explorer = Explorer(tmp_path / "artifacts", export_dir=tmp_path / "exports")
    assert explorer.kpis.empty
    assert "add [[kpis]] entries to the study file" in explorer.kpi_pane.value
