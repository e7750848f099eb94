"""Argument checks shared by the public functions (not API)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cjresearch.errors import CJResearchError


def require_columns(frame: object, columns: Sequence[str], name: str) -> None:
    """Raise a :class:`CJResearchError` unless ``frame`` is a DataFrame with ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        msg = f"{name} must be a pandas DataFrame, found {type(frame).__name__}"
        raise CJResearchError(msg)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = f"{name} has no column(s) {missing}; found {list(frame.columns)}"
        raise CJResearchError(msg)
