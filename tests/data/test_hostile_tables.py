"""Hostile tables: ids that look missing, gzip, duplicates, nested values, dates out of range
or out of order, and checks of the study file against the data (cjresearch.data)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cjresearch.data.consistency import MAX_STUDY_YEARS, today
from cjresearch.data.study import study_from_dict
from cjresearch.data.tables import load_tables, validate_tables
from cjresearch.errors import DataError
from helpers import TINY_STAGES, MakeStudy, tiny_tables

STUDY = study_from_dict(
    {
        "study": {"name": "T", "stages": ["a", "b"]},
        "data": {"customers": "c.csv", "events": "e.csv"},
    },
    path="study.toml",
)


def _frames(**customers: list[object]) -> dict[str, pd.DataFrame]:
    people = {"customer_id": ["A", "B"], "churned": [False, True], **customers}
    return {
        "customers": pd.DataFrame(people),
        "events": pd.DataFrame(
            {
                "customer_id": ["A", "B", "B"],
                "timestamp": ["2026-01-05", "2026-01-06", "2026-01-08"],
                "touchpoint": ["x", "x", "y"],
                "stage": ["a", "a", "b"],
            }
        ),
    }


def _problems(frames: dict[str, pd.DataFrame], study=STUDY) -> list[str]:
    with pytest.raises(DataError) as caught:
        validate_tables(study, frames)
    return caught.value.lines


def test_na_null_and_none_are_ids_and_names(make_study: MakeStudy) -> None:
    tables = tiny_tables()
    literal = {"00123": "NA", "B": "null", "C": "None"}
    for name in ("customers", "events", "feedback"):
        tables[name] = tables[name].assign(customer_id=tables[name]["customer_id"].map(literal))
    tables["events"] = tables["events"].assign(channel=["NA", "NA", "app", "None", "None"])
    tables["feedback"] = tables["feedback"].assign(text=[None, "NA", "love it"])
    loaded = load_tables(make_study(tables))
    assert loaded.customers["customer_id"].tolist() == ["NA", "null", "None"]
    assert sorted(loaded.events["customer_id"].unique()) == ["NA", "None", "null"]
    assert sorted(loaded.events["channel"]) == ["NA", "NA", "None", "None", "app"]
    assert loaded.drops == ()
    # free text keeps pandas' missing-value words: "NA" as a comment is no comment
    assert loaded.feedback.set_index("customer_id").loc["null", "instrument"] == "csat"
    assert pd.isna(loaded.feedback.set_index("customer_id").loc["null", "text"])


def test_a_blank_id_is_missing_not_an_id(make_study: MakeStudy) -> None:
    tables = tiny_tables()
    tables["customers"] = tables["customers"].assign(customer_id=["00123", "  ", "C"])
    with pytest.raises(DataError, match=r"customers\.csv: column 'customer_id': missing values"):
        load_tables(make_study(tables))


def test_gzip_csv_reads_like_csv(make_study: MakeStudy) -> None:
    plain = load_tables(make_study())
    gz = {"customers": "c.csv.gz", "events": "e.csv.gz", "feedback": "f.csv.gz"}
    zipped = load_tables(make_study(data=gz))
    for table in ("customers", "events", "feedback"):
        pd.testing.assert_frame_equal(getattr(plain, table), getattr(zipped, table))


def test_exact_duplicates_are_dropped_and_counted_unless_the_study_keeps_them(
    make_study: MakeStudy,
) -> None:
    tables = tiny_tables()
    tables["events"] = pd.concat([tables["events"], tables["events"].iloc[[1, 1]]])
    with pytest.warns(UserWarning, match="dropped 2 rows"):
        dropped = load_tables(make_study(tables))
    assert [(d.table, d.reason, d.n_rows) for d in dropped.drops] == [
        ("events", "exact duplicate row", 2)
    ]
    assert len(dropped.events) == 5
    data = {
        "customers": "customers.csv",
        "events": "events.csv",
        "feedback": "feedback.csv",
        "drop_duplicates": False,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = load_tables(make_study(tables, data=data))
    assert kept.drops == ()
    assert len(kept.events) == 7


def test_nested_parquet_values_are_refused(make_study: MakeStudy) -> None:
    tables = tiny_tables()
    tables["events"] = tables["events"].assign(touchpoint=[["ad"], ["buy", "x"], [], ["u"], ["u"]])
    data = {"customers": "customers.csv", "events": "events.parquet"}
    with pytest.raises(DataError, match=r"events\.parquet: column 'touchpoint': lists or records"):
        load_tables(make_study(tables, data=data))
    # an in-memory frame gets the same check
    frames = _frames(tags=[np.array([1, 2]), np.array([3])])
    assert _problems(frames) == [
        "customers: column 'tags': lists or records (a nested Parquet type) where single values "
        "are expected (expected one text or number per cell; flatten the column or leave it "
        "out); e.g. row 1 ('[1, 2]'), row 2 ('[3]')"
    ]


def test_parquet_dates_beyond_the_nanosecond_range_are_an_error(make_study: MakeStudy) -> None:
    tables = tiny_tables()
    stamps = pd.to_datetime(tables["events"]["timestamp"], utc=True, format="mixed")
    stamps = stamps.astype("datetime64[us, UTC]")
    stamps.iloc[2] = pd.Timestamp("2300-01-01", tz="UTC").as_unit("us")
    tables["events"] = tables["events"].assign(timestamp=stamps)
    data = {"customers": "customers.csv", "events": "events.parquet"}
    with pytest.raises(
        DataError, match=r"events\.parquet: column 'timestamp': dates outside the range .* row 3"
    ):
        load_tables(make_study(tables, data=data))


@pytest.mark.parametrize(
    ("years", "days", "refused"),
    [(MAX_STUDY_YEARS, 1, True), (MAX_STUDY_YEARS, -1, False), (56, 0, True)],
)
def test_events_more_than_the_study_span_before_the_end_are_refused(
    years: int, days: int, refused: bool
) -> None:
    frames = _frames()
    end = pd.Timestamp("2026-01-08")  # the latest event
    early = end - pd.DateOffset(years=years) - pd.Timedelta(days=days)
    frames["events"].loc[0, "timestamp"] = early.isoformat()
    if not refused:
        assert len(validate_tables(STUDY, frames).events) == 3
        return
    (line,) = _problems(frames)
    assert line.startswith(
        f"events: column 'timestamp': dates more than {MAX_STUDY_YEARS} years before the end "
        "of observation (2026-01-08)"
    )
    assert "row 1" in line


def test_future_events_are_refused_without_an_end_and_dropped_with_one() -> None:
    frames = _frames()
    frames["events"].loc[2, "timestamp"] = "2099-01-07"
    (line,) = _problems(frames)
    stamp = (today() - pd.Timedelta(days=2)).date()
    assert line == (
        f"events: column 'timestamp': dates in the future (after {stamp}, today) (expected an "
        "observed date; or set [study] observation_end to drop events and feedback after it); "
        "e.g. row 3 ('2099-01-07')"
    )
    ended = study_from_dict(
        {
            "study": {"name": "T", "stages": ["a", "b"], "observation_end": "2026-01-31"},
            "data": {"customers": "c.csv", "events": "e.csv"},
        },
        path="study.toml",
    )
    with pytest.warns(UserWarning, match="timestamp after observation_end"):
        loaded = validate_tables(ended, frames)
    assert [(d.reason, d.n_rows) for d in loaded.drops] == [("timestamp after observation_end", 1)]


def test_observation_end_before_every_event_says_so() -> None:
    early = study_from_dict(
        {
            "study": {"name": "T", "stages": ["a", "b"], "observation_end": "2025-12-31"},
            "data": {"customers": "c.csv", "events": "e.csv"},
        },
        path="study.toml",
    )
    assert _problems(_frames(), early) == [
        "study.toml: [study] observation_end = 2025-12-31 is before every event (the events run "
        "from 2026-01-05 to 2026-01-08); set it within the data, or remove it to use the latest "
        "event"
    ]


@pytest.mark.parametrize(
    ("customers", "expected"),
    [
        (
            {"signup_date": ["2026-01-01", "2026-01-03"], "churn_date": [None, "2026-01-02"]},
            "customers: column 'churn_date': churn dates before the customer's signup_date "
            "(expected a churn_date on or after signup_date); e.g. row 2 ('2026-01-02 < "
            "2026-01-03')",
        ),
        (
            {"churn_date": ["2026-01-07", "2026-01-08"]},
            "customers: column 'churn_date': churn dates on customers who did not churn "
            "(expected a churn_date only where churned is true; clear it or set churned); "
            "e.g. row 1 ('2026-01-07')",
        ),
        (
            {"signup_date": ["2026-01-07", "2026-01-02"]},
            "customers: column 'signup_date': signups more than a day after the customer's last "
            "event or feedback (the whole journey precedes the signup) (expected a signup_date "
            "on or before the customer's last activity); e.g. row 1 ('2026-01-07')",
        ),
        (
            {"signup_date": ["2026-01-02", "2026-02-01"]},
            "customers: column 'signup_date': signups after the end of observation (expected a "
            "signup_date on or before 2026-01-08); e.g. row 2 ('2026-02-01')",
        ),
    ],
)
def test_signup_and_churn_dates_that_contradict(customers: dict, expected: str) -> None:
    assert _problems(_frames(**customers)) == [expected]


def test_a_signup_a_day_after_the_last_event_is_clock_skew_not_an_error() -> None:
    frames = _frames(signup_date=["2026-01-05T20:00", "2026-01-02"])  # A's event: 01-05 00:00
    assert validate_tables(STUDY, frames).customers["customer_id"].tolist() == ["A", "B"]


def test_controls_must_be_customer_attributes() -> None:
    study = study_from_dict(
        {
            "study": {"name": "T", "stages": ["a", "b"]},
            "data": {"customers": "c.csv", "events": "e.csv"},
            "statistics": {"controls": ["customer_id", "plan", "age"]},
        },
        path="study.toml",
    )
    assert _problems(_frames(age=[30, 40]), study) == [
        "study.toml: [statistics] controls: 'customer_id' is one of the customers table's own "
        "columns, not an attribute to adjust for; fix [statistics] controls",
        "study.toml: [statistics] controls: 'plan' is not a column of customers (its "
        "attributes: ['age']); fix [statistics] controls",
    ]


def test_channels_that_share_a_column_or_look_alike_are_named_with_their_row() -> None:
    frames = _frames()
    frames["events"] = frames["events"].assign(channel=["web", "Web", "app\u2060"])
    frames["events"] = pd.concat(
        [frames["events"], frames["events"].iloc[[0]].assign(channel="app")], ignore_index=True
    )
    assert _problems(frames) == [
        "events: column 'channel': the channel names 'app\\u2060' and 'app' look the same (they "
        "differ only in invisible characters, spacing or Unicode compatibility forms); use one "
        "spelling; e.g. row 4 ('app')",
        "events: column 'channel': the channel names 'web' and 'Web' both become 'web' in column "
        "names (channel_share_web); rename one of them; e.g. row 2 ('Web')",
    ]


def test_the_tiny_stages_are_the_helpers(make_study: MakeStudy) -> None:
    # guards the fixtures these tests build on
    assert load_tables(make_study()).events["stage"].cat.categories.tolist() == TINY_STAGES
