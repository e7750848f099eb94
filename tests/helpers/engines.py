"""Helpers of the engine tests: a study on another engine, planted drops, split event logs,
and comparisons of loaded and published tables."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from cjresearch.artifacts.catalog import Artifacts
from cjresearch.data.study import Study
from cjresearch.data.tables import StudyTables, load_tables


def load_quietly(study: Study) -> StudyTables:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_tables(study)


def with_engine(study: Study, engine: str) -> Study:
    return study.model_copy(update={"data": study.data.model_copy(update={"engine": engine})})


def assert_same_tables(left: StudyTables, right: StudyTables) -> None:
    """The canonical frames, row for row, and the same drop counts."""
    for name in ("customers", "events", "feedback"):
        a, b = getattr(left, name), getattr(right, name)
        pd.testing.assert_frame_equal(a[sorted(a.columns)], b[sorted(b.columns)], check_like=False)
    assert left.drops == right.drops
    assert left.rows_read == right.rows_read


def plant_drops(study: Study) -> dict[str, int]:
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


def split_events(study: Study, *, how: str) -> str:
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


def assert_same_published(left: Artifacts, right: Artifacts) -> None:
    """Every published table equal to floating-point tolerance, and the same drop counts."""
    assert left.table_names == right.table_names
    assert len(left.table_names) > 10
    # the KPI history records the build itself (its run id and when it finished)
    run = ["run_id", "finished_at"]
    for name in left.table_names:
        a, b = (
            t.drop(columns=[c for c in run if c in t])
            for t in (left.table(name), right.table(name))
        )
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, obj=name)
    for key in ("dropped_rows", "tables", "counts"):
        assert left.summary[key] == right.summary[key]
