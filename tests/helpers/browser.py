"""Browser checks with Playwright on Debian's chromium (never a downloaded browser).

``OfflineBrowser`` (the ``offline_browser`` fixture of ``tests/conftest.py``) opens local
files with every non-file request aborted and recorded, collects console errors and page
errors, records dialogs (``alert``) instead of showing them, and checks that every chart
container holds a rendered chart. ``make browser`` installs chromium (``apt-get install
chromium``) on a fresh machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjresearch.reporting.pdf import CHROMIUM_FLAGS

CHROMIUM_ARGS = list(CHROMIUM_FLAGS)

#: Chart containers: nbconvert's SVG outputs (Altair's svg renderer), vega-embed divs and the
#: reports' figures (an SVG image with alt text, cjresearch.reporting.figures).
CHART_CONTAINERS = ".output_svg, .vega-embed, figure.cj-figure"

_CHARTS_JS = """
(selector) => Array.from(document.querySelectorAll(selector)).map((el) => {
  const img = el.querySelector('img[src^="data:image/svg+xml"]');
  const drawn = el.querySelector('svg, canvas');
  return {
    rendered: Boolean((img && img.complete && img.naturalWidth > 0) || drawn),
    width: img ? img.naturalWidth : (drawn ? drawn.getBoundingClientRect().width : 0),
  };
})
"""


@dataclass
class PageReport:
    """What happened while a page was open."""

    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    xss: Any = None
    links: list[str] = field(default_factory=list)
    page: Any = None
    inspected: Any = None


class OfflineBrowser:
    """Open local HTML files in headless chromium with the network cut off."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser

    def open(
        self,
        path: Path,
        *,
        screenshot: Path | None = None,
        width: int = 1100,
        full_page: bool = False,
        inspect: Any = None,
    ) -> PageReport:
        """Open a page; ``inspect(page)`` runs on it before it closes (result in
        ``inspected``)."""
        context = self.browser.new_context(viewport={"width": width, "height": 900})
        report = PageReport(url=path.resolve().as_uri())

        def route(route: Any) -> None:
            url = route.request.url
            if url.startswith("file://") or url.startswith("data:"):
                route.continue_()
            else:
                report.blocked.append(url)
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on(
            "console",
            lambda msg: report.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: report.page_errors.append(str(exc)))

        def dialog(d: Any) -> None:
            report.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)
        page.goto(report.url, wait_until="load")
        page.wait_for_load_state("networkidle")
        report.charts = page.evaluate(_CHARTS_JS, CHART_CONTAINERS)
        report.xss = page.evaluate("() => window.__xss")
        report.links = page.evaluate(
            "() => Array.from(document.querySelectorAll('a[href]')).map((a) => a.href)"
        )
        if inspect is not None:
            report.inspected = inspect(page)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=full_page)
        context.close()
        return report
