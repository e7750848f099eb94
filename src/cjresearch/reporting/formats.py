"""Tables and figures formatted for reading: great_tables behind one small function.

The published CSVs (``tables/*.csv``) keep every column and full precision for analysts; a
page shows a few columns formatted for a reader, rendered by great_tables as static HTML:

- counts with thousands separators (``20,000``), shares as percentages (``21%``), emotion
  signed (``+0.25``), estimates with their interval (``2.27 (2.19–2.35)``), p- and
  q-values as ``< 0.001``; never scientific notation;
- column headings in words (:class:`Column`), never a raw column name;
- one mark for a suppressed figure, :data:`SUPPRESSED`, explained in a footnote; a figure
  that was not measured reads :data:`NOT_MEASURED`;
- at most ``max_rows`` rows on the page, the rest in a collapsible section.

Every data string is escaped (great_tables escapes cell text; :class:`Html` fragments made
here escape with :func:`html.escape`).
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

__all__ = [
    "NOT_MEASURED",
    "SUPPRESSED",
    "Column",
    "Html",
    "estimate",
    "finite",
    "format_table",
    "integer",
    "number",
    "percent",
    "pvalue",
    "sentence_list",
    "signed",
]

#: The one mark of a figure withheld because it describes too few customers.
SUPPRESSED = "\u2020"
#: A figure that was not measured (no customer said anything there, say).
NOT_MEASURED = "\u2013"

Kind = Literal["text", "int", "pct", "num", "signed", "estimate", "pvalue", "pct_estimate"]


class Html(str):
    """A fragment of HTML that Jupyter displays as HTML (every data string in it escaped)."""

    def _repr_html_(self) -> str:
        return str(self)


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def integer(value: Any) -> str:
    """A count with thousands separators.

    >>> integer(20000.0), integer(None)
    ('20,000', '–')
    """
    return NOT_MEASURED if _missing(value) else f"{float(value):,.0f}"


def number(value: Any, decimals: int = 2) -> str:
    """A number in fixed notation, never scientific.

    >>> number(5970.123), number(0.000012, 3)
    ('5,970.12', '0.000')
    """
    return NOT_MEASURED if _missing(value) else f"{float(value):,.{decimals}f}"


def signed(value: Any, decimals: int = 2) -> str:
    """A signed figure such as an emotion: ``+0.25``, ``−0.10``."""
    if _missing(value):
        return NOT_MEASURED
    return f"{float(value):+.{decimals}f}".replace("-", "\u2212")


def percent(value: Any, decimals: int = 0) -> str:
    """A share as a percentage; below one percent reads ``<1%`` rather than ``0%``.

    >>> percent(1), percent(0.2092), percent(0.004), percent(0)
    ('100%', '21%', '<1%', '0%')
    """
    if _missing(value):
        return NOT_MEASURED
    share = float(value)
    if 0 < share < 0.5 * 10 ** -(decimals + 2):
        return f"<{10**-decimals:g}%"
    return f"{100 * share:.{decimals}f}%"


def estimate(
    value: Any, low: Any, high: Any, *, decimals: int = 2, kind: Literal["num", "pct"] = "num"
) -> str:
    """An estimate with its 95% interval: ``2.27 (2.19–2.35)``; with a negative bound the
    interval reads ``−0.31 to −0.28`` (a dash between two minus signs would not read).

    >>> estimate(2.2712, 2.19, 2.351), estimate(0.21, 0.2, 0.22, kind="pct")
    ('2.27 (2.19–2.35)', '21% (20–22%)')
    >>> estimate(-0.294, -0.31, -0.281)
    '−0.29 (−0.31 to −0.28)'
    """
    if _missing(value):
        return NOT_MEASURED
    if kind == "pct":
        if _missing(low) or _missing(high):
            return _minus(percent(value))
        lo, hi = percent(low).removesuffix("%"), percent(high)
        return _minus(f"{percent(value)} ({lo}{_between(low, high)}{hi})")
    shown = number(value, decimals)
    if _missing(low) or _missing(high):
        return _minus(shown)
    lo, hi = number(low, decimals), number(high, decimals)
    return _minus(f"{shown} ({lo}{_between(low, high)}{hi})")


def _between(low: Any, high: Any) -> str:
    return " to " if min(float(low), float(high)) < 0 else "\u2013"


def _minus(text: str) -> str:
    return text.replace("-", "\u2212")


def pvalue(value: Any) -> str:
    """A p- or q-value: ``< 0.001`` rather than ``0`` or ``1e-12``.

    >>> pvalue(0.0), pvalue(0.0312), pvalue(0.5)
    ('< 0.001', '0.031', '0.50')
    """
    if _missing(value):
        return NOT_MEASURED
    p = float(value)
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


@dataclass(frozen=True)
class Column:
    """One column of a formatted table.

    Parameters
    ----------
    name
        The frame's column (for ``estimate``, the estimate; ``low`` and ``high`` name its
        interval).
    label
        The heading, in words.
    kind
        ``text``, ``int``, ``pct``, ``num``, ``signed``, ``estimate``, ``pct_estimate`` or
        ``pvalue``.
    decimals
        Decimals of ``num``, ``signed``, ``pct`` and the estimates (default 0 for
        percentages, 2 otherwise).
    low, high
        The interval's columns of an estimate (default ``ci_low``, ``ci_high``).
    format
        A function of the whole row to a string, instead of ``kind``'s format.
    """

    name: str
    label: str
    kind: Kind = "text"
    decimals: int | None = None
    low: str = "ci_low"
    high: str = "ci_high"
    format: Callable[[pd.Series], str | None] | None = None

    def cell(self, row: pd.Series) -> str | None:
        """The cell's text (None: missing, shown as a mark)."""
        if self.format is not None:
            return self.format(row)
        value = row.get(self.name)
        pct = self.kind in ("pct", "pct_estimate")
        decimals = self.decimals if self.decimals is not None else (0 if pct else 2)
        if self.kind in ("estimate", "pct_estimate"):
            if _missing(value):
                return None
            kind: Literal["num", "pct"] = "pct" if self.kind == "pct_estimate" else "num"
            low, high = row.get(self.low), row.get(self.high)
            return estimate(value, low, high, decimals=decimals, kind=kind)
        if _missing(value):
            return None
        formats: dict[str, Callable[[Any], str]] = {
            "int": integer,
            "pct": lambda v: percent(v, decimals),
            "num": lambda v: number(v, decimals),
            "signed": lambda v: signed(v, decimals),
            "pvalue": pvalue,
        }
        if self.kind in formats:
            return formats[self.kind](value)
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    @property
    def numeric(self) -> bool:
        return self.kind != "text"


def _flags(frame: pd.DataFrame, column: str = "suppressed") -> pd.Series:
    if column not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame[column].astype("boolean").fillna(False).astype(bool)


def _gt_html(
    shown: pd.DataFrame, columns: Sequence[Column], table_id: str, notes: list[str]
) -> str:
    from great_tables import GT

    headings: dict[str, Any] = {f"c{i}": c.label for i, c in enumerate(columns)}
    table = GT(shown, id=table_id).cols_label(cases=headings)
    numeric = [f"c{i}" for i, c in enumerate(columns) if c.numeric]
    if numeric:
        table = table.cols_align(align="right", columns=numeric)
    for note in notes:
        table = table.tab_source_note(note)
    table = table.tab_options(
        table_font_size="14px",
        table_width="100%",
        table_margin_left="0",
        column_labels_font_weight="bold",
        data_row_padding="4px",
        source_notes_font_size="12px",
        table_border_top_style="none",
    )
    return str(table.as_raw_html())


def format_table(
    frame: pd.DataFrame,
    columns: Sequence[Column],
    *,
    caption: str | None = None,
    empty: str = "Nothing to show.",
    max_rows: int = 10,
    suppressed_note: str | None = None,
    notes: Sequence[str] = (),
    flag: str = "suppressed",
) -> Html:
    """A table for reading (see the module docstring).

    Parameters
    ----------
    frame
        The rows, in the order to show (``flag``: the column saying a row is suppressed;
        its missing figures read :data:`SUPPRESSED`, other missing figures
        :data:`NOT_MEASURED`).
    columns
        What to show, in order.
    caption
        A heading above the table.
    empty
        The sentence shown instead of an empty table.
    max_rows
        Rows on the page; the rest in a collapsible section below.
    suppressed_note
        The footnote of the suppression mark (shown when a cell carries it).
    notes
        Further footnotes.

    Returns
    -------
    Html
    """
    title = f'<p class="cj-caption"><strong>{html.escape(caption)}</strong></p>' if caption else ""
    if frame.empty:
        return Html(f"{title}<p><em>{html.escape(empty)}</em></p>")
    flags = _flags(frame, flag).to_numpy()
    cells: dict[str, list[str]] = {}
    marked = measured = False
    for i, column in enumerate(columns):
        values: list[str] = []
        for j, (_, row) in enumerate(frame.iterrows()):
            text = column.cell(row)
            if text is None or text == NOT_MEASURED:
                text = SUPPRESSED if flags[j] and column.numeric else NOT_MEASURED
                marked |= text == SUPPRESSED
                measured |= text == NOT_MEASURED
            values.append(text)
        cells[f"c{i}"] = values
    shown = pd.DataFrame(cells)
    footnotes = []
    if marked:
        why = suppressed_note or "Withheld: fewer customers than the smallest group shown."
        footnotes.append(f"{SUPPRESSED} {why}")
    if measured:
        footnotes.append(f"{NOT_MEASURED} Not measured.")
    footnotes += list(notes)
    digest = hashlib.sha256((caption or "").encode() + shown.to_json().encode()).hexdigest()[:10]
    first = _gt_html(shown.iloc[:max_rows], columns, f"cj{digest}", footnotes)
    rest = ""
    if len(shown) > max_rows:
        more = _gt_html(shown.iloc[max_rows:], columns, f"cj{digest}m", [])
        others = len(shown) - max_rows
        rest = (
            f'<details class="cj-more"><summary>Show the other {others:,} '
            f"row{'s' if others != 1 else ''}</summary>{more}</details>"
        )
    return Html(f'<div class="cj-table">{title}{first}{rest}</div>')


def sentence_list(items: Sequence[str], *, css: str = "") -> Html:
    """Escaped sentences as a list."""
    body = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return Html(f'<ul class="{html.escape(css)}">{body}</ul>' if css else f"<ul>{body}</ul>")


def finite(value: Any) -> bool:
    """Whether a value is a finite number."""
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
