"""Survival (stats.survival, with the Cox solver and start/stop rows): golden Rossi values,
equality with statsmodels PHReg, the planted direction, Kaplan-Meier curves by tercile."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.hazard_regression import PHReg

from cjresearch.analysis.stats import TIME_TO_CHURN_COLUMNS, survival_curves, time_to_churn
from cjresearch.analysis.stats._cox import fit_cox
from cjresearch.analysis.stats._survival import follow_up, start_stop
from helpers import FIXTURES
from helpers.stats import CONTROLS, UNIT, toy_study

ROSSI = pd.read_csv(FIXTURES / "rossi.csv")
COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
# J. Fox (2002), "Cox Proportional-Hazards Regression for Survival Data", appendix to
# An R and S-PLUS Companion to Applied Regression: coxph(Surv(week, arrest) ~ ...), Efron ties.
PUBLISHED = [-0.379, -0.0574, 0.314, -0.150, -0.434, -0.0849, 0.0915]


def _rossi_fit(start=None, stop=None, event=None, rows=None):
    x = ROSSI[COVARIATES].to_numpy(float)
    if rows is not None:
        x = x[rows]
    n = len(x)
    return fit_cox(
        np.zeros(n) if start is None else start,
        ROSSI["week"].to_numpy(float) if stop is None else stop,
        ROSSI["arrest"].to_numpy() if event is None else event,
        x,
    )


def test_cox_reproduces_the_published_rossi_coefficients() -> None:
    fit = _rossi_fit()
    assert fit.converged
    for ours, published in zip(fit.params, PUBLISHED, strict=True):
        # published values carry three significant digits
        assert ours == pytest.approx(published, abs=5e-4 if abs(published) > 0.1 else 5e-5)


def test_cox_equals_statsmodels_phreg_on_rossi() -> None:
    reference = PHReg(
        ROSSI["week"].to_numpy(float),
        ROSSI[COVARIATES].to_numpy(float),
        status=ROSSI["arrest"].to_numpy(),
        ties="efron",
    ).fit()
    fit = _rossi_fit()
    np.testing.assert_allclose(fit.params, reference.params, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), reference.bse, rtol=1e-6)
    assert fit.loglik == pytest.approx(reference.llf, rel=1e-10)


def _split(cuts: list[float]) -> tuple[np.ndarray, ...]:
    starts, stops, events, rows = [], [], [], []
    for i, (week, arrest) in enumerate(zip(ROSSI["week"], ROSSI["arrest"], strict=True)):
        bounds = [0.0, *[c for c in cuts if c < week], float(week)]
        for a, b in itertools.pairwise(bounds):
            starts.append(a)
            stops.append(b)
            events.append(arrest if b == week else 0)
            rows.append(i)
    return np.array(starts), np.array(stops), np.array(events), np.array(rows)


def test_splitting_follow_up_without_changing_covariates_changes_nothing() -> None:
    """Cuts at event times (20 is one) check the (start, stop] risk-set convention."""
    start, stop, event, rows = _split([8.0, 20.0, 33.5])
    split = _rossi_fit(start, stop, event, rows)
    whole = _rossi_fit()
    np.testing.assert_allclose(split.params, whole.params, atol=1e-10)
    np.testing.assert_allclose(split.cov, whole.cov, atol=1e-12)


def test_time_varying_covariate_matches_phreg_with_entry() -> None:
    """statsmodels PHReg counts a row at risk at its entry time; (start, stop] rows need the
    entry nudged just above start to be the same model (verified by the split test)."""
    rng = np.random.default_rng(5)
    n = 300
    change = rng.uniform(5, 40, n)
    end = rng.uniform(10, 60, n).round()  # ties on purpose
    event = rng.random(n) < 0.6
    before, after = rng.normal(size=n), rng.normal(size=n)
    split = change < end
    start = np.concatenate([np.zeros(n), change[split]])
    stop = np.concatenate([np.where(split, change, end), end[split]])
    status = np.concatenate([np.where(split, False, event), event[split]]).astype(int)
    x = np.column_stack(
        [np.concatenate([before, after[split]]), np.concatenate([change, change[split]])]
    )
    ours = fit_cox(start, stop, status, x)
    reference = PHReg(stop, x, status=status, entry=np.nextafter(start, np.inf), ties="efron").fit()
    np.testing.assert_allclose(ours.params, reference.params, atol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(ours.cov)), reference.bse, rtol=1e-6)


def test_start_stop_rows_carry_the_running_mean_from_when_it_was_expressed() -> None:
    day = pd.Timestamp("2026-01-01", tz="UTC")
    customers = pd.DataFrame(
        {
            "customer_id": ["x", "y", "z"],
            "signup_date": [day, day, day],
            "churned": [True, False, True],
            "churn_date": [day + pd.Timedelta(days=30), pd.NaT, pd.NaT],
        }
    )
    observations = pd.DataFrame(
        {
            "customer_id": ["x", "x", "x", "x", "y", "z"],
            "timestamp": [day - pd.Timedelta(days=3)]
            + [day + pd.Timedelta(days=d) for d in (10, 10, 40, 5, 5)],
            "stage": "s",
            "emotion": [-1.0, 0.0, 1.0, 1.0, 0.5, 0.5],
        }
    )
    follow = follow_up(customers, observations, day + pd.Timedelta(days=100))
    assert follow.loc["z", "excluded"] == "missing_churn_date"
    rows = start_stop(observations, follow, "s")
    x = rows[rows["customer_id"] == "x"]
    # before signup counts from time 0; the day-40 observation came after churn (day 30)
    assert x["start"].tolist() == [0.0, 10.0]
    assert x["stop"].tolist() == [10.0, 30.0]
    assert x["emotion"].tolist() == [-1.0, 0.0]  # running mean of -1, then of -1, 0, 1
    assert x["event"].tolist() == [False, True]
    y = rows[rows["customer_id"] == "y"]
    assert y[["start", "stop", "event"]].to_numpy().tolist() == [[5.0, 100.0, False]]
    assert "z" not in set(rows["customer_id"])


def test_time_varying_cox_finds_the_planted_direction(big) -> None:
    table = time_to_churn(
        big.tables.customers,
        big.observations,
        stages=["awareness", "onboarding", "support"],
        controls=CONTROLS,
        unit_size=UNIT,
        observation_end=big.tables.observation_end,
    )
    assert list(table.columns) == list(TIME_TO_CHURN_COLUMNS)
    table = table.set_index("stage")
    for stage in ("onboarding", "support"):
        assert table.loc[stage, "hazard_ratio"] < 1
        assert table.loc[stage, "q_value"] < 0.001
    assert table.loc["awareness", "q_value"] >= 0.05
    # delayed entry: everyone who churned before expressing a support emotion is not counted
    assert table.loc["support", "n_events"] < big.tables.customers["churned"].sum()


def test_survival_curves_stand_alone() -> None:
    toy = toy_study(n=600)
    curves, tests = survival_curves(
        toy["customers"],
        toy["observations"],
        toy["stage_emotion"],
        stages=["a"],
        observation_end="2026-01-01",
    )
    assert set(curves["tercile"]) == {"low", "middle", "high"}
    low = curves[curves["tercile"] == "low"]["survival"].iloc[-1]
    high = curves[curves["tercile"] == "high"]["survival"].iloc[-1]
    assert low < high  # planted: low emotion at a, more churn
    assert tests["p_value"].iloc[0] < 0.001
