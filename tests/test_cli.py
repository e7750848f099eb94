"""The command line: exit codes, output, and the main job on the sample study."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cjresearch import __version__
from cjresearch.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cjresearch {__version__}"


def test_sample_then_validate_then_build(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    result = runner.invoke(app, ["sample", str(folder), "--customers", "300", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert (folder / "truth.json").is_file()

    result = runner.invoke(app, ["validate", str(folder / "study.toml")])
    assert result.exit_code == 0, result.output
    assert "customers" in result.stdout and "300" in result.stdout

    out, artifacts = tmp_path / "out", tmp_path / "artifacts"
    result = runner.invoke(
        app,
        [
            "build",
            str(folder / "study.toml"),
            "--out",
            str(out),
            "--artifacts",
            str(artifacts),
            "--jobs",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert {"run_id", "versions", "inputs", "parameters", "dropped_rows", "emotion"} <= set(
        manifest
    )
    assert manifest["inputs"]["events"]["rows_read"] > 0
    assert len(manifest["inputs"]["customers"]["sha256"]) == 64
    assert manifest["parameters"]["study"]["stages"][0] == "awareness"
    agreement = manifest["emotion"]["text_score_agreement"]
    assert agreement["n_pairs"] > 0 and agreement["spearman_rho"] > 0.5
    customers = pd.read_parquet(artifacts / "customers.parquet")
    assert len(customers) == 300
    # the manifest is published: no customer id may appear in it
    text = (out / "manifest.json").read_text()
    assert not any(cid in text for cid in customers["customer_id"])
    # what is published, and that none of it holds an id, is tests/test_build.py's concern
    assert (out / "index.html").is_file()
    assert "reports rebuilt" in result.stdout
    assignments = pd.read_parquet(artifacts / "assignments.parquet")
    assert assignments.columns.tolist() == ["customer_id", "persona_id", "persona_name"]
    assert len(assignments) == 300

    # new customers are assigned from the saved model; here, the first ten again
    events = pd.read_csv(folder / "events.csv", dtype=str)
    first = customers["customer_id"].head(10)
    events[events["customer_id"].isin(first)].to_csv(tmp_path / "new.csv", index=False)
    new_customers = pd.read_csv(folder / "customers.csv", dtype=str).drop(columns="churned")
    new_customers[new_customers["customer_id"].isin(first)].to_csv(
        tmp_path / "new_customers.csv", index=False
    )
    result = runner.invoke(
        app,
        [
            "assign",
            str(folder / "study.toml"),
            str(tmp_path / "new.csv"),
            "--customers",
            str(tmp_path / "new_customers.csv"),
            "--artifacts",
            str(artifacts),
        ],
    )
    assert result.exit_code == 0, result.output
    assigned = pd.read_csv(tmp_path / "new_personas.csv", dtype={"customer_id": str})
    expected = assignments.set_index("customer_id").loc[first]
    assert assigned["persona_id"].tolist() == expected["persona_id"].tolist()


def test_assign_without_a_build_is_a_one_line_error(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    assert runner.invoke(app, ["sample", str(folder), "--customers", "50"]).exit_code == 0
    result = runner.invoke(app, ["assign", str(folder / "study.toml"), str(folder / "events.csv")])
    assert result.exit_code == 2
    assert "no saved persona model" in result.stderr


def test_sample_rejects_an_unknown_format(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", str(tmp_path), "--format", "xlsx"])
    assert result.exit_code == 2
    assert "--format must be csv or parquet" in result.stderr


def test_build_with_no_argument_builds_the_bundled_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 0, result.output
    assert "20,000 customers" in result.stdout
    assert "0 rows dropped" in result.stdout
    assert (tmp_path / "data" / "sample" / "truth.json").is_file()
    assert (tmp_path / "reports" / "manifest.json").is_file()
    assert (tmp_path / "data" / "processed" / "sample" / "events.parquet").is_file()
    # a second build reuses the generated sample rather than writing it again
    stamp = (tmp_path / "data" / "sample" / "events.csv").stat().st_mtime_ns
    assert runner.invoke(app, ["build"]).exit_code == 0
    assert (tmp_path / "data" / "sample" / "events.csv").stat().st_mtime_ns == stamp


def test_user_errors_exit_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "study file not found" in result.stderr
    assert "Traceback" not in result.output + result.stderr
