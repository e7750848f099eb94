"""Survival (stats.survival, with the Cox solver and start/stop rows): golden Rossi values,
equality with statsmodels PHReg (also for the lagged time-varying emotion, on start/stop rows
built by hand), the planted direction, Kaplan-Meier curves by tercile from the landmark."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.hazard_regression import PHReg

from cjresearch.analysis.stats import (
    TIME_TO_CHURN_COLUMNS,
    follow_up,
    stage_reach,
    survival_curves,
    time_to_churn,
)
from cjresearch.analysis.stats._cox import _row_sum, fit_cox
from cjresearch.analysis.stats._survival import start_stop
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
    # z churned without a date and did nothing but its one observation: dated by it (day 5),
    # so its observation counts from day 5, when z leaves: nothing of z counts
    follow = follow_up(customers, stage_reach(observations), day + pd.Timedelta(days=100))
    assert follow.loc["z", "derived"] and follow.loc["z", "end_days"] == 5.0
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
    # lagged 15 days: x's day-10 expressions count from day 25, the pre-signup one from day
    # 12 (-3 + 15); what x said within 15 days of leaving (none here) would never count
    lagged = start_stop(observations, follow, "s", lag_days=15.0)
    x = lagged[lagged["customer_id"] == "x"]
    assert x["start"].tolist() == [12.0, 25.0] and x["stop"].tolist() == [25.0, 30.0]
    assert x["emotion"].tolist() == [-1.0, 0.0]
    assert lagged.loc[lagged["customer_id"] == "y", "start"].tolist() == [20.0]


def _lagged_rows_by_hand(customers, observations, lag, end):
    """Start/stop rows of a lagged running mean, written out customer by customer."""
    rows = []
    for cid, own in observations.groupby("customer_id"):
        info = customers.set_index("customer_id").loc[cid]
        stop = info["churn_date"] if info["churned"] else end
        event = bool(info["churned"])
        origin = info["signup_date"]
        counted = sorted(
            (max((t - origin) / pd.Timedelta(days=1) + lag, 0.0), e)
            for t, e in zip(own["timestamp"], own["emotion"], strict=True)
        )
        final = (stop - origin) / pd.Timedelta(days=1)
        counted = [(t, e) for t, e in counted if t < final]
        seen: list[float] = []
        for i, (t, e) in enumerate(counted):
            seen.append(e)
            if i + 1 < len(counted) and counted[i + 1][0] == t:
                continue
            following = next((u for u, _ in counted[i + 1 :] if u > t), final)
            last = following == final
            rows.append((cid, t, following, event and last, float(np.mean(seen)), info["plan"]))
    return pd.DataFrame(rows, columns=["customer_id", "start", "stop", "event", "emotion", "plan"])


def test_lagged_cox_equals_phreg_on_start_stop_rows_built_by_hand() -> None:
    """Reference: statsmodels PHReg (Efron ties, entry nudged above start as in the test
    above) on counting-process rows made by a plain loop: each expression counts from 20 days
    after it was made, the covariate is the running mean of what counts so far."""
    rng = np.random.default_rng(11)
    n = 400
    signup = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 60, n), "D")
    felt = rng.uniform(-1, 1, n)
    churn_day = rng.exponential(200 * np.exp(0.8 * felt))
    end = pd.Timestamp("2026-01-01", tz="UTC")
    churn_date = signup + pd.to_timedelta(churn_day.round(), unit="D")
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(n)],
            "signup_date": signup,
            "churned": churn_date < end,
            "churn_date": pd.Series(churn_date).where(churn_date < end),
            "plan": rng.choice(["basic", "premium"], n),
        }
    )
    k = rng.integers(1, 4, n)
    who = np.repeat(np.arange(n), k)
    observations = pd.DataFrame(
        {
            "customer_id": customers["customer_id"].to_numpy()[who],
            "timestamp": signup[who] + pd.to_timedelta(rng.uniform(0, 120, len(who)).round(), "D"),
            "stage": "s",
            "emotion": np.clip(felt[who] + rng.normal(0, 0.3, len(who)), -1, 1),
        }
    )
    table = time_to_churn(
        customers, observations, stages=["s"], controls=["plan"], lag_days=20.0,
        unit_size=0.5, observation_end=end,
    )  # fmt: skip
    rows = _lagged_rows_by_hand(customers, observations, 20.0, end)
    x = np.column_stack([rows["emotion"] / 0.5, (rows["plan"] == "premium").astype(float)])
    reference = PHReg(
        rows["stop"].to_numpy(float),
        x,
        status=rows["event"].to_numpy(int),
        entry=np.nextafter(rows["start"].to_numpy(float), np.inf),
        ties="efron",
    ).fit()
    row = table.iloc[0]
    assert row["lag_days"] == 20.0 and row["design"] == "lagged time-varying"
    assert row["n_customers"] == rows["customer_id"].nunique()
    assert row["n_events"] == int(rows["event"].sum())
    assert row["hazard_ratio"] == pytest.approx(np.exp(reference.params[0]), rel=1e-7)
    low, high = np.exp(reference.params[0] + np.array([-1, 1]) * 1.959964 * reference.bse[0])
    assert row["ci_low"] == pytest.approx(low, rel=1e-5)
    assert row["ci_high"] == pytest.approx(high, rel=1e-5)
    assert row["p_value"] == pytest.approx(reference.pvalues[0], rel=1e-5)


def test_time_varying_cox_finds_the_planted_direction(big) -> None:
    table = time_to_churn(
        big.tables.customers,
        big.observations,
        reach=stage_reach(big.tables.events, big.tables.feedback),
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
    # delayed entry: everyone who churned before a support emotion counted is not counted
    assert table.loc["support", "n_events"] < big.tables.customers["churned"].sum()
    assert (table["lag_days"] == 30.0).all()
    assert (table.loc["support", "n_reached"] > table.loc["support", "n_responded"]).all()


def test_survival_curves_stand_alone() -> None:
    toy = toy_study(n=600)
    curves, tests = survival_curves(
        toy["customers"],
        toy["observations"],
        stages=["a"],
        observation_end="2026-01-01",
    )
    assert set(curves["tercile"]) == {"low", "middle", "high"}
    low = curves[curves["tercile"] == "low"]["survival"].iloc[-1]
    high = curves[curves["tercile"] == "high"]["survival"].iloc[-1]
    assert low < high  # planted: low emotion at a, more churn
    assert tests["p_value"].iloc[0] < 0.001
    assert tests["q_value"].iloc[0] == pytest.approx(tests["p_value"].iloc[0])  # one test
    # followed from the landmark: 2 (first emotion) + 30 + 30 days after signup at the earliest
    assert curves["n_at_risk"].min() >= 10


def test_a_stop_one_float_step_after_entry_leaves_the_curves_instead_of_crashing() -> None:
    """A churner dated by their only event at a stage (no churn date) stops where they
    entered; two computations of that day may differ by one float step, which statsmodels'
    Kaplan-Meier refuses (entry on or after the event time)."""
    from cjresearch.analysis.stats.survival import _entries

    day = 560.0051041666667
    frame = pd.DataFrame(
        {
            "responded": [True, True],
            "at_risk": [True, True],
            "reached_day": [day, 10.0],
            "landmark_day": [day, 10.0],
            "emotion": [-0.5, 0.5],
        },
        index=["x", "y"],
    )
    follow = pd.DataFrame(
        {"excluded": ["", ""], "end_days": [np.nextafter(day, np.inf), 90.0], "event": [1, 0]},
        index=["x", "y"],
    )
    for landmark in (True, False):
        kept = _entries(frame, follow, landmark)
        assert kept.index.tolist() == ["y"]


def test_information_entries_are_summed_as_the_whole_array_was() -> None:
    # fit_cox sums each entry's terms alone; the last bits must be those of summing the
    # events x p x p array over its rows, or a fit that does not converge wanders elsewhere
    rng = np.random.default_rng(8)
    for p in (1, 2, 3, 8):
        terms = rng.exponential(size=(20_001, p, p))
        whole = terms.sum(axis=0)
        parts = [[_row_sum(terms[:, j, k], p) for k in range(p)] for j in range(p)]
        assert np.array_equal(np.array(parts), whole), p
    assert _row_sum(np.zeros(0), 3) == 0.0
