"""The build manifest: what a build read, dropped, computed and published, and with what.

``manifest.json`` is published beside the reports. Its computed part (inputs and their
SHA-256, rows read and dropped, emotion sources, personas, the models' warnings, every
artifact's hash) is made once with the artifacts (:func:`artifacts_summary`) and kept in their
``build_state.json``; the build adds the run (id, times, versions, status) and each report's
entry (:func:`start_manifest`, :func:`finish_manifest`). No entry holds a customer id or an
absolute path. The computation adds ``steps``: one entry per step of the artifacts as
measured (``step``, ``wall_s``, ``cpu_s``, ``rss_mb``, ``step_peak_rss_mb``, ``peak_rss_mb``).
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cjresearch._files import file_sha256, utc_stamp
from cjresearch._version import __version__

if TYPE_CHECKING:
    import datetime as dt

    from cjresearch.analysis.personas.model import PersonaModel
    from cjresearch.artifacts.catalog import Artifacts
    from cjresearch.artifacts.compute import Emotion
    from cjresearch.data.study import Study
    from cjresearch.data.tables import StudyTables

__all__ = [
    "artifacts_summary",
    "finish_manifest",
    "package_versions",
    "parameters",
    "start_manifest",
]

_PACKAGES = (
    "pandas",
    "numpy",
    "pyarrow",
    "pandera",
    "pydantic",
    "vaderSentiment",
    "scipy",
    "statsmodels",
    "scikit-learn",
    "altair",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "vl-convert-python",
)


def package_versions() -> dict[str, str]:
    """Versions of Python, cjresearch and the packages a build depends on."""
    versions = {"python": platform.python_version(), "cjresearch": __version__}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def parameters(study: Study) -> dict[str, Any]:
    """The study's settings as JSON, without absolute paths (the manifest is published),
    under the study file's own keys (``[stages.<stage>]`` sections as ``stages``)."""
    return study.model_dump(mode="json", exclude={"path"}, by_alias=True)


def _finite(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 6)


def artifacts_summary(
    study: Study,
    tables: StudyTables,
    input_hashes: Mapping[str, dict[str, Any]],
    emotion: Emotion,
    model: PersonaModel,
    *,
    reportable: Sequence[tuple[int, str]],
    journey_notes: Sequence[str],
    warnings: Sequence[str],
    published: Mapping[str, pd.DataFrame],
    disclosure: Mapping[str, Mapping[str, int]],
    written: Mapping[str, Path],
) -> dict[str, Any]:
    """The computed part of the manifest (kept with the artifacts)."""
    observations, agreement = emotion.observations, emotion.agreement
    segmentation = model.segmentation
    return {
        "inputs": {
            table: {**value, "rows_read": tables.rows_read[table]}
            for table, value in input_hashes.items()
        },
        "parameters": parameters(study),
        "observation_end": tables.observation_end.isoformat(),
        "tables": tables.summary().to_dict(orient="records"),
        "dropped_rows": [
            {"table": d.table, "reason": d.reason, "n_rows": d.n_rows} for d in tables.drops
        ],
        "counts": {
            "customers": len(tables.customers),
            "events": len(tables.events),
            "feedback": 0 if tables.feedback is None else len(tables.feedback),
        },
        "emotion": {
            "n_observations": len(observations),
            "by_source": {
                str(k): int(v)
                for k, v in observations["source"].value_counts(sort=False).items()
                if v
            },
            "customer_stages_with_emotion": len(emotion.per_stage),
            "text_score_agreement": None
            if agreement is None
            else {
                "n_pairs": agreement.n_pairs,
                "spearman_rho": _finite(agreement.spearman_rho),
                "p_value": _finite(agreement.p_value),
            },
        },
        "personas": {
            "k": segmentation.k,
            "method": segmentation.method,
            "seed": segmentation.seed,
            "features": list(model.features),
            "names": {str(k): v for k, v in model.names.items()},
            "reported": [pid for pid, _ in reportable],
            "births": list(model.matching.births),
            "deaths": list(model.matching.deaths),
            "notes": list(model.notes),
        },
        "journey_map": {"notes": list(journey_notes)},
        "statistics": {
            "settings": study.statistics.model_dump(mode="json"),
            "warnings": list(warnings),
        },
        "tables_published": {name: f"tables/{name}.csv" for name in published},
        # rows of the published tables blanked or removed by the last suppression pass
        "disclosure": {key: dict(value) for key, value in disclosure.items()},
        "findings": top_findings(published),
        "artifacts": {
            relative: file_sha256(path)
            for relative, path in written.items()
            if path.suffix != ".joblib"
        },
    }


def top_findings(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """The portal's top findings, as sentences (from the statistics step when present)."""
    if "findings" in tables and not tables["findings"].empty:
        return [str(t) for t in tables["findings"].sort_values("rank")["text"].head(5)]
    opportunities = tables.get("opportunities")
    if opportunities is None or opportunities.empty:
        return []
    from cjresearch.data.schema import ALL

    top = opportunities[opportunities["persona"] == ALL].sort_values("rank").head(5)
    return [str(t) for t in top["reason"]]


def start_manifest(
    run_id: str, started: dt.datetime, study: Study, artifacts: Artifacts
) -> dict[str, Any]:
    """The manifest of a build whose reports have not run yet."""
    return {
        "run_id": run_id,
        "started": utc_stamp(started),
        "finished": None,
        "status": "ok",
        "study": {"name": study.name, "file": study.path.name, "stages": study.stages},
        "versions": package_versions(),
        **artifacts.summary,
        "artifacts_reused": artifacts.reused,
    }


def finish_manifest(manifest: Mapping[str, Any], reports: Sequence[Any]) -> dict[str, Any]:
    """The manifest with every report's entry, the build's status and its end."""
    failures = [r for r in reports if r.status in ("stale", "failed")]
    return {
        **manifest,
        "status": "failed" if failures else "ok",
        "reports": [r.manifest_entry() for r in reports],
        "finished": utc_stamp(),
    }
