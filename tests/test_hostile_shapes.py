"""Studies of shapes the sample never has, built without a traceback: nobody churned, one
feedback value for everyone (a constant emotion), fewer customers than min_group_size."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cjresearch.artifacts.compute import compute_artifacts
from cjresearch.cli import app
from cjresearch.data.study import load_study
from cjresearch.datasets.sample import write_sample
from helpers.attacker import leaks

pytestmark = pytest.mark.filterwarnings("ignore::cjresearch.errors.StatisticalWarning")


def _sample(folder: Path, n: int = 300) -> Path:
    return write_sample(folder, n_customers=n, seed=4)


def _attack(artifacts, k: int, n: int) -> list[str]:
    return leaks(
        {name: artifacts.table(name) for name in artifacts.table_names}, k=k, n_customers=n
    )


def test_a_study_where_nobody_churned(tmp_path: Path) -> None:
    path = _sample(tmp_path / "study")
    customers = pd.read_csv(tmp_path / "study" / "customers.csv")
    customers["churned"] = False
    customers["churn_date"] = None  # a whole column of missing dates (kept its time zone)
    customers.to_csv(tmp_path / "study" / "customers.csv", index=False)
    artifacts = compute_artifacts(load_study(path), tmp_path / "artifacts")
    odds = artifacts.table("emotion_churn")
    assert odds["odds_ratio"].isna().all()
    # no model anywhere: nobody churned, or the group was too small to say
    assert odds["flags"].str.contains("no_events|small_group|no_customers").all()
    assert odds["flags"].str.contains("no_events").any()
    assert artifacts.table("findings").query("kind != 'no_clear_association'").empty
    assert _attack(artifacts, 10, 300) == []


def test_one_feedback_value_for_everyone(tmp_path: Path) -> None:
    # every score the same: the stage valence is constant (0.8000000000000002 and the like)
    path = _sample(tmp_path / "study")
    feedback = pd.read_csv(tmp_path / "study" / "feedback.csv")
    score = feedback["score"]
    feedback["score"] = score.where(score.isna(), score.dropna().iloc[0])
    feedback.to_csv(tmp_path / "study" / "feedback.csv", index=False)
    artifacts = compute_artifacts(load_study(path), tmp_path / "artifacts")
    found = artifacts.table("findings")
    assert found["text"].str.len().gt(0).all()  # whatever is said is said in words
    assert _attack(artifacts, 10, 300) == []


def test_fewer_customers_than_the_smallest_group_is_one_line(tmp_path: Path) -> None:
    path = _sample(tmp_path / "study", n=3)
    assert 'k = "auto"' in path.read_text(encoding="utf-8")
    result = CliRunner().invoke(app, ["build", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "3 customers, fewer than the study's min_group_size (10)" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "index.html").exists()
