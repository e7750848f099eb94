"""Views of journey management: what each owner owns and how it is doing; what changed.

The functions the owner pages, the journey-map canvas's KPI lane, the portal's "what
changed" section and the explorer call, over a build's artifacts and its study file:

- :func:`owner_portfolio` / :func:`owner_portfolios`: per owner named in the study file,
  the stages and touchpoints they own (with customers' expectations, the open questions and
  the tools behind them), their KPIs against targets with trends, the pain points and the
  changes and alerts at what they own;
- :func:`company_lane` / :func:`company_cell_html`: per stage, the company's side for the
  journey-map canvas (owner, expectations, open questions, tools, KPIs with targets and
  status), one escaped HTML cell per stage;
- :func:`kpis_for`: the KPIs of a persona and a stage (the explorer's selection);
- :func:`changes_digest`: what changed since the last build, as sentences;
- :func:`kpi_status_html`: KPIs as an escaped HTML table with their status.

Every string from the study file or the data (owner names, expectations, KPI names,
persona names) is escaped in the HTML these functions return; owners are data, never
markup.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cjresearch.analysis.changes import CHANGE_COLUMNS, KPI_COLUMNS
from cjresearch.analysis.kpis import format_change, format_value
from cjresearch.artifacts.catalog import Artifacts
from cjresearch.artifacts.history import HISTORY_COLUMNS
from cjresearch.data.schema import ALL
from cjresearch.data.study import Study
from cjresearch.reporting.kpi_charts import STATUS_COLORS, STATUS_WORDS

__all__ = [
    "OwnerPortfolio",
    "changes_digest",
    "company_cell_html",
    "company_lane",
    "kpi_status_html",
    "kpis_for",
    "management_tables",
    "owner_portfolio",
    "owner_portfolios",
]

_PART_COLUMNS = ("expectations", "questions", "tools")


def _table(artifacts: Artifacts, name: str, columns: Sequence[str]) -> pd.DataFrame:
    """A published table, or an empty one with its columns (artifacts from before it)."""
    if name in artifacts.table_names:
        return artifacts.table(name)
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def management_tables(artifacts: Artifacts) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A build's ``kpis``, ``kpi_history`` and ``changes`` tables (empty, with their columns,
    for artifacts built before journey management)."""
    return (
        _table(artifacts, "kpis", KPI_COLUMNS),
        _table(artifacts, "kpi_history", HISTORY_COLUMNS),
        _table(artifacts, "changes", CHANGE_COLUMNS),
    )


@dataclass(frozen=True)
class OwnerPortfolio:
    """What one owner owns and how it is doing.

    Attributes
    ----------
    owner
        The owner as the study file names them (data: escape it where it is shown).
    stages
        ``stage, expectations, questions, tools`` of the stages they own (lists of text),
        in the study's order.
    touchpoints
        ``touchpoint, expectations, questions, tools`` of the touchpoints they own.
    kpis
        Their KPIs (rows of the published ``kpis`` table).
    history
        Those KPIs' rows of ``kpi_history`` (for trends).
    pain_points
        The ``pain_points`` rows at their stages or touchpoints (only the pain points, when
        the table says which rows are: ``is_pain_point``).
    questions
        ``where, question``: the open questions (knowledge gaps) of what they own.
    changes
        The ``changes`` rows at their stages, touchpoints or KPIs.
    alerts
        The build's alerts addressed to them.
    """

    owner: str
    stages: pd.DataFrame
    touchpoints: pd.DataFrame
    kpis: pd.DataFrame
    history: pd.DataFrame
    pain_points: pd.DataFrame
    questions: pd.DataFrame
    changes: pd.DataFrame
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``owner, n_stages, n_touchpoints, n_kpis, n_met, n_missed, n_unclear,
        n_suppressed, n_pain_points, n_questions, n_alerts``."""
        statuses = self.kpis["status"].value_counts() if not self.kpis.empty else {}
        row = {
            "owner": self.owner,
            "n_stages": len(self.stages),
            "n_touchpoints": len(self.touchpoints),
            "n_kpis": len(self.kpis),
            **{f"n_{s}": int(statuses.get(s, 0)) for s in STATUS_COLORS},
            "n_pain_points": len(self.pain_points),
            "n_questions": len(self.questions),
            "n_alerts": len(self.alerts),
        }
        return pd.DataFrame([row])

    def _repr_html_(self) -> str:
        owned = ", ".join(html.escape(str(s)) for s in self.stages["stage"]) or "no stage"
        points = ", ".join(html.escape(str(t)) for t in self.touchpoints["touchpoint"])
        questions = "".join(
            f"<li>{html.escape(str(r.where))}: {html.escape(str(r.question))}</li>"
            for r in self.questions.itertuples(index=False)
        )
        return (
            f"<div><h4>{html.escape(self.owner)}</h4><p>Stages: {owned}"
            + (f"; touchpoints: {points}" if points else "")
            + "</p>"
            + kpi_status_html(self.kpis)
            + (f"<p>Open questions:</p><ul>{questions}</ul>" if questions else "")
            + "</div>"
        )


def _parts(details: dict[str, Any], key: str, owner: str, order: Sequence[str]) -> pd.DataFrame:
    names = [name for name in order if name in details and details[name].owner == owner]
    return pd.DataFrame(
        {
            key: pd.Series(names, dtype=object),
            **{c: pd.Series([list(getattr(details[n], c)) for n in names], dtype=object)
               for c in _PART_COLUMNS},
        }
    )  # fmt: skip


def owner_portfolio(study: Study, artifacts: Artifacts, owner: str) -> OwnerPortfolio:
    """What ``owner`` owns in ``study`` and how it is doing in the build ``artifacts``.

    Returns
    -------
    OwnerPortfolio
        Empty frames where the owner owns nothing of a kind (an owner the study does not
        name owns nothing).
    """
    stages = _parts(study.stage_details, "stage", owner, study.stages)
    touchpoints = _parts(
        study.touchpoint_details, "touchpoint", owner, list(study.touchpoint_details)
    )
    kpis, history, changes = management_tables(artifacts)
    mine = kpis[kpis["owner"].astype(object) == owner].reset_index(drop=True)
    history = history[history["kpi"].isin(mine["kpi"])].reset_index(drop=True)
    owned_stages = set(stages["stage"])
    owned_points = set(touchpoints["touchpoint"])
    pains = _table(artifacts, "pain_points", ("persona", "stage", "touchpoint"))
    at = pains["stage"].astype(str).isin(owned_stages) | pains["touchpoint"].astype(str).isin(
        owned_points
    )
    if "is_pain_point" in pains.columns:
        at &= pains["is_pain_point"].fillna(False).astype(bool)
    touched = (
        changes["stage"].astype(str).isin(owned_stages)
        | changes["touchpoint"].astype(str).isin(owned_points)
        | changes["kpi"].isin(mine["kpi"])
    )
    questions = [
        (where, q)
        for frame, key in ((stages, "stage"), (touchpoints, "touchpoint"))
        for where, asked in zip(frame[key], frame["questions"], strict=True)
        for q in asked
    ]
    return OwnerPortfolio(
        owner=owner,
        stages=stages,
        touchpoints=touchpoints,
        kpis=mine,
        history=history,
        pain_points=pains[at.to_numpy()].reset_index(drop=True),
        questions=pd.DataFrame(questions, columns=["where", "question"]),
        changes=changes[touched.to_numpy()].reset_index(drop=True),
        alerts=[a for a in artifacts.alerts() if a.get("owner") == owner],
    )


def owner_portfolios(study: Study, artifacts: Artifacts) -> list[OwnerPortfolio]:
    """One :class:`OwnerPortfolio` per owner the study file names, in the order first
    named (:attr:`cjresearch.data.study.Study.owners`)."""
    return [owner_portfolio(study, artifacts, owner) for owner in study.owners]


def company_lane(study: Study, artifacts: Artifacts, *, persona: str | None = None) -> pd.DataFrame:
    """The company's side of every stage, for a lane of the journey-map canvas.

    Parameters
    ----------
    study
        The study file (``[stages.<stage>]``, ``[touchpoints.<touchpoint>]``).
    artifacts
        The build (its ``kpis`` table).
    persona
        Also the KPIs of this persona (always those of all customers).

    Returns
    -------
    pandas.DataFrame
        One row per stage, in the study's order: ``stage``, ``owner`` (missing when nobody
        is named), ``touchpoint_owners`` (``touchpoint: owner`` texts of the owned touchpoints
        that the build's touchpoints table or a KPI places at the stage), ``expectations``,
        ``questions``, ``tools`` (lists of text) and ``kpis`` (the stage's rows of the
        ``kpis`` table, a DataFrame). Texts are data: escape them
        (:func:`company_cell_html` does).
    """
    kpis, _, _ = management_tables(artifacts)
    personas = [] if persona is None else [persona]
    placed = _stage_touchpoints(artifacts)
    rows = []
    for stage in study.stages:
        details = study.stage_details.get(stage)
        at = kpis_for(kpis, personas=personas, stage=stage)
        here = placed | {(stage, str(t)) for t in at["touchpoint"].dropna()}
        owned = [
            f"{name}: {point.owner}"
            for name, point in study.touchpoint_details.items()
            if point.owner is not None and (stage, name) in here
        ]
        rows.append(
            {
                "stage": stage,
                "owner": None if details is None else details.owner,
                "touchpoint_owners": owned,
                **{c: [] if details is None else list(getattr(details, c)) for c in _PART_COLUMNS},
                "kpis": at,
            }
        )
    columns = ["stage", "owner", "touchpoint_owners", *_PART_COLUMNS, "kpis"]
    return pd.DataFrame(rows, columns=columns)


def _stage_touchpoints(artifacts: Artifacts) -> set[tuple[str, str]]:
    """``(stage, touchpoint)`` pairs of the build's touchpoints table (empty without it)."""
    if "touchpoints" not in artifacts.table_names:
        return set()
    table = artifacts.table("touchpoints")
    if not {"stage", "touchpoint"} <= set(table.columns):
        return set()
    return set(zip(table["stage"].astype(str), table["touchpoint"].astype(str), strict=True))


def company_cell_html(row: pd.Series | dict[str, Any]) -> str:
    """One stage's cell of the company lane (a row of :func:`company_lane`) as escaped HTML:
    the owner, each KPI with its value, target and status badge, the expectations, the open
    questions and the tools; empty parts are left out (a stage nobody owns says so)."""
    esc = html.escape
    owner = row["owner"]
    parts = [
        '<div class="cj-owner">'
        + (
            f"Owner: <strong>{esc(owner)}</strong>"
            if isinstance(owner, str) and owner
            else "<em>No owner named</em>"
        )
        + "</div>"
    ]
    if row["touchpoint_owners"]:
        parts.append(
            '<div class="cj-touchpoint-owners">'
            + "; ".join(esc(str(t)) for t in row["touchpoint_owners"])
            + "</div>"
        )
    for r in row["kpis"].itertuples(index=False):
        color = STATUS_COLORS.get(str(r.status), "#bab0ac")
        parts.append(
            f'<div class="cj-kpi cj-status-{esc(str(r.status))}" '
            f'style="border-left:4px solid {color};padding-left:4px">'
            f"{esc(str(r.kpi))}: {esc(format_value(str(r.metric), r.value))} "
            f"(target {esc(str(r.target))}; {esc(STATUS_WORDS.get(str(r.status), str(r.status)))})"
            "</div>"
        )
    for key, title in (("expectations", "Expected"), ("questions", "Open"), ("tools", "Tools")):
        if row[key]:
            items = "".join(f"<li>{esc(str(x))}</li>" for x in row[key])
            parts.append(f'<div class="cj-{key}">{title}:<ul>{items}</ul></div>')
    return f'<div class="cj-company">{"".join(parts)}</div>'


def kpis_for(
    kpis: pd.DataFrame, *, personas: Sequence[str] = (), stage: str | None = None
) -> pd.DataFrame:
    """The KPIs of some personas (and always those of all customers) at one stage (None:
    every stage), in the table's order."""
    keep = kpis["persona"].astype(str).isin([ALL, *personas])
    if stage is not None:
        keep &= kpis["stage"].astype(str) == stage
    return kpis[keep.to_numpy()].reset_index(drop=True)


def changes_digest(changes: pd.DataFrame, *, limit: int = 10) -> list[str]:
    """What changed since the last build, as sentences: KPI statuses first, then KPI
    changes, headline figures and personas; at most ``limit`` (and a last sentence saying
    how many more). Empty when nothing changed.

    The sentences are the ``changes`` table's ``description``: plain text (escape it)."""
    if changes.empty:
        return []
    order = {"kpi_status": 0, "kpi_change": 1, "persona_birth": 2, "persona_death": 2}
    ranked = changes.assign(_order=changes["kind"].map(order).fillna(3)).sort_values(
        ["_order", "q_value"], kind="stable", na_position="last"
    )
    lines = [str(d) for d in ranked["description"].head(limit)]
    if len(ranked) > limit:
        lines.append(f"... and {len(ranked) - limit} more changes (tables/changes.csv)")
    return lines


def kpi_status_html(
    kpis: pd.DataFrame,
    *,
    empty: str = "No KPI is defined here.",
    label: Callable[[str], str] = str,
    persona_label: Callable[[str], str] = str,
) -> str:
    """KPIs as an escaped HTML table: name, where, value with its interval and n, target,
    status (a coloured badge with the status in words), owner and change since the last
    build; ``label`` and ``persona_label`` give a stage's or touchpoint's name and a
    persona's in words."""
    if kpis.empty:
        return f"<p><em>{html.escape(empty)}</em></p>"
    rows = []
    for r in kpis.itertuples(index=False):
        where = label(str(r.stage))
        where += f" · {label(r.touchpoint)}" if isinstance(r.touchpoint, str) else ""
        where += "" if str(r.persona) == ALL else f" · {persona_label(str(r.persona))}"
        value = format_value(str(r.metric), r.value)
        if value != "suppressed" and pd.notna(r.ci_low):
            value += (
                f" ({format_value(str(r.metric), r.ci_low)} to "
                f"{format_value(str(r.metric), r.ci_high)}, n = {int(r.n_customers):,})"
            )
        change = "" if pd.isna(r.change) else format_change(str(r.metric), r.change)
        color = STATUS_COLORS.get(str(r.status), "#bab0ac")
        words = STATUS_WORDS.get(str(r.status), str(r.status))
        owner = r.owner if isinstance(r.owner, str) else "not named"
        cells = [r.kpi, where, value, r.target, None, owner, change]
        shown = [html.escape(str(c)) if c is not None else "" for c in cells]
        shown[4] = (
            f'<span class="cj-status cj-status-{html.escape(str(r.status))}" '
            f'style="background:{color};padding:1px 6px;border-radius:3px">'
            f"{html.escape(words)}</span>"
        )
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in shown) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("KPI", "Where", "Value (95% interval, n)", "Target", "Status", "Owner",
                  "Change since last build")
    )  # fmt: skip
    return (
        f'<table class="cj-table cj-kpis"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
