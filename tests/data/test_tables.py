"""Reading tables into canonical frames: renames, types, derivations and counted drops."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjresearch.data.study import study_from_dict
from cjresearch.data.tables import load_tables, read_table, validate_tables
from cjresearch.errors import DataError, DataWarning
from helpers import TINY_STAGES, MakeStudy, base_sections, tiny_tables

# the tiny study observed until 2026-01-31 (inclusive)
ENDS_JANUARY = {"name": "Tiny", "stages": TINY_STAGES, "observation_end": "2026-01-31"}


def test_canonical_types_and_ids_stay_text(make_study: MakeStudy) -> None:
    tables = load_tables(make_study())
    customers, events = tables.customers, tables.events
    assert customers["customer_id"].tolist() == ["00123", "B", "C"]
    assert customers["churned"].tolist() == [True, False, False]
    assert str(events["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert isinstance(events["stage"].dtype, pd.CategoricalDtype)
    assert list(events["stage"].cat.categories) == ["awareness", "purchase", "usage"]
    assert events["stage"].cat.ordered
    assert tables.drops == ()
    assert tables.summary()["rows_dropped"].sum() == 0


def test_naive_timestamps_are_utc_and_offsets_are_converted(make_study: MakeStudy) -> None:
    events = load_tables(make_study()).events
    by_touchpoint = events.set_index(["customer_id", "touchpoint"])["timestamp"]
    assert by_touchpoint[("00123", "ad")] == pd.Timestamp("2026-01-01T00:00Z")
    assert by_touchpoint[("00123", "buy")] == pd.Timestamp("2026-01-02T08:00Z")
    assert by_touchpoint[("B", "ad")] == pd.Timestamp("2026-01-03T09:00Z")


def test_csv_and_parquet_read_the_same(make_study: MakeStudy, tmp_path_factory) -> None:
    from_csv = load_tables(make_study())
    parquet = make_study(
        data={
            "customers": "customers.parquet",
            "events": "events.parquet",
            "feedback": "feedback.parquet",
        }
    )
    from_parquet = load_tables(parquet)
    for table in ("customers", "events", "feedback"):
        pd.testing.assert_frame_equal(
            getattr(from_csv, table), getattr(from_parquet, table), check_dtype=False
        )


def test_renames_apply_per_table(make_study: MakeStudy) -> None:
    tables = tiny_tables()
    tables["events"] = tables["events"].rename(columns={"customer_id": "user", "timestamp": "ts"})
    tables["customers"] = tables["customers"].rename(columns={"churned": "left_us"})
    study = make_study(
        tables,
        columns={"events": {"customer_id": "user", "timestamp": "ts"}},
        churn={"column": "left_us"},
    )
    loaded = load_tables(study)
    assert {"customer_id", "timestamp"} <= set(loaded.events.columns)
    assert loaded.customers["churned"].tolist() == [True, False, False]


def test_stage_map_derives_stages_and_feedback_takes_its_touchpoints_stage(
    make_study: MakeStudy,
) -> None:
    tables = tiny_tables()
    tables["events"] = tables["events"].drop(columns="stage")
    tables["feedback"] = (
        tables["feedback"].drop(columns="stage").assign(touchpoint=["buy", "ad", "use"])
    )
    study = make_study(tables, stage_map={"ad": "awareness", "buy": "purchase", "use": "usage"})
    loaded = load_tables(study)
    assert loaded.events["stage"].astype(str).tolist() == [
        "awareness",
        "purchase",
        "awareness",
        "usage",
        "usage",
    ]
    assert loaded.feedback.sort_values("customer_id")["stage"].astype(str).tolist() == [
        "purchase",
        "awareness",
        "usage",
    ]


def test_feedback_stage_falls_back_to_where_the_touchpoint_occurs(make_study: MakeStudy) -> None:
    tables = tiny_tables()
    tables["feedback"] = (
        tables["feedback"].drop(columns="stage").assign(touchpoint=["buy", "ad", "use"])
    )
    loaded = load_tables(make_study(tables))
    assert set(loaded.feedback["stage"].astype(str)) == {"purchase", "awareness", "usage"}


def test_churn_from_inactivity(make_study: MakeStudy) -> None:
    tables = tiny_tables()
    tables["customers"] = tables["customers"].drop(columns="churned")
    study = make_study(
        tables,
        study=ENDS_JANUARY,
        churn={"inactivity_days": 26},
    )
    customers = load_tables(study).customers.set_index("customer_id")
    # the end of observation is 2026-02-01 00:00 (exclusive); the cutoff 26 days before is 01-06
    assert customers.loc["00123", "churned"]  # last seen 01-02
    assert customers.loc["B", "churned"]  # last seen 01-03
    assert customers.loc["C", "churned"] == False  # noqa: E712  last seen 01-06
    assert customers.loc["00123", "churn_date"] == pd.Timestamp("2026-01-02T08:00Z")
    assert pd.isna(customers.loc["C", "churn_date"])


def test_recoverable_rows_are_dropped_warned_and_counted(make_study: MakeStudy) -> None:
    tables = tiny_tables()
    extra = pd.DataFrame(
        {
            "customer_id": ["ghost", "B", "C"],
            "timestamp": ["2026-01-03", "2026-01-03 09:00", "2026-03-01"],
            "touchpoint": ["ad", "ad", "use"],
            "stage": ["awareness", "awareness", "usage"],
            "channel": ["web", "app", "app"],
        }
    )
    tables["events"] = pd.concat([tables["events"], extra], ignore_index=True)
    study = make_study(
        tables,
        study=ENDS_JANUARY,
    )
    with pytest.warns(DataWarning, match=r"events: dropped 1 row") as caught:
        loaded = load_tables(study)
    reasons = {d.reason: d.n_rows for d in loaded.drops}
    assert reasons == {
        "customer_id not in customers": 1,
        "exact duplicate row": 1,
        "timestamp after observation_end": 1,
    }
    assert len(caught) == 3
    summary = loaded.summary().set_index("table")
    assert summary.loc["events", "rows_read"] == 8
    assert summary.loc["events", "rows_kept"] == 5
    assert summary.loc["events", "rows_dropped"] == 3


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_a_name_met_only_in_dropped_rows_is_no_category(make_study: MakeStudy, engine: str) -> None:
    tables = tiny_tables()
    ghost = pd.DataFrame(
        {
            "customer_id": ["ghost"],
            "timestamp": ["2026-01-03"],
            "touchpoint": ["seance"],
            "stage": ["awareness"],
            "channel": ["ouija"],
        }
    )
    tables["events"] = pd.concat([tables["events"], ghost], ignore_index=True)
    data = base_sections()["data"] | {"engine": engine}
    study = make_study(tables, study=ENDS_JANUARY, data=data)
    with pytest.warns(DataWarning, match=r"events: dropped 1 row"):
        events = load_tables(study).events
    for column in ("touchpoint", "channel"):
        assert isinstance(events[column].dtype, pd.CategoricalDtype)
        assert list(events[column].cat.categories) == sorted(set(events[column].astype(str)))
    assert "seance" not in events["touchpoint"].cat.categories


def test_read_table_names_the_right_delimiter(tmp_path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("customer_id;timestamp\nA;2026-01-01\n")
    expected = r"events\.csv: .*looks semicolon-delimited \(';'\).*delimiter = ';'"
    with pytest.raises(DataError, match=expected):
        read_table(path, table="events")


def test_read_table_points_at_the_line_with_a_bad_byte(tmp_path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,churned\nA,true\nCafé,false\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not utf-8 text \(byte b'\\xe9' on line 3\)"):
        read_table(path, table="customers")


def test_in_memory_frames_validate_with_row_numbers() -> None:
    study = study_from_dict(
        {
            "study": {"name": "T", "stages": ["a", "b"]},
            "data": {"customers": "c.csv", "events": "e.csv"},
        },
        path="study.toml",
    )
    customers = pd.DataFrame({"customer_id": ["A"], "churned": [True]})
    events = pd.DataFrame(
        {
            "customer_id": ["A", "A"],
            "timestamp": ["2026-01-01", "2026-01-02"],
            "touchpoint": ["x", "y"],
            "stage": ["a", "zzz"],
        }
    )
    with pytest.raises(DataError, match=r"^events: column 'stage': .* e\.g\. row 2 \('zzz'\)"):
        validate_tables(study, {"customers": customers, "events": events})


_STUDY = study_from_dict(
    {
        "study": {"name": "T", "stages": ["a", "b", "c"]},
        "data": {"customers": "c.csv", "events": "e.csv"},
    },
    path="study.toml",
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_customers=st.integers(1, 6),
    rows=st.lists(
        st.tuples(st.integers(0, 7), st.integers(0, 400), st.sampled_from(["a", "b", "c", "q"])),
        min_size=1,
        max_size=25,
    ),
)
def test_validation_never_mutates_its_input(n_customers: int, rows: list) -> None:
    customers = pd.DataFrame(
        {"customer_id": [f"C{i}" for i in range(n_customers)], "churned": ["yes"] * n_customers}
    )
    events = pd.DataFrame(
        {
            "customer_id": [f"C{c}" for c, _, _ in rows],
            "timestamp": [
                str(pd.Timestamp("2026-01-01") + pd.Timedelta(hours=h)) for _, h, _ in rows
            ],
            "touchpoint": ["tp"] * len(rows),
            "stage": [s for _, _, s in rows],
        },
        index=pd.RangeIndex(10, 10 + len(rows)),
    )
    before = {"customers": customers.copy(deep=True), "events": events.copy(deep=True)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        try:
            loaded = validate_tables(_STUDY, {"customers": customers, "events": events})
        except DataError as exc:
            assert any("stage" in line for line in exc.lines)
        else:
            kept = len(loaded.events) + sum(d.n_rows for d in loaded.drops)
            assert kept == len(rows)  # every row is kept or counted
    pd.testing.assert_frame_equal(customers, before["customers"])
    pd.testing.assert_frame_equal(events, before["events"])


def test_a_rename_of_an_absent_column_is_not_silently_ignored(make_study: MakeStudy) -> None:
    study = make_study(churn={"column": "left_us"})  # the file has 'churned', not 'left_us'
    with pytest.raises(DataError, match=r"customers\.csv: .*maps column 'left_us' to 'churned'"):
        load_tables(study)


def test_derived_churn_says_it_replaces_a_churned_column(make_study: MakeStudy) -> None:
    study = make_study(churn={"inactivity_days": 5})  # the file still has 'churned'
    with pytest.warns(DataWarning, match=r"column 'churned' is replaced by churn derived"):
        load_tables(study)


def test_a_large_categorical_table_is_written_in_few_row_groups(tmp_path) -> None:
    # Arrow's default group of 1,048,576 rows repeats a categorical's dictionary (a million
    # customer ids) in every group: the artifacts' event log is written in larger groups
    import numpy as np
    import pyarrow.parquet as pq

    from cjresearch.data.tables import ROW_GROUP_ROWS, write_parquet

    n = 1_200_000
    ids = pd.Categorical.from_codes(np.arange(n) % 50_000, [f"C{i:06d}" for i in range(50_000)])
    frame = pd.DataFrame({"customer_id": ids, "value": np.arange(n, dtype=np.int64)})
    path = write_parquet(frame, tmp_path / "events.parquet")
    assert pq.ParquetFile(path).metadata.num_row_groups == 1 < n / 1_048_576
    assert n <= ROW_GROUP_ROWS
    back = pd.read_parquet(path)
    assert back["customer_id"].cat.categories.equals(frame["customer_id"].cat.categories)
    np.testing.assert_array_equal(back["customer_id"].cat.codes, frame["customer_id"].cat.codes)
    np.testing.assert_array_equal(back["value"], frame["value"])
