"""The Spark engine (pyspark in local mode on Debian's Java 17, installed by `make spark`):
the fixture study read and built on Spark gives the same tables as on DuckDB.

These tests need pyspark: `make test` installs it (`make spark`); without it they fail at
import, they are never skipped.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pyspark  # noqa: F401  (installed by `make spark`; a missing install fails here)
import pytest

from cjresearch.artifacts.compute import compute_artifacts
from cjresearch.data.engine import spark_session
from cjresearch.data.study import SparkSettings, load_study
from cjresearch.errors import DataError
from helpers.engines import (
    assert_same_published,
    assert_same_tables,
    load_quietly,
    plant_drops,
    split_events,
    with_engine,
)

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.slow]

BAD = Path(__file__).parents[1] / "fixtures" / "bad"


@pytest.fixture(scope="module")
def spark() -> Any:
    """One local Spark session for the module (each new JVM costs seconds)."""
    return spark_session(SparkSettings())


def test_planted_drops_on_spark_as_on_duckdb(fixture_copy: Callable, spark: Any) -> None:
    study = fixture_copy("planted")
    plant_drops(study)
    assert_same_tables(
        load_quietly(with_engine(study, "duckdb")), load_quietly(with_engine(study, "spark"))
    )


def test_spark_reads_csv_a_partitioned_folder_and_a_catalog_table(
    fixture_copy: Callable, spark: Any
) -> None:
    reference = load_quietly(fixture_copy("reference"))
    study = fixture_copy("csv")
    events = pd.read_parquet(study.data_path("events"))
    events.to_csv(study.folder / "events.csv.gz", index=False)
    on_csv = fixture_copy("csv", events="events.csv.gz", engine="spark")
    assert_same_tables(reference, load_quietly(on_csv))
    folder = fixture_copy("folder")
    on_folder = fixture_copy(
        "folder", events=split_events(folder, how="partitioned"), engine="spark"
    )
    assert_same_tables(reference, load_quietly(on_folder))
    # a catalog table as a warehouse holds one (microsecond timestamps, as Spark writes them)
    micro = study.folder / "feedback_us.parquet"
    pq.write_table(pq.read_table(study.data_path("feedback")), micro, coerce_timestamps="us")
    spark.read.parquet(str(micro)).createOrReplaceTempView("cj_feedback")
    on_table = fixture_copy("table", feedback="spark:cj_feedback", engine="spark")
    assert_same_tables(reference, load_quietly(on_table))


def test_an_unknown_catalog_table_is_one_line(fixture_copy: Callable, spark: Any) -> None:
    study = fixture_copy("missing", events="spark:no_such_db.events", engine="spark")
    with pytest.raises(DataError, match=r"\[data\] events: Spark could not read 'spark:no_such"):
        load_quietly(study)


def test_fixture_study_publishes_the_same_tables_on_spark_and_duckdb(
    fixture_copy: Callable, spark: Any, tmp_path: Path
) -> None:
    study = fixture_copy("build")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = {
            engine: compute_artifacts(with_engine(study, engine), tmp_path / f"artifacts-{engine}")
            for engine in ("duckdb", "spark")
        }
    assert_same_published(built["duckdb"], built["spark"])


def test_a_csv_header_naming_a_column_twice_is_the_same_line_on_spark(
    tmp_path: Path, spark: Any
) -> None:
    """Spark would silently rename a column named twice: the header is checked first, as on
    DuckDB and pandas."""
    folder = tmp_path / "dupes"
    shutil.copytree(BAD / "csv_duplicate_header", folder)
    lines = {}
    for engine in ("duckdb", "spark"):
        text = (BAD / "csv_duplicate_header" / "study.toml").read_text(encoding="utf-8")
        (folder / "study.toml").write_text(
            text.replace("[data]\n", f'[data]\nengine = "{engine}"\n', 1), encoding="utf-8"
        )
        with pytest.raises(DataError) as caught:
            load_quietly(load_study(folder / "study.toml"))
        lines[engine] = caught.value.lines
    assert lines["spark"] == lines["duckdb"]
    assert "'plan' in columns 3, 5" in lines["spark"][0]
