"""The engines behind ``[data] engine``: where the tables are read and the event-log scans run.

- ``"duckdb"`` (the default): the tables are read as on the pandas path, and the scans over
  the whole event log (unknown customers, rows after the end of observation, exact duplicates,
  the order by customer and time) run as one DuckDB query over the log's Arrow columns, in
  process and multi-threaded, instead of pandas' ``isin``, ``duplicated`` and ``sort_values``
  on string ids. Duplicates are grouped by customer, time and a hash of the row, and the
  rows sharing a hash are compared whole (:func:`keep_rows`).
- ``"pandas"``: the reference path, every step in pandas.
- ``"spark"``: the tables are read by a Spark session built from ``[spark] master`` and
  ``conf`` (paths, globs and folders, or catalog tables named ``spark:db.table``) and the same
  scans run on Spark.

The scans are written once, as narwhals expressions (:func:`kept_rows_query`), and run on
DuckDB or Spark unchanged. Following the house rules for narwhals: engines are created here
only (UTC session time zone), booleans are cast before they are summed, results are
collected as Arrow, and every window or order has a row-number tie-breaker.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cjresearch.data.study import (
    SPARK_TABLE_PREFIX,
    SparkSettings,
    is_glob,
    is_spark_table,
    table_kind,
)
from cjresearch.errors import DataError, Problem, StudyFileError

if TYPE_CHECKING:
    import narwhals as nw

__all__ = [
    "ENGINES",
    "KeptRows",
    "keep_rows",
    "kept_rows_query",
    "location_sha256",
    "read_spark_table",
    "spark_session",
    "table_files",
]

#: The values of ``[data] engine``.
ENGINES = ("duckdb", "pandas", "spark")

_ROW = "__row"
_AFTER = "__after_end"
_HASH = "__hash"
#: Rows hashed at a time (each column's hashes are a uint64 array of the rows hashed).
_HASH_ROWS = 2_000_000


def table_files(location: Path, *, table: str) -> list[Path]:
    """The files of one ``[data]`` table: the file itself, the files a glob matches (sorted)
    or the Parquet files under a folder (sorted, partition folders included).

    Raises
    ------
    DataError
        A glob or folder matches no table file (one line naming the key and the pattern).
    """
    if is_glob(location):
        files = sorted(Path(p) for p in glob.glob(str(location), recursive=True))
        files = [f for f in files if f.is_file()]
        what = "no file matches the pattern"
    elif location.is_dir():
        files = sorted(
            p
            for p in location.rglob("*")
            if p.is_file() and table_kind(p) == "parquet" and not p.name.startswith((".", "_"))
        )
        what = "no Parquet file (*.parquet) in the folder"
    else:
        return [location]
    if not files:
        msg = f"[data] {table}: {what} '{location}'"
        raise DataError([Problem(file=location.name, column=None, message=msg)])
    kinds = {table_kind(f) for f in files}
    if len(kinds) != 1 or None in kinds:
        names = sorted({f.name for f in files if table_kind(f) is None})[:3] or [files[0].name]
        msg = (
            f"[data] {table}: the pattern '{location}' matches files of more than one kind "
            f"(or not .csv, .csv.gz, .parquet), e.g. {names}; match one kind of file"
        )
        raise DataError([Problem(file=location.name, column=None, message=msg)])
    return files


def location_sha256(location: Path, *, table: str) -> str | None:
    """A SHA-256 of a table's contents, to tell whether it changed since the last build:
    the file's, or one over the names and hashes of a glob's or folder's files; None when
    there is no file to read. A Spark catalog table cannot be hashed from here: it gets a
    new random value on every call, so that a build never reuses artifacts computed from it.
    """
    import hashlib
    import uuid

    from cjresearch._files import file_sha256

    if is_spark_table(location):
        return f"unhashed-{uuid.uuid4().hex}"
    if location.is_file():
        return file_sha256(location)
    if not (is_glob(location) or location.is_dir()):
        return None
    try:
        files = table_files(location, table=table)
    except DataError:
        return None
    digest = hashlib.sha256()
    for file in files:
        name = file.relative_to(location) if location.is_dir() else file.name
        digest.update(f"{name}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()


# --- the scans over the event log, once for every engine ------------------------------------


@dataclass(frozen=True)
class KeptRows:
    """What the scans keep of an event or feedback table.

    Attributes
    ----------
    order
        Positions (0-based, in the table as read) of the rows kept, ordered by customer,
        then time, then position (a stable sort).
    unknown_customer, after_end, duplicates
        Rows dropped for each reason, counted in this order (a row is counted once).
    """

    order: np.ndarray
    unknown_customer: int
    after_end: int
    duplicates: int


def kept_rows_query(
    rows: nw.LazyFrame,
    customers: nw.LazyFrame,
    *,
    columns: Sequence[str],
    drop_duplicates: bool,
) -> tuple[nw.LazyFrame, nw.LazyFrame]:
    """The scans as narwhals expressions (the same on DuckDB and Spark).

    Parameters
    ----------
    rows
        The table with ``customer_id``, ``timestamp``, a row number ``__row`` and a boolean
        ``__after_end``, plus every other column in ``columns``.
    customers
        One column, ``customer_id``: the known customers.
    columns
        The table's own columns (what makes two rows exact duplicates).
    drop_duplicates
        Whether exact duplicates are dropped (all but the first of each).

    Returns
    -------
    tuple of LazyFrame
        The counts (one row: ``n_known``, ``n_in_time``) and the rows kept (one column,
        ``__row``, in the order of :attr:`KeptRows.order`).
    """
    import narwhals as nw

    known = rows.join(customers, on="customer_id", how="semi")
    counts = known.select(
        n_known=nw.len(),
        n_in_time=(~nw.col(_AFTER)).cast(nw.Int64).sum(),
    )
    in_time = known.filter(~nw.col(_AFTER))
    if drop_duplicates:
        in_time = in_time.group_by(*columns, drop_null_keys=False).agg(nw.col(_ROW).min())
    kept = in_time.sort("customer_id", "timestamp", _ROW, nulls_last=True).select(_ROW)
    return counts, kept


def keep_rows(
    frame: pd.DataFrame,
    known: pd.Series,
    *,
    end: pd.Timestamp,
    drop_duplicates: bool,
    engine: str,
    spark: Any = None,
    memory_limit: str | None = None,
) -> KeptRows | None:
    """Run :func:`kept_rows_query` on DuckDB or Spark.

    ``memory_limit`` caps DuckDB's own memory (``[data] duckdb_memory_limit``); above it the
    aggregate and the sort spill to a temporary folder, removed afterwards.

    Exact duplicates are found without handing the engine every column: it groups the rows
    by customer, time and a 64-bit hash of the whole row (three narrow columns: at 1,000,000
    customers the scan's input is half the size, and no free text is aggregated). Every set
    of rows that share a hash is then compared whole, in pandas; should two different rows
    share one (a hash collision), the scan is run again on every column.

    Returns None when the table's columns cannot be held as Arrow columns (e.g. a column
    of mixed Python objects); the caller then takes the pandas path.
    """
    columns = ["customer_id", "timestamp"]
    narrow = frame[columns]
    if drop_duplicates:
        try:
            digest = row_hashes(frame)
        except TypeError:
            return None
        repeated = _repeated(digest)
        if not len(repeated):
            # no two rows share a hash, so no two are equal: nothing to drop, and the engine
            # need not group every row (at 1,000,000 customers the largest part of the scan)
            drop_duplicates = False
        elif _collides(frame, digest, repeated):
            narrow, columns = frame, list(frame.columns)
        else:
            narrow = narrow.assign(**{_HASH: digest})
            columns = [*columns, _HASH]
        del digest
    return _scan(
        narrow,
        known,
        columns=columns,
        end=end,
        drop_duplicates=drop_duplicates,
        engine=engine,
        spark=spark,
        memory_limit=memory_limit,
    )


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash of each row's values (as int64: Spark has no unsigned integers); equal
    rows have equal hashes, whatever their columns' dtypes (a categorical hashes as its
    values)."""
    parts = [  # a slice of rows at a time: hashing combines a uint64 array per column
        pd.util.hash_pandas_object(frame.iloc[start : start + _HASH_ROWS], index=False)
        .to_numpy()
        .view(np.int64)
        for start in range(0, len(frame), _HASH_ROWS)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _repeated(digest: np.ndarray) -> np.ndarray:
    """The hashes that more than one row has (a value once per extra row)."""
    ordered = np.sort(digest)
    return ordered[1:][ordered[1:] == ordered[:-1]]


def _collides(frame: pd.DataFrame, digest: np.ndarray, repeated: np.ndarray) -> bool:
    """Whether two different rows share a hash: the rows whose hash repeats (``repeated``:
    the few exact duplicates and, rarely, a collision) compared whole."""
    rows = np.isin(digest, repeated)
    candidates = frame[rows]
    return len(candidates.drop_duplicates()) != len(np.unique(digest[rows]))


def _scan(
    frame: pd.DataFrame,
    known: pd.Series,
    *,
    columns: Sequence[str],
    end: pd.Timestamp,
    drop_duplicates: bool,
    engine: str,
    spark: Any,
    memory_limit: str | None,
) -> KeptRows | None:
    """:func:`kept_rows_query` over ``frame``, exact duplicates being equal ``columns``."""
    import narwhals as nw

    names = {c: f"c{i}" for i, c in enumerate(frame.columns)}
    names.update(customer_id="customer_id", timestamp="timestamp")
    keys = [names[c] for c in columns]
    try:
        table = _arrow(frame.rename(columns=names))
        ids = pa.table({"customer_id": _arrow_column(known.drop_duplicates())})
    except (pa.ArrowException, TypeError, ValueError):
        return None
    after = frame["timestamp"].ge(end).fillna(False).to_numpy(dtype=bool)
    table = table.append_column(_ROW, pa.array(np.arange(len(frame), dtype=np.int64)))
    table = table.append_column(_AFTER, pa.array(after))
    if engine == "spark":
        rows, customers = (nw.from_native(spark.createDataFrame(t)) for t in (table, ids))
        counts, kept = kept_rows_query(
            rows, customers, columns=keys, drop_duplicates=drop_duplicates
        )
        count_table, kept_table = (q.to_native().toArrow() for q in (counts, kept))
    else:
        import duckdb

        with tempfile.TemporaryDirectory(prefix="cjresearch-duckdb-") as spill:
            con = duckdb_connection(memory_limit=memory_limit, spill=Path(spill))
            rows, customers = (nw.from_native(con.from_arrow(t)) for t in (table, ids))
            counts, kept = kept_rows_query(
                rows, customers, columns=keys, drop_duplicates=drop_duplicates
            )
            try:
                count_table, kept_table = (_duckdb_arrow(q.to_native()) for q in (counts, kept))
            except duckdb.OutOfMemoryException:
                msg = (
                    f"[data] duckdb_memory_limit = '{memory_limit}' is too little for DuckDB "
                    f"to scan a log of {len(frame):,} rows, even spilling to disk; raise it"
                )
                raise StudyFileError(msg) from None
            finally:
                con.close()
    n_known = int(count_table["n_known"][0].as_py() or 0)
    n_in_time = int(count_table["n_in_time"][0].as_py() or 0)
    order = kept_table[_ROW].to_numpy().astype(np.int64, copy=False)
    return KeptRows(
        order=order,
        unknown_customer=len(frame) - n_known,
        after_end=n_known - n_in_time,
        duplicates=n_in_time - len(order),
    )


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow columns without dictionaries (engines compare plain values)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return pa.table(
        [_plain(table[c]) for c in table.column_names],
        names=table.column_names,
    )


def _arrow_column(series: pd.Series) -> pa.ChunkedArray:
    return _plain(pa.chunked_array([pa.array(series, from_pandas=True)]))


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    if pa.types.is_timestamp(column.type):
        return column.cast(pa.timestamp("us", tz="UTC"))
    return column


def _duckdb_arrow(relation: Any) -> pa.Table:
    """A DuckDB relation's result as one Arrow table (``to_arrow_table`` from duckdb 1.4)."""
    to_table = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return to_table()


def _nanosecond_times(arrow: pa.Table, file: Path) -> pa.Table:
    """Columns stored as nanosecond timestamps (read by Spark as numbers) as timestamps."""
    import pyarrow.parquet as pq

    stored = pq.read_schema(file)
    columns = []
    for name in arrow.column_names:
        column = arrow[name]
        index = stored.get_field_index(name)
        kind = stored.field(index).type if index >= 0 else None
        if (
            kind is not None
            and pa.types.is_timestamp(kind)
            and kind.unit == "ns"
            and pa.types.is_integer(column.type)
        ):
            column = column.cast(pa.int64()).cast(kind)
        columns.append(column)
    return pa.table(columns, names=arrow.column_names)


def duckdb_connection(*, memory_limit: str | None = None, spill: Path | None = None) -> Any:
    """A new in-process DuckDB connection with the session time zone pinned to UTC.

    ``memory_limit`` (e.g. ``"2GB"``) caps DuckDB's memory, ``spill`` is the folder it
    spills to above it; without them DuckDB takes its defaults (80% of the machine's memory,
    which it does not share with the pandas frames of the same process). Queries here order
    their results explicitly, so insertion order is not kept (less memory)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    if memory_limit is not None:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if spill is not None:
        con.execute(f"SET temp_directory = '{spill}'")
    return con


# --- Spark ----------------------------------------------------------------------------------


def spark_session(settings: SparkSettings) -> Any:
    """The Spark session of ``[spark] master`` and ``conf`` (created once per process).

    cjresearch's defaults come first and ``conf`` overrides them: the session time zone is
    UTC, Parquet timestamps are written in microseconds, the console progress bar is off;
    in local mode the web UI is off and the driver binds to the loopback address.

    Raises
    ------
    StudyFileError
        pyspark is not installed, or the session cannot start (e.g. no Java).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        msg = (
            '[data] engine = "spark" needs pyspark and Java 17: install them with '
            "`make spark` (or `pip install 'cjresearch[spark]'` and a Java 17 runtime)"
        )
        raise StudyFileError(msg) from None
    local = settings.master.startswith("local")
    conf: dict[str, str] = {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.ui.showConsoleProgress": "false",
        # pandas writes nanosecond timestamps, which Spark reads only as numbers (see
        # read_spark_table, which turns them back into timestamps)
        "spark.sql.legacy.parquet.nanosAsLong": "true",
    }
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        conf |= {
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.driver.host": "127.0.0.1",
        }
    conf |= {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in settings.conf.items()}
    builder = SparkSession.builder.master(settings.master).appName("cjresearch")
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j and pyspark raise several types when the JVM fails
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        msg = (
            f"[spark] master '{settings.master}': the Spark session did not start "
            f"({type(exc).__name__}: {first}); is Java 17 installed (`make spark`)?"
        )
        raise StudyFileError(msg) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def read_spark_table(
    spark: Any,
    location: Path,
    *,
    table: str,
    delimiter: str,
    encoding: str,
    na_values: Sequence[str],
    literal: Sequence[str],
) -> pd.DataFrame:
    """One table read by Spark: a catalog table (``spark:db.table``), or the files of a path,
    glob or folder (CSV as text with a header, Parquet as stored), collected as Arrow.

    CSV cells are read as text, as on the pandas path: blanks are missing, and the words
    pandas reads as missing (``NA``, ``null``...) are missing except in ``literal`` columns.

    Raises
    ------
    DataError
        The table or files cannot be read (one line naming the table).
    """
    text = str(location)
    try:
        if is_spark_table(text):
            frame = spark.table(text.removeprefix(SPARK_TABLE_PREFIX))
            csv = False
        else:
            files = table_files(location, table=table)
            csv = table_kind(files[0]) == "csv"
            reader = spark.read
            # a folder is read whole, so that Spark finds its partition columns
            paths = [text] if location.is_dir() else [str(f) for f in files]
            if csv:
                reader = reader.options(header=True, sep=delimiter, encoding=encoding)
                frame = reader.csv(paths, inferSchema=False)
            else:
                frame = reader.parquet(*paths)
        arrow = frame.toArrow()
        if not csv and not is_spark_table(text):
            arrow = _nanosecond_times(arrow, files[0])
    except DataError:
        raise
    except Exception as exc:  # Spark's analysis and IO errors
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        msg = f"[data] {table}: Spark could not read '{text}' ({type(exc).__name__}: {first})"
        raise DataError([Problem(file=location.name, column=None, message=msg)]) from None
    out = pa.table(
        [_plain(arrow[c]) for c in arrow.column_names], names=arrow.column_names
    ).to_pandas()
    if csv:
        missing = set(na_values)
        for column in out.columns:
            if column not in literal and pd.api.types.is_string_dtype(out[column]):
                out[column] = out[column].mask(out[column].isin(missing))
    return out
