"""Published pages in a real browser, offline: charts render, links resolve, nothing executes."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from cjresearch.reporting.html import Provenance
from cjresearch.reporting.portal import PortalContext
from cjresearch.reporting.reports import ReportSpec, publish_reports
from helpers import FIXTURES
from helpers.browser import OfflineBrowser

# One worker runs every browser test (see tests/explore/test_browser.py).
pytestmark = pytest.mark.xdist_group("browser")

NOTEBOOKS = FIXTURES / "notebooks"
XSS_SCRIPT = "<script>window.__xss = 'script'</script>"
XSS_IMG = '"><img src=x onerror="window.__xss = \'img\'; alert(1)">'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    publish_reports(
        out,
        [
            ReportSpec("stage", XSS_IMG, NOTEBOOKS / "chart.ipynb", {"label": XSS_SCRIPT}),
            ReportSpec("persona", XSS_SCRIPT, NOTEBOOKS / "tiny.ipynb", {"label": XSS_IMG}),
        ],
        portal=PortalContext(
            study=XSS_IMG, summary=[("touchpoints", XSS_SCRIPT)], findings=[XSS_IMG]
        ),
        provenance=Provenance(study=XSS_SCRIPT),
        progress=False,
        before_commit=lambda tx, reports: tx.write_text(
            "manifest.json", json.dumps([r.manifest_entry() for r in reports])
        ),
    )
    return out


def test_every_page_offline_renders_and_executes_nothing(
    site: Path,
    offline_browser: OfflineBrowser,
) -> None:
    pages = sorted(site.rglob("*.html"))
    assert [p.relative_to(site).as_posix() for p in pages] == [
        "index.html",
        "personas/script-window-xss-script-script.html",
        "stages/img-src-x-onerror-window-xss-img-alert-1.html",
        "status.html",
    ]
    for page in pages:
        report = offline_browser.open(page)
        where = page.relative_to(site).as_posix()
        assert report.console_errors == [], where
        assert report.page_errors == [], where
        assert report.blocked == [], where  # not a single request left the machine
        assert report.dialogs == [] and report.xss is None, where
        assert all(chart["rendered"] and chart["width"] > 0 for chart in report.charts), where
        if where.startswith("stages/"):
            assert len(report.charts) == 1  # the Altair chart, as SVG
        for link in report.links:
            target = Path(unquote(urlparse(link).path))
            assert target.exists(), f"{where}: broken link {link}"
            assert site in target.resolve().parents or target.resolve() == site


def test_portal_screenshot(site: Path, offline_browser: OfflineBrowser, tmp_path: Path) -> None:
    shot = tmp_path / "portal.png"
    offline_browser.open(site / "index.html", screenshot=shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_checks_can_fail(tmp_path: Path, offline_browser: OfflineBrowser) -> None:
    # The same checks on a page that does what ours must not: unescaped payload, a CDN load.
    page = tmp_path / "bad.html"
    page.write_text(
        "<html><body>"
        f"<p>{XSS_IMG}</p>"
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
        '<div class="vega-embed"></div>'
        "</body></html>"
    )
    report = offline_browser.open(page)
    assert report.xss == "img" and report.dialogs == ["1"]
    assert report.blocked == ["https://cdn.jsdelivr.net/npm/vega@5"]
    assert report.charts == [{"rendered": False, "width": 0}]
