"""The history of builds: one line per measurement, appended whole, surviving recomputation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cjresearch import _files
from cjresearch.analysis.kpis import FIGURE_COLUMNS
from cjresearch.artifacts import history
from cjresearch.artifacts.compute import compute_artifacts
from cjresearch.data.study import load_study
from cjresearch.datasets.sample import write_sample
from cjresearch.errors import CJResearchWarning


def _figures(value: float) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                **dict.fromkeys(FIGURE_COLUMNS),
                "key": "kpi|CSAT|csat|onboarding||",
                "kind": "kpi",
                "kpi": "CSAT «Ünïcode»",
                "stage": "onboarding",
                "persona": "all",
                "metric": "csat",
                "value": value,
                "ci_low": value - 0.1,
                "ci_high": value + 0.1,
                "n_customers": 120,
                "successes": round(value * 120),
                "target": ">= 0.5",
                "status": "met",
                "owner": 'Team "<b>A</b>"',
            },
            {
                **dict.fromkeys(FIGURE_COLUMNS),
                "key": "map|emotion|onboarding|2",
                "kind": "map",
                "kpi": "map: emotion at onboarding, persona 2",
                "stage": "onboarding",
                "persona": "P",
                "persona_id": 2,
                "metric": "emotion",
                "value": np.nan,
                "status": "suppressed",
            },
        ]
    )
    for column in ("persona_id", "n_customers", "successes"):
        frame[column] = frame[column].astype("Int64")
    for column in ("value", "ci_low", "ci_high", "variance"):
        frame[column] = frame[column].astype("float64")
    return frame


def _cells(frame: pd.DataFrame) -> list[dict[str, object]]:
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def test_a_measurement_round_trips_through_its_line(tmp_path: Path) -> None:
    first = history.Measurement("r1", "2026-06-30T06:00:00+00:00", "f" * 64, ((2, "P"),),
                                _figures(0.8))  # fmt: skip
    history.record(tmp_path, first)
    history.record(tmp_path, history.Measurement("r2", "2026-07-01T06:00:00+00:00", "g" * 64,
                                                 (), _figures(0.7)))  # fmt: skip
    lines = (tmp_path / history.HISTORY_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["run_id"] == "r1"
    read = history.read_history(tmp_path)
    assert [m.run_id for m in read] == ["r1", "r2"]
    assert read[0].personas == ((2, "P"),)
    assert _cells(read[0].figures) == _cells(first.figures)
    assert read[0].figures["n_customers"].dtype == "Int64"
    table = history.history_table(read)
    assert list(table.columns) == list(history.HISTORY_COLUMNS)
    assert table["run_id"].tolist() == ["r1", "r1", "r2", "r2"]
    assert table["value"].tolist()[::2] == pytest.approx([0.8, 0.7])
    assert table["status"].tolist()[1] == "suppressed" and pd.isna(table["value"].iloc[1])


def test_an_append_that_fails_leaves_the_history_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history.record(tmp_path, history.Measurement("r1", "t", "f", (), _figures(0.8)))
    before = (tmp_path / history.HISTORY_FILE).read_bytes()

    def broken(source: object, target: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(_files.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        history.record(tmp_path, history.Measurement("r2", "t", "f", (), _figures(0.5)))
    monkeypatch.undo()
    assert (tmp_path / history.HISTORY_FILE).read_bytes() == before
    assert [p.name for p in (tmp_path / "history").iterdir()] == ["measurements.jsonl"]


def test_a_line_edited_by_hand_is_skipped_with_a_warning(tmp_path: Path) -> None:
    history.record(tmp_path, history.Measurement("r1", "t", "f", (), _figures(0.8)))
    with (tmp_path / history.HISTORY_FILE).open("a", encoding="utf-8") as out:
        out.write('{"not": "a measurement"}\n\nnot json\n')
    with pytest.warns(CJResearchWarning, match="line 2 is not a measurement"):
        found = history.read_history(tmp_path)
    assert [m.run_id for m in found] == ["r1"]
    assert history.read_history(tmp_path / "nowhere") == []
    assert history.history_table([]).empty


def test_the_history_survives_recomputation_and_force(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "study", n_customers=150, seed=3, fmt="parquet")
    path.write_text(path.read_text().replace('k = "auto"', "k = 2"), encoding="utf-8")
    study = load_study(path)
    folder = tmp_path / "artifacts"
    first = compute_artifacts(study, folder, run_id="run-1")
    assert first.measurement == "run-1"
    assert compute_artifacts(study, folder).reused  # nothing changed: nothing measured
    forced = compute_artifacts(study, folder, force=True, run_id="run-2")
    runs = history.read_history(folder)
    assert [m.run_id for m in runs] == ["run-1", "run-2"]
    assert forced.summary["journey_management"]["previous_measurement"] == "run-1"
    assert forced.summary["journey_management"]["measurements"] == 2
    # the same data measured twice: the same figures, and nothing changed
    pd.testing.assert_frame_equal(runs[0].figures, runs[1].figures)
    assert forced.table("changes").empty and forced.alerts() == []
    published = forced.table("kpi_history")
    assert set(published["run_id"]) == {"run-1", "run-2"}
    assert list(published.columns) == list(history.HISTORY_COLUMNS)
    assert history.HISTORY_FILE not in forced.summary["artifacts"]  # not an artifact
