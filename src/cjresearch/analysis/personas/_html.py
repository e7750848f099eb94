"""The notebook view of a fitted segmentation or persona model (not API)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd


def fitted_html(
    heading: str, table: pd.DataFrame, evidence: pd.DataFrame, notes: Sequence[str]
) -> str:
    """A ``<div>``: the ``heading`` (HTML, escaped by the caller), the table, the evidence per k
    and the notes (escaped here)."""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        f"<div>{heading}{table.to_html(index=False)}"
        f"<p>Evidence per k</p>{evidence.to_html(index=False)}"
        + (f"<p>Notes</p><ul>{items}</ul>" if items else "")
        + "</div>"
    )
