"""The study file's engine keys: ``[data] engine``, data locations, ``[spark]``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjresearch.data.study import study_from_dict
from cjresearch.errors import StudyFileError

STAGES = {"name": "Acme", "stages": ["awareness", "purchase", "usage"]}


def _study(data: dict[str, object], **sections: object) -> dict[str, object]:
    return {"study": STAGES, "data": {"customers": "c.csv", "events": "e.csv", **data}, **sections}


def test_duckdb_is_the_default_engine_and_spark_runs_locally_by_default() -> None:
    study = study_from_dict(_study({}), path="/s/study.toml")
    assert study.data.engine == "duckdb"
    assert study.spark.master == "local[2]"
    assert study.spark.conf == {}


def test_globs_folders_and_spark_tables_are_data_locations() -> None:
    study = study_from_dict(
        _study(
            {"events": "logs/part-*.parquet", "feedback": "feedback", "engine": "spark"},
            spark={"master": "spark://head:7077", "conf": {"spark.executor.memory": "8g"}},
        ),
        path="/s/study.toml",
    )
    assert study.data_path("events") == Path("/s/logs/part-*.parquet")
    assert study.data_path("feedback") == Path("/s/feedback")
    spark = study_from_dict(
        _study({"events": "spark:crm.events", "engine": "spark"}), path="/s/study.toml"
    )
    assert str(spark.data_path("events")) == "spark:crm.events"
    assert spark.data_path("customers") == Path("/s/c.csv")


@pytest.mark.parametrize(
    ("data", "sections", "message"),
    [
        (
            {"engine": "polars"},
            {},
            r"\[data\] engine: expected one of 'duckdb', 'pandas' or 'spark', found 'polars'",
        ),
        (
            {"events": "spark:crm.events"},
            {},
            r"\[data\]: the \['events'\] location names a Spark table .*engine = \"spark\"",
        ),
        ({}, {"spark": {"mastr": "local"}}, r"unknown key \[spark\] mastr"),
        (
            {},
            {"spark": {"conf": {"executor.memory": "8g"}}},
            r"\[spark\] conf: expected Spark settings whose names start with 'spark\.'",
        ),
        ({}, {"spark": {"master": ""}}, r"\[spark\] master: expected non-empty text"),
        (
            {"events": "e.xlsx"},
            {},
            r"\[data\] events: expected a \.csv, \.csv\.gz or \.parquet file, a glob",
        ),
    ],
)
def test_engine_keys_errors_name_the_key(
    data: dict[str, object], sections: dict[str, object], message: str
) -> None:
    with pytest.raises(StudyFileError, match=r"^study\.toml: " + message):
        study_from_dict(_study(data, **sections), path="study.toml")
