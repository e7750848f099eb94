"""Journey management in a build: KPIs against targets, compared with the last build.

:func:`track` is the body of the build's management step
(:func:`cjresearch.artifacts.compute.management`): it measures every KPI and headline
figure (:func:`cjresearch.analysis.kpis.measure`), compares them with the history's last
measurement (:mod:`cjresearch.analysis.changes`) and makes the publishable ``kpis``,
``kpi_history`` and ``changes`` tables and the alerts, each checked to hold no customer id.
The measurement itself is recorded in the history by the computation, once the artifacts
are complete (:func:`cjresearch.artifacts.history.record`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from cjresearch._files import utc_stamp
from cjresearch.analysis.settings import Settings
from cjresearch.artifacts.history import HISTORY_FILE, Measurement, history_table

if TYPE_CHECKING:
    from cjresearch.data.study import Study
    from cjresearch.data.tables import StudyTables

__all__ = ["Management", "track"]


@dataclass(frozen=True)
class Management:
    """The management step's output.

    Attributes
    ----------
    measurement
        This build's figures, as the history keeps them.
    previous
        The measurement compared with (the history's last), or None.
    n_past
        How many measurements the history held before this one.
    tables
        The publishable ``kpis``, ``kpi_history`` (every measurement's, this one's last) and
        ``changes`` tables.
    alerts
        KPIs newly missed and figures that worsened beyond chance
        (:func:`cjresearch.analysis.changes.alert_table`).
    """

    measurement: Measurement
    previous: Measurement | None
    n_past: int
    tables: dict[str, pd.DataFrame]
    alerts: pd.DataFrame

    def summary(self) -> dict[str, Any]:
        """The manifest's ``journey_management`` entry."""
        statuses = self.tables["kpis"]["status"].value_counts()
        return {
            "measurement": self.measurement.run_id,
            "measured_at": self.measurement.finished_at,
            "previous_measurement": None if self.previous is None else self.previous.run_id,
            "measurements": self.n_past + 1,
            "history": HISTORY_FILE,
            "kpis": {str(k): int(v) for k, v in statuses.items()},
            "changes": len(self.tables["changes"]),
            "alerts": len(self.alerts),
        }

    def alert_records(self) -> list[dict[str, Any]]:
        """The alerts as JSON records (``alerts.json``): missing values as null."""
        return [
            {k: None if v is None or pd.isna(v) else _plain(v) for k, v in row.items()}
            for row in self.alerts.astype(object).to_dict(orient="records")
        ]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def track(
    study: Study,
    tables: StudyTables,
    *,
    per_stage: pd.DataFrame,
    observations: pd.DataFrame,
    assignments: pd.DataFrame | None,
    personas: pd.DataFrame,
    settings: Settings,
    past: list[Measurement],
    run_id: str,
    fingerprint: str,
) -> Management:
    """Measure a build's KPIs and headline figures and compare them with the last of
    ``past``.

    Parameters
    ----------
    study
        The study file (its ``[[kpis]]``, and the owners of the stages for alerts).
    tables
        The validated canonical tables.
    per_stage, observations
        The emotion step's stage emotion and observations.
    assignments
        ``customer_id, persona_id, persona_name``.
    personas
        The published personas table (``persona_id, persona_name``), for births and deaths.
    settings
        The analysis settings (``min_group_size``, ``alpha``, ``correction``).
    past
        The history's measurements, oldest first.
    run_id, fingerprint
        This build's run id and its artifacts' fingerprint.

    Returns
    -------
    Management
    """
    from cjresearch.analysis import changes, kpis
    from cjresearch.analysis.privacy import check_publishable

    figures = kpis.measure(
        tables.customers,
        tables.events,
        tables.feedback,
        per_stage,
        observations,
        kpis=kpis.definitions_from_study(study),
        personas=assignments,
        settings=settings,
    )
    previous = past[-1] if past else None
    compared = changes.compare(
        figures, None if previous is None else previous.figures, settings=settings
    )
    now = Measurement(
        run_id=run_id,
        finished_at=utc_stamp(),
        fingerprint=fingerprint,
        personas=tuple(
            (int(r.persona_id), str(r.persona_name)) for r in personas.itertuples(index=False)
        ),
        figures=figures,
    )
    before = None if previous is None else previous.run_id
    managed = Management(
        measurement=now,
        previous=previous,
        n_past=len(past),
        tables={
            "kpis": changes.kpi_table(figures, compared),
            "kpi_history": history_table([*past, now]),
            "changes": changes.changes_table(
                figures,
                compared,
                previous_run_id=before,
                personas=now.personas,
                previous_personas=None if previous is None else previous.personas,
            ),
        },
        alerts=changes.alert_table(
            figures,
            compared,
            previous_run_id=before,
            owners={stage: study.owner_of(stage) for stage in study.stages},
        ),
    )
    ids = set(tables.customers["customer_id"].astype(str))
    for name, frame in {**managed.tables, "alerts": managed.alerts}.items():
        check_publishable(frame, name=name, customer_ids=ids)
    return managed
