"""The build: a study in, artifacts and a manifest out.

So far a build validates the study's tables, writes the canonical tables and the emotion
tables as Parquet artifacts (these hold customer ids and are never published), and writes
``<output>/manifest.json``: run id, versions, input hashes, parameters, rows read, kept and
dropped per table and reason, and the emotion summary (including the text/score agreement).
Later steps (personas, statistics, reports) hang off :func:`build`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cjresearch._version import __version__
from cjresearch.config import CANONICAL_COLUMNS, Study
from cjresearch.emotion import emotion_observations, stage_emotion, text_score_agreement
from cjresearch.io import StudyTables, load_tables, write_parquet
from cjresearch.journey_map import build_map
from cjresearch.journeys import customer_features
from cjresearch.persona_model import (
    MODEL_FILE,
    PersonaModel,
    fit_personas,
    load_persona_model,
    name_overrides,
)
from cjresearch.profiles import persona_verbatims, usage_profile

__all__ = ["BuildResult", "build", "file_sha256", "package_versions"]

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


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote."""

    run_id: str
    output: Path
    artifacts: Path
    manifest_path: Path
    manifest: dict[str, Any]
    tables: StudyTables


def build(
    study: Study,
    *,
    output: str | Path | None = None,
    artifacts: str | Path | None = None,
) -> BuildResult:
    """Build a study.

    Parameters
    ----------
    study
        The validated study file.
    output
        Folder for published files (default: the study's ``[reports] output``).
    artifacts
        Folder for artifacts, which hold customer ids (default: ``[reports] artifacts``).

    Returns
    -------
    BuildResult
        Paths written and the manifest as a dict.

    Raises
    ------
    DataError
        The study's tables have fatal problems. Nothing is written in that case.
    """
    started = dt.datetime.now(dt.UTC)
    run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    output = Path(output) if output is not None else study.output_dir
    artifacts = Path(artifacts) if artifacts is not None else study.artifacts_dir

    tables = load_tables(study)

    observations = emotion_observations(
        tables.events,
        tables.feedback,
        valence=study.valence,
        rating_scale=study.emotion.rating_scale,
        cx_lexicon=study.emotion.text_lexicon,
    )
    per_stage = stage_emotion(observations)
    agreement = (
        text_score_agreement(
            tables.feedback,
            rating_scale=study.emotion.rating_scale,
            cx_lexicon=study.emotion.text_lexicon,
        )
        if tables.feedback is not None
        else None
    )

    features = customer_features(
        tables.events,
        tables.customers,
        stages=study.stages,
        observation_end=tables.observation_end,
        stage_emotion=per_stage,
        attributes=attribute_columns(tables.customers),
    )
    personas = _personas(study, tables, features, artifacts)
    assignments = personas.assignments()
    journey_map = build_map(
        tables.events,
        tables.customers,
        observations,
        per_stage,
        tables.feedback,
        stages=study.stages,
        personas=assignments,
        min_group_size=study.reports.min_group_size,
    )

    written = {
        "customers": write_parquet(tables.customers, artifacts / "customers.parquet"),
        "events": write_parquet(tables.events, artifacts / "events.parquet"),
        "emotion_observations": write_parquet(
            observations, artifacts / "emotion_observations.parquet"
        ),
        "stage_emotion": write_parquet(per_stage, artifacts / "stage_emotion.parquet"),
    }
    if tables.feedback is not None:
        written["feedback"] = write_parquet(tables.feedback, artifacts / "feedback.parquet")
    written["features"] = write_parquet(features, artifacts / "features.parquet")
    written["assignments"] = write_parquet(assignments, artifacts / "assignments.parquet")
    written["personas_model"] = personas.save(artifacts)
    published = {
        "personas": _write_csv(
            _suppress_small(personas.personas, study.reports.min_group_size),
            output / "tables" / "personas.csv",
        ),
        "persona_traits": _write_csv(
            _traits_of_publishable(personas, study.reports.min_group_size),
            output / "tables" / "persona_traits.csv",
        ),
        "persona_k_evidence": _write_csv(
            personas.evidence, output / "tables" / "persona_k_evidence.csv"
        ),
        "persona_verbatims": _write_csv(
            persona_verbatims(
                tables.feedback,
                assignments,
                min_group_size=study.reports.min_group_size,
                cx_lexicon=study.emotion.text_lexicon,
            ),
            output / "tables" / "persona_verbatims.csv",
        ),
        "persona_profile": _write_csv(
            _suppress_small(
                usage_profile(features, assignments),
                study.reports.min_group_size,
                figures=["value", "n_customers"],
            ),
            output / "tables" / "persona_profile.csv",
        ),
    }
    for name, table in journey_map.tables().items():
        written[f"journey_map/{name}"] = write_parquet(
            table, artifacts / "journey_map" / f"{name}.parquet"
        )
        published[name] = _write_csv(table, output / "tables" / f"{name}.csv")

    manifest = {
        "run_id": run_id,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "status": "ok",
        "study": {"name": study.name, "file": study.path.name, "stages": study.stages},
        "versions": package_versions(),
        "inputs": {
            table: {
                "file": path.name,
                "sha256": file_sha256(path),
                "rows_read": tables.rows_read[table],
            }
            for table in ("customers", "events", "feedback")
            if (path := study.data_path(table)) is not None
        },
        "parameters": _parameters(study),
        "observation_end": tables.observation_end.isoformat(),
        "tables": tables.summary().to_dict(orient="records"),
        "dropped_rows": [
            {"table": d.table, "reason": d.reason, "n_rows": d.n_rows} for d in tables.drops
        ],
        "emotion": {
            "n_observations": len(observations),
            "by_source": {
                str(k): int(v)
                for k, v in observations["source"].value_counts(sort=False).items()
                if v
            },
            "customer_stages_with_emotion": len(per_stage),
            "text_score_agreement": None
            if agreement is None
            else {
                "n_pairs": agreement.n_pairs,
                "spearman_rho": _finite(agreement.spearman_rho),
                "p_value": _finite(agreement.p_value),
            },
        },
        "personas": {
            "k": personas.segmentation.k,
            "method": personas.segmentation.method,
            "seed": personas.segmentation.seed,
            "features": list(personas.features),
            "names": {str(k): v for k, v in personas.names.items()},
            "births": list(personas.matching.births),
            "deaths": list(personas.matching.deaths),
            "notes": list(personas.notes),
        },
        "journey_map": {"notes": list(journey_map.notes)},
        "artifacts": {
            name: {"file": str(path.relative_to(artifacts)), "sha256": file_sha256(path)}
            for name, path in written.items()
        },
        "tables_published": {name: f"tables/{path.name}" for name, path in published.items()},
    }
    manifest_path = _write_json(manifest, output / "manifest.json")
    return BuildResult(run_id, output, artifacts, manifest_path, manifest, tables)


def attribute_columns(customers: pd.DataFrame) -> list[str]:
    """The customers' own attribute columns (everything but the canonical ones)."""
    return [c for c in customers.columns if c not in CANONICAL_COLUMNS["customers"]]


def _personas(
    study: Study, tables: StudyTables, features: pd.DataFrame, artifacts: Path
) -> PersonaModel:
    """Fit the personas, keeping ids and names of the previous build's model if there is one."""
    previous = load_persona_model(artifacts) if (artifacts / MODEL_FILE).is_file() else None
    settings = study.personas
    return fit_personas(
        features,
        tables.customers.set_index("customer_id")["churned"],
        requested=settings.features,
        k=settings.k,
        k_range=settings.k_range,
        method=settings.method,
        seed=settings.seed,
        names=name_overrides(settings.names),
        previous=previous,
    )


def _suppress_small(
    table: pd.DataFrame,
    min_group_size: int,
    *,
    figures: Sequence[str] = (
        "n_customers",
        "share",
        "churn_rate",
        "churn_ci_low",
        "churn_ci_high",
    ),
) -> pd.DataFrame:
    """Rows describing fewer customers than the minimum group size keep their row, not their
    figures, and say so in a ``suppressed`` column."""
    small = table["n_customers"] < min_group_size
    out = table.astype({"n_customers": "Int64"})
    out.loc[small, list(figures)] = pd.NA
    out["suppressed"] = small.to_numpy()
    return out


def _traits_of_publishable(personas: PersonaModel, min_group_size: int) -> pd.DataFrame:
    small = personas.personas.loc[personas.personas["n_customers"] < min_group_size, "persona_id"]
    return personas.traits[~personas.traits["persona_id"].isin(small)].reset_index(drop=True)


def _write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_csv(staging, index=False)
    staging.replace(path)
    return path


def _parameters(study: Study) -> dict[str, Any]:
    """The study's settings as JSON, without absolute paths (the manifest is published)."""
    return study.model_dump(mode="json", exclude={"path"})


def _finite(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 6)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of Python, cjresearch and the packages a build depends on."""
    versions = {"python": platform.python_version(), "cjresearch": __version__}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _write_json(payload: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    staging.replace(path)
    return path
