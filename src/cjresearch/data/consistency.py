"""Checks across columns, tables and the study file, run by :func:`~cjresearch.data.tables.
validate_tables` (so by ``cjresearch validate`` and every build alike).

Each check returns :class:`~cjresearch.errors.Problem` records (fatal: the tables cannot be
used as they are); nothing here drops rows.

Dates
    - no date lies in the future (after today, UTC, with one day of grace for time zones);
      with ``[study] observation_end`` set, later events and feedback are dropped and counted
      instead, as any row after the end of observation;
    - no event or feedback is dated more than :data:`MAX_STUDY_YEARS` years before the end of
      observation (an event in 1970 in a 2026 log is a placeholder date, not a journey; it
      would also stretch every month-by-month figure over decades);
    - ``[study] observation_end`` is not before every event;
    - customers: ``churn_date`` not before ``signup_date``; a ``churn_date`` only on customers
      who churned (when churn is a column); ``signup_date`` neither after the end of
      observation nor more than a day after the customer's last event or feedback (their
      whole journey would precede their signup).
Names
    Touchpoints and channels that look alike (equal once invisible characters are removed,
    :func:`cjresearch.data.names.look_alike`); channels that become the same column name
    (:func:`cjresearch.data.names.column_collisions`).
Nested values
    A list or record (a nested Parquet type) where text or a number is expected.
Controls
    ``[statistics] controls`` name customer attribute columns that exist.
Journey management
    ``[touchpoints.<touchpoint>]`` sections and ``[[kpis]]`` touchpoints name touchpoints
    that occur in the events or feedback (a KPI's at its stage): a typo would otherwise
    measure nobody and read as a suppressed KPI for ever.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cjresearch.data.names import column_collisions, look_alike
from cjresearch.data.schema import CANONICAL_COLUMNS, Source
from cjresearch.data.study import Study, kpi_key, toml_key
from cjresearch.errors import Problem

__all__ = [
    "MAX_STUDY_YEARS",
    "control_problems",
    "customer_date_problems",
    "date_range_problems",
    "last_day",
    "management_problems",
    "name_problems",
    "nested_problems",
    "observation_end",
    "today",
]

#: The longest span of events and feedback a study may cover, in years before its end.
MAX_STUDY_YEARS = 20
_GRACE = pd.Timedelta(days=1)


def today() -> pd.Timestamp:
    """The end of today (UTC) plus a day of grace: no observed date lies later."""
    return pd.Timestamp.now(tz="UTC").normalize() + 2 * _GRACE


def last_day(end: pd.Timestamp) -> dt.date:
    """The last day observed, for an exclusive end of observation (see
    :func:`observation_end`)."""
    return (end - pd.Timedelta(microseconds=1)).date()


def observation_end(frames: Mapping[str, pd.DataFrame], study: Study) -> pd.Timestamp:
    """The exclusive end of observation: the day after ``[study] observation_end``, else
    just after the latest event or feedback."""
    if study.study.observation_end is not None:
        return pd.Timestamp(study.study.observation_end, tz="UTC") + _GRACE
    latest = [f["timestamp"].max() for f in frames.values() if "timestamp" in f]
    latest = [t for t in latest if pd.notna(t)]
    return max(latest) + pd.Timedelta(microseconds=1)


def nested_problems(frame: pd.DataFrame, source: Source) -> list[Problem]:
    """Columns holding lists or records where text or numbers are expected: the canonical
    columns, and every customers column (attributes become features and controls)."""
    columns = [
        c
        for c in frame.columns
        if (c in CANONICAL_COLUMNS[source.table] or source.table == "customers")
        and frame[c].dtype == object
    ]
    problems = []
    for column in columns:
        nested = frame[column].map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray))
        if nested.any():
            rows = frame.index[nested.to_numpy(dtype=bool)]
            problems.append(
                source.problem(
                    column,
                    "lists or records (a nested Parquet type) where single values are expected",
                    expected="one text or number per cell; flatten the column or leave it out",
                    rows=rows,
                    values=[_shown(v) for v in frame.loc[rows[:5], column]],
                )
            )
    return problems


def _shown(value: object) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return str(value)[:30]


def name_problems(
    frames: Mapping[str, pd.DataFrame], sources: Mapping[str, Source]
) -> list[Problem]:
    """Look-alike touchpoints and channels, and channels that share a column name."""
    problems = []
    for column, collide in (("touchpoint", False), ("channel", True)):
        # where each name first occurs, across events then feedback
        first: dict[str, tuple[str, int]] = {}
        for table in ("events", "feedback"):
            frame = frames.get(table)
            if frame is None or column not in frame:
                continue
            values = frame[column].dropna()
            for position, name in values.drop_duplicates().items():
                first.setdefault(str(name), (table, int(position)))
        pairs = [
            (
                a,
                b,
                "look the same (they differ only in invisible characters, spacing or "
                "Unicode compatibility forms); use one spelling",
            )
            for a, b in look_alike(first)
        ]
        if collide:
            alike = {frozenset((a, b)) for a, b, _ in pairs}
            pairs += [
                (
                    a,
                    b,
                    f"both become {fragment!r} in column names (channel_share_{fragment}); "
                    "rename one of them",
                )
                for a, b, fragment in column_collisions(first)
                if frozenset((a, b)) not in alike
            ]
        for a, b, why in pairs:
            table, position = first[b]
            problems.append(
                sources[table].problem(
                    column, f"the {column} names {a!r} and {b!r} {why}", rows=[position], values=[b]
                )
            )
    return problems


def control_problems(customers: pd.DataFrame, source: Source, study: Study) -> list[Problem]:
    """``[statistics] controls`` must be attribute columns of the customers table."""
    canonical = set(CANONICAL_COLUMNS["customers"])
    problems = []
    for control in study.statistics.controls:
        if control in canonical:
            why = (
                f"'{control}' is one of the customers table's own columns, not an attribute "
                "to adjust for"
            )
        elif control not in customers:
            attributes = [c for c in customers.columns if c not in canonical]
            why = (
                f"'{control}' is not a column of {source.name} (its attributes: {attributes[:12]})"
            )
        else:
            continue
        problems.append(
            Problem(
                file=study.path.name,
                column=None,
                message=f"[statistics] controls: {why}; fix [statistics] controls",
            )
        )
    return problems


def date_range_problems(
    frames: Mapping[str, pd.DataFrame], sources: Mapping[str, Source], study: Study
) -> list[Problem]:
    """Future dates, dates from before the study's span, and an end before every event."""
    problems = []
    now = today()
    ended = study.study.observation_end is not None
    for table, columns in (
        ("events", ("timestamp",)),
        ("feedback", ("timestamp",)),
        ("customers", ("signup_date", "churn_date")),
    ):
        frame = frames.get(table)
        if frame is None:
            continue
        for column in columns:
            if column not in frame or (ended and table != "customers"):
                continue  # with an end of observation, later events are dropped and counted
            future = frame[column] >= now
            if future.any():
                problems.append(
                    _dated(
                        sources[table],
                        frame,
                        column,
                        future,
                        f"dates in the future (after {(now - 2 * _GRACE).date()}, today)",
                        "an observed date; or set "
                        "[study] observation_end to drop events and feedback after it",
                    )
                )
    if problems:
        return problems  # the end of observation would be one of those dates

    end = observation_end(frames, study)
    start = end - pd.DateOffset(years=MAX_STUDY_YEARS)
    for table in ("events", "feedback"):
        frame = frames.get(table)
        if frame is None:
            continue
        early = frame["timestamp"] < start
        if early.any():
            problems.append(
                _dated(
                    sources[table],
                    frame,
                    "timestamp",
                    early,
                    f"dates more than {MAX_STUDY_YEARS} years before the end of observation "
                    f"({last_day(end)})",
                    f"dates within the study's {MAX_STUDY_YEARS} years; fix or remove these rows",
                )
            )
    events = frames["events"]["timestamp"].dropna()
    if ended and len(events) and events.min() >= end:
        problems.append(
            Problem(
                file=study.path.name,
                column=None,
                message=(
                    f"[study] observation_end = {study.study.observation_end} is before every "
                    f"event (the events run from {events.min().date()} to {events.max().date()})"
                    "; set it within the data, or remove it to use the latest event"
                ),
            )
        )
    return problems


def customer_date_problems(
    customers: pd.DataFrame,
    activity: Sequence[pd.DataFrame],
    source: Source,
    study: Study,
    end: pd.Timestamp,
) -> list[Problem]:
    """Signup and churn dates that contradict each other, churn or the customer's activity."""
    problems = []
    signup = customers.get("signup_date")
    churn = customers.get("churn_date")
    if signup is not None and churn is not None:
        before = churn < signup
        if before.any():
            problems.append(
                _dated(
                    source,
                    customers,
                    "churn_date",
                    before,
                    "churn dates before the customer's signup_date",
                    "a churn_date on or after signup_date",
                    pair="signup_date",
                )
            )
    if churn is not None and not study.churn.derived:
        stayed = churn.notna() & ~customers["churned"].astype(bool)
        if stayed.any():
            problems.append(
                _dated(
                    source,
                    customers,
                    "churn_date",
                    stayed,
                    "churn dates on customers who did not churn",
                    "a churn_date only where churned is true; clear it or set churned",
                )
            )
    if signup is None:
        return problems
    late = signup >= end
    if late.any():
        problems.append(
            _dated(
                source,
                customers,
                "signup_date",
                late,
                "signups after the end of observation",
                f"a signup_date on or before {last_day(end)}",
            )
        )
    # each table's latest, then the latest of those: the tables' rows are not copied into one
    latest = [
        f.groupby("customer_id", observed=True)["timestamp"].max()
        for f in activity
        if f is not None
    ]
    last = pd.concat(latest).groupby(level=0, observed=True).max()
    last_seen = customers["customer_id"].map(last)
    after = last_seen.notna() & (signup > last_seen + _GRACE) & ~late
    if after.any():
        problems.append(
            _dated(
                source,
                customers,
                "signup_date",
                after,
                "signups more than a day after the "
                "customer's last event or feedback (the whole journey precedes the signup)",
                "a signup_date on or before the customer's last activity",
            )
        )
    return problems


def _dated(
    source: Source,
    frame: pd.DataFrame,
    column: str,
    mask: pd.Series,
    message: str,
    expected: str,
    *,
    pair: str | None = None,
) -> Problem:
    rows = frame.index[mask.fillna(False).to_numpy(dtype=bool)]
    values = [
        f"{_day(frame.loc[i, column])}" + (f" < {_day(frame.loc[i, pair])}" if pair else "")
        for i in rows[:5]
    ]
    return source.problem(column, message, expected=expected, rows=rows, values=values)


def _day(value: object) -> str:
    stamp = pd.Timestamp(value)
    return (
        stamp.isoformat()
        if (stamp.hour, stamp.minute, stamp.second) != (0, 0, 0)
        else str(stamp.date())
    )


def management_problems(
    frames: Mapping[str, pd.DataFrame], sources: Mapping[str, Source], study: Study
) -> list[Problem]:
    """``[touchpoints.<touchpoint>]`` sections and KPI touchpoints the data never show.

    A section's touchpoint must occur in the events or the feedback; a KPI's touchpoint at
    the KPI's stage (in the events, or in the feedback for the survey metrics).
    """
    if not study.touchpoint_details and not any(k.touchpoint for k in study.kpis):
        return []
    seen: dict[str, set[str]] = {}  # touchpoint -> stages where it occurs
    names = []
    for table in ("events", "feedback"):
        frame = frames.get(table)
        if frame is None or "touchpoint" not in frame or "stage" not in frame:
            continue
        pairs = frame[["touchpoint", "stage"]].dropna().drop_duplicates()
        for touchpoint, stage in pairs.itertuples(index=False):
            seen.setdefault(str(touchpoint), set()).add(str(stage))
        names.append(sources[table].name)
    where = " or ".join(names) or "the data"
    problems = []
    for touchpoint in study.touchpoint_details:
        if touchpoint not in seen:
            problems.append(
                _study_problem(
                    study,
                    f"[touchpoints.{toml_key(touchpoint)}]: no touchpoint {touchpoint!r} in "
                    f"{where}{_close(touchpoint, seen)}",
                )
            )
    for number, kpi in enumerate(study.kpis, 1):
        if kpi.touchpoint is None or kpi.stage in seen.get(kpi.touchpoint, ()):
            continue
        stages = sorted(seen.get(kpi.touchpoint, ()))
        found = (
            f"it occurs at {stages}, not at {kpi.stage!r}"
            if stages
            else f"no touchpoint {kpi.touchpoint!r} in {where}{_close(kpi.touchpoint, seen)}"
        )
        problems.append(
            _study_problem(
                study,
                f"{kpi_key(number, kpi.name)} touchpoint: {found}",
            )
        )
    return problems


def _study_problem(study: Study, message: str) -> Problem:
    return Problem(file=study.path.name, column=None, message=message)


def _close(name: str, seen: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(name, list(seen), n=3)
    return f" (did you mean {close}?)" if close else ""
