"""The engines give the same tables: pandas (the reference), DuckDB, and the data split over
files (a glob, a Hive-partitioned folder) read as the single file."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cjresearch.artifacts.compute import compute_artifacts, fingerprint
from cjresearch.data.engine import keep_rows
from cjresearch.data.tables import load_tables
from cjresearch.errors import DataError, StudyFileError
from helpers.engines import (
    assert_same_published,
    assert_same_tables,
    load_quietly,
    plant_drops,
    split_events,
    with_engine,
)

pytestmark = pytest.mark.xdist_group("engines")


def test_planted_drops_are_counted_alike_by_duckdb_and_pandas(fixture_copy: Callable) -> None:
    study = fixture_copy("planted")
    planted = plant_drops(study)
    on_pandas = load_quietly(with_engine(study, "pandas"))
    on_duckdb = load_quietly(with_engine(study, "duckdb"))
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
    plant_drops(study)
    on_pandas = load_quietly(with_engine(study, "pandas"))
    on_duckdb = load_quietly(with_engine(study, "duckdb"))
    assert_same_tables(on_pandas, on_duckdb)
    assert not any(d.reason == "exact duplicate row" for d in on_duckdb.drops)


@pytest.mark.parametrize("how", ["glob", "partitioned"])
def test_events_split_over_files_read_as_the_single_file(fixture_copy: Callable, how: str) -> None:
    single = fixture_copy(how)
    split = fixture_copy(how, events=split_events(single, how=how))  # the same folder, split events
    assert split.data_path("events") != single.data_path("events")
    for engine in ("pandas", "duckdb"):
        assert_same_tables(load_quietly(single), load_quietly(with_engine(split, engine)))


def test_a_changed_file_of_a_glob_changes_the_fingerprint(fixture_copy: Callable) -> None:
    study = fixture_copy("fingerprint")
    split = fixture_copy("fingerprint", events=split_events(study, how="glob"))
    digest, inputs = fingerprint(split)
    assert fingerprint(split)[0] == digest  # the same files, the same fingerprint
    part = split.folder / "parts" / "part-1.parquet"
    pd.read_parquet(part).iloc[:-1].to_parquet(part, index=False)
    changed, changed_inputs = fingerprint(split)
    assert changed != digest
    assert changed_inputs["events"]["sha256"] != inputs["events"]["sha256"]
    assert changed_inputs["customers"] == inputs["customers"]


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
        engine: compute_artifacts(with_engine(study, engine), tmp_path / f"artifacts-{engine}")
        for engine in ("pandas", "duckdb")
    }
    assert_same_published(built["pandas"], built["duckdb"])


def test_duckdb_spills_under_its_memory_limit_to_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log far larger than ``[data] duckdb_memory_limit`` gives the rows DuckDB keeps
    with the default limit (its aggregate and sort spill to disk), and the spill folder is
    removed afterwards."""
    rng = np.random.default_rng(7)
    n = 1_500_000
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(rng.integers(0, 20_000, n)).map("c{:05d}".format),
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10_000, n), unit="min"),
            "touchpoint": pd.Series(rng.choice(["ad", "app", "shop"], n), dtype="str"),
        }
    )
    frame = pd.concat([frame, frame.iloc[:5_000]], ignore_index=True)  # exact duplicates
    known = pd.Series([f"c{i:05d}" for i in range(19_000)])
    end = pd.Timestamp("2026-01-07", tz="UTC")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    kept = {
        limit: keep_rows(
            frame, known, end=end, drop_duplicates=True, engine="duckdb", memory_limit=limit
        )
        for limit in (None, "64MB")
    }
    assert kept[None] is not None and kept["64MB"] is not None
    assert np.array_equal(kept[None].order, kept["64MB"].order)
    assert kept["64MB"].duplicates == kept[None].duplicates > 0
    assert list(tmp_path.iterdir()) == []


def test_a_memory_limit_that_is_not_a_size_is_one_line(fixture_copy: Callable) -> None:
    with pytest.raises(StudyFileError, match=r"duckdb_memory_limit: .*a size such as '2GB'"):
        fixture_copy("limit", duckdb_memory_limit="lots")


def test_too_little_memory_for_duckdb_is_one_line() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i % 5_000:05d}" for i in range(400_000)],
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
        }
    )
    known = frame["customer_id"].drop_duplicates()
    with pytest.raises(StudyFileError, match=r"duckdb_memory_limit = '1MB' is too little .*raise"):
        keep_rows(
            frame,
            known,
            end=pd.Timestamp("2027-01-01", tz="UTC"),
            drop_duplicates=True,
            engine="duckdb",
            memory_limit="1MB",
        )


def _near_twins() -> tuple[pd.DataFrame, pd.Series, pd.Timestamp]:
    """Rows that repeat exactly, and rows that differ from another only in their text (same
    customer and time): the second kind is no duplicate."""
    at = pd.Timestamp("2026-01-01", tz="UTC")
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b", "c", "a"],
            "timestamp": [at, at, at, at, at, at + pd.Timedelta(days=1), at],
            "touchpoint": pd.Categorical(["ad", "ad", "ad", "app", "app", "ad", "ad"]),
            "text": ["fine", "fine", "Fine", None, None, "x", "fine"],
        }
    )
    return frame, pd.Series(["a", "b", "c"]), at + pd.Timedelta(days=30)


def test_rows_that_differ_in_one_column_are_not_duplicates() -> None:
    frame, known, end = _near_twins()
    kept = keep_rows(frame, known, end=end, drop_duplicates=True, engine="duckdb")
    assert kept is not None
    # a's "fine" twice more (rows 1 and 6) and b's repeat (row 4) go; a's "Fine" stays
    assert kept.order.tolist() == [0, 2, 3, 5]
    assert kept.duplicates == 3
    expected = frame[~frame.duplicated()].index.tolist()
    assert sorted(kept.order.tolist()) == expected


def test_a_hash_collision_falls_back_to_comparing_every_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cjresearch.data import engine as module

    frame, known, end = _near_twins()
    exact = keep_rows(frame, known, end=end, drop_duplicates=True, engine="duckdb")
    # every row the same hash: different rows collide, so the hash alone would merge them
    monkeypatch.setattr(module, "row_hashes", lambda f: np.zeros(len(f), dtype=np.int64))
    digest = module.row_hashes(frame)
    assert module._collides(frame, digest, module._repeated(digest))
    collided = keep_rows(frame, known, end=end, drop_duplicates=True, engine="duckdb")
    assert exact is not None and collided is not None
    assert collided.order.tolist() == exact.order.tolist() == [0, 2, 3, 5]
    assert collided.duplicates == exact.duplicates == 3


def test_without_a_repeated_hash_the_engine_groups_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # no two rows alike: the scan drops none and is not asked to group the rows
    from cjresearch.data import engine as module

    frame, known, end = _near_twins()
    distinct = frame.drop_duplicates().reset_index(drop=True)
    asked: list[bool] = []
    scan = module._scan
    monkeypatch.setattr(
        module, "_scan", lambda *a, **k: asked.append(k["drop_duplicates"]) or scan(*a, **k)
    )
    kept = keep_rows(distinct, known, end=end, drop_duplicates=True, engine="duckdb")
    assert kept is not None and kept.duplicates == 0
    assert asked == [False]
    grouped = keep_rows(frame, known, end=end, drop_duplicates=True, engine="duckdb")
    assert grouped is not None and grouped.duplicates == 3 and asked == [False, True]
    in_pandas = distinct[distinct["customer_id"].isin(known) & (distinct["timestamp"] < end)]
    assert sorted(kept.order.tolist()) == in_pandas.index.tolist()


def test_rows_hashed_a_slice_at_a_time_hash_as_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from cjresearch.data import engine as module

    frame, _, _ = _near_twins()
    whole = pd.util.hash_pandas_object(frame, index=False, categorize=True).to_numpy()
    monkeypatch.setattr(module, "_HASH_ROWS", 2)
    assert np.array_equal(module.row_hashes(frame), whole.view(np.int64))
    assert module.row_hashes(frame.iloc[:0]).dtype == np.int64


def test_equal_rows_hash_alike_whatever_their_dtypes() -> None:
    from cjresearch.data.engine import row_hashes

    frame, _, _ = _near_twins()
    as_text = frame.assign(touchpoint=frame["touchpoint"].astype(str))
    assert np.array_equal(row_hashes(frame), row_hashes(as_text))
    assert row_hashes(frame)[0] == row_hashes(frame)[1] != row_hashes(frame)[2]
