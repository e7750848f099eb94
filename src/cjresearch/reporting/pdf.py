"""PDFs of the published pages, printed by a headless Chromium with the print stylesheet.

``cjresearch build --pdf`` writes ``<page>.pdf`` beside every published page (the portal,
the status page, every persona, stage and analysis report): A4, the persona's journey-map
canvas on a landscape page of its own, page breaks between sections, provenance collapsed
(the print stylesheet in ``templates/_style.css.j2``). Chromium is found as
``$CJRESEARCH_CHROMIUM``, else ``chromium``, ``chromium-browser``, ``google-chrome`` on the
PATH; without one, :func:`find_chromium` raises an error that says how to get it. Only pages
newer than their PDF are printed again; a PDF whose page is gone is removed. Each PDF is
written beside its final name and moved into place (never half-written). The pages load
nothing from the network (the build refuses a page that would), so printing needs none.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cjresearch.errors import CJResearchError

__all__ = ["CHROMIUM_FLAGS", "CHROMIUM_NAMES", "find_chromium", "print_pdfs", "published_pages"]

#: Executables tried, in order, after ``$CJRESEARCH_CHROMIUM``.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: A headless Chromium that asks the network for nothing of its own (the tests' browser
#: starts with the same flags).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
_PRINT_FLAGS = ("--no-pdf-header-footer", "--run-all-compositor-stages-before-draw")
_FOLDERS = ("personas", "stages", "owners", "analysis")


def find_chromium() -> str:
    """The Chromium to print with.

    Raises
    ------
    CJResearchError
        None found; the message says how to install one or point to one.
    """
    given = os.environ.get("CJRESEARCH_CHROMIUM")
    if given:
        found = shutil.which(given)
        if found is None:
            msg = f"CJRESEARCH_CHROMIUM is {given!r}, which is not an executable"
            raise CJResearchError(msg)
        return found
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    msg = (
        "--pdf needs Chromium to print the pages and none was found (looked for "
        f"{', '.join(CHROMIUM_NAMES)}): install it (e.g. `apt-get install chromium`, or "
        "`make browser`) or set CJRESEARCH_CHROMIUM to its path; the pages were not printed"
    )
    raise CJResearchError(msg)


def published_pages(output: str | Path) -> list[Path]:
    """Every published page of an output folder: the portal, the status page, the reports."""
    output = Path(output)
    pages = [p for p in (output / "index.html", output / "status.html") if p.is_file()]
    for folder in _FOLDERS:
        pages += sorted((output / folder).glob("*.html"))
    return pages


def _print(chromium: str, page: Path, target: Path, timeout: float) -> None:
    with tempfile.TemporaryDirectory(prefix=".cjresearch-pdf-", dir=target.parent) as tmp:
        staged = Path(tmp) / target.name
        profile = Path(tmp) / "profile"
        command = [
            chromium,
            *CHROMIUM_FLAGS,
            *_PRINT_FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={staged}",
            page.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            msg = f"{page.name}: Chromium did not print it within {timeout:.0f} s"
            raise CJResearchError(msg) from None
        if done.returncode != 0 or not staged.is_file() or staged.stat().st_size == 0:
            last = (done.stderr or "").strip().splitlines()[-1:] or ["no message"]
            msg = f"{page.name}: Chromium could not print it ({last[0][:200]})"
            raise CJResearchError(msg)
        os.replace(staged, target)


def print_pdfs(
    output: str | Path,
    *,
    chromium: str | None = None,
    pages: Sequence[Path] | None = None,
    timeout: float = 120.0,
) -> list[Path]:
    """Print the published pages to PDF beside them (those newer than their PDF).

    Parameters
    ----------
    output
        The output folder of a build.
    chromium
        The executable (default: :func:`find_chromium`).
    pages
        The pages to consider (default: :func:`published_pages`).
    timeout
        Seconds one page may take.

    Returns
    -------
    list of Path
        The PDFs written now.

    Raises
    ------
    CJResearchError
        No Chromium, or a page that could not be printed.
    """
    executable = chromium or find_chromium()
    output = Path(output)
    shown = list(pages) if pages is not None else published_pages(output)
    written = []
    for page in shown:
        target = page.with_suffix(".pdf")
        if target.is_file() and target.stat().st_mtime >= page.stat().st_mtime:
            continue
        _print(executable, page, target, timeout)
        written.append(target)
    keep = {p.with_suffix(".pdf") for p in published_pages(output)}
    for folder in (output, *(output / f for f in _FOLDERS)):
        for pdf in folder.glob("*.pdf"):
            if pdf not in keep:
                pdf.unlink()
    return written
