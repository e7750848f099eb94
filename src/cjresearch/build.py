"""The build: a study in, artifacts, reports, tables, a portal and a manifest out.

:func:`build` is the product's main job. Under the output folder's lock it

1. computes the artifacts (:func:`compute_artifacts`): validated canonical tables, emotion
   tables, journey features, personas, the journey map and the publishable tables, once per
   change of the inputs (an unchanged study and unchanged files reuse them);
2. fans out one report per persona and per stage, plus the analysis notebooks, through
   papermill (:func:`cjresearch.reporting.reports.publish_reports`), rebuilding only the
   reports whose fingerprint changed;
3. publishes the reports, the portal, ``tables/*.csv`` and ``manifest.json`` in one atomic
   step: an interrupted or failed build leaves the published folder as it was (a failing
   report keeps its previous version, marked stale).

Artifacts hold customer ids and are never published; everything under the output folder is
free of them (``tests/test_build.py`` checks).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cjresearch._version import __version__
from cjresearch.analysis.journeys import sanitise_name
from cjresearch.data.schema import CANONICAL_COLUMNS
from cjresearch.data.study import Study
from cjresearch._files import file_sha256

if TYPE_CHECKING:
    from cjresearch.analysis.personas.model import PersonaModel
    from cjresearch.data.tables import StudyTables

# The modelling modules (scikit-learn, statsmodels, papermill) are imported where they are
# used: a report kernel that opens the artifacts, and a no-op rebuild from cron, need none.

__all__ = [
    "Artifacts",
    "BuildResult",
    "attribute_columns",
    "build",
    "compute_artifacts",
    "load_artifacts",
    "package_versions",
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

#: The artifacts' record of what they were computed from (written last: a build killed
#: while computing leaves no record, so the next build computes again).
STATE_FILE = "build_state.json"
#: Publishable tables inside the artifacts folder (the same frames as ``tables/*.csv``).
TABLES_DIR = "tables"
#: Statistics tables published under another name (the journey map owns "opportunities").
STATS_TABLES = {"opportunities": "opportunity_sizing"}
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
)
#: Per-report slices of the publishable tables, so that a report's fingerprint changes only
#: when what it shows changes.
REPORTS_DIR = "reports"


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


@dataclass(frozen=True)
class BuildResult:
    """What a build did."""

    run_id: str
    output: Path
    artifacts: Artifacts
    manifest: dict[str, Any]
    reports: list[Any] = field(default_factory=list)

    @property
    def manifest_path(self) -> Path:
        return self.output / "manifest.json"

    @property
    def failures(self) -> list[Any]:
        """Reports that failed (stale: their previous version stays published)."""
        return [r for r in self.reports if r.status in ("stale", "failed")]

    @property
    def executed(self) -> list[Any]:
        """Reports whose notebook ran in this build."""
        return [r for r in self.reports if r.duration_s is not None]


def build(
    study: Study,
    *,
    output: str | Path | None = None,
    artifacts: str | Path | None = None,
    jobs: int | None = None,
    force: bool = False,
    wait: bool = False,
    progress: bool | None = None,
    reports: bool = True,
) -> BuildResult:
    """Build a study: artifacts, reports, portal, tables and manifest.

    Parameters
    ----------
    study
        The validated study file.
    output
        Folder for published files (default: the study's ``[reports] output``).
    artifacts
        Folder for artifacts, which hold customer ids (default: ``[reports] artifacts``).
    jobs
        Reports run in parallel (default: the number of cores).
    force
        Recompute the artifacts and rebuild every report, changed or not.
    wait
        Wait for a build that holds the output folder instead of failing at once.
    progress
        A progress bar (default: when the output is a terminal; plain lines otherwise).
    reports
        Run the report notebooks (False: artifacts, tables and manifest only).

    Returns
    -------
    BuildResult
        The artifacts, the manifest and every report's state (see ``failures``).

    Raises
    ------
    DataError
        The study's tables have fatal problems. Nothing is written in that case.
    OutputLockedError
        Another build holds the output folder.
    """
    # imported here: the report machinery (papermill, nbconvert) is heavy and optional for
    # callers that only compute artifacts
    from cjresearch.reporting.execute import ExecutionOptions
    from cjresearch.reporting.html import Provenance
    from cjresearch.reporting.publish import lock_output, new_run_id
    from cjresearch.reporting.reports import publish_reports

    started = dt.datetime.now(dt.UTC)
    run_id = new_run_id()
    output = Path(output) if output is not None else study.output_dir
    folder = Path(artifacts) if artifacts is not None else study.artifacts_dir
    with (
        lock_output(output, run_id=run_id, wait=wait),
        _early_pool(study, folder, jobs, force=force, reports=reports) as pool,
    ):
        computed = compute_artifacts(study, folder, force=force)
        specs = report_specs(study, computed) if reports else []
        manifest: dict[str, Any] = {
            "run_id": run_id,
            "started": started.isoformat(timespec="seconds"),
            "finished": None,
            "status": "ok",
            "study": {"name": study.name, "file": study.path.name, "stages": study.stages},
            "versions": package_versions(),
            **computed.summary,
            "artifacts_reused": computed.reused,
        }

        def stage_tables(tx: Any, results: list[Any]) -> None:
            for name in computed.table_names:
                tx.write_text(f"tables/{name}.csv", computed.table(name).to_csv(index=False))
            failures = [r for r in results if r.status in ("stale", "failed")]
            manifest["status"] = "failed" if failures else "ok"
            manifest["reports"] = [r.manifest_entry() for r in results]
            manifest["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            tx.write_text("manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")

        outcome = publish_reports(
            output,
            specs,
            portal=_portal(study, computed, run_id),
            provenance=Provenance(
                study=study.name,
                data_hashes={i["file"]: i["sha256"] for i in computed.summary["inputs"].values()},
                versions=manifest["versions"],
                run_id=run_id,
            ),
            execution=ExecutionOptions(
                jobs=jobs, notebook_timeout=study.reports.notebook_timeout, pool=pool
            ),
            force=force,
            failed_dir=folder / "failed",
            before_commit=stage_tables,
            progress=progress,
            lock=False,
        )
    if not outcome.published and (output / "manifest.json").is_file():
        # nothing changed: the published manifest is still the truth
        manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    return BuildResult(run_id, output, computed, manifest, list(outcome.reports))


def _early_pool(
    study: Study, folder: Path, jobs: int | None, *, force: bool, reports: bool
) -> contextlib.AbstractContextManager[Any]:
    """The report workers, started now when the artifacts are to be computed: their kernels
    start and import while the artifacts are computed, instead of after. None (nothing to
    start) when the artifacts are current: a build that changes nothing starts no kernel."""
    from cjresearch.reporting.execute import NotebookPool, default_jobs

    workers = jobs or default_jobs()
    if not reports or workers <= 1 or (not force and artifacts_current(study, folder)):
        return contextlib.nullcontext()
    return NotebookPool(workers)


# --- artifacts ------------------------------------------------------------------------------


def artifacts_current(study: Study, folder: str | Path) -> bool:
    """Whether ``folder`` holds the artifacts of the study as it is now (nothing to compute)."""
    fingerprint, _ = _fingerprint(study)
    return _reusable(Path(folder), fingerprint) is not None


def _fingerprint(study: Study) -> tuple[str, dict[str, dict[str, Any]]]:
    inputs = {
        table: {"file": path.name, "sha256": file_sha256(path)}
        for table in ("customers", "events", "feedback")
        if (path := study.data_path(table)) is not None and path.is_file()
    }
    payload = json.dumps(
        {"inputs": inputs, "study": _parameters(study), "cjresearch": _code_version()},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest(), inputs


def _code_version() -> str:
    """The package version and a hash of its source: a changed computation is a changed
    artifact even between releases (an editable install, a patched module)."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _reusable(folder: Path, fingerprint: str) -> dict[str, Any] | None:
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if state.get("fingerprint") != fingerprint:
        return None
    files = [folder / rel for rel in state.get("files", [])]
    if not files or not all(p.is_file() for p in files):
        return None
    return state


def compute_artifacts(study: Study, folder: str | Path, *, force: bool = False) -> Artifacts:
    """Compute (or reuse) a study's artifacts: every heavy step of a build, once.

    Parameters
    ----------
    study
        The validated study file.
    folder
        The artifacts folder.
    force
        Recompute even if the inputs, the study file and the package are unchanged.

    Returns
    -------
    Artifacts

    Raises
    ------
    DataError
        The study's tables have fatal problems.
    """
    folder = Path(folder)
    fingerprint, input_hashes = _fingerprint(study)
    state = None if force else _reusable(folder, fingerprint)
    if state is not None:
        return _artifacts(folder, state, reused=True)

    from cjresearch.analysis.cube import build_cube
    from cjresearch.analysis.emotion import (
        emotion_observations,
        stage_emotion,
        text_score_agreement,
    )
    from cjresearch.analysis.journey_map import build_map
    from cjresearch.analysis.journeys import customer_features
    from cjresearch.analysis.personas.model import publishable_tables
    from cjresearch.analysis.privacy import check_publishable
    from cjresearch.analysis.stats import analyse
    from cjresearch.data.tables import load_tables, write_parquet
    from cjresearch.errors import StatisticalWarning

    tables = load_tables(study)
    min_group = study.reports.min_group_size
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
    personas = _personas(study, tables, features, folder)
    assignments = personas.assignments()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StatisticalWarning)
        statistics = analyse(
            tables.customers,
            observations,
            per_stage,
            stages=study.stages,
            personas=assignments,
            controls=study.statistics.controls,
            unit_size=study.statistics.unit_size,
            correction=study.statistics.correction,
            alpha=study.statistics.alpha,
            min_group_size=min_group,
            observation_end=tables.observation_end,
        )
        journey_map = build_map(
            tables.events,
            tables.customers,
            observations,
            per_stage,
            tables.feedback,
            stages=study.stages,
            personas=assignments,
            min_group_size=min_group,
            emotion_churn=statistics.emotion_churn,
        )
    for warning in caught:  # reported again to the caller, and recorded in the manifest
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    statistical_warnings = sorted(
        {str(w.message) for w in caught if issubclass(w.category, StatisticalWarning)}
    )

    published: dict[str, pd.DataFrame] = {
        **publishable_tables(
            personas,
            features,
            tables.feedback,
            min_group_size=min_group,
            cx_lexicon=study.emotion.text_lexicon,
        ),
        **journey_map.tables(),
        **statistics_tables(statistics),
    }
    ids = set(tables.customers["customer_id"].astype(str))  # built once for every table
    for name, frame in published.items():
        check_publishable(frame, name=name, customer_ids=ids)

    written = [
        write_parquet(tables.customers, folder / "customers.parquet"),
        write_parquet(tables.events, folder / "events.parquet"),
        write_parquet(observations, folder / "emotion_observations.parquet"),
        write_parquet(per_stage, folder / "stage_emotion.parquet"),
        write_parquet(features, folder / "features.parquet"),
        write_parquet(assignments, folder / "assignments.parquet"),
        personas.save(folder),
    ]
    if tables.feedback is not None:
        written.append(write_parquet(tables.feedback, folder / "feedback.parquet"))
    for name, frame in published.items():
        written.append(write_parquet(frame, folder / TABLES_DIR / f"{name}.parquet"))
    reportable = _reportable(published["personas"])
    written += _write_slices(folder, published, reportable, study.stages)
    written += build_cube(
        customers=tables.customers,
        events=tables.events,
        observations=observations,
        assignments=assignments,
        stages=study.stages,
        feedback=tables.feedback,
        cx_lexicon=study.emotion.text_lexicon,
    ).save(folder)  # the explorer's pre-aggregated figures

    summary = {
        "inputs": {
            table: {**value, "rows_read": tables.rows_read[table]}
            for table, value in input_hashes.items()
        },
        "parameters": _parameters(study),
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
            "reported": [pid for pid, _ in reportable],
            "births": list(personas.matching.births),
            "deaths": list(personas.matching.deaths),
            "notes": list(personas.notes),
        },
        "journey_map": {"notes": list(journey_map.notes)},
        "statistics": {
            "settings": study.statistics.model_dump(mode="json"),
            "warnings": statistical_warnings,
        },
        "tables_published": {name: f"tables/{name}.csv" for name in published},
        "findings": _findings(published),
        "artifacts": {
            str(p.relative_to(folder)): file_sha256(p) for p in written if p.suffix != ".joblib"
        },
    }
    state = {
        "fingerprint": fingerprint,
        "summary": summary,
        "personas": [list(p) for p in reportable],
        "stages": study.stages,
        "files": sorted(str(p.relative_to(folder)) for p in written),
    }
    _write_json(state, folder / STATE_FILE)
    return _artifacts(folder, state, reused=False)


def load_artifacts(folder: str | Path) -> Artifacts | None:
    """The artifacts a build left in ``folder``, or None if it holds none (whole)."""
    folder = Path(folder)
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return _artifacts(folder, state, reused=True)


def statistics_tables(result: Any) -> dict[str, pd.DataFrame]:
    """An :class:`~cjresearch.analysis.stats.EmotionChurnResult`'s tables by published name."""
    return {STATS_TABLES.get(k, k): v for k, v in result.tables().items()}


def _artifacts(folder: Path, state: Mapping[str, Any], *, reused: bool) -> Artifacts:
    return Artifacts(
        folder=folder,
        fingerprint=str(state["fingerprint"]),
        summary=dict(state["summary"]),
        personas=tuple((int(pid), str(name)) for pid, name in state["personas"]),
        stages=tuple(state["stages"]),
        reused=reused,
    )


def _reportable(personas: pd.DataFrame) -> list[tuple[int, str]]:
    """Personas large enough to get a report of their own."""
    shown = personas[~personas["suppressed"].astype(bool)]
    return [(int(r.persona_id), str(r.persona_name)) for r in shown.itertuples(index=False)]


def _write_slices(
    folder: Path,
    tables: Mapping[str, pd.DataFrame],
    personas: list[tuple[int, str]],
    stages: list[str],
) -> list[Path]:
    """Each report's slice of the tables: a persona's rows (and "all"), a stage's rows."""
    from cjresearch.data.tables import write_parquet

    written = []
    for pid, name in personas:
        target = folder / REPORTS_DIR / f"persona-{pid}"
        for table, frame in tables.items():
            if "persona_id" in frame.columns:
                keep = frame["persona_id"].isna() | (frame["persona_id"] == pid)
            elif "persona" in frame.columns:
                keep = frame["persona"].astype(str).isin([name, "all"])
            else:
                continue
            written.append(write_parquet(frame[keep.to_numpy()], target / f"{table}.parquet"))
    for stage in stages:
        target = folder / REPORTS_DIR / f"stage-{sanitise_name(stage)}"
        for table, frame in tables.items():
            if "stage" in frame.columns:
                keep = frame["stage"].astype(str) == stage
            elif table in ("personas", "persona_k_evidence"):
                keep = pd.Series(True, index=frame.index)
            else:
                continue
            written.append(write_parquet(frame[keep.to_numpy()], target / f"{table}.parquet"))
    return written


def _findings(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """The portal's top findings, as sentences (from the statistics step when present)."""
    if "findings" in tables and not tables["findings"].empty:
        return [str(t) for t in tables["findings"].sort_values("rank")["text"].head(5)]
    opportunities = tables.get("opportunities")
    if opportunities is None or opportunities.empty:
        return []
    top = opportunities[opportunities["persona"] == "all"].sort_values("rank").head(5)
    return [str(t) for t in top["reason"]]


# --- reports --------------------------------------------------------------------------------


def report_specs(study: Study, artifacts: Artifacts) -> list[Any]:
    """One report per reportable persona and per stage, plus the analysis notebooks."""
    from cjresearch.reporting.notebooks import find_notebook
    from cjresearch.reporting.reports import ReportSpec

    common = {
        "study_file": str(study.path.resolve()),
        "artifacts_dir": str(artifacts.folder.resolve()),
    }
    specs = []
    for pid, name in artifacts.personas:
        specs.append(
            ReportSpec(
                kind="persona",
                name=name,
                notebook=find_notebook("persona_report"),
                parameters={**common, "persona": pid},
                inputs=sorted(artifacts.persona_dir(pid).glob("*.parquet")),
                title=f"Persona: {name}",
                slug=f"persona-{pid}",
            )
        )
    for stage in artifacts.stages:
        specs.append(
            ReportSpec(
                kind="stage",
                name=stage,
                notebook=find_notebook("stage_report"),
                parameters={**common, "stage": stage},
                inputs=sorted(artifacts.stage_dir(stage).glob("*.parquet")),
                title=f"Stage: {stage}",
            )
        )
    settings = study.personas
    specs.append(
        ReportSpec(
            kind="analysis",
            name="personas",
            notebook=find_notebook("personas"),
            parameters={
                **common,
                "k": settings.k,
                "method": settings.method,
                "seed": settings.seed,
            },
            inputs=sorted((artifacts.folder / TABLES_DIR).glob("persona*.parquet")),
            title="Personas: how they were found",
        )
    )
    statistics = study.statistics
    specs.append(
        ReportSpec(
            kind="analysis",
            name="emotion_churn",
            notebook=find_notebook("emotion_churn"),
            parameters={
                **common,
                "stages": [],
                "persona": "every persona",
                "controls": list(statistics.controls),
                "unit_size": statistics.unit_size,
                "correction": statistics.correction,
            },
            inputs=sorted(
                artifacts.folder / TABLES_DIR / f"{name}.parquet"
                for name in ("personas", *STATISTICS_TABLES)
            ),
            title="Emotion and churn",
        )
    )
    return specs


def _portal(study: Study, artifacts: Artifacts, run_id: str) -> Any:
    from cjresearch.reporting.portal import PortalContext

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
            ("Last day observed", _last_day(summary["observation_end"])),
            ("Stages", " → ".join(study.stages)),
            ("Personas", f"{summary['personas']['k']} ({summary['personas']['method']})"),
            ("Smallest group shown", f"{study.reports.min_group_size} customers"),
        ],
        findings=summary["findings"],
        run_id=run_id,
        has_tables=True,
    )


# --- helpers --------------------------------------------------------------------------------


def _last_day(exclusive_end: str) -> str:
    """The last day observed, from the exclusive end of observation.

    >>> _last_day("2026-07-01T00:00:00+00:00")
    '2026-06-30'
    """
    return (pd.Timestamp(exclusive_end) - pd.Timedelta(days=1)).date().isoformat()


def attribute_columns(customers: pd.DataFrame) -> list[str]:
    """The customers' own attribute columns (everything but the canonical ones)."""
    return [c for c in customers.columns if c not in CANONICAL_COLUMNS["customers"]]


def _personas(
    study: Study, tables: StudyTables, features: pd.DataFrame, artifacts: Path
) -> PersonaModel:
    """Fit the personas, keeping ids and names of the previous build's model if there is one."""
    from cjresearch.analysis.personas.model import (
        MODEL_FILE,
        fit_personas,
        load_persona_model,
        name_overrides,
    )

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


def _parameters(study: Study) -> dict[str, Any]:
    """The study's settings as JSON, without absolute paths (the manifest is published)."""
    return study.model_dump(mode="json", exclude={"path"})


def _finite(value: float) -> float | None:
    return None if pd.isna(value) else round(float(value), 6)


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
