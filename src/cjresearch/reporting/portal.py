"""The portal: ``<output>/index.html``, the page that links every report.

Rendered with Jinja2 (``templates/portal.html.j2``, autoescaping on, inline CSS, no script),
from a :class:`PortalContext` (study summary, top findings) and the reports' state (each a
:class:`~cjresearch.reporting.reports.ReportResult`, which has the fields of
:class:`PortalEntry`). The context is also kept in ``<output>/.cjresearch/portal.json`` so
that ``cjresearch run`` can add an analysis page to the portal without rebuilding the study.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cjresearch._files import utc_now, utc_stamp
from cjresearch.reporting.html import render_template
from cjresearch.reporting.publish import STATE_DIR, PublishTransaction

__all__ = [
    "PORTAL_CONTEXT_FILE",
    "PortalContext",
    "PortalEntry",
    "load_portal_context",
    "render_portal",
    "stage_portal",
]

PORTAL_CONTEXT_FILE = f"{STATE_DIR}/portal.json"

_SECTIONS = (
    ("personas", "persona", "Personas"),
    ("stages", "stage", "Journey stages"),
    ("analysis", "analysis", "Analysis"),
)
_LABELS = {
    "ok": ("ok", "updated"),
    "skipped-unchanged": ("ok", "unchanged"),
    "stale": ("stale", "stale: the last rebuild failed, showing the previous version"),
    "failed": ("failed", "failed: no version available"),
}


class PortalEntry(Protocol):
    """What the portal shows of a report (a :class:`~cjresearch.reporting.reports.ReportResult`
    has these fields; the portal sits below the reports and does not import them)."""

    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def built_at(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True)
class PortalContext:
    """What the portal says besides the reports.

    Parameters
    ----------
    study
        The study's name.
    summary
        Label -> value rows of the study summary (customers, events, period...).
    findings
        Top findings: plain sentences, or rows (dicts with the same keys) shown as a table.
    run_id, built_at
        The build that made the portal.
    has_tables
        Link the ``tables/`` folder.
    """

    study: str
    summary: Sequence[tuple[str, Any]] = ()
    findings: Sequence[str | Mapping[str, Any]] = ()
    run_id: str | None = None
    built_at: str = field(default_factory=utc_stamp)
    has_tables: bool = False


def _age(built_at: str | None, now: dt.datetime) -> str:
    if not built_at:
        return "never"
    try:
        then = dt.datetime.fromisoformat(built_at)
    except ValueError:
        return "unknown"
    if then.tzinfo is None:
        then = then.replace(tzinfo=dt.UTC)
    seconds = max(0.0, (now - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def render_portal(
    context: PortalContext,
    reports: Sequence[PortalEntry],
    *,
    now: dt.datetime | None = None,
) -> str:
    """The portal page (HTML text).

    Reports link to their page when one is published (``failed`` ones have none); stale and
    failed reports are flagged with their error.
    """
    now = now or utc_now()
    rows = []
    for r in reports:
        css, label = _LABELS.get(r.status, ("failed", r.status))
        rows.append(
            {
                "path": r.path,
                "title": r.title,
                "kind": r.kind,
                "status": r.status,
                "css": css,
                "label": label,
                "linked": r.status != "failed",
                "error": r.error,
                "built_at": r.built_at,
                "age": _age(r.built_at, now),
            }
        )
    sections = [
        {"id": sid, "heading": heading, "reports": [x for x in rows if x["kind"] == kind]}
        for sid, kind, heading in _SECTIONS
    ]
    texts = [f for f in context.findings if isinstance(f, str)]
    table = [dict(f) for f in context.findings if not isinstance(f, str)]
    columns: list[str] = []
    for row in table:
        columns += [str(k) for k in row if str(k) not in columns]
    return render_template(
        "portal.html.j2",
        study=context.study,
        run_id=context.run_id,
        built_at=context.built_at,
        summary=[(str(k), v) for k, v in context.summary],
        finding_texts=texts,
        finding_rows=[{str(k): v for k, v in row.items()} for row in table],
        finding_columns=columns,
        sections=[s for s in sections if s["reports"]],
        reports=rows,
        problems=sum(r.status in ("stale", "failed") for r in reports),
        has_tables=context.has_tables,
    )


def stage_portal(
    transaction: PublishTransaction,
    context: PortalContext,
    reports: Sequence[PortalEntry],
) -> None:
    """Stage ``index.html`` and the portal's context in a publish transaction."""
    transaction.write_text("index.html", render_portal(context, reports))
    payload = asdict(context)
    payload["summary"] = [list(item) for item in context.summary]
    transaction.write_text(
        PORTAL_CONTEXT_FILE, json.dumps(payload, indent=1, default=str, ensure_ascii=False)
    )


def load_portal_context(output: str | Path) -> PortalContext | None:
    """The context of the last published portal, or None if there is none."""
    path = Path(output) / PORTAL_CONTEXT_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return PortalContext(
        study=str(data.get("study", "")),
        summary=[tuple(item) for item in data.get("summary", [])],
        findings=list(data.get("findings", [])),
        run_id=data.get("run_id"),
        built_at=str(data.get("built_at", "")),
        has_tables=bool(data.get("has_tables", False)),
    )
