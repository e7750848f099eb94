"""The joint model's refits (stats._modelling.refit_logit): a fit on another completed data
set, started at the first fit's estimates and diagnosed by nothing, reaches the maximum and
the covariance a full fit finds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cjresearch.analysis.stats._modelling import fit_logit, newton_logit, refit_logit


def _data(seed: int, n: int = 3000) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"emotion": rng.normal(size=n), "plan": rng.integers(0, 2, n).astype(float)})
    log_odds = -0.4 + 0.8 * x["emotion"] - 0.5 * x["plan"]
    return (rng.random(n) < 1 / (1 + np.exp(-log_odds))).to_numpy(dtype=float), x


def test_a_refit_from_the_first_estimates_is_the_full_fit() -> None:
    y, x = _data(3)
    first = fit_logit(y, x)
    assert first is not None
    # another completed data set: the imputed emotions drawn again
    other = x.assign(emotion=x["emotion"] + np.random.default_rng(4).normal(0, 0.3, len(x)))
    full = fit_logit(y, other)
    refit = refit_logit(y, other, first.params)
    assert full is not None and refit is not None
    params, cov = refit
    assert not np.allclose(params, first.params, atol=1e-3)  # it moved to the new maximum
    np.testing.assert_allclose(params, full.params, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(cov, full.cov, rtol=1e-6)


def test_a_refit_that_cannot_be_fitted_is_none() -> None:
    y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    constant = pd.DataFrame({"emotion": np.ones(6)})  # the intercept twice: singular
    assert refit_logit(y, constant, None) is None


def test_a_refit_is_statsmodels_newton_to_the_last_float() -> None:
    """The Newton steps written out are statsmodels' own: the same estimates and covariance,
    bit for bit, from a near start, a far one and none."""
    import statsmodels.api as sm

    y, x = _data(5, n=5000)
    design = sm.add_constant(x.to_numpy(dtype=float), has_constant="add")
    for start in (np.array([-0.3, 0.7, -0.4]), np.array([1.0, 0.0, 0.0])):
        result = sm.Logit(y, design, check_rank=False).fit(
            method="newton", maxiter=100, disp=False, start_params=start
        )
        refit = refit_logit(y, x, start)
        assert refit is not None
        assert np.array_equal(refit[0], np.asarray(result.params))
        assert np.array_equal(refit[1], np.asarray(result.cov_params()))
        # the cross-validation's fits: fewer steps allowed, statsmodels' checks left on
        few = sm.Logit(y[:999], design[:999]).fit(
            method="newton", maxiter=2, disp=False, start_params=start
        )
        assert np.array_equal(
            newton_logit(y[:999], design[:999], start, max_steps=2)[0], few.params
        )
    # no start (the model's first fit failed): statsmodels' own start
    default = sm.Logit(y, design, check_rank=False).fit(method="newton", maxiter=100, disp=False)
    unstarted = refit_logit(y, x, None)
    assert unstarted is not None
    assert np.array_equal(unstarted[0], np.asarray(default.params))
    assert np.array_equal(unstarted[1], np.asarray(default.cov_params()))
    singular = pd.DataFrame({"emotion": np.ones(len(y))})
    assert refit_logit(y, singular, np.zeros(2)) is None


def test_a_shifted_refit_is_the_refit_of_the_shifted_frame_to_the_last_float() -> None:
    """The sensitivity analysis shifts the imputed emotions in the design itself: the same
    floats as refitting a shifted copy of the completed frame (its memory order included)."""
    from cjresearch.analysis.settings import Settings
    from cjresearch.analysis.stats.joint import _shifted_refit

    y, x = _data(6, n=4000)
    frame = pd.DataFrame(x.to_numpy() * 1.0, columns=x.columns)  # as a completed data set
    rows = np.random.default_rng(7).random(len(y)) < 0.4
    settings = Settings(stages=("a",), unit_size=0.5)
    start = np.array([-0.3, 0.7, -0.4])
    for delta in (0.0, -0.5, 0.25):
        shifted = frame.copy()
        shifted.loc[rows, "emotion"] += delta / settings.unit_size
        expected = refit_logit(y, shifted, start)
        got = _shifted_refit(y, frame.to_numpy(dtype=float), 0, rows, delta, settings, start)
        assert expected is not None and got is not None
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
