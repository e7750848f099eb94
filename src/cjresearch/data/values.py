"""Reading one column's values: text, timestamps, numbers and yes/no, each parser giving the
parsed values and the rows it could not read (see :mod:`cjresearch.data.tables`)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = [
    "TIME_EXPECTED",
    "TIME_RANGE",
    "clean_text",
    "parse_bools",
    "parse_numbers",
    "parse_times",
    "present",
    "value_positions",
]

TRUE = {"true", "t", "yes", "y", "1", "1.0"}
FALSE = {"false", "f", "no", "n", "0", "0.0"}


def clean_text(raw: pd.Series) -> pd.Series:
    """Text stripped of surrounding spaces, a blank cell missing.

    A categorical column (Parquet dictionaries) stays categorical: its categories are
    cleaned (those that become the same text merge, a blank one becomes missing) and its
    codes remapped, so that a log's repeated names are never spelled out row by row (three
    such columns of 26.6 million events took 1.5 GB as text). Other columns become ``str``;
    only the values that may need it are stripped: the others come back as they were, with no
    copy of the column (a value whose first and last characters are printable ASCII other
    than a space has nothing to strip).
    """
    if isinstance(raw.dtype, pd.CategoricalDtype):
        cleaned = clean_text(pd.Series(raw.cat.categories, dtype="object"))
        merged, names = pd.factorize(cleaned, sort=True)  # a missing category gets -1
        codes = np.append(merged, -1)[raw.cat.codes.to_numpy()]  # and so does a missing row
        values = pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype="str"))
        return pd.Series(values, index=raw.index, name=raw.name)
    text = raw.astype("str")
    if not isinstance(raw.dtype, pd.StringDtype):
        text = text.where(raw.notna())
    edges = text.str.contains(_EDGE, regex=True, na=False)
    if edges.any():
        text = text.mask(edges, text[edges].str.strip())
    blank = text.eq("")
    return text.mask(blank) if blank.any() else text


#: a first or last character that is not printable ASCII other than a space: only these
#: values can change when stripped (of ASCII or Unicode spaces)
_EDGE = r"^[^!-~]|[^!-~]$"


TIME_EXPECTED = "a date or date-time, e.g. 2026-03-01 or 2026-03-01T09:30Z"
# pandas' nanosecond timestamps run from 1677-09-21 to 2262-04-11
TIME_RANGE = "a date from 1678 to 2261"
UTC = "datetime64[ns, UTC]"


def present(raw: pd.Series) -> pd.Series:
    """Non-missing and, for text, not blank (only text can be blank)."""
    if not (pd.api.types.is_string_dtype(raw) or pd.api.types.is_object_dtype(raw)):
        return raw.notna()
    return raw.notna() & raw.astype("str").str.strip().ne("")


def parse_times(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Timestamps with or without time zone; naive ones are taken as UTC.

    Returns the parsed timestamps (UTC, nanoseconds), the unreadable values and the values
    outside the nanosecond range (both missing in the result).
    """
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed = raw.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_localize("UTC")
    else:
        text = raw.astype("str").where(raw.notna())
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        retry = parsed.isna() & text.notna()
        if retry.any():
            # Non-ISO layouts are rare and slow to parse, so only the leftovers take the
            # slow path.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                parsed[retry] = pd.to_datetime(
                    text[retry], utc=True, format="mixed", errors="coerce"
                )
    low, high = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    outside = parsed.notna() & ((parsed < low) | (parsed > high))
    parsed = parsed.mask(outside).astype(UTC)
    return parsed, present(raw) & parsed.isna() & ~outside, outside


def parse_numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    parsed = pd.to_numeric(raw, errors="coerce").astype("float64")
    return parsed, present(raw) & parsed.isna(), raw.isna() & False


def parse_bools(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    never = raw.isna() & False
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype(bool), never, never
    text = raw.astype("str").str.strip().str.lower()
    truth = text.isin(TRUE)
    bad = ~(truth | text.isin(FALSE))
    return truth, bad, never


#: rows a slice when a column of text is coded: factorizing 26.6 million ids at once took
#: 2 GB more than the codes (1.5 s and 180 MB in slices)
_CODE_ROWS = 2_000_000


def value_positions(values: pd.Series, ids: pd.Index) -> np.ndarray:
    """Each value's position in ``ids`` (unique), -1 where it is not there or missing, as
    int32; a slice of rows at a time, each value looked up once per slice."""
    codes = np.empty(len(values), dtype=np.int32)
    for start in range(0, len(values), _CODE_ROWS):
        part, unique = pd.factorize(values.iloc[start : start + _CODE_ROWS])
        codes[start : start + len(part)] = np.append(ids.get_indexer(unique), -1)[part]
    return codes
