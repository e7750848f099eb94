"""Journey management for the pages: owner portfolios, the KPI table, lane, trends, digest.

Two measurements of the sample study (200 customers, seed 5, k = 3): the second after every
onboarding CSAT answer was lowered by two points, so that "Onboarding CSAT" is newly missed
and the rest of the KPIs stay met.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from typing import Any

import altair as alt
import pandas as pd
import pytest

from cjresearch.artifacts import compute
from cjresearch.artifacts.catalog import Artifacts
from cjresearch.data.study import Study, load_study
from cjresearch.errors import CJResearchError
from cjresearch.reporting import company, kpi_charts, owner_views
from cjresearch.reporting.charts import safe_label
from cjresearch.reporting.reports import plan_reports, report_fingerprint
from cjresearch.reporting.specs import report_specs
from helpers import managed_sample, measured_twice

HOSTILE_OWNER = '<script>alert("owner")</script> & "Care"'


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Study, Artifacts]:
    owner = {'owner = "Customer care"': f"owner = {json.dumps(HOSTILE_OWNER)}"}
    return measured_twice(tmp_path_factory.mktemp("management"), replace=owner, degrade=True)


def _rows(chart: alt.TopLevelMixin) -> pd.DataFrame:
    spec = chart.to_dict()
    return pd.DataFrame([row for rows in spec.get("datasets", {}).values() for row in rows])


def test_each_owner_gets_what_they_own_and_how_it_is_doing(built) -> None:
    study, artifacts = built
    portfolios = {p.owner: p for p in owner_views.owner_portfolios(study, artifacts)}
    # the order first named: stages, then touchpoints, then KPI owners (data/sample/study.toml)
    assert list(portfolios) == [
        "Onboarding team", HOSTILE_OWNER, "Retention team", "Platform team", "Product team"
    ]  # fmt: skip
    onboarding = portfolios["Onboarding team"]
    assert onboarding.stages["stage"].tolist() == ["onboarding"]
    assert onboarding.stages["expectations"].iloc[0] == [
        "Set up in one sitting",
        "Know who to call",
    ]
    assert onboarding.stages["tools"].iloc[0] == ["Setup wizard", "Welcome e-mail"]
    assert onboarding.touchpoints.empty
    # the touchpoint's KPI is its owner's (a KPI owner defaults to the touchpoint's owner)
    assert onboarding.kpis["kpi"].tolist() == ["Onboarding CSAT", "Onboarding effort"]
    assert portfolios["Platform team"].kpis["kpi"].tolist() == ["Setup failures reached"]
    assert portfolios["Platform team"].touchpoints["touchpoint"].tolist() == ["setup_failed"]
    assert onboarding.questions.to_dict(orient="records") == [
        {"where": "onboarding", "question": "Why do app users skip the tutorial?"}
    ]
    # both measurements of each of their KPIs
    assert onboarding.history.groupby("kpi")["run_id"].apply(list).to_dict() == {
        "Onboarding CSAT": ["run-1", "run-2"],
        "Onboarding effort": ["run-1", "run-2"],
    }
    assert {a["kpi"] for a in onboarding.alerts} >= {"Onboarding CSAT"}
    assert set(onboarding.changes["stage"]) == {"onboarding"} and not onboarding.changes.empty
    pains = onboarding.pain_points
    assert set(pains["stage"]) <= {"onboarding"}
    if "is_pain_point" in pains.columns:
        assert pains["is_pain_point"].all()
    summary = onboarding.summary.iloc[0]
    assert (summary["n_kpis"], summary["n_met"], summary["n_missed"]) == (2, 1, 1)
    assert summary["n_alerts"] == len(onboarding.alerts)
    # untouched owners: nothing changed, nothing to alert
    retention = portfolios["Retention team"]
    assert retention.alerts == [] and retention.changes.empty
    assert retention.kpis["status"].tolist() == ["met"]
    # an owner the study does not name owns nothing
    nobody = owner_views.owner_portfolio(study, artifacts, "Nobody")
    assert nobody.stages.empty and nobody.kpis.empty and nobody.summary["n_kpis"].item() == 0


def test_owner_strings_are_escaped_in_the_html(built) -> None:
    study, artifacts = built
    care = owner_views.owner_portfolio(study, artifacts, HOSTILE_OWNER)
    page = care._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "&amp; &quot;Care&quot;" in page
    assert "Support CSAT" in page and "Which issues need a second contact?" in page
    table = owner_views.kpi_status_html(artifacts.table("kpis"))
    assert "<script>" not in table and table.count("&lt;script&gt;") == 1


def test_the_kpi_table_shows_value_interval_n_status_and_change(built) -> None:
    _, artifacts = built
    kpis = artifacts.table("kpis")
    page = owner_views.kpi_status_html(kpis)
    rows = re.findall(r"<tr>(.*?)</tr>", page)[1:]
    assert len(rows) == len(kpis) == 6
    csat = next(r for r in rows if "Onboarding CSAT" in r)
    value = kpis.set_index("kpi").loc["Onboarding CSAT"]
    n = int(value["n_customers"])
    assert f"n = {n:,}" in csat and "target missed" in csat and "cj-status-missed" in csat
    assert ">= 0.30" in html.unescape(csat)
    # the change since the last build, in percentage points (analysis.kpis.format_change)
    assert "-49.5 percentage points" in csat and "-49.5%" not in csat
    effort = next(r for r in rows if "Onboarding effort" in r)
    assert "target met" in effort
    assert "No KPI" in owner_views.kpi_status_html(kpis.iloc[:0])
    suppressed = kpis.iloc[:1].assign(
        value=float("nan"), ci_low=float("nan"), ci_high=float("nan"), status="suppressed"
    )
    shown = owner_views.kpi_status_html(suppressed)
    assert "suppressed" in shown and "n =" not in shown


def test_kpis_for_a_selection_keep_all_customers_and_the_stage(built) -> None:
    _, artifacts = built
    kpis = artifacts.table("kpis")
    at = owner_views.kpis_for(kpis, personas=["Anyone"], stage="onboarding")
    assert at["kpi"].tolist() == [
        "Onboarding CSAT", "Onboarding effort", "Setup failures reached"
    ]  # fmt: skip
    assert owner_views.kpis_for(kpis, stage="renewal")["kpi"].tolist() == ["Renewal churn"]
    assert len(owner_views.kpis_for(kpis)) == 6
    persona = kpis.iloc[:1].assign(persona="P")
    both = pd.concat([kpis, persona], ignore_index=True)
    assert len(owner_views.kpis_for(both, stage="onboarding")) == 3
    assert len(owner_views.kpis_for(both, personas=["P"], stage="onboarding")) == 4


def test_the_digest_puts_status_changes_first_and_is_empty_without_changes(built) -> None:
    _, artifacts = built
    changes = artifacts.table("changes")
    lines = owner_views.changes_digest(changes)
    assert len(lines) == len(changes) >= 2
    assert lines[0].startswith("Onboarding CSAT is now missed (was met)")
    assert lines[1].startswith("Onboarding CSAT fell from 49.5%")
    short = owner_views.changes_digest(changes, limit=1)
    assert len(short) == 2 and short[1].startswith(f"... and {len(changes) - 1} more")
    assert owner_views.changes_digest(changes.iloc[:0]) == []


def test_the_kpi_lane_puts_each_kpi_under_its_stage_coloured_by_status(built) -> None:
    study, artifacts = built
    kpis = artifacts.table("kpis")
    chart = kpi_charts.kpi_lane_chart(kpis, stages=study.stages)
    spec = chart.to_dict()
    rows = _rows(chart)
    assert len(rows) == 6
    assert rows.groupby("stage")["row"].max().to_dict() == {
        "onboarding": 2, "renewal": 0, "support": 0, "usage": 0
    }  # fmt: skip
    by_label = rows.set_index("stage")
    churn = kpis.set_index("kpi").loc["Renewal churn", "value"]
    assert by_label.loc["renewal", "label"] == f"Renewal churn: {churn:.1%} (\u2264 30.0%)"
    assert set(rows["status"]) == {"met", "missed"}
    # stage columns in the study's order, every stage a column, as wide as the canvas
    x = spec["encoding"]["x"] if "encoding" in spec else spec["layer"][0]["encoding"]["x"]
    assert x["scale"]["domain"] == list(study.stages)
    assert spec["width"] == 140 * len(study.stages)
    color = spec["layer"][0]["encoding"]["color"]["scale"]
    assert dict(zip(color["domain"], color["range"], strict=True)) == kpi_charts.STATUS_COLORS
    # owners are labels: no markup reaches the spec
    assert "<script>" not in json.dumps(spec)
    assert safe_label(HOSTILE_OWNER) in set(rows["owner"])
    # a persona's lane: its KPIs and those of all customers
    assert len(_rows(kpi_charts.kpi_lane_chart(kpis, stages=study.stages, persona="X"))) == 6
    with pytest.raises(CJResearchError, match="stages must be the study's list"):
        kpi_charts.kpi_lane_chart(kpis, stages="onboarding")


def test_trends_draw_each_kpi_over_the_builds_with_its_target(built) -> None:
    _, artifacts = built
    kpis, history = artifacts.table("kpis"), artifacts.table("kpi_history")
    chart = kpi_charts.kpi_trend_chart(history, kpis=kpis)
    spec = chart.to_dict()
    assert [p["title"] for p in spec["vconcat"]] == kpis["kpi"].tolist()
    rows = _rows(chart)
    csat = rows[rows["kpi"] == "Onboarding CSAT"].sort_values("finished_at")
    expected = history[history["kpi"] == "Onboarding CSAT"]["value"].tolist()
    assert csat["value"].tolist() == pytest.approx(expected)
    assert 0.30 in set(rows.get("target", pd.Series(dtype=float)).dropna())
    # no KPIs named: those of the history that are not headline figures
    headless = kpi_charts.kpi_trend_chart(history).to_dict()
    assert [p["title"] for p in headless["vconcat"]] == kpis["kpi"].tolist()
    empty = kpi_charts.kpi_trend_chart(history.iloc[:0], names=["Onboarding CSAT"]).to_dict()
    assert "No KPI history yet" in json.dumps(empty)


def test_a_suppressed_build_is_marked_never_drawn_as_zero(built) -> None:
    _, artifacts = built
    history = artifacts.table("kpi_history")
    csat = history[history["kpi"] == "Onboarding CSAT"].reset_index(drop=True)
    hidden = csat.copy()
    hidden.loc[0, ["value", "ci_low", "ci_high", "n_customers"]] = None
    hidden.loc[0, "status"] = "suppressed"
    spark = kpi_charts.kpi_sparkline(hidden, "Onboarding CSAT", kpis=artifacts.table("kpis"))
    spec: dict[str, Any] = spark.to_dict()
    positional = [
        encoding[c]
        for encoding in (layer.get("encoding", {}) for layer in spec["layer"])
        for c in ("x", "y")
        if "field" in encoding.get(c, {})
    ]
    assert positional and all(e["axis"] is None for e in positional)  # no axes in a sparkline
    drawn = [layer for layer in spec["layer"] if layer["mark"].get("type") == "line"]
    line_rows = spec["datasets"][drawn[0]["data"]["name"]]
    assert len(line_rows) == 1 and line_rows[0]["value"] == pytest.approx(csat["value"][1])
    assert any(layer["mark"].get("text") == "suppressed" for layer in spec["layer"])
    with pytest.raises(CJResearchError, match="the history has no KPI 'Nothing'"):
        kpi_charts.kpi_sparkline(history, "Nothing")


def test_charts_refuse_a_table_with_customer_ids(built) -> None:
    study, artifacts = built
    with_ids = artifacts.table("kpis").assign(customer_id="C0001")
    with pytest.raises(CJResearchError, match="customer_id"):
        kpi_charts.kpi_lane_chart(with_ids, stages=study.stages)


def test_the_company_lane_carries_owners_expectations_and_targets_per_stage(built) -> None:
    study, artifacts = built
    lane = owner_views.company_lane(study, artifacts).set_index("stage")
    assert list(lane.index) == list(study.stages)
    onboarding = lane.loc["onboarding"]
    assert onboarding["owner"] == "Onboarding team"
    assert onboarding["touchpoint_owners"] == ["setup_failed: Platform team"]
    assert onboarding["expectations"] == ["Set up in one sitting", "Know who to call"]
    assert onboarding["kpis"]["kpi"].tolist() == [
        "Onboarding CSAT", "Onboarding effort", "Setup failures reached"
    ]  # fmt: skip
    assert pd.isna(lane.loc["awareness", "owner"]) and lane.loc["awareness", "kpis"].empty
    assert pd.isna(lane.loc["usage", "owner"])  # its KPI has an owner; the stage has none

    cell = owner_views.company_cell_html(lane.loc["onboarding"])
    csat = artifacts.table("kpis").set_index("kpi").loc["Onboarding CSAT"]
    assert f"Onboarding CSAT: {csat['value']:.1%} (target &gt;= 0.30; target missed)" in cell
    assert "cj-status-missed" in cell and "<li>Know who to call</li>" in cell
    assert "Why do app users skip the tutorial?" in cell and "Setup wizard" in cell
    assert "No owner named" in owner_views.company_cell_html(lane.loc["awareness"])
    support = owner_views.company_cell_html(lane.loc["support"])
    assert "<script>" not in support and "&lt;script&gt;" in support


def test_a_trend_keeps_only_the_measurements_that_differ(built) -> None:
    _, artifacts = built
    history = artifacts.table("kpi_history")
    # run-2 lowered the onboarding CSAT answers only: the other KPIs measured the same again
    assert company.distinct_history(history, "Onboarding CSAT")["run_id"].tolist() == [
        "run-1",
        "run-2",
    ]
    assert company.distinct_history(history, "Onboarding effort")["run_id"].tolist() == ["run-1"]
    kpis = artifacts.table("kpis")
    moved = company.kpi_trend_html(history, kpis, "Onboarding CSAT")
    assert "2 measurements; -49.5 percentage points since the one before" in moved
    assert "<img" in moved
    still = company.kpi_trend_html(history, kpis, "Onboarding effort")
    assert "no change measured yet" in still and "<img" not in still


def test_measuring_the_same_data_again_rebuilds_no_persona_page(tmp_path) -> None:
    study = load_study(managed_sample(tmp_path / "study"))

    def fingerprints(study: Study, artifacts: Artifacts) -> dict[str, str]:
        planned = plan_reports(report_specs(study, artifacts))
        return {f"{s.kind}/{s.slug}": report_fingerprint(s) for s in planned}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small sample's model warnings
        first = compute.compute_artifacts(study, tmp_path / "artifacts", run_id="run-1")
        once = fingerprints(study, first)
        again = compute.compute_artifacts(study, tmp_path / "artifacts", run_id="run-2", force=True)
    twice = fingerprints(study, again)
    assert again.table("kpi_history")["run_id"].nunique() == 2  # the history did grow
    personas = [k for k in once if k.startswith("persona/")]
    assert len(personas) == 3 and all(once[k] == twice[k] for k in personas)
    # the owner pages read the history: they show the new measurement
    assert all(once[k] != twice[k] for k in once if k.startswith("owner/"))
    # and a changed owner changes what the persona pages show
    onboarding = study.stage_details["onboarding"].model_copy(update={"owner": "Someone else"})
    moved = study.model_copy(update={"stage_details": {**study.stage_details,
                                                       "onboarding": onboarding}})  # fmt: skip
    changed = fingerprints(moved, again)
    assert all(changed[k] != twice[k] for k in personas)
