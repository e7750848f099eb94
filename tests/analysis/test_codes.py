"""Integer codes of a log's columns (cjresearch.analysis._codes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis._codes import codes, sliced_codes


@pytest.mark.parametrize("kind", ["str", "category"])
@pytest.mark.parametrize("rows", [1, 3, 100])
def test_sliced_codes_are_the_codes_of_the_whole_column(kind: str, rows: int) -> None:
    ids = pd.Index(["c3", "c1", "c2"])
    values = pd.Series(["c1", "c9", None, "c3", "c1", "c2", "c2"], dtype="str")
    if kind == "category":  # categories that are not the index, one unknown to it
        values = values.astype(pd.CategoricalDtype(["c2", "c9", "c1", "c3"]))
    whole = codes(values, ids)
    assert whole.tolist() == [1, -1, -1, 0, 1, 2, 2]
    parts = list(sliced_codes(values, ids, rows))
    assert len(parts) == -(-len(values) // rows)
    assert np.array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("kind", ["str", "category", "unordered category"])
def test_stage_codes_are_positions_in_the_stages_whatever_the_dtype(kind: str) -> None:
    values = pd.Series(["usage", "awareness", None, "elsewhere", "usage", "support"])
    if kind == "category":  # categories in another order than the study's, one unused
        values = values.astype(pd.CategoricalDtype(["usage", "support", "awareness", "x"]))
    elif kind == "unordered category":
        values = values.astype("category")
    else:
        values = values.astype("str")
    got = codes(values, ["awareness", "usage", "support"])
    assert got.tolist() == [1, 0, -1, -1, 1, 2]
