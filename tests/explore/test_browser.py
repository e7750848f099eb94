"""The explorer served by Voila, in headless chromium: controls, a chart, a persona change.

The fixture serves the parameterised explorer notebook on a free loopback port, the way
``cjresearch explore --dashboard`` does, and stops it (its whole process group: Voila and its
kernels) afterwards. The browser may talk to the loopback interface only: every other request
is aborted and recorded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from cjresearch.explore.server import (
    dashboard_command,
    dashboard_environment,
    dashboard_url,
    free_port,
    prepare_notebook,
    wait_until_answering,
)
from cjresearch.reporting.views import open_artifacts
from helpers import FIXTURE_STUDY
from helpers.browser import OfflineBrowser

# One worker runs every browser test: chromium instances and Voila kernels side by side on
# two workers starve each other.
pytestmark = pytest.mark.xdist_group("browser")

FIXTURE = FIXTURE_STUDY
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
#: A kernel starts and the notebook runs before the widgets appear: be generous.
KERNEL_MS = 180_000
PERSONA = ".cjr-persona select"
EMOTION_CHART = ".cjr-chart-emotion :is(svg.marks, canvas.marks)"

# The chart's data as the browser drew it: the marks' accessible labels (vega writes each
# mark's fields and values into aria-label) and texts for SVG; the pixels for a canvas.
_CHART_DATA_JS = """
(selector) => {
  const chart = document.querySelector(selector);
  if (!chart) return null;
  if (chart.tagName.toLowerCase() === 'canvas') return chart.toDataURL();
  const labelled = chart.querySelectorAll('[aria-label]');
  const labels = Array.from(labelled, (e) => e.getAttribute('aria-label'));
  const texts = Array.from(chart.querySelectorAll('text'), (e) => e.textContent);
  return [...labels, ...texts].join('\\n');
}
"""
_CHART_CHANGED_JS = f"([selector, before]) => ({_CHART_DATA_JS})(selector) !== before"


def _stop(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM to Voila's process group, SIGKILL if it lingers.

    Voila shuts its kernels down on SIGTERM (they run in sessions of their own, and also
    exit when their parent dies).
    """
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The explorer on the fixture study, served by Voila: (URL, Voila's log file)."""
    study = FIXTURE / "study.toml"
    artifacts = open_artifacts(FIXTURE / "processed", study_file=study).folder
    folder = tmp_path_factory.mktemp("explore")
    notebook = prepare_notebook(study, artifacts, into=folder)  # the bundled explore.ipynb
    port = free_port()
    log = folder / "voila.log"
    with log.open("wb") as stream:
        server = subprocess.Popen(
            dashboard_command(notebook, port=port),
            cwd=folder,
            env=dashboard_environment(notebook),
            stdout=stream,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, kernels included
        )
    try:
        url = dashboard_url(port)
        if not wait_until_answering(url, timeout=120, alive=lambda: server.poll() is None):
            pytest.fail(f"Voila did not answer at {url}; its log:\n{log.read_text()}")
        yield url, log
    finally:
        _stop(server)


def _chart_data(page: Any) -> str | None:
    return page.evaluate(_CHART_DATA_JS, EMOTION_CHART)


def test_dashboard_shows_the_explorer_and_redraws_the_chart_for_another_persona(
    dashboard: tuple[str, Path],
    offline_browser: OfflineBrowser,
) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url, log = dashboard
    blocked: list[str] = []
    page_errors: list[str] = []
    context = offline_browser.browser.new_context(viewport={"width": 1300, "height": 1000})

    def route(route: Any) -> None:
        request_url = route.request.url
        if urlparse(request_url).hostname in LOOPBACK_HOSTS:
            route.continue_()
        else:
            blocked.append(request_url)
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=KERNEL_MS)
        try:
            page.wait_for_selector(".cjr-explorer", timeout=KERNEL_MS)
            page.wait_for_selector(PERSONA, timeout=KERNEL_MS)
            page.wait_for_selector(EMOTION_CHART, timeout=KERNEL_MS)
        except PlaywrightTimeout:
            pytest.fail(
                "the explorer's controls or its emotion chart never appeared; page text:\n"
                f"{page.inner_text('body')[:3000]}\nVoila's log:\n{log.read_text()[-3000:]}"
            )
        before = _chart_data(page)
        assert before, "the emotion chart was drawn without data"

        options = page.eval_on_selector_all(
            f"{PERSONA} option", "(os) => os.map((o) => ({label: o.label, selected: o.selected}))"
        )
        assert len(options) >= 2, f"the persona control offers {options}"
        other = next(o["label"] for o in options if not o["selected"])
        page.select_option(PERSONA, label=[other])

        # on a timeout, the assertion below says what stayed the same
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(_CHART_CHANGED_JS, arg=[EMOTION_CHART, before], timeout=60_000)
        after = _chart_data(page)
        assert after and after != before, f"choosing {other!r} left the emotion chart as it was"
        # the curve drawn is now that persona's (ipywidgets shows spaces as no-break spaces)
        assert other.replace("\xa0", " ") in after
        selected = page.eval_on_selector_all(
            f"{PERSONA} option:checked", "(os) => os.map((o) => o.label)"
        )
        assert selected == [other]
    finally:
        context.close()
    assert blocked == []  # nothing but the loopback interface was asked for anything
    assert page_errors == []
