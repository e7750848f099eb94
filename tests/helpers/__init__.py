"""Shared test helpers: tiny studies written to disk, the seeded sample study, fixture paths.

Fixtures live in ``tests/conftest.py``; everything a test imports lives here.
"""

from __future__ import annotations

import functools
import json
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cjresearch.analysis.journey_map import JourneyMap, build_map
from cjresearch.analysis.settings import Settings
from cjresearch.artifacts import compute
from cjresearch.artifacts.catalog import Artifacts
from cjresearch.data.study import Study, load_study, study_from_dict
from cjresearch.data.tables import StudyTables, validate_tables
from cjresearch.datasets.generated import toml_value
from cjresearch.datasets.sample import SampleStudy, generate_sample, study_toml, write_sample

#: The repository root and the test fixtures (tables, studies, notebooks) under tests/fixtures.
REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
FIXTURE_STUDY = FIXTURES / "fixture_study"

TINY_STAGES = ["awareness", "purchase", "usage"]


def write_study_file(folder: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """Write a study.toml from nested dicts (one level of sub-tables, e.g. columns.events)."""
    lines: list[str] = []
    for section, values in sections.items():
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        lines.append(f"[{section}]")
        lines += [f"{_key(k)} = {toml_value(v)}" for k, v in scalars.items()]
        for sub, table in values.items():
            if isinstance(table, dict):
                lines.append(f"[{section}.{sub}]")
                lines += [f"{_key(k)} = {toml_value(v)}" for k, v in table.items()]
    path = folder / "study.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _key(key: str) -> str:
    return key if key.replace("_", "").isalnum() else json.dumps(key)


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Three customers, a handful of events and feedback rows; everything valid."""
    customers = pd.DataFrame(
        {
            "customer_id": ["00123", "B", "C"],
            "signup_date": ["2026-01-01", "2026-01-02", "2026-01-03"],
            "churned": ["true", "no", "0"],
            "plan": ["basic", "premium", "basic"],
        }
    )
    events = pd.DataFrame(
        {
            "customer_id": ["00123", "00123", "B", "C", "C"],
            "timestamp": [
                "2026-01-01",
                "2026-01-02T10:00:00+02:00",
                "2026-01-03 09:00",
                "2026-01-05T00:00:00Z",
                "2026-01-06",
            ],
            "touchpoint": ["ad", "buy", "ad", "use", "use"],
            "stage": ["awareness", "purchase", "awareness", "usage", "usage"],
            "channel": ["web", "web", "app", "app", "app"],
        }
    )
    feedback = pd.DataFrame(
        {
            "customer_id": ["00123", "B", "C"],
            "timestamp": ["2026-01-02", "2026-01-04", "2026-01-05"],
            "stage": ["purchase", "awareness", "usage"],
            "instrument": ["nps", "csat", "text"],
            "score": [9, 2, None],
            "text": [None, "meh", "love it"],
        }
    )
    return {"customers": customers, "events": events, "feedback": feedback}


def base_sections(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {
        "study": {"name": "Tiny", "stages": TINY_STAGES},
        "data": {"customers": "customers.csv", "events": "events.csv", "feedback": "feedback.csv"},
    }
    sections.update(overrides)
    return sections


MakeStudy = Callable[..., Study]


@dataclass(frozen=True)
class SamplePipeline:
    """The sample study carried through validation, emotion and journey features."""

    sample: SampleStudy
    study: Study
    tables: StudyTables
    observations: pd.DataFrame
    stage_emotion: pd.DataFrame
    features: pd.DataFrame


@functools.cache
def sample_pipeline(n_customers: int, seed: int = 7) -> SamplePipeline:
    """The generated sample with its own study file (valence, rating scale, feedback), cached
    per test process because several test modules need the same chain."""
    study = study_from_dict(tomllib.loads(study_toml()), path="study.toml")
    sample = generate_sample(n_customers, seed=seed)
    tables = validate_tables(
        study,
        {"customers": sample.customers, "events": sample.events, "feedback": sample.feedback},
    )
    # the build's own steps, so that the fixtures are what a build computes
    settings = Settings.from_study(study)
    felt = compute.emotion(tables, settings, agreement=False)
    features = compute.features(tables, settings, felt.per_stage, attributes=["age", "plan"])
    return SamplePipeline(sample, study, tables, felt.observations, felt.per_stage, features)


def planted_personas(truth: dict) -> pd.DataFrame:
    """The planted persona of every customer, as a personas frame."""
    keys = [p["key"] for p in truth["personas"]]
    names = {p["key"]: p["name"] for p in truth["personas"]}
    persona = pd.Series(truth["customer_persona"])
    return pd.DataFrame(
        {
            "customer_id": persona.index,
            "persona_id": persona.map({k: i for i, k in enumerate(keys)}).to_numpy(),
            "persona_name": persona.map(names).to_numpy(),
        }
    )


@functools.cache
def sample_journey_map(n_customers: int) -> JourneyMap:
    """The journey map of the sample study with its planted personas, cached per process."""
    p = sample_pipeline(n_customers)
    return build_map(
        p.tables.events,
        p.tables.customers,
        p.observations,
        p.stage_emotion,
        p.tables.feedback,
        stages=p.study.stages,
        personas=planted_personas(p.sample.truth),
    )


def managed_sample(
    folder: Path,
    *,
    n_customers: int = 200,
    seed: int = 5,
    replace: dict[str, str] | None = None,
    extra: str = "",
) -> Path:
    """The sample study with its owners and six KPIs (all met on this data), k = 3, as
    Parquet in ``folder``; ``replace`` edits the study file's text (old -> new), ``extra`` is
    appended to it.

    Returns
    -------
    pathlib.Path
        The study file.
    """
    path = write_sample(folder, n_customers=n_customers, seed=seed, fmt="parquet")
    text = path.read_text(encoding="utf-8").replace('k = "auto"', "k = 3")
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text + extra, encoding="utf-8")
    return path


def degrade_onboarding_csat(folder: Path) -> None:
    """Every onboarding CSAT answer of a :func:`managed_sample` two points lower (at least
    1): nobody is satisfied there any more, and no other stage's answers change."""
    feedback = pd.read_parquet(folder / "feedback.parquet")
    lowered = (feedback["stage"] == "onboarding") & (feedback["instrument"] == "csat")
    feedback.loc[lowered, "score"] = (feedback.loc[lowered, "score"] - 2).clip(lower=1)
    feedback.to_parquet(folder / "feedback.parquet", index=False)


def measured_twice(
    root: Path, *, replace: dict[str, str] | None = None, degrade: bool = False
) -> tuple[Study, Artifacts]:
    """A :func:`managed_sample` in ``root / "study"`` whose artifacts (``root /
    "artifacts"``) are computed twice, as runs ``run-1`` and ``run-2``: after
    :func:`degrade_onboarding_csat` when ``degrade``, else again on the same data
    (``force``).

    Returns
    -------
    tuple
        The study and the second computation's artifacts.
    """
    study = load_study(managed_sample(root / "study", replace=replace))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small sample's model warnings
        compute.compute_artifacts(study, root / "artifacts", run_id="run-1")
        if degrade:
            degrade_onboarding_csat(root / "study")
        artifacts = compute.compute_artifacts(
            study, root / "artifacts", run_id="run-2", force=not degrade
        )
    return study, artifacts
