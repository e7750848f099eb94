"""Which reports a build publishes from its artifacts, and what its portal says.

One persona report per persona large enough to show (:attr:`Artifacts.personas`), one stage
report per stage, one owner report per owner the study file names (its file name a digest
of the owner, :func:`~cjresearch.reporting.company.owner_slug`), and the two analysis
notebooks (how the personas were found; emotion and churn). Each report reads its own slice
of the publishable tables, so that its fingerprint changes only when what it shows changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cjresearch.artifacts.catalog import ALERTS, STATISTICS_TABLES, TABLES_DIR, Artifacts
from cjresearch.data.study import Study
from cjresearch.reporting.company import Company, owner_slug, portal_changes, portal_trends
from cjresearch.reporting.notebooks import find_notebook
from cjresearch.reporting.portal import PortalContext
from cjresearch.reporting.reports import ReportSpec
from cjresearch.reporting.summary import executive_summary
from cjresearch.reporting.views import words_for

__all__ = ["portal_context", "report_specs"]


def report_specs(study: Study, artifacts: Artifacts) -> list[ReportSpec]:
    """One report per reportable persona and per stage, plus the analysis notebooks."""
    common = {
        "study_file": str(study.path.resolve()),
        "artifacts_dir": str(artifacts.folder.resolve()),
    }
    # every page uses the build's words (tables/labels.csv): a changed label rebuilds them
    # (a persona's or stage's slice holds the labels it uses)
    words = [p for p in [artifacts.folder / TABLES_DIR / "labels.parquet"] if p.is_file()]
    vocabulary = words_for(artifacts)
    # the company's side (owners, expectations: the study file; KPIs: their tables) is on
    # the persona and stage pages when the study names it: a change of it rebuilds them
    managed = bool(study.owners or study.kpis)
    side = _company_side(study) if managed else {}
    tables = artifacts.folder / TABLES_DIR
    kpi_files = [tables / f"{n}.parquet" for n in ("kpis", "touchpoints")] if managed else []
    company = Company(study=study, artifacts=artifacts)

    def shown(kind: str, name: str) -> str:
        return vocabulary.persona(name) if kind == "persona" else vocabulary(name)

    def sliced(
        kind: str, name: str, value: object, folder: Path, slug: str | None = None
    ) -> ReportSpec:
        # a persona's or a stage's report: its own slice of the tables, one parameter, and
        # the company's side: a stage's from the KPI tables; a persona canvas's as it shows
        # it (a new measurement of the same figures rebuilds no persona page)
        persona = kind == "persona" and managed
        reads = [] if persona else kpi_files
        return ReportSpec(
            kind=kind,
            name=name,
            notebook=find_notebook(f"{kind}_report"),
            parameters={**common, kind: value},
            inputs=sorted(p for p in [*folder.glob("*.parquet"), *reads] if p.is_file()),
            title=f"{kind.capitalize()}: {shown(kind, name)}",
            slug=slug,
            shows={**side, "canvas": company.shown_on_canvas(name)} if persona else side,
        )

    specs = [
        sliced("persona", name, pid, artifacts.persona_dir(pid), slug=f"persona-{pid}")
        for pid, name in artifacts.personas
    ]
    specs += [
        sliced("stage", stage, stage, artifacts.stage_dir(stage)) for stage in artifacts.stages
    ]
    specs += [
        ReportSpec(
            kind="owner",
            name=owner,
            notebook=find_notebook("owner_report"),
            parameters={**common, "owner": owner},
            inputs=_owner_inputs(artifacts),
            title=f"Owner: {owner}",
            slug=owner_slug(owner),
            shows=side,
        )
        for owner in study.owners
    ]
    chosen, statistics = study.personas, study.statistics
    analyses: dict[str, tuple[dict[str, Any], list[Path], str]] = {  # parameters, reads, title
        "personas": (
            {"k": chosen.k, "method": chosen.method, "seed": chosen.seed},
            sorted([*tables.glob("persona*.parquet"), *words]),
            "Personas: how they were found",
        ),
        "emotion_churn": (
            {
                "stages": [],
                "persona": "every persona",
                "controls": list(statistics.controls),
                "unit_size": statistics.unit_size,
                "correction": statistics.correction,
            },
            sorted(
                [*(tables / f"{name}.parquet" for name in ("personas", *STATISTICS_TABLES)), *words]
            ),
            "Emotion and churn",
        ),
    }
    specs += [
        ReportSpec(
            kind="analysis",
            name=name,
            notebook=find_notebook(name),
            parameters={**common, **parameters},
            inputs=inputs,
            title=title,
        )
        for name, (parameters, inputs, title) in analyses.items()
    ]
    return specs


def _owner_inputs(artifacts: Artifacts) -> list[Path]:
    """The files an owner's page reads: the published tables of KPIs, their history, the
    changes, the pain points, the touchpoints and the words; the alerts."""
    tables = artifacts.folder / TABLES_DIR
    names = ("kpis", "kpi_history", "changes", "pain_points", "touchpoints", "labels")
    found = [*(tables / f"{name}.parquet" for name in names), artifacts.folder / ALERTS]
    return sorted(p for p in found if p.is_file())


def _company_side(study: Study) -> dict[str, Any]:
    """The study file's company side as the pages show it (owners, expectations, questions,
    tools per stage and touchpoint): a change of it, and only that, rebuilds them."""
    return {
        kind: {name: d.model_dump(mode="json") for name, d in details.items()}
        for kind, details in (
            ("stages", study.stage_details),
            ("touchpoints", study.touchpoint_details),
        )
    }


def portal_context(study: Study, artifacts: Artifacts, run_id: str) -> PortalContext:
    """The portal's study summary, executive summary, top findings, what changed since the
    last build and the KPIs' trends."""
    summary = artifacts.summary
    counts = summary["counts"]
    dropped = sum(d["n_rows"] for d in summary["dropped_rows"])
    return PortalContext(
        study=study.name,
        summary=[
            ("Customers", f"{counts['customers']:,}"),
            ("Events", f"{counts['events']:,}"),
            ("Feedback rows", f"{counts['feedback']:,}"),
            ("Rows dropped (counted in the manifest)", f"{dropped:,}"),
            # observation_end is exclusive: the last day observed is the day before
            ("Last day observed", last_day(summary["observation_end"])),
            ("Stages", " → ".join(study.stages)),
            ("Personas", f"{summary['personas']['k']} ({summary['personas']['method']})"),
            ("Smallest group shown", f"{study.reports.min_group_size} customers"),
        ],
        findings=summary["findings"],
        run_id=run_id,
        has_tables=True,
        executive=executive_summary(artifacts),
        changes=portal_changes(artifacts),
        kpi_trends=portal_trends(artifacts),
    )


def last_day(exclusive_end: str) -> str:
    """The last day observed, from the exclusive end of observation: the day after the study
    file's ``observation_end``, or just after the latest event when it sets none.

    >>> last_day("2026-07-01T00:00:00+00:00")
    '2026-06-30'
    >>> last_day("2026-06-30T14:05:01+00:00")  # the latest event at 14:05:00
    '2026-06-30'
    """
    return (pd.Timestamp(exclusive_end) - pd.Timedelta(1, "ns")).date().isoformat()
