"""The engines give the same tables: pandas (the reference), DuckDB, and the data split over
files (a glob, a Hive-partitioned folder) read as the single file."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from cjresearch.artifacts.compute import compute_artifacts
from cjresearch.data.study import Study
from cjresearch.data.tables import StudyTables, load_tables
from cjresearch.errors import DataError

pytestmark = pytest.mark.xdist_group("engines")


def _load(study: Study) -> StudyTables:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_tables(study)


def _with_engine(study: Study, engine: str) -> Study:
    return study.model_copy(update={"data": study.data.model_copy(update={"engine": engine})})


def assert_same_tables(left: StudyTables, right: StudyTables) -> None:
    """The canonical frames, row for row, and the same drop counts."""
    for name in ("customers", "events", "feedback"):
        a, b = getattr(left, name), getattr(right, name)
        pd.testing.assert_frame_equal(a[sorted(a.columns)], b[sorted(b.columns)], check_like=False)
    assert left.drops == right.drops
    assert left.rows_read == right.rows_read


def _plant_drops(study: Study) -> dict[str, int]:
    """Add rows to the fixture's events that every engine must drop; return how many of
    each kind were planted (counted here, independently of the code under test)."""
    path = study.data_path("events")
    events = pd.read_parquet(path)
    rng = np.random.default_rng(17)
    duplicates = events.iloc[rng.choice(len(events), size=23, replace=False)]
    unknown = events.iloc[:7].assign(customer_id="NOT-A-CUSTOMER")
    late = events.iloc[10:15].assign(timestamp=pd.Timestamp("2026-08-01", tz="UTC"))
    # the unknown customers' rows come first in the planted block and are also exact
    # duplicates of each other: they count as unknown customers only
    planted = pd.concat([events, unknown, unknown, duplicates, late], ignore_index=True)
    planted = planted.sample(frac=1.0, random_state=3).reset_index(drop=True)
    planted.to_parquet(path, index=False)
    return {"unknown": 14, "late": 5, "duplicates": 23}


def test_planted_drops_are_counted_alike_by_duckdb_and_pandas(fixture_copy: Callable) -> None:
    study = fixture_copy("planted")
    planted = _plant_drops(study)
    on_pandas = _load(_with_engine(study, "pandas"))
    on_duckdb = _load(_with_engine(study, "duckdb"))
    assert_same_tables(on_pandas, on_duckdb)
    counts = {d.reason: d.n_rows for d in on_duckdb.drops if d.table == "events"}
    assert counts == {
        "customer_id not in customers": planted["unknown"],
        "timestamp after observation_end": planted["late"],
        "exact duplicate row": planted["duplicates"],
    }
    # the order is by customer, then time, ties in the order the rows were read
    events = on_duckdb.events
    ordered = events.sort_values(["customer_id", "timestamp"], kind="stable")
    assert ordered.index.equals(events.index)


def test_duplicates_are_kept_alike_when_the_study_keeps_them(fixture_copy: Callable) -> None:
    study = fixture_copy("kept", drop_duplicates="false")
    _plant_drops(study)
    on_pandas = _load(_with_engine(study, "pandas"))
    on_duckdb = _load(_with_engine(study, "duckdb"))
    assert_same_tables(on_pandas, on_duckdb)
    assert not any(d.reason == "exact duplicate row" for d in on_duckdb.drops)


def _split(study: Study, *, how: str) -> str:
    """Write the study's events as several Parquet files; return the new ``[data] events``."""
    events = pa.Table.from_pandas(pd.read_parquet(study.data_path("events")), preserve_index=False)
    if how == "partitioned":
        pads.write_dataset(
            events,
            study.folder / "events_by_stage",
            format="parquet",
            partitioning=["stage"],
            partitioning_flavor="hive",
        )
        return "events_by_stage"
    (study.folder / "parts").mkdir()
    bounds = np.linspace(0, events.num_rows, 4).astype(int)
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        pq.write_table(events.slice(lo, hi - lo), study.folder / "parts" / f"part-{i}.parquet")
    return "parts/part-*.parquet"


@pytest.mark.parametrize("how", ["glob", "partitioned"])
def test_events_split_over_files_read_as_the_single_file(fixture_copy: Callable, how: str) -> None:
    single = fixture_copy(how)
    split = fixture_copy(how, events=_split(single, how=how))  # the same folder, split events
    assert split.data_path("events") != single.data_path("events")
    for engine in ("pandas", "duckdb"):
        assert_same_tables(_load(single), _load(_with_engine(split, engine)))


def test_a_glob_that_matches_nothing_names_the_key_and_the_pattern(
    fixture_copy: Callable,
) -> None:
    study = fixture_copy("empty-glob", events="nothing/*.parquet")
    pattern = r"\[data\] events: no file matches the pattern '.*nothing/\*\.parquet'"
    with pytest.raises(DataError, match=pattern):
        load_tables(study)


def test_files_of_a_glob_with_different_columns_are_an_error(fixture_copy: Callable) -> None:
    study = fixture_copy("mixed")
    events = pd.read_parquet(study.data_path("events"))
    (study.folder / "parts").mkdir()
    events.iloc[:100].to_parquet(study.folder / "parts" / "a.parquet", index=False)
    events.iloc[100:].drop(columns="channel").to_parquet(
        study.folder / "parts" / "b.parquet", index=False
    )
    study = fixture_copy("mixed2", events=str(study.folder / "parts" / "*.parquet"))
    with pytest.raises(DataError, match=r"b\.parquet and a\.parquet differ in \['channel'\]"):
        load_tables(study)


@pytest.mark.slow
def test_fixture_study_publishes_the_same_tables_on_duckdb_and_pandas(
    fixture_copy: Callable, tmp_path: Path
) -> None:
    study = fixture_copy("build")
    built = {
        engine: compute_artifacts(_with_engine(study, engine), tmp_path / f"artifacts-{engine}")
        for engine in ("pandas", "duckdb")
    }
    assert_same_published(built["pandas"], built["duckdb"])


def assert_same_published(left, right) -> None:  # type: ignore[no-untyped-def]
    """Every published table equal to floating-point tolerance, and the same drop counts."""
    assert left.table_names == right.table_names
    assert len(left.table_names) > 10
    for name in left.table_names:
        pd.testing.assert_frame_equal(
            left.table(name), right.table(name), check_exact=False, rtol=1e-9, obj=name
        )
    for key in ("dropped_rows", "tables", "counts"):
        assert left.summary[key] == right.summary[key]
