"""An owner's page: what they own and how it is doing.

One page per owner the study file names (:attr:`cjresearch.data.study.Study.owners`),
published from ``notebooks/owner_report.ipynb`` under a file name that never carries the
owner's name (:func:`cjresearch.reporting.company.owner_slug`). It shows the stages and
touchpoints they own with what customers expect there, the open questions and the tools; their
KPIs against the targets with interval, n, status, change and trend over the builds; the
build's alerts addressed to them; the pain points at what they own; and what changed there
since the last build. Every figure is a row of a published table (``kpis``, ``kpi_history``,
``pain_points``, ``changes``), already through the disclosure pass; every string from the
study file or the data is escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from cjresearch.analysis.kpis import format_value
from cjresearch.artifacts.compute import open_artifacts
from cjresearch.data.schema import ALL
from cjresearch.data.study import load_study
from cjresearch.errors import CJResearchError
from cjresearch.reporting.company import Company, kpi_trend_html
from cjresearch.reporting.formats import Html
from cjresearch.reporting.kpi_charts import STATUS_COLORS, STATUS_WORDS
from cjresearch.reporting.owner_views import (
    OwnerPortfolio,
    changes_digest,
    kpi_status_html,
    owner_portfolio,
)
from cjresearch.reporting.views import Words, words_for

__all__ = ["OwnerView", "owner_view"]

_esc = html.escape


@dataclass(frozen=True)
class OwnerView:
    """Everything an owner's page shows: what they own and how it is doing."""

    company: Company
    portfolio: OwnerPortfolio
    words: Words

    @property
    def title(self) -> str:
        return self.portfolio.owner

    @property
    def summary(self) -> Html:
        """One paragraph: what they own, their KPIs by status, their open alerts."""
        if not self.company.study.owners:
            return Html(
                "<p><em>The study file names no owner: give a stage, a touchpoint or a KPI an "
                "<code>owner</code> to publish a page per owner.</em></p>"
            )
        s = self.portfolio.summary.iloc[0]
        statuses = ", ".join(
            f"{int(s[f'n_{k}'])} {STATUS_WORDS[k].split(' (')[0]}"
            for k in STATUS_COLORS
            if s[f"n_{k}"]
        )
        kpis = f"{int(s['n_kpis'])} KPI{'s' if s['n_kpis'] != 1 else ''}"
        alerts = int(s["n_alerts"])
        return Html(
            f"<p><strong>{_esc(self.title)}</strong> owns {int(s['n_stages'])} stage(s) and "
            f"{int(s['n_touchpoints'])} touchpoint(s); {kpis}"
            + (f" ({_esc(statuses)})" if statuses else "")
            + f"; {alerts} open alert{'s' if alerts != 1 else ''}.</p>"
        )

    @property
    def owns(self) -> Html:
        """The stages and touchpoints they own, with expectations, open questions, tools."""
        items = []
        for frame, key, kind in (
            (self.portfolio.stages, "stage", "Stage"),
            (self.portfolio.touchpoints, "touchpoint", "Touchpoint"),
        ):
            for r in frame.to_dict(orient="records"):
                parts = [
                    f"<div>{title}:<ul>{''.join(f'<li>{_esc(str(x))}</li>' for x in r[part])}"
                    "</ul></div>"
                    for part, title in (
                        ("expectations", "What customers expect"),
                        ("questions", "Open questions"),
                        ("tools", "Tools and processes"),
                    )
                    if r[part]
                ]
                name = _esc(self.words(str(r[key])))
                items.append(f"<li><strong>{kind}: {name}</strong>{''.join(parts)}</li>")
        if not items:
            return Html("<p><em>No stage or touchpoint is theirs in the study file.</em></p>")
        return Html(f'<ul class="cj-owns">{"".join(items)}</ul>')

    @property
    def kpis(self) -> Html:
        """Their KPIs: value with interval and n, target, status, change; then each trend."""
        kpis, history, _ = self.company.tables
        mine = self.portfolio.kpis
        table = kpi_status_html(
            mine, empty="No KPI is theirs.", label=self.words, persona_label=self.words.persona
        )
        if mine.empty:
            return Html(table)
        trends = "".join(kpi_trend_html(history, kpis, str(k)) for k in mine["kpi"])
        return Html(f'{table}<div class="cj-trends">{trends}</div>')

    @property
    def alerts(self) -> Html:
        """The build's alerts addressed to them, each told with the figures of the published
        (protected) ``kpis`` and ``changes`` tables, never the alert's own numbers."""
        alerts = self.portfolio.alerts
        if not alerts:
            return Html("<p><em>No open alert.</em></p>")
        kpis, _, changes = self.company.tables
        items = []
        for alert in alerts:
            name = str(alert.get("kpi"))
            row = kpis[kpis["kpi"].astype(str) == name]
            told = changes[changes["kpi"].astype(str) == name]
            if len(row):  # its status is the first sentence
                told = told[told["kind"] != "kpi_status"]
            said = [str(d) for d in told["description"]]
            if len(row):
                r = row.iloc[0]
                status = STATUS_WORDS.get(str(r["status"]), str(r["status"]))
                value = format_value(str(r["metric"]), r["value"])
                said.insert(0, f"{name}: {status}, {value} against the target {r['target']}")
            text = "; ".join(dict.fromkeys(said)) or f"{name}: worsened beyond chance"
            items.append(f'<li class="cj-alert">{_esc(text)}</li>')
        return Html(f"<ul>{''.join(items)}</ul>")

    @property
    def pain_points(self) -> Html:
        """The pain points at what they own (from the published ``pain_points`` table)."""
        pains, words = self.portfolio.pain_points, self.words
        if pains.empty:
            return Html("<p><em>No pain point stands out beyond chance at what they own.</em></p>")
        rows = []
        for r in pains.sort_values("rank", kind="stable").head(10).to_dict(orient="records"):
            hidden = bool(r.get("suppressed", False))
            churn = (
                "\u2020"
                if hidden
                else f"{format_value('churn_rate', r.get('churn_rate'))} vs "
                f"{format_value('churn_rate', r.get('churn_rate_comparison'))}"
            )
            n = "\u2020" if hidden else f"{int(r['n_customers']):,}"
            who = "All customers" if r["persona"] == ALL else words.persona(r["persona"])
            cells = [who, words(r["stage"]), words(r["touchpoint"]), n, churn]
            rows.append("<tr>" + "".join(f"<td>{_esc(str(c))}</td>" for c in cells) + "</tr>")
        head = "".join(
            f"<th>{h}</th>"
            for h in ("Persona", "Stage", "Touchpoint", "Customers who met it",
                      "Churned: met it vs the others")
        )  # fmt: skip
        return Html(
            f'<table class="cj-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    @property
    def changes(self) -> Html:
        """What changed at what they own since the last build."""
        lines = changes_digest(self.portfolio.changes)
        if not lines:
            return Html(
                "<p><em>Nothing they own changed beyond chance since the last build.</em></p>"
            )
        return Html("<ul>" + "".join(f"<li>{_esc(line)}</li>" for line in lines) + "</ul>")


def owner_view(artifacts_dir: str | Path, owner: str, *, study_file: str | Path) -> OwnerView:
    """The view of one owner's page.

    A study file that names no owner at all gives an empty view (its page says so).

    Raises
    ------
    CJResearchError
        The study file names owners, and ``owner`` is not one of them.
    """
    artifacts = open_artifacts(artifacts_dir, study_file=study_file)
    study = load_study(study_file)
    if study.owners and owner not in study.owners:
        msg = f"{study.path}: no stage, touchpoint or KPI is owned by {owner!r}"
        raise CJResearchError(msg)
    company = Company(study=study, artifacts=artifacts)
    portfolio = owner_portfolio(study, artifacts, owner)
    return OwnerView(company=company, portfolio=portfolio, words=words_for(artifacts))
