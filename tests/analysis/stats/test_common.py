"""What the statistics tables share (stats._common): multiple-testing control."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from cjresearch.analysis.stats import (
    adjust_pvalues,
)
from cjresearch.errors import (
    CJResearchError,
)


def test_bh_and_holm_equal_statsmodels_multipletests() -> None:
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(size=40), rng.uniform(0, 0.01, size=10)])
    for ours, theirs in (("bh", "fdr_bh"), ("holm", "holm")):
        expected = multipletests(p, method=theirs)[1]
        np.testing.assert_allclose(adjust_pvalues(p, method=ours), expected, rtol=1e-12)
    with_gap = np.append(p, np.nan)
    adjusted = adjust_pvalues(with_gap)
    assert np.isnan(adjusted[-1])
    np.testing.assert_allclose(adjusted[:-1], multipletests(p, method="fdr_bh")[1])
    with pytest.raises(CJResearchError, match="'bh' or 'holm'"):
        adjust_pvalues(p, method="bonferroni")  # type: ignore[arg-type]
