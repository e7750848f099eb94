"""Journey management end to end: KPIs in every build, a degraded stage, alerts, history."""

from __future__ import annotations

import functools
import importlib
import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cjresearch.analysis.changes import KPI_COLUMNS
from cjresearch.artifacts.history import HISTORY_COLUMNS, HISTORY_FILE
from cjresearch.build import build
from cjresearch.cli import app
from cjresearch.data.study import load_study
from helpers import degrade_onboarding_csat, managed_sample

runner = CliRunner()
# the module, not the facade's function of the same name (cjresearch.build)
build_module = importlib.import_module("cjresearch.build")
ONBOARDING_KPIS = {"Onboarding CSAT", "Onboarding effort", "Setup failures reached"}
HOSTILE_OWNER = '<script>alert("owner")</script> [bold red]Team[/bold red]'


def _run_id(out: Path) -> str:
    return str(json.loads((out / "manifest.json").read_text())["run_id"])


def test_a_degraded_stage_alerts_its_owner_and_the_history_holds_both_runs(
    tmp_path: Path,
) -> None:
    study = managed_sample(tmp_path / "study", n_customers=300)
    out, artifacts = tmp_path / "out", tmp_path / "artifacts"
    args = ["build", str(study), "--out", str(out), "--artifacts", str(artifacts), "--jobs", "2",
            "--fail-on-alert"]  # fmt: skip

    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "Alerts:    none" in first.stdout
    kpis = pd.read_csv(out / "tables" / "kpis.csv")
    assert list(kpis.columns) == list(KPI_COLUMNS)
    assert len(kpis) == 6 and set(kpis["status"]) == {"met"}
    assert json.loads((out / "alerts.json").read_text()) == []
    first_run = _run_id(out)

    degrade_onboarding_csat(tmp_path / "study")
    second = runner.invoke(app, args)
    assert second.exit_code == 3, second.output
    alerts = json.loads((out / "alerts.json").read_text())
    by_kpi = {a["kpi"]: a for a in alerts}
    csat = by_kpi["Onboarding CSAT"]
    assert csat["owner"] == "Onboarding team" and csat["status"] == "missed"
    assert csat["target"] == ">= 0.30" and csat["previous_value"] > 0.3 and csat["value"] < 0.1
    assert "Onboarding CSAT misses its target >= 0.30" in csat["message"]
    assert "Owner: Onboarding team." in csat["message"]
    assert "alert: Onboarding CSAT misses its target" in second.stdout
    # nothing at an untouched stage alerts: the other stages' KPIs and headline figures
    assert {a["stage"] for a in alerts} == {"onboarding"}
    assert not {"Support CSAT", "Renewal churn", "Usage NPS"} & set(by_kpi)
    for alert in alerts:
        assert {"kpi", "status", "value", "target", "previous_value", "owner", "message"} <= set(
            alert
        )
    second_run = _run_id(out)

    history = pd.read_csv(out / "tables" / "kpi_history.csv")
    assert list(history.columns) == list(HISTORY_COLUMNS)
    assert list(dict.fromkeys(history["run_id"])) == [first_run, second_run]
    csat_runs = history[history["kpi"] == "Onboarding CSAT"]
    assert csat_runs["status"].tolist() == ["met", "missed"]
    assert (history.groupby("run_id").size() == history.groupby("run_id").size().iloc[0]).all()
    kpis = pd.read_csv(out / "tables" / "kpis.csv").set_index("kpi")
    assert kpis.loc["Onboarding CSAT", "previous_value"] == pytest.approx(csat["previous_value"])
    assert kpis.loc["Onboarding CSAT", "change_q_value"] < 0.001
    assert kpis.loc["Support CSAT", "change"] == 0 and kpis.loc["Support CSAT", "status"] == "met"
    changes = pd.read_csv(out / "tables" / "changes.csv")
    assert set(changes["stage"]) == {"onboarding"}
    assert "kpi_status" in set(changes["kind"]) and (changes["previous_run_id"] == first_run).all()

    # unchanged data, nothing recomputed: no new alert, nothing rewritten, no new history
    manifest = (out / "manifest.json").read_bytes()
    third = runner.invoke(app, args)
    assert third.exit_code == 0, third.output
    assert "none new" in third.stdout
    assert (out / "manifest.json").read_bytes() == manifest
    assert len((artifacts / HISTORY_FILE).read_text().splitlines()) == 2

    # unchanged data measured again (--force): the same figures, no change, no alert
    fourth = runner.invoke(app, [*args, "--force"])
    assert fourth.exit_code == 0, fourth.output
    assert pd.read_csv(out / "tables" / "changes.csv").empty
    assert json.loads((out / "alerts.json").read_text()) == []
    assert history["run_id"].nunique() + 1 == (
        pd.read_csv(out / "tables" / "kpi_history.csv")["run_id"].nunique()
    )


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200-customer sample whose Onboarding CSAT target is out of reach (always missed)."""
    root = tmp_path_factory.mktemp("hooked")
    return managed_sample(root / "study", replace={'target = ">= 0.30"': 'target = ">= 0.99"'})


def _with_alerts(path: Path, command: str, timeout: float = 20) -> Path:
    text = path.read_text(encoding="utf-8").split("\n[alerts]")[0]
    path.write_text(
        text + f"\n[alerts]\ncommand = {json.dumps(command)}\ntimeout_seconds = {timeout}\n",
        encoding="utf-8",
    )
    return path


def test_the_alerts_command_gets_the_published_alerts_on_stdin(hooked: Path) -> None:
    root = hooked.parent.parent
    study = load_study(_with_alerts(hooked, "cat > received.json"))
    result = build(study, output=root / "out1", artifacts=root / "art1", reports=False)
    assert result.alert_command == "ok"
    assert [a["kpi"] for a in result.alerts] == ["Onboarding CSAT"]
    received = (hooked.parent / "received.json").read_bytes()
    assert received == (root / "out1" / "alerts.json").read_bytes()
    assert json.loads(received)[0]["owner"] == "Onboarding team"
    # the same measurement again: the owners were told already
    (hooked.parent / "received.json").unlink()
    again = build(study, output=root / "out1", artifacts=root / "art1", reports=False)
    assert again.alerts == [] and again.alert_command is None
    assert not (hooked.parent / "received.json").exists()


def test_a_failing_alerts_command_is_logged_and_never_fails_the_build(
    hooked: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = hooked.parent.parent
    cases = [
        ("echo 'mail server down' >&2; exit 5", "exited with code 5: mail server down", 20),
        ("sleep 5", "did not finish within 0.5 s", 0.5),
    ]
    for i, (command, said, timeout) in enumerate(cases):
        study = load_study(_with_alerts(hooked, command, timeout))
        with caplog.at_level(logging.WARNING, logger="cjresearch.build"):
            # a fresh history each time: the KPI is newly missed, so each build alerts
            result = build(study, output=root / f"fail{i}", artifacts=root / f"art-fail{i}",
                           reports=False)  # fmt: skip
        assert result.alerts and said in str(result.alert_command)
        assert said in caplog.text
        assert (root / f"fail{i}" / "manifest.json").is_file()


def test_owner_strings_are_data_in_the_terminal_and_the_alerts(
    hooked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = hooked.read_text(encoding="utf-8").split("\n[alerts]")[0]
    text = text.replace('owner = "Onboarding team"', f"owner = {json.dumps(HOSTILE_OWNER)}")
    hooked.write_text(text, encoding="utf-8")
    monkeypatch.setattr(build_module, "build", functools.partial(build, reports=False))
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["build", str(hooked), "--out", str(out), "--artifacts", str(tmp_path / "a"),
         "--fail-on-alert"],
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    # rich markup in an owner's name is printed as written, not interpreted
    assert f"Owner: {HOSTILE_OWNER}." in result.stdout.replace("\n", "")
    alerts = json.loads((out / "alerts.json").read_text())
    assert alerts[0]["owner"] == HOSTILE_OWNER
    assert pd.read_csv(out / "tables" / "kpis.csv")["owner"].iloc[0] == HOSTILE_OWNER
