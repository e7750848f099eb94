"""The canonical tables and their validation (pandera).

Three tables, with canonical column names (:data:`CANONICAL_COLUMNS`):

customers
    ``customer_id`` (unique), ``signup_date`` (optional), ``churned`` (bool), ``churn_date``
    (optional), and any further attribute columns.
events
    ``customer_id`` (a known customer), ``timestamp``, ``touchpoint``, ``stage`` (one of the
    study's stages), ``channel`` (optional), ``emotion`` (optional, in [-1, 1]),
    ``session_id`` (optional: the visit an event belongs to, for clickstreams).
feedback
    ``customer_id``, ``timestamp``, ``stage``, ``touchpoint`` (optional), ``channel`` (optional),
    ``instrument`` (``nps``, ``csat``, ``ces``, ``rating`` or ``text``), ``score`` (within the
    instrument's range), ``text``.

Timestamps are timezone-aware UTC (naive input means UTC). Validation is lazy: every failure
of a table is collected and reported together as :class:`~cjresearch.errors.Problem` records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from cjresearch.errors import Problem

if TYPE_CHECKING:  # pandera is imported where a table is validated: reading a study file
    import pandera.pandas as pa  # or a no-op rebuild does not pay for it

__all__ = [
    "ALL",
    "CANONICAL_COLUMNS",
    "INSTRUMENTS",
    "INSTRUMENT_SCALES",
    "REQUIRED_COLUMNS",
    "Source",
    "customers_schema",
    "events_schema",
    "feedback_row_problems",
    "feedback_schema",
    "validate_table",
]

#: The canonical columns each table knows. Customers may carry any further attribute columns.
CANONICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "signup_date", "churned", "churn_date"),
    "events": (
        "customer_id",
        "timestamp",
        "touchpoint",
        "stage",
        "channel",
        "emotion",
        "session_id",
    ),
    "feedback": (
        "customer_id",
        "timestamp",
        "stage",
        "touchpoint",
        "channel",
        "instrument",
        "score",
        "text",
    ),
}

#: The label of the group of all customers in every published table (a persona may not
#: take this name).
ALL = "all"

#: Fixed ranges of the standard instruments; ``rating`` takes its range from the study file.
INSTRUMENT_SCALES: dict[str, tuple[float, float]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
#: Every instrument a feedback row may name.
INSTRUMENTS: tuple[str, ...] = ("nps", "csat", "ces", "rating", "text")

#: Columns a table must have after renames (stage may be derived from [stage_map] instead).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "events": ("customer_id", "timestamp", "touchpoint"),
    "feedback": ("customer_id", "timestamp", "instrument"),
}

_UTC = pd.DatetimeTZDtype("ns", "UTC")


@dataclass(frozen=True)
class Source:
    """Where a table came from, so that problems can point at the user's rows."""

    table: str
    name: str
    kind: str = "csv"

    @property
    def row_label(self) -> str:
        """'line' for CSV (header is line 1), 'row' for Parquet and in-memory frames."""
        return "line" if self.kind == "csv" else "row"

    def row_number(self, index: int) -> int:
        """The number a user would look up for a 0-based row position."""
        return index + 2 if self.kind == "csv" else index + 1

    def problem(
        self,
        column: str | None,
        message: str,
        *,
        expected: str | None = None,
        rows: pd.Index | Sequence[int] = (),
        values: Sequence[object] = (),
        n_rows: int | None = None,
    ) -> Problem:
        """A :class:`Problem` in this table, with up to five example rows."""
        positions = [int(i) for i in list(rows)[:5]]
        return Problem(
            file=self.name,
            column=column,
            message=message,
            expected=expected,
            rows=tuple(self.row_number(i) for i in positions),
            values=tuple(values)[:5],
            n_rows=n_rows if n_rows is not None else (len(rows) or None),
            row_label=self.row_label,
        )


def _timestamp(*, nullable: bool = False) -> pa.Column:
    import pandera.pandas as pa

    return pa.Column(_UTC, nullable=nullable, required=False)


def _id_column(*, unique: bool = False) -> pa.Column:
    import pandera.pandas as pa

    return pa.Column(
        str,
        checks=pa.Check(lambda s: s.str.len() > 0, error="a non-empty customer id"),
        nullable=False,
        unique=unique,
    )


def customers_schema() -> pa.DataFrameSchema:
    """The customers table after reading and type coercion."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "customer_id": _id_column(unique=True),
            "signup_date": _timestamp(nullable=True),
            "churned": pa.Column(bool, nullable=False),
            "churn_date": _timestamp(nullable=True),
        },
        strict=False,
        name="customers",
    )


def events_schema(stages: Sequence[str]) -> pa.DataFrameSchema:
    """The events table after reading, type coercion and stage derivation."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "customer_id": _id_column(),
            "timestamp": _timestamp(),
            "touchpoint": pa.Column(
                str, pa.Check(lambda s: s.str.len() > 0, error="a non-empty touchpoint")
            ),
            "stage": pa.Column(
                checks=pa.Check.isin(
                    list(stages), error=f"one of the study's stages {list(stages)}"
                )
            ),
            "channel": pa.Column(str, nullable=True, required=False),
            "emotion": pa.Column(
                float,
                pa.Check.in_range(-1.0, 1.0, error="an emotion in [-1, 1]"),
                nullable=True,
                required=False,
            ),
            "session_id": pa.Column(
                str,
                pa.Check(lambda s: s.str.len() > 0, error="a non-empty session id"),
                nullable=False,
                required=False,
            ),
        },
        strict=False,
        name="events",
    )


def feedback_schema(stages: Sequence[str]) -> pa.DataFrameSchema:
    import pandera.pandas as pa

    """The feedback table after reading, type coercion and stage derivation.

    Checks that need two columns at once live in :func:`feedback_row_problems`.
    """
    return pa.DataFrameSchema(
        {
            "customer_id": _id_column(),
            "timestamp": _timestamp(),
            "stage": pa.Column(
                checks=pa.Check.isin(
                    list(stages), error=f"one of the study's stages {list(stages)}"
                )
            ),
            "touchpoint": pa.Column(str, nullable=True, required=False),
            "channel": pa.Column(str, nullable=True, required=False),
            "instrument": pa.Column(
                str, pa.Check.isin(list(INSTRUMENTS), error=f"one of {list(INSTRUMENTS)}")
            ),
            "score": pa.Column(float, nullable=True),
            "text": pa.Column(str, nullable=True, required=False),
        },
        strict=False,
        name="feedback",
    )


def feedback_row_problems(
    feedback: pd.DataFrame, source: Source, *, rating_scale: tuple[float, float] | None = None
) -> list[Problem]:
    """Row-wise checks of feedback: each score within its instrument's range, text on text rows.

    A ``rating`` row needs the study's rating scale; without one it is a problem too.
    """
    problems = []
    scales = dict(INSTRUMENT_SCALES)
    if rating_scale is not None:
        scales["rating"] = rating_scale
    instrument = feedback["instrument"]
    score = feedback["score"]
    low = instrument.map({k: v[0] for k, v in scales.items()}).astype(float)
    high = instrument.map({k: v[1] for k, v in scales.items()}).astype(float)
    scored = instrument.isin(list(scales))
    outside = scored & ~(score.notna() & score.between(low, high))
    if outside.any():
        rows = feedback.index[outside]
        allowed = ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in scales.items())
        problems.append(
            source.problem(
                "score",
                "scores missing or outside their instrument's range",
                expected=allowed,
                rows=rows,
                values=[
                    f"{i} {s:g}" for i, s in zip(instrument[rows[:5]], score[rows[:5]], strict=True)
                ],
            )
        )
    text = feedback["text"] if "text" in feedback else pd.Series(pd.NA, index=feedback.index)
    blank = instrument.eq("text") & text.fillna("").astype("str").str.strip().eq("")
    checks = [
        (
            instrument.eq("rating") & (rating_scale is None),
            "instrument",
            "rating",
            "'rating' rows but the study file declares no rating scale",
            "[emotion] rating_scale = [min, max] in the study file",
        ),
        (
            blank,
            "text",
            "",
            "'text' feedback rows with no text",
            "a comment on every row whose instrument is 'text'",
        ),
    ]
    for mask, column, shown, message, expected in checks:
        if mask.any():
            rows = feedback.index[mask]
            problems.append(
                source.problem(
                    column,
                    message,
                    expected=expected,
                    rows=rows,
                    values=[shown] * min(5, len(rows)),
                )
            )
    return problems


_BUILTIN_CHECKS = {
    "field_uniqueness": ("values appear more than once", "unique values"),
    "not_nullable": ("missing values", "a value in every row"),
}


def validate_table(
    frame: pd.DataFrame, schema: pa.DataFrameSchema, source: Source
) -> list[Problem]:
    import pandera.pandas as pa

    """Validate ``frame`` lazily and return every failure as a :class:`Problem`.

    ``frame``'s index must be the 0-based row positions in the source file, so that the
    problems point at the user's rows. The frame is not modified.
    """
    # a categorical text column (a log's names, kept as read) is text: its checks run on
    # its values, its type is its categories' (clean_text makes them text)
    categorical = {
        name: {"dtype": None}
        for name, column in schema.columns.items()
        if name in frame and isinstance(frame[name].dtype, pd.CategoricalDtype)
    }
    if categorical:
        schema = schema.update_columns(categorical)
    try:
        schema.validate(frame, lazy=True, inplace=False)
    except pa.errors.SchemaErrors as exc:
        return _problems(exc.failure_cases, source)
    return []


def _problems(cases: pd.DataFrame, source: Source) -> list[Problem]:
    problems: list[Problem] = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        check = str(check)
        if check == "column_in_dataframe":
            problems.append(
                source.problem(None, f"missing column '{group['failure_case'].iloc[0]}'")
            )
            continue
        rows = group["index"].dropna().astype(int).drop_duplicates()
        values = group.loc[rows.index, "failure_case"].tolist()
        message, expected = _BUILTIN_CHECKS.get(check, ("unexpected values", check))
        if check.startswith("dtype("):
            message, expected = "values of the wrong type", check
        problems.append(
            source.problem(
                None if pd.isna(column) else str(column),
                message,
                expected=expected,
                rows=list(rows),
                values=values,
            )
        )
    # one stable order: by column as the user sees them, then by message
    return sorted(problems, key=lambda p: (p.column or "", p.message))
