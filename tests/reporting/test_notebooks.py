"""Researchers' notebooks: declared parameters, `cjresearch run`, `notebooks`, `schedule`."""

from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cjresearch.cli import app
from cjresearch.errors import CJResearchError
from cjresearch.reporting.notebooks import (
    bundled_notebooks,
    check_parameter_values,
    coerce_parameters,
    find_notebook,
    notebook_parameters,
)
from cjresearch.reporting.portal import PortalContext, stage_portal
from cjresearch.reporting.publish import PublishTransaction
from cjresearch.schedule import check_cron, crontab_line
from helpers import FIXTURES

NOTEBOOKS = FIXTURES / "notebooks"
TINY = NOTEBOOKS / "tiny.ipynb"
runner = CliRunner()


def test_declared_parameters_and_types() -> None:
    declared = {p.name: (p.type_name, p.default) for p in notebook_parameters(TINY)}
    assert declared == {
        "label": ("str", '"plain"'),
        "count": ("int", "3"),
        "ratio": ("float", "0.5"),
        "flag": ("bool", "False"),
        "fail": ("bool", "False"),
        "data_file": ("str", '""'),
    }


def test_coerce_text_values_to_declared_types() -> None:
    values = coerce_parameters(
        TINY, [("count", "7"), ("ratio", "2"), ("flag", "yes"), ("label", "<b>7</b>")]
    )
    assert values == {"count": 7, "ratio": 2.0, "flag": True, "label": "<b>7</b>"}
    assert coerce_parameters(TINY, {"ratio": 1}) == {"ratio": 1}


@pytest.mark.parametrize(
    ("values", "pattern"),
    [
        ([("colour", "red")], r"tiny.ipynb has no parameter 'colour'\. It declares: label: str"),
        ([("count", "many")], r"parameter 'count' of tiny.ipynb takes a int, got 'many'"),
        ([("flag", "perhaps")], r"takes a bool, got 'perhaps' \(expected true or false\)"),
        ({"count": "3"}, r"takes a int, got str '3'.*It declares: .*count: int = 3"),
        ({"count": True}, r"takes a int, got bool True"),
    ],
)
def test_unknown_names_and_wrong_types_list_the_declarations(values: object, pattern: str) -> None:
    with pytest.raises(CJResearchError, match=pattern):
        coerce_parameters(TINY, values)  # type: ignore[arg-type]


def test_parameter_values_only_plain_data() -> None:
    assert check_parameter_values({"a": None, "b": [1, {"c": 2.5}], "d": True}) == {
        "a": None,
        "b": [1, {"c": 2.5}],
        "d": True,
    }
    with pytest.raises(CJResearchError, match=r"DataFrame.*pass a path, not a table"):
        check_parameter_values({"frame": pd.DataFrame({"a": [1]})})
    with pytest.raises(CJResearchError, match="PosixPath"):
        check_parameter_values({"path": Path("x")})
    with pytest.raises(CJResearchError, match="tuple"):
        check_parameter_values({"pair": (1, 2)})
    with pytest.raises(CJResearchError, match="finite"):
        check_parameter_values({"x": [float("nan")]})
    with pytest.raises(CJResearchError, match="keys must be text"):
        check_parameter_values({"x": {1: "a"}})
    with pytest.raises(CJResearchError, match="not a Python identifier"):
        check_parameter_values({"x=1;import os": 1})


def test_find_bundled_notebooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJRESEARCH_NOTEBOOKS", str(NOTEBOOKS))
    assert [p.name for p in bundled_notebooks()] == ["chart.ipynb", "tiny.ipynb"]
    assert find_notebook("tiny") == NOTEBOOKS / "tiny.ipynb"
    assert find_notebook(TINY) == TINY
    with pytest.raises(CJResearchError, match=r"not found.*\['chart', 'tiny'\]"):
        find_notebook("personas-of-mars")


def test_cli_notebooks_lists_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CJRESEARCH_NOTEBOOKS", str(NOTEBOOKS))
    result = runner.invoke(app, ["notebooks"])
    assert result.exit_code == 0, result.output
    assert "tiny" in result.stdout and "count" in result.stdout and "int" in result.stdout


def test_cli_run_rejects_unknown_parameter_before_running(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(TINY), "--out", str(tmp_path), "-p", "colour", "red"])
    assert result.exit_code == 2
    assert "has no parameter 'colour'" in result.stderr
    assert "count: int = 3" in result.stderr
    assert not (tmp_path / "analysis").exists()

    result = runner.invoke(app, ["run", str(TINY), "--out", str(tmp_path), "-p", "count", "x"])
    assert result.exit_code == 2 and "takes a int" in result.stderr

    result = runner.invoke(app, ["run", str(TINY), "--out", str(tmp_path), "-p", "count"])
    assert result.exit_code == 2 and "needs a NAME and a VALUE" in result.stderr


def test_cli_run_publishes_into_analysis(tmp_path: Path) -> None:
    # A portal from an earlier build: `run` adds its page to it.
    with PublishTransaction(tmp_path, "build-1") as tx:
        stage_portal(tx, PortalContext("Acme", findings=["churn is associated"]), [])
        tx.commit()
    result = runner.invoke(
        app,
        [
            "run",
            str(TINY),
            "--out",
            str(tmp_path),
            "--name",
            "My <own> analysis",
            "-p",
            "label",
            "<script>alert(1)</script>",
            "-p",
            "count",
            "21",
        ],
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "analysis" / "my-own-analysis.html").read_text()
    assert "count 42" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>My &lt;own&gt; analysis</title>" in page
    index = (tmp_path / "index.html").read_text()
    assert 'href="analysis/my-own-analysis.html"' in index and "churn is associated" in index


def test_cli_schedule_prints_a_crontab_line(tmp_path: Path) -> None:
    study = tmp_path / "my study" / "study.toml"
    study.parent.mkdir()
    study.write_text(
        '[study]\nname = "S"\nstages = ["a", "b"]\n[data]\ncustomers = "c.csv"\nevents = "e.csv"\n'
    )
    result = runner.invoke(app, ["schedule", str(study), "--cron", "30 5 * * 1-5"])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith("30 5 * * 1-5 ")
    words = shlex.split(line[len("30 5 * * 1-5 ") :])
    assert words[1:3] == ["build", str(study.absolute())]
    assert words[-3:] == [">>", str(study.parent.absolute() / "cjresearch-build.log"), "2>&1"]
    assert Path(words[0]).name == "cjresearch"

    result = runner.invoke(app, ["schedule", str(study), "--cron", "every morning"])
    assert result.exit_code == 2 and "not a cron schedule" in result.stderr


def test_crontab_escapes_percent_and_checks_fields() -> None:
    line = crontab_line("/s/100%/study.toml", cron="@daily", executable="/v/cjresearch")
    assert "100\\%" in line and line.startswith("@daily ")
    with pytest.raises(CJResearchError, match="five fields"):
        check_cron("0 6 * *")
    with pytest.raises(CJResearchError, match="five fields"):
        check_cron("0 6 * * *; rm -rf /")
