"""The company's side on the published pages: owners, expectations and KPIs against targets.

Journey management (the study file's ``[stages.<stage>]``, ``[touchpoints.<touchpoint>]`` and
``[[kpis]]``; the published ``kpis``, ``kpi_history`` and ``changes`` tables) shown where a
reader looks:

- :meth:`Company.on_canvas`: two lanes under a persona's journey-map canvas, "The company's
  side" (per stage the owner, the touchpoints' owners, each KPI with its value, target and
  status, what customers expect, the open questions, the tools) and "KPIs against targets"
  (:func:`~cjresearch.reporting.kpi_charts.kpi_lane_chart` as a static image, and per stage
  each KPI's trend over the builds);
- :meth:`Company.stage_html`: a stage page's owner, expectations and KPI status;
- :mod:`cjresearch.reporting.owners`: an owner's page ("what I own and how it is doing");
- :func:`portal_changes` / :func:`portal_trends`: the portal's "What changed since the last
  build" sentences and KPI sparklines.

A study with no owner and no KPI has no :class:`Company` (:func:`company_for` returns None):
its pages show nothing extra. Every figure shown comes from the published (protected)
tables; every string from the study file or the data is escaped.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from cjresearch.analysis.kpis import format_change, format_value
from cjresearch.artifacts.catalog import Artifacts
from cjresearch.data.study import Study, load_study
from cjresearch.reporting.canvas import Canvas, Lane
from cjresearch.reporting.figures import Figure
from cjresearch.reporting.formats import Html
from cjresearch.reporting.kpi_charts import (
    STATUS_COLORS,
    STATUS_WORDS,
    kpi_lane_chart,
    kpi_sparkline,
    target_label,
)
from cjresearch.reporting.owner_views import (
    changes_digest,
    company_cell_html,
    company_lane,
    kpi_status_html,
    kpis_for,
    management_tables,
)

__all__ = [
    "Company",
    "company_for",
    "distinct_history",
    "kpi_trend_html",
    "owner_slug",
    "portal_changes",
    "portal_trends",
]

_esc = html.escape
#: The columns of the ``kpis`` table that the canvas shows.
KPI_SHOWN = ("kpi", "stage", "metric", "value", "ci_low", "ci_high", "n_customers", "target",
             "status", "owner")  # fmt: skip


def owner_slug(owner: str) -> str:
    """An owner page's file name (without ``.html``): never the owner's name itself, which
    is data, but a digest of it, stable from build to build.

    >>> owner_slug("Onboarding team")
    'owner-fdf7b32b52'
    """
    return "owner-" + hashlib.sha256(owner.encode("utf-8")).hexdigest()[:10]


_FIGURES = ["value", "ci_low", "ci_high", "n_customers"]


def distinct_history(history: pd.DataFrame, kpi: str) -> pd.DataFrame:
    """One KPI's rows of ``kpi_history``, oldest first, without the measurements that only
    repeat the one before (the same data measured again: no spurious point in a trend).

    Returns
    -------
    pandas.DataFrame
        The ``kpi_history`` columns (``run_id, finished_at, kpi, value, ci_low, ci_high,
        n_customers, status``).
    """
    if history.empty:
        return history
    mine = history[history["kpi"].astype(str) == kpi].reset_index(drop=True)
    figures = mine[_FIGURES].astype(object).where(mine[_FIGURES].notna(), None)
    same = [i > 0 and figures.iloc[i].tolist() == figures.iloc[i - 1].tolist()
            for i in range(len(mine))]  # fmt: skip
    return mine[[not s for s in same]].reset_index(drop=True)


def kpi_trend_html(history: pd.DataFrame, kpis: pd.DataFrame, kpi: str) -> str:
    """One KPI's trend as escaped HTML: its sparkline over the measurements that differ
    (:func:`distinct_history`; a static image with alt text) once there are two, and the
    change between the last two."""
    mine = distinct_history(history, kpi)
    row = kpis[kpis["kpi"].astype(str) == kpi]
    metric = str(row["metric"].iloc[0]) if len(row) else ""
    values = mine["value"].tolist() if not mine.empty else []
    if len(mine) < 2:
        words = "no change measured yet"  # one measurement, or the same figures again
    elif pd.isna(values[-1]) or pd.isna(values[-2]):
        words = f"{len(mine)} measurements; the last two not comparable (suppressed)"
    else:
        change = float(values[-1]) - float(values[-2])
        words = f"{len(mine)} measurements; {format_change(metric, change)} since the one before"
    picture = ""
    if mine["value"].notna().sum() >= 2:
        told = [format_value(metric, v) for v in values]
        alt = f"{kpi} over {len(mine)} measurements: from {told[0]} to {told[-1]}"
        chart = kpi_sparkline(mine, kpi, kpis=kpis)
        picture = str(Figure(chart, alt=alt).html)
    return (
        f'<div class="cj-trend"><span class="cj-small">{_esc(kpi)}: {_esc(words)}</span>'
        f"{picture}</div>"
    )


def _labelled(owned: str, label: Callable[[str], str]) -> str:
    """``touchpoint: owner`` (:func:`company_lane`) with the touchpoint in words."""
    name, _, owner = owned.partition(": ")
    return f"{label(name)}: {owner}"


@dataclass(frozen=True)
class Company:
    """The company's side of a build: the study file's owners and KPIs, the build's tables."""

    study: Study
    artifacts: Artifacts

    @cached_property
    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """``kpis``, ``kpi_history`` and ``changes`` (:func:`management_tables`)."""
        return management_tables(self.artifacts)

    def lanes(self, *, persona: str, label: Callable[[str], str] = str) -> list[Lane]:
        """The canvas's lanes for ``persona`` (its KPIs and those of all customers);
        ``label`` gives a touchpoint's name in words."""
        kpis, history, _ = self.tables
        rows = company_lane(self.study, self.artifacts, persona=persona)
        rows["touchpoint_owners"] = rows["touchpoint_owners"].map(
            lambda items: [_labelled(t, label) for t in items]
        )
        known = rows[
            rows["owner"].notna()
            | rows["touchpoint_owners"].map(bool)
            | rows["expectations"].map(bool)
            | rows["questions"].map(bool)
            | rows["tools"].map(bool)
            | rows["kpis"].map(len).astype(bool)
        ]
        lanes = []
        if not known.empty:
            cells = {str(r["stage"]): company_cell_html(r) for _, r in known.iterrows()}
            lanes.append(
                Lane(
                    key="company",
                    title="The company's side",
                    cells=cells,
                    note="owner, KPIs against their targets, what customers expect, "
                    "open questions, tools",
                )
            )
        mine = kpis_for(kpis, personas=[persona])
        if not mine.empty:
            chart = kpi_lane_chart(mine, stages=self.study.stages, persona=persona)
            alt = "KPIs against their targets, per stage: " + "; ".join(
                f"{r.kpi} {STATUS_WORDS.get(str(r.status), str(r.status))}"
                for r in mine.itertuples(index=False)
            )
            trends = {
                str(stage): "".join(kpi_trend_html(history, kpis, str(k)) for k in group["kpi"])
                for stage, group in mine.groupby(mine["stage"].astype(str), sort=False)
            }
            lanes.append(
                Lane(
                    key="kpis",
                    title="KPIs against targets",
                    cells=trends,
                    graphic=str(Figure(chart, alt=alt).html),
                    note="green met, red missed, amber unclear; trend over the builds",
                )
            )
        return lanes

    def shown_on_canvas(self, persona: str) -> dict[str, Any]:
        """What the canvas's lanes show for ``persona``, as JSON-able values: the persona
        report's fingerprint takes it instead of the whole tables, so that a new measurement
        of the same figures does not rebuild the page."""
        kpis, history, _ = self.tables
        mine = kpis_for(kpis, personas=[persona])
        columns = [c for c in (*KPI_SHOWN, "touchpoint", "persona") if c in mine.columns]
        lane = company_lane(self.study, self.artifacts, persona=persona).drop(columns="kpis")
        return {
            "lane": lane.astype(str).to_numpy().tolist(),
            "kpis": mine[columns].astype(str).to_numpy().tolist(),
            "trends": {
                str(k): distinct_history(history, str(k))[["finished_at", *_FIGURES]]
                .astype(str)
                .to_numpy()
                .tolist()
                for k in mine["kpi"]
            },
        }

    def on_canvas(
        self, canvas: Canvas, *, persona: str, label: Callable[[str], str] = str
    ) -> Canvas:
        """``canvas`` with the company's lanes added at its end."""
        for lane in self.lanes(persona=persona, label=label):
            canvas = canvas.with_lane(lane)
        return canvas

    def stage_html(self, stage: str, label: Callable[[str], str] = str) -> Html:
        """A stage page's section: the owner, the touchpoints' owners, what customers expect,
        the open questions and tools, then the stage's KPIs with their status; ``label``
        gives names in words (and personas' through its ``persona``, as the build's words
        do)."""
        kpis, _, _ = self.tables
        rows = company_lane(self.study, self.artifacts)
        row = rows[rows["stage"] == stage].iloc[0].to_dict()
        row["touchpoint_owners"] = [_labelled(t, label) for t in row["touchpoint_owners"]]
        persona_label = getattr(label, "persona", str)
        here = kpis_for(kpis, personas=[str(p) for p in kpis["persona"].unique()], stage=stage)
        row["kpis"] = here.iloc[:0]  # the KPIs are the table below
        return Html(
            '<section class="cj-management">'
            + company_cell_html(row)
            + "<h4>KPIs against their targets</h4>"
            + kpi_status_html(
                here,
                empty="No KPI is defined at this stage.",
                label=label,
                persona_label=persona_label,
            )
            + "</section>"
        )


def company_for(artifacts: Artifacts, study_file: str | Path | None) -> Company | None:
    """The company's side of a build, or None when there is no study file or it names no
    owner and no KPI (its pages show nothing extra)."""
    if study_file is None:
        return None
    study = load_study(study_file)
    if not study.owners and not study.kpis:
        return None
    return Company(study=study, artifacts=artifacts)


def portal_changes(artifacts: Artifacts) -> list[str]:
    """The portal's "What changed since the last build": the changes as sentences, or one
    sentence saying that this is the first build, or that nothing changed beyond chance."""
    _, history, changes = management_tables(artifacts)
    runs = history["run_id"].nunique() if not history.empty else 0
    if runs < 2:
        return ["This is the first build: there is nothing earlier to compare with."]
    lines = changes_digest(changes)
    return lines or ["Nothing changed beyond chance since the last build."]


def portal_trends(artifacts: Artifacts) -> list[dict[str, str]]:
    """The portal's KPI tiles: ``kpi, status, words, value, target, owner, trend`` (the
    trend as escaped HTML with its sparkline) per KPI, in the study's order. Texts are
    data: the portal's template escapes them; ``trend`` is HTML."""
    kpis, history, _ = management_tables(artifacts)
    tiles = []
    for r in kpis.itertuples(index=False):
        status = str(r.status)
        tiles.append(
            {
                "kpi": str(r.kpi),
                "status": status,
                "words": STATUS_WORDS.get(status, status),
                "color": STATUS_COLORS.get(status, "#bab0ac"),
                "value": format_value(str(r.metric), r.value),
                "target": target_label(r.target, str(r.metric)),
                "owner": r.owner if isinstance(r.owner, str) else "not named",
                "trend": kpi_trend_html(history, kpis, str(r.kpi)),
            }
        )
    return tiles
