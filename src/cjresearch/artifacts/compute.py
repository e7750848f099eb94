"""A study in, its artifacts out: the computation of a build, as named steps, once.

:func:`compute_artifacts` runs the steps in order and writes what they made into the
artifacts folder (see :mod:`cjresearch.artifacts.catalog` for every file):

1. :func:`load`: the study's three tables, read and validated, every dropped row counted;
2. :func:`emotion`: every emotion signal on one scale, and each customer's mean per stage;
3. :func:`features`: one row of journey features per customer;
4. :func:`personas`: segmentation, stable identities, profiles and names (keeping the ids
   and names of the previous build's model);
5. :func:`statistics`: when each customer reached each stage (from the events and feedback),
   then emotion and churn (landmark logistic, lagged survival and joint models, the lag
   table, findings);
6. :func:`journey_map`: the persona x stage map, flows, pain points, opportunities;
7. :func:`publishable`: every table as published, checked to hold no id;
8. :func:`cube`: the explorer's pre-aggregated figures;
9. :func:`management`: the KPIs against their targets and the journey map's headline
   figures, compared with the previous build's (what changed, alerts);
10. the files, then ``build_state.json``, then the measurement is added to the history
    (:mod:`cjresearch.artifacts.history`), which outlives every recomputation.

The steps are the one way from a study to its figures: the build, the report views'
recomputations with other settings (:func:`refit_personas`, :func:`reanalyse`), ``cjresearch
assign`` (:func:`assign_new_customers`), the explorer (:func:`open_cube`) and the tests call
them. Nothing below this layer computes artifacts; nothing above it computes them another way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from cjresearch._files import file_sha256, write_json
from cjresearch._version import __version__
from cjresearch.analysis.settings import Settings
from cjresearch.artifacts import history, manifest, tracking
from cjresearch.artifacts._steps import Steps
from cjresearch.artifacts.catalog import (
    ALERTS,
    ASSIGNMENTS,
    CUSTOMERS,
    EVENTS,
    FEATURES,
    FEEDBACK,
    OBSERVATIONS,
    STAGE_EMOTION,
    STAGE_REACH,
    STATE_FILE,
    TABLES_DIR,
    Artifacts,
    artifacts_from_state,
    load_artifacts,
    report_slices,
    reportable_personas,
    statistics_tables,
)
from cjresearch.data.engine import location_sha256
from cjresearch.data.schema import CANONICAL_COLUMNS
from cjresearch.data.study import Study, load_study
from cjresearch.errors import CJResearchError, DataWarning, StatisticalWarning

if TYPE_CHECKING:
    from cjresearch.analysis.cube import Cube
    from cjresearch.analysis.disclosure import Disclosure
    from cjresearch.analysis.emotion import TextAgreement
    from cjresearch.analysis.journey_map import JourneyMap
    from cjresearch.analysis.personas.model import PersonaModel
    from cjresearch.analysis.stats import EmotionChurnResult
    from cjresearch.artifacts.history import Measurement
    from cjresearch.artifacts.tracking import Management
    from cjresearch.data.tables import StudyTables

# The modelling modules (scikit-learn, statsmodels) are imported by the steps that use them:
# a report kernel that opens the artifacts, and a no-op rebuild from cron, need none.

__all__ = [
    "Emotion",
    "artifacts_current",
    "assign_new_customers",
    "attribute_columns",
    "compute_artifacts",
    "cube",
    "emotion",
    "features",
    "journey_map",
    "load",
    "management",
    "open_artifacts",
    "open_cube",
    "personas",
    "publishable",
    "reach",
    "reanalyse",
    "refit_personas",
    "statistics",
]

_LOCK_FILE = ".compute.lock"


# --- the steps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Emotion:
    """The emotion step's output.

    Attributes
    ----------
    observations
        Every emotion signal, one row each, on [-1, 1]
        (:func:`cjresearch.analysis.emotion.emotion_observations`).
    per_stage
        Customer x stage mean emotion (:func:`cjresearch.analysis.emotion.stage_emotion`).
    agreement
        How free-text scores agree with the scores given beside them (None without feedback).
    """

    observations: pd.DataFrame
    per_stage: pd.DataFrame
    agreement: TextAgreement | None = None


def load(study: Study) -> StudyTables:
    """Step 1: the study's tables, read and validated
    (:func:`cjresearch.data.tables.load_tables`)."""
    from cjresearch.data.tables import load_tables

    return load_tables(study)


def emotion(tables: StudyTables, settings: Settings, *, agreement: bool = True) -> Emotion:
    """Step 2: every emotion signal on one scale, and each customer's mean per stage."""
    from cjresearch.analysis.emotion import (
        emotion_observations,
        stage_emotion,
        text_score_agreement,
    )

    observations = emotion_observations(
        tables.events,
        tables.feedback,
        valence=settings.valence,
        rating_scale=settings.rating_scale,
        cx_lexicon=settings.cx_lexicon,
    )
    agreed = None
    if agreement and tables.feedback is not None:
        agreed = text_score_agreement(
            tables.feedback, rating_scale=settings.rating_scale, cx_lexicon=settings.cx_lexicon
        )
    return Emotion(observations, stage_emotion(observations), agreed)


def attribute_columns(customers: pd.DataFrame) -> list[str]:
    """The customers' own attribute columns (everything but the canonical ones)."""
    return [c for c in customers.columns if c not in CANONICAL_COLUMNS["customers"]]


def features(
    tables: StudyTables,
    settings: Settings,
    per_stage: pd.DataFrame,
    *,
    attributes: list[str] | None = None,
) -> pd.DataFrame:
    """Step 3: one row of journey features per customer (attributes: the customers' own
    columns unless given)."""
    from cjresearch.analysis.journeys import customer_features

    return customer_features(
        tables.events,
        tables.customers,
        stages=settings.require_stages(),
        observation_end=tables.observation_end,
        stage_emotion=per_stage,
        attributes=attribute_columns(tables.customers) if attributes is None else attributes,
        early_days=settings.early_days,
    )


def personas(
    study: Study,
    features: pd.DataFrame,
    churned: pd.Series,
    *,
    previous: PersonaModel | None = None,
    study_names: bool = True,
    **overrides: Any,
) -> PersonaModel:
    """Step 4: the personas, with the study's ``[personas]`` settings (``overrides`` change
    ``k``, ``method`` or ``seed``), keeping the ids and names of ``previous`` and, with
    ``study_names``, the names the study file gives."""
    from cjresearch.analysis.personas.model import fit_personas, name_overrides

    chosen = study.personas
    return fit_personas(
        features,
        churned,
        requested=chosen.features,
        k=overrides.get("k", chosen.k),
        k_range=chosen.k_range,
        method=overrides.get("method", chosen.method),
        seed=overrides.get("seed", chosen.seed),
        names=name_overrides(chosen.names) if study_names else None,
        previous=previous,
        min_group_size=study.reports.min_group_size,
        early_days=chosen.early_days,
        search_sample=chosen.search_sample,
    )


def reach(tables: StudyTables) -> pd.DataFrame:
    """Step 5, first part: when each customer reached each stage, from the events and the
    feedback (:func:`cjresearch.analysis.stats.stage_reach`)."""
    from cjresearch.analysis.stats import stage_reach

    return stage_reach(tables.events, tables.feedback)


def statistics(
    customers: pd.DataFrame,
    emotion: Emotion,
    assignments: pd.DataFrame | None,
    settings: Settings,
    *,
    observation_end: pd.Timestamp,
    reach: pd.DataFrame | None = None,
) -> EmotionChurnResult:
    """Step 5: every emotion -> churn model (:func:`cjresearch.analysis.stats.analyse`), with
    reach from :func:`reach` (without it, reach is taken from the emotion observations,
    which cannot tell non-response from not reaching a stage)."""
    from cjresearch.analysis.stats import analyse

    return analyse(
        customers,
        emotion.observations,
        reach=reach,
        personas=assignments,
        observation_end=observation_end,
        settings=settings,
    )


def journey_map(
    tables: StudyTables,
    emotion: Emotion,
    assignments: pd.DataFrame | None,
    settings: Settings,
    *,
    emotion_churn: pd.DataFrame | None = None,
) -> JourneyMap:
    """Step 6: the journey map (:func:`cjresearch.analysis.journey_map.build_map`)."""
    from cjresearch.analysis.journey_map import build_map

    return build_map(
        tables.events,
        tables.customers,
        emotion.observations,
        emotion.per_stage,
        tables.feedback,
        personas=assignments,
        emotion_churn=emotion_churn,
        settings=settings,
    )


def publishable(
    model: PersonaModel,
    features: pd.DataFrame,
    tables: StudyTables,
    settings: Settings,
    *,
    journey: JourneyMap,
    result: EmotionChurnResult,
    extra: Mapping[str, pd.DataFrame] | None = None,
    labels: Mapping[str, str] | None = None,
    named_personas: Sequence[int] = (),
) -> tuple[dict[str, pd.DataFrame], Disclosure]:
    """Step 7: every publishable table by name, after one suppression pass over them all
    (:func:`cjresearch.analysis.disclosure.protect`), each checked to hold no customer id;
    and what that pass suppressed.

    Besides the personas', the journey map's, the statistics' and the ``extra`` tables (the
    journey management's): ``instruments`` (NPS, CSAT and CES per persona and stage,
    :func:`cjresearch.analysis.instruments.instrument_summary`) and ``labels`` (the words
    the pages use for the data's names: the study file's ``[labels]``, else automatic;
    ``named_personas`` are the ids whose names the study file gives).
    """
    from cjresearch.analysis.disclosure import protect
    from cjresearch.analysis.instruments import instrument_summary
    from cjresearch.analysis.labels import published_labels
    from cjresearch.analysis.personas.model import publishable_tables
    from cjresearch.analysis.privacy import check_publishable

    assignments = model.assignments()
    published: dict[str, pd.DataFrame] = {
        **publishable_tables(
            model,
            features,
            tables.feedback,
            min_group_size=settings.min_group_size,
            cx_lexicon=settings.cx_lexicon,
        ),
        **journey.tables(),
        **statistics_tables(result),
        "instruments": instrument_summary(
            tables.feedback,
            assignments,
            stages=settings.require_stages(),
            min_group_size=settings.min_group_size,
        ),
        **(extra or {}),
    }
    published["labels"] = published_labels(published, settings, labels or {}, named_personas)
    published, disclosure = protect(
        published, min_group_size=settings.min_group_size, n_customers=len(tables.customers)
    )
    ids = set(tables.customers["customer_id"].astype(str))  # built once for every table
    for name, frame in published.items():
        check_publishable(frame, name=name, customer_ids=ids)
    return published, disclosure


def cube(
    customers: pd.DataFrame,
    events: pd.DataFrame,
    observations: pd.DataFrame,
    assignments: pd.DataFrame | None,
    feedback: pd.DataFrame | None,
    settings: Settings,
) -> Cube:
    """Step 8: the explorer's pre-aggregated figures
    (:func:`cjresearch.analysis.cube.build_cube`)."""
    from cjresearch.analysis.cube import build_cube

    return build_cube(
        customers=customers,
        events=events,
        observations=observations,
        assignments=assignments,
        stages=settings.require_stages(),
        feedback=feedback,
        cx_lexicon=settings.cx_lexicon,
        settings=settings,
    )


def management(
    study: Study,
    tables: StudyTables,
    emotion: Emotion,
    assignments: pd.DataFrame | None,
    personas: pd.DataFrame,
    settings: Settings,
    *,
    past: list[Measurement],
    run_id: str,
    fingerprint: str,
) -> Management:
    """Step 9: every KPI and headline figure, compared with the last measurement of
    ``past`` (:func:`cjresearch.artifacts.tracking.track`); ``personas`` is the published
    personas table (for births and deaths)."""
    return tracking.track(
        study,
        tables,
        per_stage=emotion.per_stage,
        observations=emotion.observations,
        assignments=assignments,
        personas=personas,
        settings=settings,
        past=past,
        run_id=run_id,
        fingerprint=fingerprint,
    )


# --- the whole computation ------------------------------------------------------------------


def fingerprint(study: Study) -> tuple[str, dict[str, dict[str, Any]]]:
    """The artifacts' fingerprint (inputs' hashes, the study's settings, the code) and the
    inputs' hashes by table."""
    inputs = {
        table: {"file": path.name, "sha256": digest}
        for table in ("customers", "events", "feedback")
        if (path := study.data_path(table)) is not None
        # a file, a glob's or folder's files, or a Spark table (never reused)
        and (digest := location_sha256(path, table=table)) is not None
    }
    payload = json.dumps(
        {"inputs": inputs, "study": manifest.parameters(study), "cjresearch": _code_version()},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest(), inputs


def _code_version() -> str:
    """The package version and a hash of its source: a changed computation is a changed
    artifact even between releases (an editable install, a patched module)."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent.parent
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
    files = state.get("files", [])
    hashes = state.get("hashes")
    if not files or not isinstance(hashes, dict) or set(hashes) != set(files):
        return None  # artifacts of an older version, without hashes: compute again
    for relative in files:
        path = folder / relative
        try:
            same = path.stat().st_size == hashes[relative][1]
            same = same and file_sha256(path) == hashes[relative][0]
        except OSError:
            same = False
        if not same:
            # a truncated, edited or missing artifact is computed again, never reused
            warnings.warn(
                f"{path}: changed since it was computed; computing the artifacts again",
                DataWarning,
                stacklevel=3,
            )
            return None
    return dict(state)


def artifacts_current(study: Study, folder: str | Path) -> bool:
    """Whether ``folder`` holds the artifacts of the study as it is now (nothing to compute)."""
    digest, _ = fingerprint(study)
    return _reusable(Path(folder), digest) is not None


@contextlib.contextmanager
def _computing(folder: Path) -> Iterator[None]:
    """The artifacts folder's compute lock: several processes that need the artifacts (a
    build, notebooks opened at once, explorers) compute them once, one after another."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / _LOCK_FILE).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def _recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Warnings of the models, recorded for the manifest and reported again to the caller."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StatisticalWarning)
        yield caught
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)


def compute_artifacts(
    study: Study,
    folder: str | Path,
    *,
    force: bool = False,
    run_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Artifacts:
    """Compute (or reuse) a study's artifacts: every heavy step of a build, once.

    Parameters
    ----------
    study
        The validated study file.
    folder
        The artifacts folder.
    force
        Recompute even if the inputs, the study file and the package are unchanged.
    progress
        Called with a line as each step of a computation ends (what, and in how long).
    run_id
        The build's run id, under which a computation is recorded in the history
        (default: a new one).

    Returns
    -------
    Artifacts

    Raises
    ------
    DataError
        The study's tables have fatal problems.
    """
    folder = Path(folder)
    digest, input_hashes = fingerprint(study)
    with _computing(folder):
        state = None if force else _reusable(folder, digest)
        if state is not None:
            return artifacts_from_state(folder, state, reused=True)
        step = Steps(progress)
        return _compute(
            study, folder, digest, input_hashes, run_id or history.new_run_id(), step=step
        )


def _compute(
    study: Study,
    folder: Path,
    digest: str,
    input_hashes: Mapping[str, dict[str, Any]],
    run_id: str,
    *,
    step: Steps,
) -> Artifacts:
    from cjresearch.analysis.personas.model import name_overrides

    settings = Settings.from_study(study)
    with step("read and checked the tables"):
        tables = load(study)
    _check_publishable_size(study, tables, settings)
    with step("scored emotion"):
        felt = emotion(tables, settings)
    with step("measured every customer's journey"):
        journeys = features(tables, settings, felt.per_stage)
    previous, unreadable = _previous_model(folder)
    with step("found the personas"):
        model = personas(
            study, journeys, tables.customers.set_index("customer_id")["churned"], previous=previous
        )
    if unreadable is not None:
        model = dataclasses.replace(model, notes=(*model.notes, unreadable))
    assignments = model.assignments()
    with _recorded_warnings() as caught:
        with step("fitted the emotion -> churn models"):
            result = statistics(
                tables.customers,
                felt,
                assignments,
                settings,
                observation_end=tables.observation_end,
                reach=(reached := reach(tables)),
            )
        with step("mapped the journeys"):
            journey = journey_map(
                tables, felt, assignments, settings, emotion_churn=result.emotion_churn
            )
    with step("measured the KPIs"):
        managed = management(
            study,
            tables,
            felt,
            assignments,
            model.personas,
            settings,
            past=history.read_history(folder),
            run_id=run_id,
            fingerprint=digest,
        )
    # the management tables go through the same suppression pass as every other table
    with step("made every table publishable (one suppression pass)"):
        published, disclosure = publishable(
            model,
            journeys,
            tables,
            settings,
            journey=journey,
            result=result,
            extra=managed.tables,
            labels=study.labels,
            named_personas=list(name_overrides(study.personas.names)),
        )

    with step("wrote the artifacts"):
        written, reportable = _write(
            folder, study, settings, tables, felt, reached, journeys, model, published, managed
        )
        del journeys, reached, result  # frames the cube does not read go before it is built
        written += _write_cube(folder, tables, felt, model, settings)

    summary = manifest.artifacts_summary(
        study,
        tables,
        input_hashes,
        felt,
        model,
        reportable=reportable,
        journey_notes=journey.notes,
        warnings=sorted(
            {str(w.message) for w in caught if issubclass(w.category, StatisticalWarning)}
        ),
        published=published,
        disclosure=disclosure.as_dict(),
        written={str(p.relative_to(folder)): p for p in written},
    )
    # the steps as measured (wall, CPU, memory): a large build's phases, read afterwards
    summary |= {"journey_management": managed.summary(), "steps": step.records}
    state = {
        "fingerprint": digest,
        "summary": summary,
        "personas": [list(p) for p in reportable],
        "stages": study.stages,
        "files": sorted(str(p.relative_to(folder)) for p in written),
        # checked before the artifacts are reused (sha256, bytes)
        # (the manifest hashed every file but the model already: not read twice)
        "hashes": {
            rel: [summary["artifacts"].get(rel) or file_sha256(p), p.stat().st_size]
            for rel, p in ((str(p.relative_to(folder)), p) for p in written)
        },
    }
    write_json(folder / STATE_FILE, state)
    # last: a measurement is recorded once the artifacts it describes are complete (a crash
    # before this line leaves a history one measurement short, never one too many)
    history.record(folder, managed.measurement)
    return artifacts_from_state(folder, state, reused=False)


def _write(
    folder: Path,
    study: Study,
    settings: Settings,
    tables: StudyTables,
    felt: Emotion,
    reached: pd.DataFrame,
    journeys: pd.DataFrame,
    model: PersonaModel,
    published: Mapping[str, pd.DataFrame],
    managed: Management,
) -> tuple[list[Path], list[tuple[int, str]]]:
    """Write every artifact; the files written and the personas large enough to report on."""
    from cjresearch.data.tables import write_parquet

    assignments = model.assignments()
    written = [
        write_parquet(tables.customers, folder / CUSTOMERS),
        write_parquet(tables.events, folder / EVENTS),
        write_parquet(felt.observations, folder / OBSERVATIONS),
        write_parquet(felt.per_stage, folder / STAGE_EMOTION),
        write_parquet(reached, folder / STAGE_REACH),
        write_parquet(journeys, folder / FEATURES),
        write_parquet(assignments, folder / ASSIGNMENTS),
        model.save(folder),
    ]
    if tables.feedback is not None:
        written.append(write_parquet(tables.feedback, folder / FEEDBACK))
    for name, frame in published.items():
        written.append(write_parquet(frame, folder / TABLES_DIR / f"{name}.parquet"))
    reportable = reportable_personas(published["personas"])
    # the management tables change with every measurement (previous values, the history),
    # not only with the data: in the slices they would rerun every report each time
    sliced = {k: v for k, v in published.items() if k not in managed.tables}
    for relative, frame in report_slices(sliced, reportable, study.stages).items():
        written.append(write_parquet(frame, folder / relative))
    written.append(write_json(folder / ALERTS, managed.alert_records()))
    return written, reportable


def _write_cube(
    folder: Path, tables: StudyTables, felt: Emotion, model: PersonaModel, settings: Settings
) -> list[Path]:
    """Build and write the explorer's cube (after :func:`_write`, its inputs only alive)."""
    return cube(
        tables.customers,
        tables.events,
        felt.observations,
        model.assignments(),
        tables.feedback,
        settings,
    ).save(folder)


def _check_publishable_size(study: Study, tables: StudyTables, settings: Settings) -> None:
    """Refuse a study smaller than its smallest publishable group: every figure would be
    suppressed, and the study's size itself would describe too few customers."""
    n, k = len(tables.customers), settings.min_group_size
    if n < k:
        msg = (
            f"{study.data_path('customers')}: {n:,} customers, fewer than the study's "
            f"min_group_size ({k}): every published figure would describe fewer than {k} "
            "customers, so nothing can be published"
        )
        raise CJResearchError(msg)


def _previous_model(folder: Path) -> tuple[PersonaModel | None, str | None]:
    """The previous build's persona model (to keep its ids and names), or None; and a note
    when one is there but cannot be read (a truncated or foreign file): the personas then
    start afresh, with new ids, instead of failing every build."""
    from cjresearch.analysis.personas.model import MODEL_FILE, load_persona_model

    if not (folder / MODEL_FILE).is_file():
        return None, None
    try:
        return load_persona_model(folder), None
    except CJResearchError as exc:
        note = (
            f"the previous persona model could not be read ({exc}); the personas start "
            "afresh and their ids may differ from the previous build's"
        )
        warnings.warn(note, DataWarning, stacklevel=2)
        return None, note


# --- artifacts on demand --------------------------------------------------------------------


def open_artifacts(artifacts_dir: str | Path, *, study_file: str | Path | None = None) -> Artifacts:
    """A build's artifacts; computed first if the folder holds none and a study is given.

    Raises
    ------
    CJResearchError
        No artifacts in the folder and no study to compute them from.
    """
    folder = Path(artifacts_dir)
    found = load_artifacts(folder)
    if found is not None:
        return found
    if study_file is None:
        msg = (
            f"{folder}: no build artifacts here; run `cjresearch build` on the study "
            "first, or pass study_file to compute them"
        )
        raise CJResearchError(msg)
    # another process may be computing them: compute_artifacts waits for it, then reuses
    return compute_artifacts(load_study(study_file), folder)


def open_cube(artifacts: Artifacts, settings: Settings) -> Cube:
    """The explorer's cube of a build, computed from its tables (once) if it has none:
    artifacts written before the explorer existed have the tables but no cube."""
    found = artifacts.cube()
    if found is not None:
        return found
    with _computing(artifacts.folder):
        found = artifacts.cube()
        if found is not None:
            return found
        customers, events = artifacts.read(CUSTOMERS), artifacts.read(EVENTS)
        observations = artifacts.read(OBSERVATIONS)
        if customers is None or events is None or observations is None:
            msg = (
                f"{artifacts.folder}: no build artifacts here; run `cjresearch build` on the "
                "study first"
            )
            raise CJResearchError(msg)
        made = cube(
            customers,
            events,
            observations,
            artifacts.read(ASSIGNMENTS),
            artifacts.read(FEEDBACK),
            settings,
        )
        made.save(artifacts.folder)
        return made


def refit_personas(
    study: Study, artifacts: Artifacts, *, k: int | str, method: str, seed: int
) -> dict[str, pd.DataFrame]:
    """The persona tables for other segmentation settings, from a build's artifacts (not
    saved: the build's tables stay what the reports show)."""
    from cjresearch.analysis.personas.model import publishable_tables

    journeys, customers = artifacts.read(FEATURES), artifacts.read(CUSTOMERS)
    if journeys is None or customers is None:
        msg = f"{artifacts.folder}: the build's features are missing; rebuild with --force"
        raise CJResearchError(msg)
    model = personas(
        study,
        journeys,
        customers.set_index("customer_id")["churned"],
        study_names=False,
        k=k,
        method=method,
        seed=seed,
    )
    settings = Settings.from_study(study)
    return publishable_tables(
        model,
        journeys,
        artifacts.read(FEEDBACK),
        min_group_size=settings.min_group_size,
        cx_lexicon=settings.cx_lexicon,
    )


def reanalyse(artifacts: Artifacts, settings: Settings) -> dict[str, pd.DataFrame]:
    """The statistics tables for other settings, from a build's artifacts (not saved)."""
    from cjresearch.analysis.stats import analyse, stage_reach

    customers, observations = artifacts.read(CUSTOMERS), artifacts.read(OBSERVATIONS)
    if customers is None or observations is None:
        msg = f"{artifacts.folder}: the build's emotion tables are missing; rebuild with --force"
        raise CJResearchError(msg)
    reached = artifacts.read(STAGE_REACH)
    events = artifacts.read(EVENTS)
    if reached is None and events is not None:  # artifacts of a build before reach existed
        reached = stage_reach(events, artifacts.read(FEEDBACK))
    result = analyse(
        customers,
        observations,
        reach=reached,
        personas=artifacts.read(ASSIGNMENTS),
        observation_end=artifacts.observation_end,
        settings=settings,
    )
    return statistics_tables(result)


def assign_new_customers(
    study: Study,
    events: str | Path,
    *,
    customers: str | Path | None = None,
    model: PersonaModel | None = None,
) -> pd.DataFrame:
    """Assign the customers of a new events file to the study's saved personas.

    The file is read and validated like the study's own events (its renames, stage map,
    valence); its journey features are computed by the build's own steps, with the end of
    observation at its latest event (new customers act after the study's end). Attribute
    features (e.g. ``age``) come from ``customers``, a customers file in the study's format;
    its churn column is not needed (assignment does not use churn).

    Parameters
    ----------
    study
        The study whose build saved the model (in its artifacts folder).
    events
        The new customers' events (CSV or Parquet).
    customers
        Optional customers file with the attribute columns the personas use.
    model
        The model to use; default: loaded from the study's artifacts folder.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id, persona_id, persona_name`` (holds customer ids: never
        publish it).

    Raises
    ------
    DataError
        The files have fatal problems (named by file, column and line).
    CJResearchError
        No saved model, or the files lack a column the personas were built on.
    """
    from cjresearch.analysis.personas.model import load_persona_model
    from cjresearch.data.tables import read_table, validate_tables

    model = model if model is not None else load_persona_model(study.artifacts_dir)
    read = {"delimiter": study.data.delimiter, "encoding": study.data.encoding}
    event_frame, event_source = read_table(
        events, table="events", renames=study.renames("events"), **read
    )
    if customers is not None:
        customer_frame, customer_source = read_table(
            customers, table="customers", renames=study.renames("customers"), **read
        )
    else:
        ids = event_frame["customer_id"].drop_duplicates().reset_index(drop=True)
        customer_frame, customer_source = pd.DataFrame({"customer_id": ids}), None
    churn = study.churn.churn_column
    if not study.churn.derived and churn not in customer_frame.columns:
        # no churn to assign by: a churn date would contradict the churn flag made up here
        customer_frame = customer_frame.assign(**{churn: False}).drop(
            columns="churn_date", errors="ignore"
        )
    new = study.model_copy(
        update={"study": study.study.model_copy(update={"observation_end": None})}
    )
    sources = {"events": event_source}
    if customer_source is not None:
        sources["customers"] = customer_source
    tables = validate_tables(
        new, {"customers": customer_frame, "events": event_frame}, sources=sources
    )
    settings = Settings.from_study(study)
    felt = emotion(tables, settings, agreement=False)
    attributes = [c for c in model.features if c in tables.customers.columns]
    journeys = features(tables, settings, felt.per_stage, attributes=attributes)
    # a channel nobody in the new file used is a share of 0, not a missing column
    unseen = [c for c in model.features if c.startswith("channel_share_") and c not in journeys]
    return model.assign(journeys.assign(**dict.fromkeys(unseen, 0.0)))
