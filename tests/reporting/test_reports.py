"""Reports (reporting.reports) on tiny dummy notebooks: HTML, incremental rebuilds, failures."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from cjresearch.errors import CJResearchError
from cjresearch.reporting.execute import ExecutionOptions
from cjresearch.reporting.html import Provenance, export_html, external_loads
from cjresearch.reporting.portal import PortalContext, render_portal
from cjresearch.reporting.publish import STATE_DIR
from cjresearch.reporting.reports import (
    ReportSpec,
    load_state,
    notebook_fingerprint,
    plan_reports,
    publish_reports,
    report_fingerprint,
)
from helpers import FIXTURES

NOTEBOOKS = FIXTURES / "notebooks"
TINY = NOTEBOOKS / "tiny.ipynb"
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def test_plan_reports_slugs_kinds_and_duplicates() -> None:
    planned = plan_reports(
        [
            ReportSpec("persona", "../../Évasion", TINY),
            ReportSpec("persona", "évasion", TINY),
            ReportSpec("stage", "../../Évasion", TINY),
        ]
    )
    assert [(p.kind, p.slug) for p in planned] == [
        ("persona", "evasion"),
        ("persona", "evasion-2"),
        ("stage", "evasion"),
    ]
    with pytest.raises(CJResearchError, match="kind 'people'"):
        plan_reports([ReportSpec("people", "x", TINY)])
    with pytest.raises(CJResearchError, match="both named 'x'"):
        plan_reports([ReportSpec("persona", "x", TINY), ReportSpec("persona", "x", TINY)])


def test_fingerprint_ignores_outputs_but_not_sources(tmp_path: Path) -> None:
    node = nbformat.read(TINY, as_version=4)
    node.cells[2].outputs = [nbformat.v4.new_output("stream", text="ran by hand")]
    node.metadata["widgets"] = {"state": {}}
    ran = tmp_path / "ran.ipynb"
    nbformat.write(node, ran)
    assert notebook_fingerprint(ran) == notebook_fingerprint(TINY)
    node.cells[3].source += "\n# edited"
    nbformat.write(node, ran)
    assert notebook_fingerprint(ran) != notebook_fingerprint(TINY)

    data = tmp_path / "artifact.txt"
    data.write_text("one")
    spec = ReportSpec("persona", "p", TINY, {"label": "a"}, inputs=[data])
    first = report_fingerprint(spec)
    assert report_fingerprint(ReportSpec("persona", "p", TINY, {"label": "b"}, [data])) != first
    data.write_text("two")
    assert report_fingerprint(spec) != first
    with pytest.raises(CJResearchError, match="do not exist"):
        report_fingerprint(ReportSpec("persona", "p", TINY, inputs=[tmp_path / "gone"]))


def test_export_hides_code_and_parameters_and_loads_nothing(tmp_path: Path) -> None:
    node = nbformat.read(TINY, as_version=4)
    injected = nbformat.v4.new_code_cell('label = "secret-injected"')
    injected.metadata["tags"] = ["injected-parameters"]
    node.cells.insert(2, injected)
    node.cells[3].outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "'42'"}, execution_count=1)
    ]
    node.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    html = export_html(
        node,
        title=f"Persona {SCRIPT}",
        parameters={"label": SCRIPT, "data_file": "/home/someone/artifacts/x.parquet"},
        provenance=Provenance(
            study=IMG,
            data_hashes={"events.parquet": "ab" * 32},
            versions={"pandas": "3.0"},
            run_id="run-1",
        ),
    )
    assert "secret-injected" not in html and 'label = "plain"' not in html
    assert "raise RuntimeError" not in html and "import html" not in html
    assert external_loads(html) == []
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<a href="../index.html">' in html
    assert 'id="provenance"' in html and "run-1" in html and "ab" * 32 in html
    assert "/home/someone" not in html and "x.parquet" in html


def test_export_refuses_a_page_that_needs_the_network() -> None:
    node = nbformat.read(TINY, as_version=4)
    node.cells[3].outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": '<div id="vis"></div><script src="https://cdn.jsdelivr.net/npm/vega@5">'
                "</script>",
                "text/plain": "chart",
            },
        )
    ]
    with pytest.raises(CJResearchError, match=r"load 1 resource.*jsdelivr.*renderers.enable"):
        export_html(node, title="chart with the default renderer")


def test_external_loads_finds_remote_resources() -> None:
    page = (
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
        '<link rel="stylesheet" href="//unpkg.com/x.css">'
        '<img src="data:image/svg+xml;base64,AAAA">'
        "<style>@import 'https://fonts.example/x.css';"
        " b { background: url(http://x/y.png) }</style>"
        '<a href="https://example.org">a link is not a load</a>'
        '<svg xmlns="http://www.w3.org/2000/svg"></svg>'
    )
    found = external_loads(page)
    assert len(found) == 4
    assert any("jsdelivr" in f for f in found) and any("unpkg" in f for f in found)


def read_html(output: Path, rel: str) -> str:
    return (output / rel).read_text(encoding="utf-8")


@pytest.mark.slow
def test_incremental_build_failures_and_portal(tmp_path: Path) -> None:
    out = tmp_path / "out"
    failed = tmp_path / "artifacts" / "failed"
    data = tmp_path / "artifact.txt"
    data.write_text(f"artifact text {IMG}", encoding="utf-8")
    portal = PortalContext(
        study=f"Acme {SCRIPT}",
        summary=[("customers", "3"), ("touchpoint", IMG)],
        findings=[f"Onboarding emotion {SCRIPT}", {"stage": IMG, "odds_ratio": 1.5}],
    )

    def specs(label_b: str = "b", fail_b: bool = False) -> list[ReportSpec]:
        return [
            ReportSpec("persona", SCRIPT, TINY, {"label": SCRIPT, "data_file": str(data)}, [data]),
            ReportSpec("persona", IMG, TINY, {"label": label_b, "fail": fail_b}),
        ]

    def manifest(tx, reports) -> None:  # type: ignore[no-untyped-def]
        tx.write_text("manifest.json", json.dumps([r.manifest_entry() for r in reports]))

    def publish(**kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("portal", portal)
        return publish_reports(
            out,
            kwargs.pop("specs"),
            provenance=Provenance(study="Acme"),
            execution=ExecutionOptions(jobs=2),
            failed_dir=failed,
            progress=False,
            before_commit=manifest,
            **kwargs,
        )

    first = publish(specs=specs())
    assert [(r.slug, r.status) for r in first.reports] == [
        ("script-alert-1-script", "ok"),
        ("img-src-x-onerror-alert-1", "ok"),
    ]
    a_rel, b_rel = (r.path for r in first.reports)
    page = read_html(out, a_rel)
    assert external_loads(page) == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and SCRIPT not in page
    # nbconvert re-serialises outputs: the quote comes back bare, the markup stays text.
    assert 'artifact text "&gt;&lt;img src=x onerror=alert(1)&gt;' in page
    assert "<img src=x" not in page
    assert "count 6 ratio 0.5 flag False" in page  # the cells after the parameters ran
    assert "print(" not in page and "raise RuntimeError" not in page
    assert 'label = "plain"' not in page
    index = read_html(out, "index.html")
    assert SCRIPT not in index and IMG not in index and "&lt;script&gt;" in index
    assert f'href="{a_rel}"' in index and f'href="{b_rel}"' in index
    state_file = out / STATE_DIR / "state.json"
    snapshot = {p: p.read_bytes() for p in out.rglob("*.html")}
    state_mtime = state_file.stat().st_mtime_ns

    # No change: no notebook runs, nothing is written.
    again = publish(specs=specs())
    assert [r.status for r in again.reports] == ["skipped-unchanged"] * 2
    assert again.executed == [] and again.published == []
    assert state_file.stat().st_mtime_ns == state_mtime
    assert {p: p.read_bytes() for p in out.rglob("*.html")} == {p: p.read_bytes() for p in snapshot}

    # One report's parameter changes: only that one is rebuilt.
    changed = publish(specs=specs(label_b="b2"))
    assert [r.status for r in changed.reports] == ["skipped-unchanged", "ok"]
    assert read_html(out, a_rel).encode() == snapshot[out / a_rel]
    good_b = read_html(out, b_rel)
    assert ">b2<" in good_b

    # An injected failure keeps the previous good version, marks it stale, keeps the notebook.
    broken = publish(specs=specs(label_b="b3", fail_b=True))
    a, b = broken.reports
    assert a.status == "skipped-unchanged"
    assert b.status == "stale" and "injected failure" in str(b.error)
    assert read_html(out, b_rel) == good_b
    assert b.failed_notebook is not None and Path(b.failed_notebook).is_file()
    assert Path(b.failed_notebook).parent == failed
    assert broken.failures == [b]
    index = read_html(out, "index.html")
    assert "stale" in index and "injected failure" in index
    assert load_state(out)[f"persona/{b.slug}"]["status"] == "stale"

    # The same failing input again: not re-run, still stale (a no-op for cron).
    still = publish(specs=specs(label_b="b3", fail_b=True))
    assert still.executed == []
    assert [r.status for r in still.reports] == ["skipped-unchanged", "stale"]

    # The artifact a report reads changes: that report is rebuilt; a persona that is gone
    # is removed; force rebuilds all.
    data.write_text("new artifact", encoding="utf-8")
    moved = publish(specs=specs()[:1])
    assert [(r.slug, r.status) for r in moved.reports] == [("script-alert-1-script", "ok")]
    assert "new artifact" in read_html(out, a_rel)
    assert not (out / b_rel).exists()
    forced = publish(specs=specs()[:1], force=True)
    assert [r.status for r in forced.reports] == ["ok"]
    assert json.loads(read_html(out, "manifest.json"))[0]["status"] == "ok"
    assert not (out / STATE_DIR / "staging").exists() or not any(
        (out / STATE_DIR / "staging").iterdir()
    )


def test_failed_report_with_no_previous_version(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    node = nbformat.read(TINY, as_version=4)
    node.cells[1].source = node.cells[1].source.replace("fail = False", "fail = True")
    nbformat.write(node, broken)
    log = io.StringIO()  # not a terminal: plain lines, no progress bar
    outcome = publish_reports(
        tmp_path / "out",
        [ReportSpec("stage", "support", broken)],
        portal=PortalContext("Study"),
        stream=log,
    )
    lines = log.getvalue().splitlines()
    assert any(
        re.fullmatch(r"20\d\d-\d\d-\d\d [\d:]{8} \[1/1\] stage 'support': failed in .*", line)
        for line in lines
    ), lines
    assert "\x1b[" not in log.getvalue()
    (report,) = outcome.reports
    assert report.status == "failed" and "RuntimeError: injected failure" in str(report.error)
    assert not (tmp_path / "out" / report.path).exists()
    assert Path(str(report.failed_notebook)).is_file()
    index = (tmp_path / "out" / "index.html").read_text()
    assert f'href="{report.path}"' not in index  # nothing to link to
    assert "failed" in index


@pytest.mark.slow
def test_a_report_past_its_deadline_keeps_its_previous_version(tmp_path: Path) -> None:
    slow = tmp_path / "slow.ipynb"
    node = nbformat.read(TINY, as_version=4)
    node.cells[1].source += "\nseconds = 0"
    node.cells.append(
        nbformat.v4.new_code_cell("import time\nfor _ in range(seconds):\n    time.sleep(1)")
    )
    nbformat.write(node, slow)
    out = tmp_path / "out"

    def publish(seconds: int, deadline: int):  # type: ignore[no-untyped-def]
        return publish_reports(
            out,
            [
                ReportSpec(
                    "stage", "support", slow, {"label": f"waits {seconds}", "seconds": seconds}
                )
            ],
            portal=PortalContext("Study"),
            progress=False,
            execution=ExecutionOptions(notebook_timeout=deadline, execution_timeout=120),
        )

    first = publish(0, 300)  # a kernel start on a busy machine must not count against it
    (good,) = first.reports
    assert good.status == "ok"
    page = read_html(out, good.path)
    late = publish(120, 8)  # every cell is well within the cell timeout; not the whole
    (report,) = late.reports
    assert report.status == "stale" and "notebook deadline exceeded" in str(report.error)
    assert read_html(out, good.path) == page  # the previous good version stays
    assert Path(str(report.failed_notebook)).is_file()
    assert "notebook deadline exceeded" in read_html(out, "index.html")


def test_render_portal_escapes_and_flags() -> None:
    from cjresearch.reporting.reports import ReportResult

    reports = [
        ReportResult("a", "persona", SCRIPT, SCRIPT, "personas/a.html", "ok", "f", None, 1.0),
        ReportResult(
            "s", "stage", "support", "support", "stages/s.html", "stale", "f",
            "2026-01-01T00:00:00+00:00", 1.0, error=f"KeyError: {IMG}",
        ),
    ]  # fmt: skip
    html = render_portal(PortalContext(IMG, findings=[SCRIPT]), reports)
    assert SCRIPT not in html and IMG not in html
    assert "KeyError: &#34;&gt;&lt;img" in html
    assert "1 report could not be rebuilt" in html
    assert external_loads(html) == []


def test_notebook_copy_is_not_modified(tmp_path: Path) -> None:
    # papermill writes its output from the first cell: the source notebook must stay as it was.
    copy = tmp_path / "tiny.ipynb"
    shutil.copyfile(TINY, copy)
    before = copy.read_bytes()
    publish_reports(
        tmp_path / "out", [ReportSpec("analysis", "tiny", copy, {"count": 1})], progress=False
    )
    assert copy.read_bytes() == before


def test_a_failed_reports_error_is_published_without_personal_data(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.ipynb"
    node = nbformat.read(TINY, as_version=4)
    node.cells.insert(
        2,
        nbformat.v4.new_code_cell(
            "raise KeyError('customer C0000069 (jane.doe@example.com) has no stage')"
        ),
    )
    nbformat.write(node, leaky)
    outcome = publish_reports(
        tmp_path / "out",
        [ReportSpec("stage", "support", leaky)],
        portal=PortalContext("Study"),
        progress=False,
        customer_ids=["C0000069", "C0000070"],
    )
    (report,) = outcome.reports
    assert report.status == "failed"
    assert "KeyError" in str(report.error) and "[id]" in str(report.error)
    assert "[email]" in str(report.error)
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file() and "failed" not in path.parts:
            text = path.read_text(encoding="utf-8", errors="replace")
            assert "C0000069" not in text and "jane.doe" not in text, path
