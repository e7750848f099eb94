"""Column parsers: a categorical text column (as Parquet dictionaries read) is cleaned per
category, stays categorical and holds exactly what cleaning every value gives; plain text is
stripped only where it needs it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjresearch.data import values
from cjresearch.data.values import clean_text


def test_categorical_text_is_cleaned_like_plain_text() -> None:
    values = [" app", "app", None, "  ", "web ", "web", "", "app"]
    plain = clean_text(pd.Series(values, dtype="object"))
    coded = clean_text(pd.Series(pd.Categorical(values)))
    assert plain.dtype == "str"
    assert isinstance(coded.dtype, pd.CategoricalDtype)
    # categories that clean to the same text merge; a blank one is missing
    assert list(coded.cat.categories) == ["app", "web"]
    assert coded.cat.categories.dtype == "str"
    assert coded.astype("str").equals(plain)
    assert plain.dropna().tolist() == ["app", "app", "web", "web", "app"]
    assert plain.isna().tolist() == [False, False, True, True, False, False, True, False]


def test_only_edges_that_can_change_are_stripped() -> None:
    # Unicode spaces, tabs and non-ASCII letters at either edge; ASCII text inside
    values = ["\u00a0id", "id\t", "é", " ", "a b", "x\u2003", "ok", None, "\u00e9t\u00e9 "]
    cleaned = clean_text(pd.Series(values, dtype="object"))
    expected = [v.strip() or None if isinstance(v, str) else None for v in values]
    assert [None if pd.isna(v) else v for v in cleaned] == expected
    assert clean_text(pd.Series(["a", "b"], dtype="str")).tolist() == ["a", "b"]


def test_value_positions_in_slices_match_one_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(values, "_CODE_ROWS", 3)  # several slices, the last one short
    ids = pd.Index(["a", "b", "c"])
    column = pd.Series(["c", "a", None, "x", "b", "c", "a"], dtype="str")
    positions = values.value_positions(column, ids)
    assert positions.dtype == np.int32
    assert positions.tolist() == [2, 0, -1, -1, 1, 2, 0]
