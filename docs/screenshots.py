"""Screenshots for the README, taken by the tests' offline browser (Debian's chromium).

The portal, a persona report and its journey-map canvas from `reports/` at 1,280 px, and the
explorer served by Voila on the sample study's artifacts (every non-loopback request
aborted; `--no-explorer` skips it).

Run after `make demo`:  .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers.browser import CHROMIUM_ARGS, OfflineBrowser  # noqa: E402

WIDTH = 1280
PAGES = {
    "portal.png": ROOT / "reports" / "index.html",
    "persona_report.png": ROOT / "reports" / "personas" / "persona-2.html",
}
#: Pages shot whole (the portal's summary runs below the first screen), the others' tops.
FULL_PAGES = {"portal.png"}
#: Screenshots of one element of a page: (page, CSS selector).
ELEMENTS = {
    "persona_canvas.png": (ROOT / "reports" / "personas" / "persona-2.html", ".cj-canvas"),
}


def explorer(opened: object, target: Path) -> None:
    """The explorer as a Voila dashboard on the sample study, after a persona change."""
    from cjresearch.explore.server import (
        dashboard_command,
        dashboard_environment,
        dashboard_url,
        free_port,
        prepare_notebook,
    )
    from cjresearch.explore.server import wait_until_answering as answering

    study = ROOT / "data" / "sample" / "study.toml"
    with tempfile.TemporaryDirectory() as tmp:
        notebook = prepare_notebook(study, ROOT / "data" / "processed" / "sample", into=Path(tmp))
        port = free_port()
        server = subprocess.Popen(
            dashboard_command(notebook, port=port),
            cwd=tmp,
            env=dashboard_environment(notebook),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            url = dashboard_url(port)
            if not answering(url, timeout=120, alive=lambda: server.poll() is None):
                msg = f"Voila did not answer at {url}"
                raise SystemExit(msg)
            context = opened.browser.new_context(viewport={"width": 1250, "height": 1400})  # type: ignore[attr-defined]
            context.route(
                "**/*",
                lambda r: (
                    r.continue_()
                    if urlparse(r.request.url).hostname in {"127.0.0.1", "localhost"}
                    else r.abort()
                ),
            )
            page = context.new_page()
            page.goto(url, timeout=180_000)
            page.wait_for_selector(".cjr-chart-map :is(svg.marks, canvas.marks)", timeout=180_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(target), full_page=False)
            context.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def main() -> None:
    import shutil

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        opened = OfflineBrowser(browser)
        try:
            for name, page in PAGES.items():
                report = opened.open(
                    page,
                    screenshot=ROOT / "docs" / "img" / name,
                    width=WIDTH,
                    full_page=name in FULL_PAGES,
                )
                if report.blocked or report.console_errors:
                    msg = f"{page}: {report.blocked or report.console_errors}"
                    raise SystemExit(msg)
            for name, (page, selector) in ELEMENTS.items():
                target = ROOT / "docs" / "img" / name
                opened.open(
                    page,
                    width=WIDTH,
                    inspect=lambda p, s=selector, t=target: p.locator(s).screenshot(path=str(t)),
                )
            if "--no-explorer" not in sys.argv:
                explorer(opened, ROOT / "docs" / "img" / "explorer.png")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
