"""The Cox solver's trial steps may overflow: numpy must not warn about it (the model's own
flags, not RuntimeWarnings, tell the user a fit is shaky)."""

from __future__ import annotations

import warnings

import numpy as np

from cjresearch.analysis.stats._cox import fit_cox


def test_a_separated_cox_fit_raises_no_runtime_warning() -> None:
    # Who dies first has the highest covariate: perfect ordering, the coefficient runs off
    # and early trial steps put whole risk sets at exp(-inf) = 0 (log 0, 0 / 0).
    n = 50
    stop = np.arange(1, n + 1, dtype=float)
    x = (-stop / 10).reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fit = fit_cox(np.zeros(n), stop, np.ones(n, dtype=bool), x)
    assert fit.params[0] > 20  # separated: a huge coefficient, which the caller flags
    # numpy's error state is restored after the call
    with np.errstate(all="raise"), np.testing.assert_raises(FloatingPointError):
        np.log(np.zeros(1))
