"""The build end to end: every file, nothing leaked, incremental, failures kept apart, offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pandas as pd
import pytest

from cjresearch.build import build
from cjresearch.data.study import load_study
from cjresearch.datasets.sample import write_sample
from cjresearch.reporting.company import owner_slug
from cjresearch.reporting.notebooks import notebooks_dir
from helpers.attacker import leaks
from helpers.browser import OfflineBrowser

XSS_SCRIPT = "<script>window.__xss = 'script'</script>"
XSS_IMG = '"><img src=x onerror="window.__xss = \'img\'; alert(1)">'
STAGES = ["awareness", "consideration", "purchase", "onboarding", "usage", "support", "renewal"]
FAST = {"jobs": 2, "progress": False}
# the hostile build is shared by three tests: keep them on one xdist worker (--dist loadgroup)
HOSTILE = pytest.mark.xdist_group("hostile_build")


def _study(folder: Path, *, hostile: bool = False, names: dict[int, str] | None = None) -> Path:
    """A 300-customer sample study with k = 3; hostile: payloads in touchpoints and comments."""
    path = write_sample(folder, n_customers=300, seed=5, fmt="parquet")
    if hostile:
        events = pd.read_parquet(folder / "events.parquet")
        events["touchpoint"] = events["touchpoint"].astype(str).replace("setup_failed", XSS_SCRIPT)
        events.to_parquet(folder / "events.parquet", index=False)
        feedback = pd.read_parquet(folder / "feedback.parquet")
        texts = feedback["text"].astype(object)
        has_text = texts.notna()
        texts[has_text] = texts[has_text].astype(str) + " " + XSS_IMG
        feedback["text"] = texts
        feedback.to_parquet(folder / "feedback.parquet", index=False)
    _set_personas(path, names)
    return path


def _set_personas(path: Path, names: dict[int, str] | None) -> None:
    text = path.read_text(encoding="utf-8").replace('k = "auto"', "k = 3")
    text = text.split("\n[personas.names]")[0]
    if names:
        text += "\n[personas.names]\n" + "".join(
            f"{pid} = {json.dumps(name)}\n" for pid, name in names.items()
        )
    path.write_text(text, encoding="utf-8")


def _slugs(result, status: str | None = None) -> list[str]:
    return sorted(
        f"{r.kind}/{r.slug}"
        for r in result.reports
        if (r.duration_s is not None if status is None else r.status == status)
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hostile")
    study = load_study(_study(root / "study", hostile=True, names={1: XSS_IMG}))
    result = build(study, output=root / "out", artifacts=root / "artifacts", **FAST)
    return study, result, root


@HOSTILE
def test_a_build_publishes_every_expected_file(hostile) -> None:
    study, result, root = hostile
    out = root / "out"
    assert result.failures == []
    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html"))
    assert pages == sorted(
        [
            "index.html",
            "status.html",
            "analysis/personas.html",
            "analysis/emotion-churn.html",
            *[f"personas/persona-{pid}.html" for pid in (1, 2, 3)],
            *[f"stages/{stage}.html" for stage in STAGES],
            # the sample study's owners (stages, touchpoints, KPIs): a page each
            *[f"owners/{owner_slug(owner)}.html" for owner in study.owners],
        ]
    )
    tables = {p.stem for p in (out / "tables").glob("*.csv")}
    assert {
        "personas",
        "persona_traits",
        "journey_map",
        "pain_points",
        "transitions",
        "opportunities",
        "emotion_churn",
        "time_to_churn",
        "findings",
    } <= tables
    assert tables == set(result.artifacts.table_names)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "ok"
    assert manifest["run_id"] == result.run_id
    assert {r["slug"] for r in manifest["reports"]} >= {"persona-1", "onboarding", "personas"}
    assert all(r["status"] == "ok" and len(r["fingerprint"]) == 64 for r in manifest["reports"])
    assert set(manifest["inputs"]) == {"customers", "events", "feedback"}
    assert manifest["personas"]["k"] == 3
    assert manifest["dropped_rows"] == []
    assert (root / "artifacts" / "assignments.parquet").is_file()


@HOSTILE
def test_no_customer_id_is_published(hostile) -> None:
    _, _, root = hostile
    ids = pd.read_parquet(root / "artifacts" / "customers.parquet")["customer_id"].astype(str)
    pattern = "|".join(ids)
    for path in (root / "out").rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert not pd.Series([text]).str.contains(pattern).any(), path


@HOSTILE
def test_no_published_table_gives_away_a_small_group(hostile) -> None:
    """The attacker of tests/helpers/attacker.py, with every published CSV and the study's
    size from the manifest, finds no count of 1 to k - 1 customers: not written, not by
    subtraction from a total or across personas, not looked up in another table."""
    study, _, root = hostile
    out = root / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    tables = {p.stem: pd.read_csv(p) for p in sorted((out / "tables").glob("*.csv"))}
    found = leaks(
        tables, k=study.reports.min_group_size, n_customers=manifest["counts"]["customers"]
    )
    assert found == []
    # the pass had work to do on this study: what it did is in the manifest
    disclosure = manifest["disclosure"]
    assert sum(disclosure["blanked_rows"].values()) + sum(disclosure["removed_rows"].values())


@HOSTILE
def test_pages_render_offline_and_execute_nothing(
    hostile,
    offline_browser: OfflineBrowser,
) -> None:
    _, _, root = hostile
    out = root / "out"
    for page in sorted(out.rglob("*.html")):
        where = page.relative_to(out).as_posix()
        report = offline_browser.open(page)
        assert report.console_errors == [] and report.page_errors == [], where
        assert report.blocked == [], where  # not one request left the machine
        assert report.dialogs == [] and report.xss is None, where
        assert all(c["rendered"] and c["width"] > 0 for c in report.charts), where
        if where.startswith("personas/"):
            assert len(report.charts) >= 4, where  # map, emotion curve, odds and hazard ratios
        for link in report.links:
            target = Path(unquote(urlparse(link).path))
            assert target.exists(), f"{where}: broken link {link}"
    # the payloads are shown as text, not markup
    persona = (out / "personas" / "persona-1.html").read_text()
    assert "&lt;img src=x onerror" in persona or "&quot;&gt;&lt;img" in persona


def test_rebuilds_are_incremental_and_a_failing_report_keeps_its_good_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _study(tmp_path / "study")
    out, artifacts = tmp_path / "out", tmp_path / "artifacts"
    first = build(load_study(path), output=out, artifacts=artifacts, **FAST)
    assert len(first.executed) == 12 + 5 and not first.failures  # and the 5 owners' pages

    # nothing changed: no notebook runs, nothing is rewritten
    manifest = (out / "manifest.json").read_bytes()
    again = build(load_study(path), output=out, artifacts=artifacts, **FAST)
    assert again.executed == [] and again.artifacts.reused
    assert (out / "manifest.json").read_bytes() == manifest

    # one persona renamed: its report, and the pages that name every persona, run again
    _set_personas(path, {2: "Renamed in the study file"})
    renamed = build(load_study(path), output=out, artifacts=artifacts, **FAST)
    ran = _slugs(renamed)
    assert "persona/persona-2" in ran
    assert "persona/persona-1" not in ran and "persona/persona-3" not in ran
    assert "Renamed in the study file" in (out / "personas" / "persona-2.html").read_text()

    # a report that fails keeps its previous version, marked stale, with its notebook kept
    broken = tmp_path / "notebooks"
    shutil.copytree(notebooks_dir(), broken)
    book = nbformat.read(broken / "persona_report.ipynb", as_version=4)
    book.cells[2].source += '\nif persona == 3:\n    raise RuntimeError("injected failure")'
    nbformat.write(book, broken / "persona_report.ipynb")
    monkeypatch.setenv("CJRESEARCH_NOTEBOOKS", str(broken))
    good = (out / "personas" / "persona-3.html").read_bytes()
    failed = build(load_study(path), output=out, artifacts=artifacts, **FAST)
    assert [f"{r.kind}/{r.slug}" for r in failed.failures] == ["persona/persona-3"]
    assert "injected failure" in str(failed.failures[0].error)
    assert (out / "personas" / "persona-3.html").read_bytes() == good
    assert failed.failures[0].failed_notebook and Path(failed.failures[0].failed_notebook).is_file()
    assert artifacts in Path(failed.failures[0].failed_notebook).parents
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    portal = (out / "index.html").read_text()
    assert "stale" in portal and "injected failure" in portal
