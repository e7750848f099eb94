"""Privacy in everything published: redaction of personal data and small-cell suppression.

Three tools, used by the journey map, the reports and the widget explorer alike:

- :func:`redact` replaces personal data in free text with placeholders;
- :func:`suppress` blanks every figure that describes fewer than ``min_group_size``
  customers and flags the row, so that it is shown as *suppressed*, never as 0;
- :func:`check_publishable` keeps customer ids out of anything published.

Redaction
---------
One pass over each text with one pattern set; at each position the first rule below that
matches wins, so a URL's digits are not also a phone number, ``user:password@host`` inside a
URL is part of the URL, and a placeholder is never matched again:

- ``[url]``: a URL with a query string, fragment or user info (those carry ids and
  tokens), e.g. ``https://x.com/a?user=88``; a plain URL such as
  ``https://example.com/help`` is kept;
- ``[email]``: an e-mail address, also with letters of any script in its name and domain
  (``jane.doe@example.com``, ``jörg@bücher.de``, ``user@例え.jp``);
- ``[phone]``: ``+`` then 8 to 15 digits (``+44 20 7946 0958``), a North American number
  with its leading 1 (``1-800-555-0199``, ``1 (800) 555-0199``), or a national number in its
  usual groups: ``(800) 555-0199``, ``415.555.0100``, ``0800 123 4567``;
- ``[number]``: card-like numbers (13 to 19 digits in groups separated by one or two spaces
  or hyphens, ``4111 1111 1111 1111``, or by dots, ``4012.8888.8888.1881``), US social
  security numbers with hyphens or spaces (``123-45-6789``, ``078 05 1120``) and any unbroken
  run of 9 or more digits (account numbers);
- ``[id]`` (looked up after the patterns): the study's own customer ids, when the caller passes them
  (``redact(texts, customer_ids=...)``), as whole tokens and in any letter case ("My
  customer number is c0000069"). Ids of 4 or more characters are matched, plain numbers from
  5 digits on: shorter ones cannot be told apart from counts, years and ordinary words.

Kept on purpose: durations and counts ("40 minutes", "3 weeks"), years and dates
("2026", "2026-03-01", "1/2/2026"), times ("09:30"), prices ("$12.99", "1,299.00"),
percentages ("12.5%"), versions ("2.0.1"), short order numbers ("order 12345"). Redaction
is pattern-based and reduces, not removes, the risk: names and addresses in free text are
not detected.

Suppression
-----------
A row of a published table describes the customers counted in its ``count_col``. When
that count is below ``min_group_size`` (or missing), :func:`suppress` sets the row's figure
columns (the count included) to missing and its ``suppressed`` column to True. Charts and
HTML show such cells as "suppressed" (:func:`display_frame`), never as 0.

Optionally (``complementary_by``) it also suppresses a second cell within each group of
rows in which exactly one cell is suppressed (the smallest remaining one), so that a
suppressed count cannot be recovered by subtracting the others from a total. This is
the classic secondary suppression for one dimension; it does not guard against every
combination of several published tables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from cjresearch.errors import CJResearchError

__all__ = [
    "EMOTION_FIGURES",
    "ID_COLUMNS",
    "PLACEHOLDERS",
    "check_publishable",
    "display_frame",
    "id_tokens",
    "redact",
    "redact_text",
    "suppress",
    "suppress_emotion",
]

#: The placeholders :func:`redact` writes.
PLACEHOLDERS: tuple[str, ...] = ("[email]", "[url]", "[phone]", "[number]", "[id]")

# A number starts where no digit (or digit and separator, as in 1,299) is before it, and
# ends where no digit (or separator and digit) follows: "4111111111111111, thanks" is a card.
_NUM_START = r"(?<!\d)(?<!\d[.,])"
_NUM_END = r"(?!\d|[.,]\d)"
# Each rule is a named group of one pattern; the order is the priority at a position.
_RULES: tuple[tuple[str, str, str], ...] = (
    # A URL (scheme or www.) whose text carries a query, a fragment or user info.
    ("url", "[url]", r"(?:(?:https?|ftp)://|www\.)(?:[^\s?#@]*@[^\s]*|[^\s?#]*[?#][^\s]*)"),
    # \w is Unicode: jörg@bücher.de, user@例え.jp
    ("email", "[email]", r"[\w.!#$%&'*+/=?^`{|}~\-]+@[\w\-]+(?:\.[\w\-]+)*\.\w{2,}"),
    # International: + then 8..15 digits with optional single separators and parentheses.
    ("phone_intl", "[phone]", r"(?<![+\d])\+(?:[\s().\-]{0,2}\d){8,15}(?!\d)"),
    # North American with its leading 1: 1-800-555-0199, 1 (800) 555-0199
    (
        "phone_nanp",
        "[phone]",
        r"(?<![\w.\-+])1[ .\-]?(?:\(\d{3}\)|\d{3})[ .\-]?\d{3}[ .\-]\d{4}(?![\w\-]|\.\d)",
    ),
    # US social security numbers, one separator throughout: 123-45-6789, 078 05 1120
    ("ssn", "[number]", r"(?<![\d\-.])\d{3}(?P<sep>[ \-])\d{2}(?P=sep)\d{4}(?![\d\-]|\.\d)"),
    # Card-like: four groups of four digits separated by dots (4012.8888.8888.1881) ...
    ("card_dots", "[number]", rf"{_NUM_START}\d{{4}}(?:\.\d{{4}}){{3}}(?:\.\d{{1,3}})?{_NUM_END}"),
    # ... or 13..19 digits separated at most by one or two spaces or hyphens.
    ("card", "[number]", rf"{_NUM_START}\d(?:(?: {{1,2}}|-{{1,2}})?\d){{12,18}}{_NUM_END}"),
    ("long_run", "[number]", rf"{_NUM_START}\d{{9,}}{_NUM_END}"),
    # National numbers in their usual groupings.
    (
        "phone_national",
        "[phone]",
        r"(?<![\w.\-])(?:"
        r"\(\d{2,5}\)[\s.\-]?\d{3,4}[\s.\-]?\d{3,4}"  # (415) 555-0100, (020) 7946 0958
        r"|\d{3}[.\-]\d{3}[.\-]\d{4}"  # 415-555-0100, 415.555.0100
        r"|\d{3} \d{3} \d{4}"  # 415 555 0100
        r"|0\d{2,4}[\s\-]\d{3,4}[\s\-]?\d{3,4}"  # 0800 123 4567, 020 7946 0958
        r")(?![\w\-]|\.\d)",
    ),
)
_PATTERN = re.compile("|".join(f"(?P<{name}>{pattern})" for name, _, pattern in _RULES))
_PLACEHOLDER = {name: placeholder for name, placeholder, _ in _RULES}
# Tokens an id is looked for in: word characters, possibly joined inside by . - / # + _
_TOKEN = re.compile(r"\w(?:[\w.\-/#+]*\w)?")
_JOINERS = re.compile(r"([.\-/#+])")
_MIN_ID_LENGTH = 4
_MIN_NUMERIC_ID_LENGTH = 5


class _IdTokens(frozenset[str]):
    """Case-folded ids, ready for matching (what :func:`id_tokens` returns)."""


def id_tokens(customer_ids: Iterable[object] | None) -> frozenset[str]:
    """The customer ids that :func:`redact` looks for, case-folded: ids of at least 4
    characters, and plain numbers of at least 5 digits (see the module docstring).

    Build it once and pass it to :func:`redact` (or :func:`redact_text`) for many calls.

    >>> sorted(id_tokens(["C0000069", "12", "2024", "48213", "ab"]))
    ['48213', 'c0000069']
    """
    if isinstance(customer_ids, _IdTokens):
        return customer_ids
    if customer_ids is None:
        return _IdTokens()
    out = set()
    for value in pd.unique(pd.Series(list(customer_ids), dtype=object).dropna()):
        text = str(value).strip().casefold()
        minimum = _MIN_NUMERIC_ID_LENGTH if text.isdigit() else _MIN_ID_LENGTH
        if len(text) >= minimum:
            out.add(text)
    return _IdTokens(out)


def _redact_ids(text: str, ids: frozenset[str]) -> str:
    def token(match: re.Match[str]) -> str:
        word = match.group()
        start, end = match.span()
        if text[start - 1 : start] == "[" and text[end : end + 1] == "]":
            return word  # a placeholder written by the patterns
        if word.casefold() in ids:
            return "[id]"
        pieces = _JOINERS.split(word)
        if len(pieces) == 1:
            return word
        return "".join("[id]" if p.casefold() in ids else p for p in pieces)

    return _TOKEN.sub(token, text)


def redact_text(text: str, *, customer_ids: Iterable[object] | None = None) -> str:
    """Personal data in one text replaced by placeholders (see the module docstring).

    Examples
    --------
    >>> redact_text("Mail jane.doe@example.com or call +44 20 7946 0958 within 40 minutes")
    'Mail [email] or call [phone] within 40 minutes'
    >>> redact_text("My card 4111 1111 1111 1111 was charged $12.99")
    'My card [number] was charged $12.99'
    >>> redact_text("My customer number is c0000069.", customer_ids={"C0000069"})
    'My customer number is [id].'
    """
    text = _PATTERN.sub(lambda m: _PLACEHOLDER[str(m.lastgroup)], text)
    ids = id_tokens(customer_ids)
    return _redact_ids(text, ids) if ids else text


def redact(
    texts: Iterable[object] | pd.Series, *, customer_ids: Iterable[object] | None = None
) -> pd.Series:
    """Personal data in free texts replaced by placeholders.

    Parameters
    ----------
    texts
        A Series (its index is kept) or any iterable of texts; missing values stay missing
        and non-text values are converted with ``str``.
    customer_ids
        The study's customer ids, replaced by ``[id]`` wherever a text names one (as a
        whole token, in any letter case). Every caller that publishes text should pass
        them; a :func:`id_tokens` value can be built once and reused.

    Returns
    -------
    pandas.Series
        The redacted texts (dtype ``str``), aligned to the input. Each distinct text is
        redacted once.

    Examples
    --------
    >>> redact(["see https://example.com/a?user=884213&token=abc", None]).tolist()
    ['see [url]', nan]
    """
    ids = id_tokens(customer_ids)
    series = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    present = series.notna()
    values = series[present].astype(str)
    unique = pd.unique(values.to_numpy(dtype=object))
    mapping = {text: redact_text(text, customer_ids=ids) for text in unique}
    out = pd.Series(np.nan, index=series.index, dtype=object)
    out[present] = values.map(mapping).to_numpy(dtype=object)
    return out.astype("str")


def suppress(
    frame: pd.DataFrame,
    *,
    min_group_size: int,
    count_col: str = "n_customers",
    columns: Sequence[str] | None = None,
    flag_col: str = "suppressed",
    complementary_by: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Blank every row that describes fewer than ``min_group_size`` customers.

    Parameters
    ----------
    frame
        A table to publish. Not modified.
    min_group_size
        The smallest number of customers a published figure may describe (at least 1).
    count_col
        The column with the number of customers each row describes.
    columns
        The figure columns to blank in suppressed rows; ``count_col`` is always blanked.
        Default: every numeric column (booleans excluded) except ``flag_col``.
    flag_col
        The boolean column saying a row is suppressed. When ``frame`` already has it, a
        row stays suppressed once suppressed (flags are combined with "or"), so
        :func:`suppress` can be applied once per count column.
    complementary_by
        Columns defining groups of rows (e.g. ``["stage"]``) within which, when exactly
        one row is suppressed, the row with the smallest remaining count is suppressed too.

    Returns
    -------
    pandas.DataFrame
        A copy with RangeIndex, the blanked columns as float64 (or nullable for
        non-numeric columns) with missing values in suppressed rows, and ``flag_col``
        (bool) as the last column unless it was already present.

    Raises
    ------
    CJResearchError
        ``min_group_size`` is below 1, or a named column is missing.

    Examples
    --------
    >>> table = pd.DataFrame({"stage": ["a", "b"], "n_customers": [40, 3], "rate": [0.1, 0.6]})
    >>> suppress(table, min_group_size=10)
      stage  n_customers  rate  suppressed
    0     a         40.0   0.1       False
    1     b          NaN   NaN        True
    """
    _check_min(min_group_size)
    if not isinstance(frame, pd.DataFrame):
        msg = f"suppress expects a pandas DataFrame, found {type(frame).__name__}"
        raise CJResearchError(msg)
    if count_col not in frame.columns:
        msg = f"table has no count column {count_col!r}; found {list(frame.columns)}"
        raise CJResearchError(msg)
    if columns is None:
        columns = [
            c
            for c in frame.columns
            if c != flag_col
            and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])
        ]
    columns = [count_col, *[c for c in columns if c != count_col]]
    missing = [c for c in columns if c not in frame.columns]
    if complementary_by is not None:
        missing += [c for c in complementary_by if c not in frame.columns]
    if missing:
        msg = f"table has no column(s) {missing} to suppress by; found {list(frame.columns)}"
        raise CJResearchError(msg)

    out = frame.reset_index(drop=True).copy()
    counts = pd.to_numeric(out[count_col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    small = ~(counts >= min_group_size)
    if flag_col in out.columns:
        small |= out[flag_col].fillna(True).to_numpy(dtype=bool)
    if complementary_by is not None and len(out):
        small = _complementary(out, counts, small, list(complementary_by))
    for column in columns:
        out[column] = _blank(out[column], small)
    out[flag_col] = small
    return out


#: The emotion figures of a row: they describe its ``n_emotion`` customers (those who said
#: something), not all the customers the row counts.
EMOTION_FIGURES: tuple[str, ...] = (
    "n_emotion",
    "emotion_mean",
    "emotion_ci_low",
    "emotion_ci_high",
)


def suppress_emotion(
    frame: pd.DataFrame, *, min_group_size: int, flag_col: str = "emotion_suppressed"
) -> pd.DataFrame:
    """Blank the emotion figures (:data:`EMOTION_FIGURES` present in ``frame``) of rows whose
    emotion describes fewer than ``min_group_size`` customers (``n_emotion``); ``flag_col``
    says which. The row's other figures are suppressed by its own count, separately."""
    return suppress(
        frame,
        min_group_size=min_group_size,
        count_col="n_emotion",
        columns=[c for c in EMOTION_FIGURES if c in frame.columns],
        flag_col=flag_col,
    )


def _complementary(
    frame: pd.DataFrame, counts: np.ndarray, small: np.ndarray, by: list[str]
) -> np.ndarray:
    small = small.copy()
    group = frame.groupby(by, observed=True, sort=False, dropna=False).ngroup().to_numpy()
    n_small = np.bincount(group, weights=small, minlength=group.max() + 1)
    candidates = np.flatnonzero(~small & (n_small[group] == 1))
    if len(candidates):
        # the smallest visible row of each group with exactly one suppressed row
        order = candidates[np.lexsort((counts[candidates], group[candidates]))]
        first = np.r_[True, group[order][1:] != group[order][:-1]]
        small[order[first]] = True
    return small


def _blank(column: pd.Series, mask: np.ndarray) -> pd.Series:
    if not mask.any():
        if pd.api.types.is_integer_dtype(column) or pd.api.types.is_bool_dtype(column):
            return column.astype("float64")
        return column
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype("float64").mask(mask)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.mask(mask)
    return column.astype(object).mask(mask)


def _check_min(min_group_size: object) -> None:
    if (
        isinstance(min_group_size, bool)
        or not isinstance(min_group_size, int | np.integer)
        or min_group_size < 1
    ):
        msg = f"min_group_size must be a whole number of at least 1, found {min_group_size!r}"
        raise CJResearchError(msg)


def display_frame(
    frame: pd.DataFrame,
    *,
    flag_col: str = "suppressed",
    label: str = "suppressed",
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A copy for display in which the missing cells of suppressed rows read "suppressed".

    Parameters
    ----------
    frame
        The output of :func:`suppress` (or any frame with ``flag_col``). Not modified.
    flag_col
        The boolean column marking suppressed rows.
    label
        The text shown in place of a suppressed figure.
    columns
        Columns to label; default all but ``flag_col``.

    Returns
    -------
    pandas.DataFrame
        Same columns; labelled columns have object dtype. Missing cells of rows that are
        not suppressed stay missing (they are "not measured", a different thing).
    """
    if flag_col not in frame.columns:
        return frame.copy()
    flags = frame[flag_col].fillna(False).to_numpy(dtype=bool)
    out = frame.copy()
    for column in columns if columns is not None else frame.columns:
        if column == flag_col:
            continue
        values = out[column].astype(object)
        blank = values.isna().to_numpy() & flags
        if blank.any():
            values[blank] = label
        out[column] = values
    return out


#: Column names that hold customer-level identifiers.
ID_COLUMNS: tuple[str, ...] = ("customer_id",)


def check_publishable(
    frame: pd.DataFrame,
    *,
    name: str = "table",
    customer_ids: Iterable[object] | None = None,
    id_columns: Sequence[str] = ID_COLUMNS,
) -> None:
    """Raise unless ``frame`` is free of customer ids.

    Parameters
    ----------
    frame
        A table about to be published.
    name
        The table's name, for the message.
    customer_ids
        The study's customer ids (any iterable; a ``set`` of the ids as text is used as
        it is, so it can be built once for many tables); when given, every text or
        categorical cell is checked against them (an id that slipped into a label is
        caught too).
    id_columns
        Column names that must not appear.

    Raises
    ------
    CJResearchError
        A column is an id column, or a cell equals a customer id.
    """
    present = [c for c in id_columns if c in frame.columns]
    if present:
        msg = f"{name} has customer id column(s) {present}; drop them before publishing"
        raise CJResearchError(msg)
    if customer_ids is None:
        return
    # A set of the ids as text: each column's few distinct labels are looked up in it,
    # so the cost does not grow with ids x rows. Pass a set to reuse it across tables.
    known = (
        customer_ids
        if isinstance(customer_ids, set | frozenset)
        else {str(i) for i in pd.unique(pd.Series(list(customer_ids), dtype=object))}
    )
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        labels = pd.unique(series.dropna().astype(str).to_numpy(dtype=object))
        hits = [label for label in labels if label in known]
        if hits:
            n_hits = int(series.astype(str).isin(hits).sum())
            msg = (
                f"{name} column {column!r} holds {n_hits} customer id value(s); "
                "published tables must not identify customers"
            )
            raise CJResearchError(msg)
