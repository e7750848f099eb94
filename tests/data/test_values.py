"""Column parsers: a categorical text column (as Parquet dictionaries read) is cleaned per
category and gives exactly what cleaning every value gives."""

from __future__ import annotations

import pandas as pd

from cjresearch.data.values import clean_text


def test_categorical_text_is_cleaned_like_plain_text() -> None:
    values = [" app", "app", None, "  ", "web ", "web", "", "app"]
    plain = clean_text(pd.Series(values, dtype="object"))
    coded = clean_text(pd.Series(pd.Categorical(values)))
    assert coded.dtype == plain.dtype == "str"
    assert coded.equals(plain)
    assert plain.dropna().tolist() == ["app", "app", "web", "web", "app"]
    assert plain.isna().tolist() == [False, False, True, True, False, False, True, False]
