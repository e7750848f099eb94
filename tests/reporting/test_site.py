"""A built site read as a stakeholder would, in the tests' Chromium at 1,280 px: nothing wider
than the window, no scientific notation, headings in words, persona tiles with pictures,
and every persona page printed to PDF (A4, the canvas on a landscape page)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cjresearch.build import build
from cjresearch.data.study import load_study
from cjresearch.datasets.sample import write_sample
from cjresearch.errors import CJResearchError
from cjresearch.reporting import pdf

pytestmark = [pytest.mark.xdist_group("site"), pytest.mark.slow]

WIDTH = 1280
SCIENTIFIC = re.compile(r"\b\d+(?:\.\d+)?e[+-]?\d+\b", re.IGNORECASE)
SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")
LABEL = "Setup failed (activation)"

_MEASURE = """() => ({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  wide: Array.from(document.querySelectorAll('body *'))
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
    .slice(0, 5).map((el) => el.tagName + '.' + el.className),
  text: document.body.innerText,
  headings: Array.from(document.querySelectorAll('th')).map((th) => th.innerText.trim()),
  tiles: Array.from(document.querySelectorAll('.cj-tile')).map((tile) => {
    const img = tile.querySelector('img.cj-avatar');
    return {
      picture: Boolean(img && img.complete && img.naturalWidth > 0 && img.alt),
      spark: Boolean(tile.querySelector('svg.cj-spark polyline')),
    };
  }),
})"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    path = write_sample(root / "study", n_customers=300, seed=5, fmt="parquet")
    text = path.read_text(encoding="utf-8").replace('k = "auto"', "k = 3")
    text = text.split("\n[personas.names]")[0] + f'\n[labels]\nsetup_failed = "{LABEL}"\n'
    path.write_text(text, encoding="utf-8")
    result = build(load_study(path), output=root / "out", artifacts=root / "art", jobs=2,
                   progress=False)  # fmt: skip
    assert result.failures == []
    return root / "out"


def _pages(site: Path) -> list[Path]:
    return pdf.published_pages(site)


def test_every_page_fits_1280_px_and_reads_as_words(site: Path, offline_browser) -> None:
    pages = _pages(site)
    assert len(pages) == 2 + 3 + 7 + 5 + 2  # portal, status, personas, stages, owners, analyses
    for page in pages:
        where = page.relative_to(site).as_posix()
        report = offline_browser.open(page, width=WIDTH, inspect=lambda p: p.evaluate(_MEASURE))
        seen: dict[str, Any] = report.inspected
        assert report.blocked == [] and report.console_errors == [], where
        assert seen["overflow"] <= 0, (where, seen["wide"])
        assert not SCIENTIFIC.search(seen["text"]), (where, SCIENTIFIC.findall(seen["text"]))
        raw = [h for h in seen["headings"] if SNAKE.match(h)]
        assert raw == [], (where, raw)
        assert "suppressed" not in seen["text"].lower(), where  # one mark: a dagger
        assert all(c["rendered"] for c in report.charts), where
    persona = (site / "personas" / "persona-1.html").read_text(encoding="utf-8")
    assert LABEL in persona and "setup_failed" not in re.sub(r"<footer.*", "", persona, flags=re.S)


def test_the_portal_shows_persona_tiles_with_pictures(site: Path, offline_browser) -> None:
    report = offline_browser.open(site / "index.html", width=WIDTH,
                                  inspect=lambda p: p.evaluate(_MEASURE))  # fmt: skip
    tiles = report.inspected["tiles"]
    assert len(tiles) == 3 and all(t["picture"] and t["spark"] for t in tiles)
    text = report.inspected["text"]
    for heading in ("Who the customers are", "Strongest pain points", "Largest opportunities",
                    "The journey at a glance", "Reports"):  # fmt: skip
        assert heading in text
    assert "Build status and provenance" in text and "Status of every report" not in text
    status = offline_browser.open(site / "status.html", width=WIDTH,
                                  inspect=lambda p: p.evaluate(_MEASURE))  # fmt: skip
    assert "Every report" in status.inspected["text"]


def _page_sizes(data: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    return [(float(w), float(h)) for w, h in boxes]


def test_every_persona_page_prints_to_pdf(site: Path, offline_browser) -> None:
    for page in sorted((site / "personas").glob("*.html")):
        printed = offline_browser.open(
            page,
            width=WIDTH,
            inspect=lambda p: p.pdf(prefer_css_page_size=True, print_background=True),
        ).inspected
        assert printed[:5] == b"%PDF-", page.name
        sizes = _page_sizes(printed)
        portrait = [s for s in sizes if s[1] > s[0]]
        landscape = [s for s in sizes if s[0] > s[1]]
        assert portrait and landscape == [landscape[0]], (page.name, sizes)  # one canvas page
        assert abs(portrait[0][0] - 595) < 2 and abs(portrait[0][1] - 842) < 2  # A4


def test_build_pdf_prints_beside_the_pages_and_says_when_it_cannot(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = pdf.print_pdfs(site)
    assert {p.name for p in written} >= {"index.pdf", "persona-1.pdf", "onboarding.pdf"}
    assert all(p.read_bytes()[:5] == b"%PDF-" for p in written)
    assert pdf.print_pdfs(site) == []  # nothing newer than its PDF
    stray = site / "personas" / "persona-9.pdf"
    stray.write_bytes(b"%PDF-1.4")
    pdf.print_pdfs(site)
    assert not stray.exists()  # its page is gone
    monkeypatch.setenv("PATH", str(site))
    monkeypatch.delenv("CJRESEARCH_CHROMIUM", raising=False)
    with pytest.raises(CJResearchError, match=r"--pdf needs Chromium .*apt-get install chromium"):
        pdf.find_chromium()
    monkeypatch.setenv("CJRESEARCH_CHROMIUM", "/nowhere/chromium")
    with pytest.raises(CJResearchError, match="CJRESEARCH_CHROMIUM is '/nowhere/chromium'"):
        pdf.find_chromium()
