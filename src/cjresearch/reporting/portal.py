"""The portal: ``<output>/index.html``, an executive summary that links every report, and
``<output>/status.html``, the build's status and provenance.

Rendered with Jinja2 (``templates/portal.html.j2``, ``templates/status.html.j2``,
autoescaping on, inline CSS, no script), from a :class:`PortalContext` (study summary, the
executive summary of :func:`cjresearch.reporting.summary.executive_summary`, top findings)
and the reports' state (each a :class:`~cjresearch.reporting.reports.ReportResult`, which
has the fields of :class:`PortalEntry`). The portal opens with persona tiles (a picture, the
size, churn with its interval, an emotion sparkline, the top pain point), the study's
strongest pain points and opportunities, a stages x personas heat strip of emotion and
churn, then the report index. ``changes`` is the place for a "what changed since the last
build" section (shown when given). The context is also kept in
``<output>/.cjresearch/portal.json`` so that ``cjresearch run`` can add an analysis page to
the portal without rebuilding the study.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
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
    "STATUS_PAGE",
    "PortalContext",
    "PortalEntry",
    "avatar",
    "heat",
    "load_portal_context",
    "render_portal",
    "render_status",
    "sparkline",
    "stage_portal",
]

PORTAL_CONTEXT_FILE = f"{STATE_DIR}/portal.json"
#: The page of the build's status and provenance.
STATUS_PAGE = "status.html"

_SECTIONS = (
    ("personas", "persona", "Personas"),
    ("stages", "stage", "Journey stages"),
    ("owners", "owner", "Owners: what each owns and how it is doing"),
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
    executive
        The executive summary (:func:`cjresearch.reporting.summary.executive_summary`):
        ``tiles``, ``pain_points``, ``opportunities``, ``overview``, ``findings``, ``nulls``.
    changes
        Sentences for the "What changed since the last build" section (none: no section).
    kpi_trends
        The KPIs' tiles (:func:`cjresearch.reporting.company.portal_trends`: ``kpi, status,
        words, color, value, target, owner`` as text, ``trend`` as escaped HTML with its
        sparkline); none: no section.
    """

    study: str
    summary: Sequence[tuple[str, Any]] = ()
    findings: Sequence[str | Mapping[str, Any]] = ()
    run_id: str | None = None
    built_at: str = field(default_factory=utc_stamp)
    has_tables: bool = False
    executive: Mapping[str, Any] = field(default_factory=dict)
    changes: Sequence[str] = ()
    kpi_trends: Sequence[Mapping[str, str]] = ()


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


def _rows(reports: Sequence[PortalEntry], now: dt.datetime) -> list[dict[str, Any]]:
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
    return rows


def _initials(name: str) -> str:
    words = [w for w in name.replace(",", " ").replace("-", " ").split() if w[:1].isalnum()]
    return "".join(w[0].upper() for w in words[:2]) or "?"


def avatar(name: str, color: str) -> str:
    """A persona's picture: a figure in its colour with its initials, as an ``<img>`` whose
    SVG is a data URI (so no string in it can run) and whose alt text names the persona.

    >>> avatar("App-first, younger", "#4c78a8").startswith('<img class="cj-avatar"')
    True
    """
    fill = html.escape(color if color.startswith("#") and len(color) <= 9 else "#8c8c8c")
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        f'<rect width="64" height="64" rx="14" fill="{fill}" fill-opacity="0.15"/>'
        f'<circle cx="32" cy="23" r="12" fill="{fill}"/>'
        f'<path d="M10 60c2-14 11-21 22-21s20 7 22 21z" fill="{fill}"/>'
        f'<text x="32" y="27.5" font-family="sans-serif" font-size="11" font-weight="700" '
        f'fill="#fff" text-anchor="middle">{html.escape(_initials(name))}</text></svg>'
    )
    data = base64.b64encode(svg.encode()).decode()
    alt = html.escape(f"Picture of the persona {name}", quote=True)
    return (
        f'<img class="cj-avatar" src="data:image/svg+xml;base64,{data}" alt="{alt}" '
        'width="64" height="64">'
    )


def sparkline(curve: Sequence[Mapping[str, Any]], color: str, *, span: float = 1.0) -> str:
    """Emotion per stage as a small inline SVG line (0 marked), with a text alternative;
    ``span`` is the half-height of the scale (the same for every tile of a portal)."""
    values = [c.get("emotion") for c in curve]
    width, height = 160.0, 40.0
    step = width / max(len(values), 1)
    points = [
        (step * i + step / 2, height / 2 - (height / 2 - 4) * max(-1.0, min(1.0, float(v) / span)))
        for i, v in enumerate(values)
        if v is not None
    ]
    known = [(c["stage"], float(c["emotion"])) for c in curve if c.get("emotion") is not None]
    if known:
        low, high = min(known, key=lambda x: x[1]), max(known, key=lambda x: x[1])
        label = f"Emotion across the stages: lowest at {low[0]}, highest at {high[0]}"
    else:
        label = "No emotion measured"
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2"/>' for x, y in points)
    fill = html.escape(color if color.startswith("#") else "#8c8c8c")
    return (
        f'<svg class="cj-spark" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{html.escape(label, quote=True)}">'
        f'<line x1="0" x2="{width:.0f}" y1="{height / 2}" y2="{height / 2}" stroke="#bcc6d0" '
        'stroke-dasharray="2 2"/>'
        f'<polyline points="{line}" fill="none" stroke="{fill}" stroke-width="2"/>'
        f'<g fill="{fill}">{dots}</g></svg>'
    )


def heat(value: float | None) -> str:
    """The background of a heat-strip cell: orange for negative emotion, blue for positive
    (a colour-blind-safe diverging scale), white at 0; grey when withheld.

    >>> heat(None), heat(0.0)
    ('#eef1f4', 'rgb(255, 255, 255)')
    """
    if value is None:
        return "#eef1f4"
    v = max(-1.0, min(1.0, float(value) * 2))  # +-0.5 is the scale's end: emotion is tight
    end = (230, 97, 1) if v < 0 else (33, 102, 172)
    mix = [round(255 + (c - 255) * abs(v) * 0.75) for c in end]
    return f"rgb({mix[0]}, {mix[1]}, {mix[2]})"


def _executive(context: PortalContext, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The executive summary with its pictures, links and colours, ready to render."""
    summary: dict[str, Any] = {
        "tiles": [],
        "pain_points": [],
        "opportunities": [],
        "overview": {},
        "findings": [],
        "nulls": None,
        **dict(context.executive or {}),
    }
    published = {r["path"] for r in rows if r["linked"]}
    emotions = [
        abs(float(c["emotion"]))
        for tile in summary.get("tiles", [])
        for c in tile.get("curve", [])
        if c.get("emotion") is not None
    ]
    # one scale for every tile: +-0.5 (emotion means rarely reach beyond), else +-1
    span = 0.5 if max(emotions, default=0.0) <= 0.5 else 1.0
    tiles = []
    for tile in summary.get("tiles", []):
        path = f"personas/{tile.get('slug')}.html"
        tiles.append(
            {
                **tile,
                "href": path if path in published else None,
                "avatar": avatar(str(tile.get("name", "")), str(tile.get("color", ""))),
                "spark": sparkline(tile.get("curve", []), str(tile.get("color", "")), span=span),
            }
        )
    overview = dict(summary.get("overview") or {})
    for row in overview.get("rows", []):
        for cell in row.get("cells", []):
            cell["background"] = heat(cell.get("emotion"))
    return {**summary, "tiles": tiles, "overview": overview}


def render_portal(
    context: PortalContext,
    reports: Sequence[PortalEntry],
    *,
    now: dt.datetime | None = None,
) -> str:
    """The portal page (HTML text): the executive summary, then every report.

    Reports link to their page when one is published (``failed`` ones have none); stale and
    failed reports are flagged with their error.
    """
    now = now or utc_now()
    rows = _rows(reports, now)
    sections = [
        {"id": sid, "heading": heading, "reports": [x for x in rows if x["kind"] == kind]}
        for sid, kind, heading in _SECTIONS
    ]
    texts = [f for f in context.findings if isinstance(f, str)]
    table = [dict(f) for f in context.findings if not isinstance(f, str)]
    columns: list[str] = []
    for row in table:
        columns += [str(k) for k in row if str(k) not in columns]
    executive = _executive(context, rows)
    return render_template(
        "portal.html.j2",
        study=context.study,
        run_id=context.run_id,
        built_at=context.built_at,
        executive=executive,
        finding_texts=executive.get("findings") or texts,
        finding_nulls=executive.get("nulls"),
        finding_rows=[{str(k): v for k, v in row.items()} for row in table],
        finding_columns=columns,
        changes=list(context.changes),
        kpi_trends=[dict(t) for t in context.kpi_trends],
        sections=[s for s in sections if s["reports"]],
        n_reports=len(rows),
        problems=sum(r.status in ("stale", "failed") for r in reports),
        status_page=STATUS_PAGE,
    )


def render_status(
    context: PortalContext,
    reports: Sequence[PortalEntry],
    *,
    now: dt.datetime | None = None,
) -> str:
    """The status page (HTML text): the study summary, when and how it was built, and every
    report's status, age and error."""
    now = now or utc_now()
    return render_template(
        "status.html.j2",
        study=context.study,
        run_id=context.run_id,
        built_at=context.built_at,
        summary=[(str(k), v) for k, v in context.summary],
        reports=_rows(reports, now),
        problems=sum(r.status in ("stale", "failed") for r in reports),
        has_tables=context.has_tables,
    )


def stage_portal(
    transaction: PublishTransaction,
    context: PortalContext,
    reports: Sequence[PortalEntry],
) -> None:
    """Stage ``index.html``, ``status.html`` and the portal's context in a publish
    transaction."""
    transaction.write_text("index.html", render_portal(context, reports))
    transaction.write_text(STATUS_PAGE, render_status(context, reports))
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
        executive=dict(data.get("executive") or {}),
        changes=[str(c) for c in data.get("changes") or []],
        kpi_trends=[
            {str(k): str(v) for k, v in t.items()}
            for t in data.get("kpi_trends") or []
            if isinstance(t, dict)
        ],
    )
