"""Artifacts are reused only when every file is what the build wrote: a truncated table or
persona model is computed again (with a word), never reused and never a failing build."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjresearch.artifacts.catalog import TABLES_DIR
from cjresearch.artifacts.compute import artifacts_current, compute_artifacts
from cjresearch.data.study import load_study
from cjresearch.datasets.sample import write_sample
from cjresearch.errors import DataWarning

pytestmark = pytest.mark.filterwarnings("ignore::cjresearch.errors.StatisticalWarning")


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_artifact_is_computed_again_not_reused(tmp_path: Path) -> None:
    study = load_study(write_sample(tmp_path / "study", n_customers=300, seed=3))
    folder = tmp_path / "artifacts"
    first = compute_artifacts(study, folder)
    assert compute_artifacts(study, folder).reused
    table = folder / TABLES_DIR / "journey_map.parquet"
    _truncate(table)
    with pytest.warns(DataWarning, match=r"journey_map\.parquet: changed since it was computed"):
        assert not artifacts_current(study, folder)
    with pytest.warns(DataWarning, match="changed since"):
        again = compute_artifacts(study, folder)
    assert not again.reused and again.fingerprint == first.fingerprint
    assert again.table("journey_map").equals(first.table("journey_map"))  # readable again
    assert compute_artifacts(study, folder).reused


def test_an_unreadable_persona_model_starts_the_personas_afresh(tmp_path: Path) -> None:
    study = load_study(write_sample(tmp_path / "study", n_customers=300, seed=3))
    folder = tmp_path / "artifacts"
    compute_artifacts(study, folder)
    _truncate(folder / "personas_model.joblib")
    with pytest.warns(DataWarning, match="previous persona model could not be read"):
        again = compute_artifacts(study, folder, force=True)
    assert any("start afresh" in note for note in again.summary["personas"]["notes"])
    assert again.persona_model().personas["n_customers"].sum() == 300
