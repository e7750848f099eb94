"""Screenshots for the README, taken by the tests' offline browser (Debian's chromium).

Run after `make demo`:  .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _browser import offline_browser  # noqa: E402

PAGES = {
    "portal.png": ROOT / "reports" / "index.html",
    "persona_report.png": ROOT / "reports" / "personas" / "persona-2.html",
}


def main() -> None:
    browser = offline_browser.__wrapped__()  # the fixture's generator, outside pytest
    opened = next(browser)
    try:
        for name, page in PAGES.items():
            report = opened.open(page, screenshot=ROOT / "docs" / "img" / name)
            if report.blocked or report.console_errors:
                raise SystemExit(f"{page}: {report.blocked or report.console_errors}")
    finally:
        browser.close()


if __name__ == "__main__":
    main()
