"""Shared fixtures (helpers that tests import live in ``tests/helpers``)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cjresearch.data.study import Study, load_study
from helpers import MakeStudy, base_sections, tiny_tables, write_study_file
from helpers.browser import CHROMIUM_ARGS, OfflineBrowser


def pytest_configure(config: pytest.Config) -> None:
    """Each test process (every xdist worker) gets its own IPython folder, with the history
    off, for the kernels it starts: kernels of parallel workers, and of other checkouts,
    otherwise share one history database and fail at random with "database is locked"."""
    folder = Path(tempfile.mkdtemp(prefix="cjresearch-ipython-"))
    (folder / "profile_default").mkdir()
    (folder / "profile_default" / "ipython_config.py").write_text(
        "c.HistoryManager.enabled = False\n", encoding="utf-8"
    )
    os.environ["IPYTHONDIR"] = str(folder)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


@pytest.fixture
def make_study(tmp_path: Path) -> MakeStudy:
    """Write tables (CSV unless the study names .parquet) and a study file; return the Study."""

    def make(tables: dict[str, pd.DataFrame] | None = None, **sections: dict[str, Any]) -> Study:
        tables = tiny_tables() if tables is None else tables
        spec = base_sections(**sections)
        for table, frame in tables.items():
            name = spec["data"].get(table)
            if name is None:
                continue
            path = tmp_path / name
            if name.endswith(".parquet"):
                frame.to_parquet(path, index=False)
            else:
                frame.to_csv(path, index=False)
        return load_study(write_study_file(tmp_path, spec))

    return make


@pytest.fixture(scope="module")
def offline_browser() -> Iterator[OfflineBrowser]:
    """Headless Debian chromium driven by Playwright; install it with `make browser`."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run `make browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield OfflineBrowser(browser)
        finally:
            browser.close()
