"""Reading a study's tables into validated canonical frames, and writing artifacts.

:func:`load_tables` is the boundary between a user's files and the rest of the package:

1. read each table (CSV or Parquet) with the study's delimiter and encoding;
2. apply the study's column renames;
3. coerce types (ids and names to text, timestamps to UTC, scores to numbers, churn to bool);
4. derive ``stage`` from ``[stage_map]`` where the log has none, and churn from inactivity
   where the study says so;
5. validate with pandera (:mod:`cjresearch.data.schema`), collecting every fatal problem of every
   table into one :class:`~cjresearch.errors.DataError`;
6. drop recoverable rows (events or feedback of unknown customers, exact duplicates, rows
   after the end of observation) with a :class:`~cjresearch.errors.DataWarning`, and count
   them in :attr:`StudyTables.drops`: nothing is lost silently.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import json
import warnings
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES

from cjresearch.data import consistency
from cjresearch.data.engine import keep_rows, read_spark_table, spark_session, table_files
from cjresearch.data.schema import (
    REQUIRED_COLUMNS,
    Source,
    customers_schema,
    events_schema,
    feedback_row_problems,
    feedback_schema,
    validate_table,
)
from cjresearch.data.study import Study, is_glob, is_spark_table, table_kind
from cjresearch.data.values import (
    TIME_EXPECTED,
    TIME_RANGE,
    clean_text,
    parse_bools,
    parse_numbers,
    parse_times,
    present,
    value_positions,
)
from cjresearch.errors import DataError, DataWarning, Problem

__all__ = [
    "Drop",
    "StudyTables",
    "load_tables",
    "read_table",
    "validate_tables",
    "write_parquet",
]

# Columns read as text whatever they look like ("00123" is an id, not the number 123).
_TEXT_COLUMNS = (
    "customer_id",
    "touchpoint",
    "stage",
    "channel",
    "instrument",
    "text",
    "session_id",
)
# Ids and names are taken literally: "NA", "null" and "None" are names, only a blank is missing.
_LITERAL_COLUMNS = ("customer_id", "touchpoint", "stage", "channel", "session_id")
# Delimiters a one-column file is tried with, and how to write each in the study file.
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe", ",": "comma", " ": "space"}
_TIME_COLUMNS = {
    "customers": ("signup_date", "churn_date"),
    "events": ("timestamp",),
    "feedback": ("timestamp",),
}
_NUMBER_COLUMNS = {"events": ("emotion",), "feedback": ("score",)}


@dataclass(frozen=True)
class Drop:
    """Rows dropped from one table for one reason (recorded in the build manifest)."""

    table: str
    reason: str
    n_rows: int


@dataclass(frozen=True)
class StudyTables:
    """The study's validated canonical tables.

    Attributes
    ----------
    customers, events, feedback
        Canonical frames (RangeIndex). ``feedback`` is None when the study has none.
        ``stage`` is an ordered categorical in the study's stage order.
    observation_end
        The exclusive end of observation (UTC): the day after ``[study] observation_end``,
        or just after the latest event when the study does not set one.
    rows_read
        Rows read per table, before anything was dropped.
    drops
        Every recoverable drop, per table and reason.
    """

    customers: pd.DataFrame
    events: pd.DataFrame
    feedback: pd.DataFrame | None
    observation_end: pd.Timestamp
    rows_read: dict[str, int]
    drops: tuple[Drop, ...] = field(default_factory=tuple)

    def summary(self) -> pd.DataFrame:
        """Rows read, kept and dropped per table.

        Returns
        -------
        DataFrame
            Columns ``table, rows_read, rows_kept, rows_dropped``.
        """
        kept = {"customers": self.customers, "events": self.events, "feedback": self.feedback}
        rows = [
            {
                "table": table,
                "rows_read": n,
                "rows_kept": len(kept[table]) if kept[table] is not None else 0,
                "rows_dropped": sum(d.n_rows for d in self.drops if d.table == table),
            }
            for table, n in self.rows_read.items()
        ]
        return pd.DataFrame(rows, columns=["table", "rows_read", "rows_kept", "rows_dropped"])


def read_table(
    path: str | Path,
    *,
    table: str,
    renames: dict[str, str] | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
    spark: object = None,
) -> tuple[pd.DataFrame, Source]:
    """Read one CSV (plain or ``.csv.gz``) or Parquet table and apply renames (your column ->
    canonical name).

    ``path`` may also be a glob of such files (``events/*.csv.gz``) or a folder of Parquet
    files (plain or Hive-partitioned); their rows are read in the order of the sorted file
    names, and problems name rows of the combined table. With a Spark session (``spark``),
    Spark reads the path, glob, folder or catalog table (``spark:db.table``).

    Canonical text columns are read as text; ids and names (``customer_id``, ``touchpoint``,
    ``stage``, ``channel``) literally, so ``NA`` or ``None`` is a name and only a blank cell
    is missing. Nothing else is coerced here.

    Raises
    ------
    DataError
        The file is missing, empty, not text in ``encoding``, not split by ``delimiter``,
        names a column twice, or is not readable Parquet or gzip; a glob or folder holds
        no table file, or files with different columns.
    """
    path = Path(path)
    renames = renames or {}
    kind = table_kind(path) or "csv"
    source = Source(table=table, name=path.name, kind=kind)
    if spark is not None:
        if not is_spark_table(path):  # files the driver sees: their headers, as on DuckDB
            for file in table_files(path, table=table):
                if file.is_file() and table_kind(file) != "parquet":
                    named = Source(table=table, name=file.name, kind="csv")
                    _csv_header(file, named, delimiter=delimiter, encoding=encoding)
        inverse = {canonical: raw for raw, canonical in renames.items()}
        frame = read_spark_table(
            spark,
            path,
            table=table,
            delimiter=delimiter,
            encoding=encoding,
            na_values=sorted(STR_NA_VALUES),
            literal=[inverse.get(c, c) for c in _LITERAL_COLUMNS],
        )
        source = Source(table=table, name=path.name, kind="parquet")
    elif is_glob(path) or path.is_dir():
        frame = _read_many(
            path, table_files(path, table=table), source, renames, delimiter, encoding
        )
        source = Source(table=table, name=path.name, kind="parquet")
    elif not path.is_file():
        raise DataError([source.problem(None, f"file not found at {path}")])
    elif kind == "parquet":
        frame = _read_parquet(path, source)
    else:
        frame = _read_csv(path, source, renames=renames, delimiter=delimiter, encoding=encoding)
    # A rename whose column is absent while the canonical one is present would silently read
    # the wrong column (e.g. [churn] column = "left" on a file that has "churned").
    shadowed = {src: dst for src, dst in renames.items() if src not in frame and dst in frame}
    if shadowed:
        src, dst = next(iter(shadowed.items()))
        msg = (
            f"the study file maps column '{src}' to '{dst}', but the file has no '{src}' "
            f"(it has '{dst}'); fix [columns.{table}] or [churn] column in the study file"
        )
        raise DataError([source.problem(None, msg)])
    frame = frame.rename(columns=renames)
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise DataError([source.problem(None, f"more than one column named {dupes} after renames")])
    return frame.reset_index(drop=True), source


def _read_many(
    location: Path,
    files: list[Path],
    source: Source,
    renames: dict[str, str],
    delimiter: str,
    encoding: str,
) -> pd.DataFrame:
    """The files of a glob or folder as one frame (every file must have the same columns)."""
    if table_kind(files[0]) == "parquet":
        import pyarrow.dataset as pads
        import pyarrow.parquet as pq

        columns = {}
        for file in files:
            names = _parquet_names(file, Source(table=source.table, name=file.name, kind="parquet"))
            columns[file] = names
        _same_columns(columns, source)
        # a folder's partition folders (stage=onboarding/) are columns of the table
        partitioned = location.is_dir()
        dataset = pads.dataset(
            [str(f) for f in files],
            format="parquet",
            partitioning="hive" if partitioned else None,
            partition_base_dir=str(location) if partitioned else None,
            schema=pq.read_schema(files[0]) if not partitioned else None,
        )
        return dataset.to_table().to_pandas()
    frames = {
        file: _read_csv(
            file,
            Source(table=source.table, name=file.name, kind="csv"),
            renames=renames,
            delimiter=delimiter,
            encoding=encoding,
        )
        for file in files
    }
    _same_columns({f: list(frame.columns) for f, frame in frames.items()}, source)
    return pd.concat(list(frames.values()), ignore_index=True)


def _parquet_names(path: Path, source: Source) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        msg = f"not a readable Parquet file ({type(exc).__name__}: {str(exc)[:160]})"
        raise DataError([source.problem(None, msg)]) from None


def _same_columns(columns: Mapping[Path, list[str]], source: Source) -> None:
    first, *rest = columns
    for file in rest:
        if set(columns[file]) != set(columns[first]):
            extra = sorted(set(columns[file]) ^ set(columns[first]))[:6]
            msg = (
                f"the files of '{source.name}' have different columns: {file.name} and "
                f"{first.name} differ in {extra}; give every file the same columns"
            )
            raise DataError([source.problem(None, msg)])


def _read_parquet(path: Path, source: Source) -> pd.DataFrame:
    try:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise DataError([_duplicate_header(source, names, dupes)])
        return pd.read_parquet(path)
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        cause = str(exc).replace(str(path), path.name).splitlines()[0] if str(exc) else ""
        msg = f"not a readable Parquet file ({type(exc).__name__}: {cause[:160]})"
        raise DataError([source.problem(None, msg)]) from None


def _duplicate_header(source: Source, names: list[str], dupes: list[str]) -> Problem:
    where = "; ".join(
        f"{name!r} in columns {', '.join(str(i + 1) for i, n in enumerate(names) if n == name)}"
        for name in dupes
    )
    return source.problem(
        None,
        f"the header names a column more than once ({where}); give every column its own name",
    )


@contextmanager
def _text(path: Path, encoding: str) -> Iterator[IO[str]]:
    """The file as text (gunzipped for ``.gz``), without a UTF-8 byte-order mark."""
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rt", encoding=encoding, newline="") as handle:
            yield handle
    else:
        with path.open(encoding=encoding, newline="") as handle:
            yield handle


def _first_lines(path: Path, source: Source, *, delimiter: str, encoding: str) -> list[list[str]]:
    """The header and a few rows, split by ``delimiter`` (an undecodable file gives none:
    pandas reports it with its position)."""
    try:
        with _text(path, encoding) as handle:
            reader = csv.reader(handle, delimiter=delimiter, skipinitialspace=True)
            return [row for _, row in zip(range(6), reader, strict=False)]
    except UnicodeDecodeError:
        return []
    except csv.Error:
        return []
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        msg = f"not a readable gzip file ({type(exc).__name__}: {str(exc)[:120]})"
        raise DataError([source.problem(None, msg)]) from None


def _csv_header(path: Path, source: Source, *, delimiter: str, encoding: str) -> list[str]:
    """The CSV file's header; a column named twice is an error (pandas would silently read
    the second one as 'plan.1', and Spark would rename them too)."""
    lines = _first_lines(path, source, delimiter=delimiter, encoding=encoding)
    header = lines[0] if lines else []
    dupes = sorted({n for n in header if header.count(n) > 1})
    if dupes:
        raise DataError([_duplicate_header(source, header, dupes)])
    return header


def _read_csv(
    path: Path, source: Source, *, renames: dict[str, str], delimiter: str, encoding: str
) -> pd.DataFrame:
    header = _csv_header(path, source, delimiter=delimiter, encoding=encoding)
    inverse = {canonical: raw for raw, canonical in renames.items()}
    dtypes = {inverse.get(c, c): "str" for c in _TEXT_COLUMNS}
    literal = {inverse.get(c, c) for c in _LITERAL_COLUMNS}
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            dtype=dtypes,
            skipinitialspace=True,
            low_memory=False,
            # pandas' missing-value words (NA, null, None...) everywhere but in ids and names
            keep_default_na=False,
            na_values={c: sorted(STR_NA_VALUES) for c in header if c not in literal},
        )
    except UnicodeDecodeError:
        byte, line = _first_bad_byte(path, encoding)
        msg = (
            f"not {encoding} text (byte {byte!r} on line {line}); "
            "save it as UTF-8 or set [data] encoding (e.g. 'latin-1') in the study file"
        )
        raise DataError([source.problem(None, msg)]) from None
    except pd.errors.EmptyDataError:
        raise DataError([source.problem(None, "the file is empty (no header, no rows)")]) from None
    except pd.errors.ParserError as exc:
        msg = f"not a well-formed CSV file with delimiter {delimiter!r}: {str(exc).strip()}"
        raise DataError([source.problem(None, msg)]) from None
    if frame.shape[1] == 1:
        guess = _guess_delimiter(path, delimiter=delimiter, encoding=encoding)
        if guess is not None:
            header_text = str(frame.columns[0])
            # a TOML literal string, except for tab (a literal '\t' would be two characters)
            toml = json.dumps(guess) if guess == "\t" else f"'{guess}'"
            msg = (
                f"the file has one column '{header_text[:60]}', so it is not split by "
                f"{delimiter!r}; it looks {_DELIMITERS[guess]}-delimited ({guess!r}): set "
                f"[data] delimiter = {toml} in the study file"
            )
            raise DataError([source.problem(None, msg)])
    return frame


def _guess_delimiter(path: Path, *, delimiter: str, encoding: str) -> str | None:
    """The delimiter that splits the header and the first rows into one same number (> 1)
    of fields, trying semicolon, tab, pipe, comma and space in that order."""
    for guess in _DELIMITERS:
        if guess == delimiter:
            continue
        try:
            with _text(path, encoding) as handle:
                reader = csv.reader(handle, delimiter=guess, skipinitialspace=True)
                widths = {len(row) for _, row in zip(range(6), reader, strict=False) if row}
        except (UnicodeDecodeError, csv.Error, OSError, EOFError, zlib.error):
            return None
        if len(widths) == 1 and widths.pop() > 1:
            return guess
    return None


def _first_bad_byte(path: Path, encoding: str) -> tuple[bytes, int]:
    """The first byte that does not decode, and its line (pandas' offsets are per chunk)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return chunk[exc.start : exc.start + 1], line + chunk[: exc.start].count(b"\n")
            line += chunk.count(b"\n")
    return b"", line


def load_tables(study: Study) -> StudyTables:
    """Read the study's tables from its files, then :func:`validate_tables` them.

    Returns
    -------
    StudyTables
        The canonical frames, the end of observation and the counted drops.

    Raises
    ------
    DataError
        Every fatal problem of every table, at once (files that cannot be read first).

    Warns
    -----
    DataWarning
        Once per kind of recoverable drop, with its count.
    """
    problems: list[Problem] = []
    frames: dict[str, pd.DataFrame] = {}
    sources: dict[str, Source] = {}
    spark = spark_session(study.spark) if study.data.engine == "spark" else None
    for table in ("customers", "events", "feedback"):
        path = study.data_path(table)
        if path is None:
            continue
        try:
            frames[table], sources[table] = read_table(
                path,
                table=table,
                renames=study.renames(table),
                delimiter=study.data.delimiter,
                encoding=study.data.encoding,
                spark=spark,
            )
        except DataError as exc:
            problems.extend(exc.problems)
    if problems:
        raise DataError(problems)
    # the frames as read are handed over: each goes as soon as its checked copy is made
    return _validate(study, frames, sources)


def validate_tables(
    study: Study,
    frames: Mapping[str, pd.DataFrame],
    *,
    sources: Mapping[str, Source] | None = None,
) -> StudyTables:
    """Canonicalise and validate tables already in memory (with canonical column names).

    Parameters
    ----------
    study
        The study (stages, stage map, churn definition, rating scale).
    frames
        ``customers`` and ``events`` (and optionally ``feedback``) as read, after renames.
        They are not modified.
    sources
        Where each frame came from, so that problems name the file and its lines; frames
        without one are named after the table with 1-based row numbers.

    Returns
    -------
    StudyTables
        As :func:`load_tables`.
    """
    return _validate(study, dict(frames), sources or {})


def _validate(
    study: Study, frames: dict[str, pd.DataFrame], sources: Mapping[str, Source]
) -> StudyTables:
    """:func:`validate_tables` on a dict of its own: its frames are replaced as they are
    checked, so that a frame as read is freed once its checked copy exists."""
    missing = [t for t in ("customers", "events") if t not in frames]
    if missing:
        msg = f"validate_tables needs the tables {missing}; got {sorted(frames)}"
        raise DataError([Problem(file=t, column=None, message=msg) for t in missing])
    sources = {
        table: sources.get(table) or Source(table=table, name=table, kind="frame")
        for table in frames
    }
    for table in frames:
        frames[table] = frames[table].reset_index(drop=True)
    rows_read = {table: len(frame) for table, frame in frames.items()}
    problems: list[Problem] = []
    for table, frame in frames.items():
        problems.extend(_check_shape(frame, sources[table], study))
    if problems:
        raise DataError(problems)

    unreadable: dict[str, pd.Index] = {}
    for table in list(frames):
        frames[table], found, unreadable[table] = _coerce(frames[table], sources[table])
        problems.extend(found)
    frames["events"], found = _derive_event_stages(frames["events"], sources["events"], study)
    problems.extend(found)
    if "feedback" in frames:
        frames["feedback"], found = _derive_feedback_stages(
            frames["feedback"], sources["feedback"], study, frames["events"]
        )
        problems.extend(found)
    for table, frame in frames.items():
        if "stage" in frame:
            # rows with no stage are reported above; the schema would repeat it
            unreadable[table] = unreadable[table].union(frame.index[frame["stage"].isna()])
    problems.extend(consistency.name_problems(frames, sources))

    if study.churn.derived:
        if "churned" in frames["customers"]:
            warnings.warn(
                f"{sources['customers'].name}: column 'churned' is replaced by churn derived "
                "from [churn] inactivity_days",
                DataWarning,
                stacklevel=2,
            )
        frames["customers"] = frames["customers"].assign(churned=False)
    schemas = {
        "customers": customers_schema(),
        "events": events_schema(study.stages),
        "feedback": feedback_schema(study.stages),
    }
    for table, frame in frames.items():
        # Rows with unreadable values are already reported; checking them again would repeat it.
        readable = _without(frame, unreadable[table])
        problems.extend(validate_table(readable, schemas[table], sources[table]))
        if table == "feedback":
            problems.extend(
                feedback_row_problems(
                    readable, sources[table], rating_scale=study.emotion.rating_scale
                )
            )
    problems.extend(_study_problems(frames, sources, study, unreadable))
    if problems:
        order = {source.name: i for i, source in enumerate(sources.values())}
        raise DataError(sorted(problems, key=lambda p: order.get(p.file, len(order))))

    return _finish(frames, study, rows_read)


def _study_problems(
    frames: Mapping[str, pd.DataFrame],
    sources: Mapping[str, Source],
    study: Study,
    unreadable: Mapping[str, pd.Index],
) -> list[Problem]:
    """Checks of the readable rows against each other and the study file (dates, controls)."""
    readable = {t: _without(f, unreadable[t]) for t, f in frames.items()}
    problems = consistency.control_problems(readable["customers"], sources["customers"], study)
    problems += consistency.management_problems(readable, sources, study)
    dated = consistency.date_range_problems(readable, sources, study)
    problems += dated
    if not dated and not readable["events"].empty:
        end = consistency.observation_end(readable, study)
        problems += consistency.customer_date_problems(
            readable["customers"],
            [readable["events"], readable.get("feedback")],
            sources["customers"],
            study,
            end,
        )
    return problems


#: The event log's columns of repeated names, held as categories.
_NAME_COLUMNS = ("touchpoint", "channel")


def _without(frame: pd.DataFrame, rows: pd.Index) -> pd.DataFrame:
    """The frame without ``rows`` (itself, not a copy, when there are none)."""
    return frame.drop(index=rows) if len(rows) else frame


def _check_shape(frame: pd.DataFrame, source: Source, study: Study) -> list[Problem]:
    """Required columns and empty tables: problems that make further checks meaningless."""
    problems = []
    required = list(REQUIRED_COLUMNS[source.table])
    if source.table == "customers" and not study.churn.derived:
        required.append("churned")
    if source.table == "feedback" and "stage" not in frame and "touchpoint" not in frame:
        problems.append(
            source.problem(None, "missing column 'stage' (or 'touchpoint' to derive it from)")
        )
    if source.table == "feedback" and "score" not in frame and "text" not in frame:
        problems.append(source.problem(None, "missing column 'score' (or 'text')"))
    mapping = getattr(study.columns, source.table)
    for column in required:
        if column not in frame:
            hint = f" (renamed from '{mapping[column]}')" if column in mapping else ""
            fix = (
                "; set [churn] column or [churn] inactivity_days"
                if column == "churned"
                else f"; map yours under [columns.{source.table}] in the study file"
            )
            problems.append(
                source.problem(
                    None,
                    f"missing column '{column}'{hint}; found {list(frame.columns)[:12]}{fix}",
                )
            )
    if not problems and frame.empty:
        hint = "; remove [data] feedback if there is none" if source.table == "feedback" else ""
        problems.append(source.problem(None, f"the table has a header but no rows{hint}"))
    problems.extend(consistency.nested_problems(frame, source))
    return problems


def _coerce(frame: pd.DataFrame, source: Source) -> tuple[pd.DataFrame, list[Problem], pd.Index]:
    """Canonical types; returns the frame, a problem per unreadable column and the bad rows."""
    problems: list[Problem] = []
    bad_rows = pd.Index([], dtype="int64")
    out = frame.copy(deep=False)  # every changed column is replaced, never written into
    for column in _TEXT_COLUMNS:
        if column in out:
            out[column] = clean_text(out[column])
    if "instrument" in out:
        out["instrument"] = out["instrument"].str.lower()
    if "score" not in out and source.table == "feedback":
        out["score"] = float("nan")
    parsers = [(c, parse_times, TIME_EXPECTED) for c in _TIME_COLUMNS[source.table]]
    parsers += [(c, parse_numbers, "a number") for c in _NUMBER_COLUMNS.get(source.table, ())]
    if source.table == "customers":
        parsers.append(("churned", parse_bools, "true/false, yes/no or 1/0 in every row"))
    for column, parse, expected in parsers:
        if column not in out:
            continue
        raw = out[column]
        out[column], bad, outside = parse(raw)
        given = present(raw)
        for mask, message, wanted in (
            (bad & given, "values that cannot be read", expected),
            (bad & ~given, "missing values", expected),
            (outside, "dates outside the range that can be held", TIME_RANGE),
        ):
            if mask.any():
                rows = raw.index[mask]
                problems.append(
                    source.problem(
                        column, message, expected=wanted, rows=rows, values=raw[rows[:5]].tolist()
                    )
                )
                bad_rows = bad_rows.union(rows)
    return out, problems, bad_rows


def _derive_event_stages(
    events: pd.DataFrame, source: Source, study: Study
) -> tuple[pd.DataFrame, list[Problem]]:
    """Fill ``stage`` from [stage_map] where the log has none; report rows left without one."""
    if "stage" not in events:
        if not study.stage_map:
            return events.assign(stage=pd.Series(pd.NA, index=events.index, dtype="str")), [
                source.problem(
                    None,
                    "missing column 'stage' and the study file has no [stage_map] to derive it",
                    expected="a stage column, or [stage_map] touchpoint = stage",
                )
            ]
        events = events.assign(stage=pd.Series(pd.NA, index=events.index, dtype="str"))
    missing = events["stage"].isna()
    if missing.any():  # only the rows without a stage are looked up
        mapped = events.loc[missing, "touchpoint"].astype("str").map(study.stage_map)
        events = events.assign(stage=_as_text(events["stage"]).fillna(mapped))
        missing = events["stage"].isna()
    if not missing.any():
        return events, []
    rows = events.index[missing]
    touchpoints = events.loc[missing, "touchpoint"].value_counts().index[:8].tolist()
    return events, [
        source.problem(
            "stage",
            f"events with no stage; add their touchpoints to [stage_map]: {touchpoints}",
            rows=rows,
            values=events.loc[rows[:5], "touchpoint"].tolist(),
        )
    ]


def _as_text(column: pd.Series) -> pd.Series:
    """A categorical column as text (to be filled with values that are not its categories)."""
    return column.astype("str") if isinstance(column.dtype, pd.CategoricalDtype) else column


def _derive_feedback_stages(
    feedback: pd.DataFrame, source: Source, study: Study, events: pd.DataFrame
) -> tuple[pd.DataFrame, list[Problem]]:
    """Feedback without a stage takes its touchpoint's stage: from [stage_map], else the
    stage where that touchpoint occurs most often in the event log."""
    if "stage" not in feedback:
        feedback = feedback.assign(stage=pd.Series(pd.NA, index=feedback.index, dtype="str"))
    if "touchpoint" in feedback and feedback["stage"].isna().any():
        lookup = dict(study.stage_map)
        seen = events.dropna(subset=["stage"]).groupby("touchpoint")["stage"]
        for touchpoint, stage in seen.agg(lambda s: s.value_counts().index[0]).items():
            lookup.setdefault(str(touchpoint), str(stage))
        feedback = feedback.assign(
            stage=_as_text(feedback["stage"]).fillna(
                feedback["touchpoint"].astype("str").map(lookup)
            )
        )
    missing = feedback["stage"].isna()
    if not missing.any():
        return feedback, []
    rows = feedback.index[missing]
    examples = feedback["touchpoint"] if "touchpoint" in feedback else feedback["stage"]
    return feedback, [
        source.problem(
            "stage",
            "feedback rows with no stage, and no stage known for their touchpoint",
            expected="a stage, or a touchpoint listed in [stage_map] or seen in the events",
            rows=rows,
            values=examples[rows[:5]].tolist(),
        )
    ]


def _finish(
    frames: dict[str, pd.DataFrame], study: Study, rows_read: dict[str, int]
) -> StudyTables:
    drops: list[Drop] = []
    customers = frames["customers"]
    # every event's and answer's customer as a code into the customers' ids, sorted (a
    # categorical: 4 bytes a row instead of a string; an unknown customer is missing), so that
    # the scans below compare and sort integers, and codes run in the log's order
    known = pd.Index(customers["customer_id"]).sort_values()

    end = consistency.observation_end(frames, study)

    cleaned: dict[str, pd.DataFrame] = {}
    stage = pd.CategoricalDtype(study.stages, ordered=True)
    for table in ("events", "feedback"):
        if table not in frames:
            continue
        # The log's names repeat on every row: held as categories they take a byte or two a
        # row instead of a string each (about 60% of the events frame), and group-bys go by
        # code. They become categories before the rows kept are taken, so that the copy the
        # take makes holds codes, not strings, and the strings as read go first.
        frame = frames.pop(table)
        names = [c for c in _NAME_COLUMNS if c in frame] if table == "events" else []
        frame = frame.assign(
            customer_id=pd.Categorical.from_codes(
                value_positions(frame["customer_id"], known), categories=known
            ),
            stage=frame["stage"].astype(stage),
            **{c: frame[c].astype("category") for c in names},
        )
        frame, found = _keep(frame, known, end=end, study=study)
        drops.extend(Drop(table, reason, n) for reason, n in found)
        # a name met only in the rows dropped is no name of the study; any other text read
        # as categories (Parquet dictionaries; Spark and CSV give text) is text, whatever the
        # file's encoding
        spelled = [
            c
            for c in _TEXT_COLUMNS
            if c in frame
            and c not in (*names, "customer_id", "stage")
            and isinstance(frame[c].dtype, pd.CategoricalDtype)
        ]
        cleaned[table] = frame.assign(
            **{c: frame[c].cat.remove_unused_categories() for c in names},
            **{c: frame[c].astype("str") for c in spelled},
        )
        del frame

    if study.churn.derived:
        customers = _derive_churn(
            customers, cleaned["events"], end=end, days=int(study.churn.inactivity_days or 0)
        )
    customers = customers.reset_index(drop=True)
    kept = tuple(d for d in drops if d.n_rows)
    for drop in kept:
        warnings.warn(
            f"{drop.table}: dropped {drop.n_rows:,} row{'s' if drop.n_rows != 1 else ''} "
            f"({drop.reason}); "
            "the count is recorded in the build manifest",
            DataWarning,
            stacklevel=3,
        )
    return StudyTables(
        customers=customers,
        events=cleaned["events"],
        feedback=cleaned.get("feedback"),
        observation_end=end,
        rows_read=rows_read,
        drops=kept,
    )


def _keep(
    frame: pd.DataFrame, known: pd.Index, *, end: pd.Timestamp, study: Study
) -> tuple[pd.DataFrame, list[tuple[str, int]]]:
    """The rows kept (known customers, before the end, no exact duplicates), ordered by
    customer and time, and the rows dropped per reason: by a query on the study's engine,
    or in pandas (``engine = "pandas"``, or columns the engines cannot hold). The frame's
    ``customer_id`` is a categorical over ``known`` (sorted), missing where unknown."""
    engine = study.data.engine
    kept = None
    if engine != "pandas":
        spark = spark_session(study.spark) if engine == "spark" else None
        # the engine compares the customers' codes (``known`` is sorted: so are they)
        kept = keep_rows(
            frame.assign(customer_id=frame["customer_id"].cat.codes),
            pd.Series(np.arange(len(known), dtype=np.int32)),
            end=end,
            drop_duplicates=study.data.drop_duplicates,
            engine=engine,
            spark=spark,
            memory_limit=study.data.duckdb_memory_limit,
        )
    if kept is not None:
        found = [
            ("customer_id not in customers", kept.unknown_customer),
            ("timestamp after observation_end", kept.after_end),
        ]
        if study.data.drop_duplicates:
            found.append(("exact duplicate row", kept.duplicates))
        return frame.take(kept.order).reset_index(drop=True), found
    frame, n_unknown = _drop(frame, frame["customer_id"].isna())  # not among the codes
    found = [("customer_id not in customers", n_unknown)]
    frame, n_after = _drop(frame, frame["timestamp"] >= end)
    found.append(("timestamp after observation_end", n_after))
    if study.data.drop_duplicates:
        frame, n = _drop(frame, frame.duplicated(keep="first"))
        found.append(("exact duplicate row", n))
    frame = frame.sort_values(["customer_id", "timestamp"], kind="stable")
    return frame.reset_index(drop=True), found


def _drop(frame: pd.DataFrame, mask: pd.Series) -> tuple[pd.DataFrame, int]:
    n = int(mask.sum())
    return (frame[~mask] if n else frame), n


def _derive_churn(
    customers: pd.DataFrame, events: pd.DataFrame, *, end: pd.Timestamp, days: int
) -> pd.DataFrame:
    """Churned = no event in the last ``days`` days before the end of observation.

    ``churn_date`` is the last sign of life (the last event, else the signup date).
    """
    last = events.groupby("customer_id", observed=True)["timestamp"].max()
    last_seen = customers["customer_id"].map(last)
    if "signup_date" in customers:
        last_seen = last_seen.fillna(customers["signup_date"])
    cutoff = end - pd.Timedelta(days=days)
    churned = last_seen.isna() | (last_seen < cutoff)
    return customers.assign(
        churned=churned.astype(bool),
        churn_date=last_seen.where(churned).astype("datetime64[ns, UTC]"),
    )


#: rows per Parquet row group. Arrow's default (1,048,576) writes a categorical's whole
#: dictionary again in every group: the events of 1,000,000 customers (26.6 million rows, a
#: million customer ids) took 15.8 s and 377 MB so, and take 4.4 s and 269 MB in groups of
#: 8,388,608 rows (measured on this project's machine).
ROW_GROUP_ROWS = 8 * 1024 * 1024


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as Parquet atomically (write to a sibling, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(staging, index=False, row_group_size=ROW_GROUP_ROWS)
    staging.replace(path)
    return path
