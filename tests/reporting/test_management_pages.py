"""The company's side on the published pages, read in the tests' Chromium at 1,280 px.

The sample study (200 customers, seed 5, k = 3) with its owners, expectations and six KPIs
(``tests/helpers.managed_sample``), one stage's owner and one expectation replaced by strings
that would run a script if they were not escaped, built twice: the second time after every
onboarding CSAT answer was lowered by two points, so that "Onboarding CSAT" is newly missed
(an alert for the Onboarding team) and every KPI has a trend of two builds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cjresearch.build import build
from cjresearch.data.study import load_study
from cjresearch.reporting.company import owner_slug
from helpers import degrade_onboarding_csat, managed_sample
from helpers.browser import OfflineBrowser

pytestmark = [pytest.mark.xdist_group("site"), pytest.mark.slow]

WIDTH = 1280
HOSTILE_OWNER = "<script>window.__xss = 'owner'</script> & \"Care\""
HOSTILE_EXPECTATION = '"><img src=x onerror="window.__xss = \'expectation\'; alert(1)">'
OWNERS = ["Onboarding team", HOSTILE_OWNER, "Retention team", "Platform team", "Product team"]

_SEEN = """() => ({
  text: document.body.innerText,
  company: Array.from(document.querySelectorAll('.cj-lane-company .cj-cell'))
    .map((c) => c.innerText),
  kpi_lane: Array.from(document.querySelectorAll('.cj-lane-kpis .cj-graphic figure.cj-figure img'))
    .map((img) => img.complete && img.naturalWidth > 0 && img.alt.length > 0),
  sparks: Array.from(document.querySelectorAll('.cj-trend figure.cj-figure img'))
    .map((img) => img.complete && img.naturalWidth > 0 && img.alt.length > 0),
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  injected: document.querySelectorAll('img[src="x"], script:not([type])').length,
})"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("managed-site")
    path = managed_sample(
        root / "study",
        replace={
            'owner = "Customer care"': f"owner = {json.dumps(HOSTILE_OWNER)}",
            'expectations = ["One contact solves it"]': (
                f"expectations = [{json.dumps(HOSTILE_EXPECTATION)}]"
            ),
        },
    )
    out, art = root / "out", root / "art"
    first = build(load_study(path), output=out, artifacts=art, jobs=2, progress=False)
    assert first.failures == []
    degrade_onboarding_csat(root / "study")
    second = build(load_study(path), output=out, artifacts=art, jobs=2, progress=False)
    assert second.failures == []
    return {"out": out, "customer_ids": second.artifacts.customer_ids()}


def _open(browser: OfflineBrowser, page: Path, shot: Path | None = None) -> tuple[Any, dict]:
    report = browser.open(
        page, width=WIDTH, inspect=lambda p: p.evaluate(_SEEN), screenshot=shot, full_page=True
    )
    assert report.blocked == [] and report.console_errors == [] and report.page_errors == []
    assert report.xss is None and report.dialogs == [], page  # no string from data ran
    assert report.inspected["injected"] == 0, page
    return report, report.inspected


def test_the_canvas_shows_owners_expectations_and_targets_escaped(
    site: dict[str, Any], offline_browser: OfflineBrowser, tmp_path: Path
) -> None:
    page = site["out"] / "personas" / "persona-1.html"
    _, seen = _open(offline_browser, page, tmp_path / "canvas.png")
    cells = seen["company"]  # one per stage, in the study's order
    assert len(cells) == 7 and cells[:3] == ["\u2013"] * 3  # awareness to purchase: nothing
    onboarding, usage, support, renewal = cells[3:]
    assert "No owner named" in usage and "Usage NPS" in usage  # its KPI has an owner
    assert "Owner: Onboarding team" in onboarding
    assert "Set up in one sitting" in onboarding and "Know who to call" in onboarding
    assert "Why do app users skip the tutorial?" in onboarding
    # each KPI with its value, its target as the study file writes it, and its status
    assert re.search(r"Onboarding CSAT: [\d.]+% \(target >= 0\.30; target missed\)", onboarding)
    assert "Onboarding effort" in onboarding and "(target <= 4.0; target met)" in onboarding
    assert "Setup failed" in onboarding and "Platform team" in onboarding  # the touchpoint's
    # the hostile owner and expectation show as the text they are
    assert f"Owner: {HOSTILE_OWNER}" in support and HOSTILE_EXPECTATION in support
    assert "Owner: Retention team" in renewal and "No surprise on the bill" in renewal
    # the KPI lane: a static chart, and each KPI's trend over the measurements that differ:
    # only onboarding CSAT's figures changed (the rest measured the same again: no point)
    assert seen["kpi_lane"] == [True]
    assert seen["sparks"] == [True]
    moved = "Onboarding CSAT: 2 measurements; -49.5 percentage points since the one before"
    assert moved in seen["text"]
    assert "Support CSAT: no change measured yet" in seen["text"] and seen["overflow"] <= 0


def test_each_owner_has_a_page_named_safely_and_linked_from_the_portal(
    site: dict[str, Any], offline_browser: OfflineBrowser, tmp_path: Path
) -> None:
    out = site["out"]
    pages = sorted(p.name for p in (out / "owners").glob("*.html"))
    assert pages == sorted(f"{owner_slug(o)}.html" for o in OWNERS)
    assert all(re.fullmatch(r"owner-[0-9a-f]{10}\.html", p) for p in pages)  # never a name
    report, seen = _open(offline_browser, out / "index.html", tmp_path / "portal.png")
    linked = {Path(link).name for link in report.links if "/owners/" in link}
    assert linked == set(pages)
    assert "What changed since the last build" in seen["text"]
    assert "Onboarding CSAT is now missed (was met)" in seen["text"]
    assert "KPIs against their targets" in seen["text"] and seen["sparks"] == [True]
    assert f"Owner: {HOSTILE_OWNER}" in seen["text"]  # the report index, escaped

    _, seen = _open(offline_browser, out / "owners" / f"{owner_slug(HOSTILE_OWNER)}.html")
    text = seen["text"]
    assert HOSTILE_OWNER in text and "Stage: Support" in text
    assert HOSTILE_EXPECTATION in text and "Which issues need a second contact?" in text
    assert "Support CSAT" in text and ">= 0.25" in text and "No open alert." in text

    _, seen = _open(offline_browser, out / "owners" / f"{owner_slug('Onboarding team')}.html",
                    tmp_path / "owner.png")  # fmt: skip
    text = seen["text"]
    # the alert, told with the published table's figures
    assert "Onboarding CSAT: target missed, 0.0% against the target >= 0.30" in text
    assert "Set up in one sitting" in text and "Setup wizard" in text
    assert seen["sparks"] == [True] and seen["overflow"] <= 0


def test_the_stage_page_shows_its_owner_expectations_and_kpis(
    site: dict[str, Any], offline_browser: OfflineBrowser, tmp_path: Path
) -> None:
    _, seen = _open(offline_browser, site["out"] / "stages" / "onboarding.html",
                    tmp_path / "stage.png")  # fmt: skip
    text = seen["text"]
    assert "Who owns it and how it is doing" in text
    assert "Owner: Onboarding team" in text and "Set up in one sitting" in text
    assert "Onboarding CSAT" in text and "target missed" in text and ">= 0.30" in text
    assert "Support CSAT" not in text  # another stage's KPI


def test_no_page_names_a_customer_id(site: dict[str, Any]) -> None:
    ids = [str(c) for c in site["customer_ids"]]
    assert len(ids) == 200
    pattern = re.compile("|".join(re.escape(c) for c in sorted(ids, key=len, reverse=True)))
    pages = sorted(site["out"].rglob("*.html"))
    assert any("owners" in p.parts for p in pages)
    named = {p.name: pattern.findall(p.read_text(encoding="utf-8")) for p in pages}
    assert {name: found for name, found in named.items() if found} == {}
