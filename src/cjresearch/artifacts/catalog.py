"""The catalog of a build's artifacts: every artifact's name, and typed access to each.

A build computes a study's artifacts once per change of its inputs
(:func:`cjresearch.artifacts.compute.compute_artifacts`) into one folder:

========================================  =====================================================
``customers.parquet``                     the validated canonical customers (ids: never publish)
``events.parquet``, ``feedback.parquet``  the validated events and feedback
``emotion_observations.parquet``          every emotion signal on [-1, 1], one row each
``stage_emotion.parquet``                 customer x stage mean emotion
``stage_reach.parquet``                   customer x stage first and last event or feedback
                                          (when each customer reached each stage)
``features.parquet``                      one row of journey features per customer
``assignments.parquet``                   customer -> persona
``personas_model.joblib``                 the fitted persona model (for the next build and
                                          ``cjresearch assign``)
``explorer_cube.npz``,                    the explorer's pre-aggregated figures
``explorer_verbatims.parquet``
``tables/<name>.parquet``                 every publishable table (``tables/<name>.csv`` of the
                                          published site), free of ids and small counts
``reports/persona-<id>/``,                each report's slice of the publishable tables, so
``reports/stage-<name>/``                 that a report is rebuilt only when what it shows
                                          changes
``alerts.json``                           the build's alerts (published as ``alerts.json``)
``history/measurements.jsonl``            every build's KPIs and headline figures
                                          (:mod:`cjresearch.artifacts.history`): appended,
                                          never recomputed; keep it when clearing the folder
``build_state.json``                      what the artifacts were computed from (written last)
========================================  =====================================================

:class:`Artifacts` is the handle the build, the report views and the explorer share.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cjresearch.analysis.journeys import sanitise_name
from cjresearch.analysis.settings import Settings
from cjresearch.data.schema import ALL

if TYPE_CHECKING:
    from cjresearch.analysis.cube import Cube
    from cjresearch.analysis.personas.model import PersonaModel

__all__ = [
    "ALERTS",
    "ASSIGNMENTS",
    "CUSTOMERS",
    "EVENTS",
    "FEATURES",
    "FEEDBACK",
    "OBSERVATIONS",
    "REPORTS_DIR",
    "STAGE_EMOTION",
    "STAGE_REACH",
    "STATE_FILE",
    "STATISTICS_TABLES",
    "TABLES_DIR",
    "Artifacts",
    "load_artifacts",
    "reportable_personas",
    "statistics_tables",
]

CUSTOMERS = "customers.parquet"
EVENTS = "events.parquet"
FEEDBACK = "feedback.parquet"
OBSERVATIONS = "emotion_observations.parquet"
STAGE_EMOTION = "stage_emotion.parquet"
STAGE_REACH = "stage_reach.parquet"
FEATURES = "features.parquet"
ASSIGNMENTS = "assignments.parquet"
#: The build's alerts, a JSON list (published as ``<output>/alerts.json``).
ALERTS = "alerts.json"
#: The artifacts' record of what they were computed from (written last: a build killed
#: while computing leaves no record, so the next build computes again).
STATE_FILE = "build_state.json"
#: Publishable tables inside the artifacts folder (the same frames as ``tables/*.csv``).
TABLES_DIR = "tables"
#: Per-report slices of the publishable tables.
REPORTS_DIR = "reports"
#: Statistics tables published under another name (the journey map owns "opportunities").
_RENAMED = {"opportunities": "opportunity_sizing"}
#: The statistics step's published tables, by published name.
STATISTICS_TABLES = (
    "emotion_churn",
    "time_to_churn",
    "findings",
    "emotion_churn_joint",
    "emotion_churn_joint_diagnostics",
    "km_curves",
    "logrank",
    "opportunity_sizing",
    "emotion_churn_lag",
    "emotion_churn_nonresponse",
)


@dataclass(frozen=True)
class Artifacts:
    """The artifacts of a study: where they are and what the build computed.

    Attributes
    ----------
    folder
        The artifacts folder.
    fingerprint
        SHA-256 of the inputs' hashes, the study's settings, the package version and a hash
        of the package's source.
    summary
        The computed part of the manifest (inputs, rows, drops, emotion, personas...).
    personas
        ``(persona_id, persona_name)`` of the personas large enough to report on.
    stages
        The study's stages.
    reused
        True when nothing had changed and the artifacts were not recomputed.
    """

    folder: Path
    fingerprint: str
    summary: dict[str, Any]
    personas: tuple[tuple[int, str], ...]
    stages: tuple[str, ...]
    reused: bool = False

    def table(self, name: str) -> pd.DataFrame:
        """A publishable table (as ``tables/<name>.csv``)."""
        return pd.read_parquet(self.folder / TABLES_DIR / f"{name}.parquet")

    @property
    def table_names(self) -> list[str]:
        """The publishable tables, by name."""
        return list(self.summary["tables_published"])

    def persona_dir(self, persona_id: int) -> Path:
        """The slice of the tables that persona ``persona_id``'s report reads."""
        return self.folder / REPORTS_DIR / f"persona-{int(persona_id)}"

    def stage_dir(self, stage: str) -> Path:
        """The slice of the tables that ``stage``'s report reads."""
        return self.folder / REPORTS_DIR / f"stage-{sanitise_name(stage)}"

    def read(self, name: str) -> pd.DataFrame | None:
        """A customer-level artifact (``CUSTOMERS``, ``EVENTS``...), or None if the build
        wrote none (a study without feedback has no ``FEEDBACK``)."""
        path = self.folder / name
        return pd.read_parquet(path) if path.is_file() else None

    def customer_ids(self) -> list[str]:
        """The study's customer ids (to redact them from anything published), or none when
        the artifacts hold no customers."""
        path = self.folder / CUSTOMERS
        if not path.is_file():
            return []
        return pd.read_parquet(path, columns=["customer_id"])["customer_id"].astype(str).tolist()

    def persona_model(self) -> PersonaModel:
        """The fitted persona model."""
        from cjresearch.analysis.personas.model import load_persona_model

        return load_persona_model(self.folder)

    def cube(self) -> Cube | None:
        """The explorer's cube, or None in artifacts built before the explorer existed."""
        from cjresearch.analysis.cube import load_cube

        return load_cube(self.folder)

    def settings(self) -> Settings:
        """The analysis settings the artifacts were computed with (from the study file's
        parameters recorded in the summary)."""
        from cjresearch.data.study import study_from_dict

        study = study_from_dict(self.summary["parameters"], path=self.folder / "study.toml")
        return Settings.from_study(study)

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts of the measurement these artifacts hold (``alerts.json``; empty in
        artifacts built before alerts existed)."""
        path = self.folder / ALERTS
        if not path.is_file():
            return []
        return list(json.loads(path.read_text(encoding="utf-8")))

    @property
    def measurement(self) -> str | None:
        """The run id of the measurement these artifacts hold (recorded in the history), or
        None in artifacts built before the history existed."""
        found = self.summary.get("journey_management") or {}
        return found.get("measurement")

    @property
    def observation_end(self) -> pd.Timestamp:
        """The (exclusive) end of observation the artifacts were computed with."""
        return pd.Timestamp(self.summary["observation_end"])


def load_artifacts(folder: str | Path) -> Artifacts | None:
    """The artifacts a build left in ``folder``, or None if it holds none (whole)."""
    folder = Path(folder)
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return artifacts_from_state(folder, state, reused=True)


def artifacts_from_state(folder: Path, state: Mapping[str, Any], *, reused: bool) -> Artifacts:
    """The :class:`Artifacts` a ``build_state.json`` record describes."""
    return Artifacts(
        folder=folder,
        fingerprint=str(state["fingerprint"]),
        summary=dict(state["summary"]),
        personas=tuple((int(pid), str(name)) for pid, name in state["personas"]),
        stages=tuple(state["stages"]),
        reused=reused,
    )


def statistics_tables(result: Any) -> dict[str, pd.DataFrame]:
    """An :class:`~cjresearch.analysis.stats.EmotionChurnResult`'s tables by published name."""
    return {_RENAMED.get(k, k): v for k, v in result.tables().items()}


def reportable_personas(personas: pd.DataFrame) -> list[tuple[int, str]]:
    """Personas large enough to get a report of their own (the ``personas`` table's
    unsuppressed rows)."""
    shown = personas[~personas["suppressed"].astype(bool)]
    return [(int(r.persona_id), str(r.persona_name)) for r in shown.itertuples(index=False)]


def report_slices(
    tables: Mapping[str, pd.DataFrame],
    personas: list[tuple[int, str]],
    stages: list[str],
) -> dict[str, pd.DataFrame]:
    """Each report's slice of the tables by path relative to the artifacts folder: a
    persona's rows (and all customers'), a stage's rows; the ``labels`` a persona's page
    uses (not the other personas' names: renaming one persona rebuilds only its page)."""
    slices: dict[str, pd.DataFrame] = {}
    for pid, name in personas:
        for table, frame in tables.items():
            if "persona_id" in frame.columns:
                keep = frame["persona_id"].isna() | (frame["persona_id"] == pid)
            elif "persona" in frame.columns:
                keep = frame["persona"].astype(str).isin([name, ALL])
            elif table == "labels":  # the words of the data, and of this persona's name only
                keep = (frame["kind"] != "persona") | (frame["name"].astype(str) == name)
            else:
                continue
            slices[f"{REPORTS_DIR}/persona-{pid}/{table}.parquet"] = frame[keep.to_numpy()]
    for stage in stages:
        for table, frame in tables.items():
            if table == "findings":  # a study-wide caveat (stage "") belongs in every report
                keep = frame["stage"].astype(str).isin([stage, ""])
            elif "stage" in frame.columns:
                keep = frame["stage"].astype(str) == stage
            elif table in ("personas", "persona_k_evidence", "labels"):
                keep = pd.Series(True, index=frame.index)
            else:
                continue
            folder = f"{REPORTS_DIR}/stage-{sanitise_name(stage)}"
            slices[f"{folder}/{table}.parquet"] = frame[keep.to_numpy()]
    return slices
