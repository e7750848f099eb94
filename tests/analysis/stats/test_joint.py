"""The joint model (stats.joint, stats._impute): non-response among reachers multiply imputed
with the outcome in the imputation model, Rubin's rules, the delta-adjustment table, and
"reached" counted apart from "gave feedback"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer

from cjresearch.analysis.stats import NONRESPONSE_COLUMNS, joint_model, stage_reach
from cjresearch.analysis.stats._impute import rubin

DAY = pd.Timedelta(days=1)
START = pd.Timestamp("2025-01-01", tz="UTC")
END = START + 400 * DAY  # everyone is observed for the whole horizon
UNIT = 0.5
BETA = {"a": -1.0, "b": -0.8}  # planted log odds of churn within the horizon per unit


def _study(n: int, seed: int, response: float) -> dict[str, pd.DataFrame]:
    """Two stages every customer reaches (days 1 and 3), feedback missing completely at random
    with probability 1 - response; churn within the landmark horizon (days 61-241 after
    signup at the defaults) with log odds -1 + sum beta_s e_s; nobody churns otherwise."""
    rng = np.random.default_rng(seed)
    mood = rng.normal(0, 0.3, n)
    e = {s: np.clip(mood + rng.normal(0, 0.35, n), -1, 1) for s in BETA}
    logit = -1 + sum(b * e[s] for s, b in BETA.items())
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    ids = np.array([f"J{i:05d}" for i in range(n)])
    signup = START + pd.to_timedelta(rng.uniform(0, 30, n), unit="D")
    churn_date = pd.Series(signup + pd.to_timedelta(rng.uniform(70, 230, n), unit="D"))
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup,
            "churned": churned,
            "churn_date": churn_date.where(churned),
        }
    )
    events = pd.concat(
        [
            pd.DataFrame({"customer_id": ids, "timestamp": signup + d * DAY, "stage": s})
            for s, d in (("a", 1), ("b", 3))
        ],
        ignore_index=True,
    )
    said = {s: rng.random(n) < response for s in BETA}
    observations = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": ids[said[s]],
                    "timestamp": signup[said[s]] + (d + 1) * DAY,
                    "stage": s,
                    "emotion": e[s][said[s]],
                }
            )
            for s, d in (("a", 1), ("b", 3))
        ],
        ignore_index=True,
    )
    truth = pd.DataFrame({"y": churned.astype(float), "a": e["a"], "b": e["b"]})
    for s in BETA:
        truth.loc[~said[s], s] = np.nan
    return {
        "customers": customers,
        "events": events,
        "observations": observations,
        "frame": truth,
    }


def _fit(study: dict[str, pd.DataFrame], **options: object):
    return joint_model(
        study["customers"],
        study["observations"],
        reach=stage_reach(study["events"]),
        stages=["a", "b"],
        unit_size=UNIT,
        observation_end=END,
        **options,
    )


def test_rubin_rules_equal_the_textbook_formulas() -> None:
    """Reference: Rubin (1987) total variance W + (1 + 1/m) B and Barnard and Rubin (1999)
    degrees of freedom, written out with numbers."""
    q = np.array([0.50, 0.42, 0.61, 0.47])
    u = np.array([0.010, 0.012, 0.011, 0.009])
    beta, se, df = rubin(q, u, complete_df=96.0)
    w, b = 0.0105, np.var(q, ddof=1)  # W = mean(u)
    total = w + 1.25 * b
    gamma = 1.25 * b / total
    df_old = 3 / gamma**2
    df_obs = 97 / 99 * 96 * (1 - gamma)
    assert beta == pytest.approx(0.5)
    assert se == pytest.approx(np.sqrt(total))
    assert df == pytest.approx(1 / (1 / df_old + 1 / df_obs))
    assert rubin(np.array([0.3]), np.array([0.04]), 50.0) == (0.3, pytest.approx(0.2), np.inf)


def test_imputed_joint_model_agrees_with_iterative_imputer_and_covers_the_truth() -> None:
    """Reference: scikit-learn IterativeImputer (BayesianRidge, sample_posterior) on
    (churned, emotion at a, emotion at b), then statsmodels Logit on each completed set, pooled
    by Rubin's rules. Every missing cell here is missing data (everyone reached both stages),
    so the two imputation models estimate the same thing."""
    study = _study(3000, seed=3, response=0.6)
    summary = _fit(study, imputations=20, seed=5).summary.set_index("stage")
    row = summary.loc["b"]
    assert row["n_reached"] == 3000
    assert row["n_responded"] == int(study["frame"]["b"].notna().sum()) < 3000
    assert row["n_customers"] == 3000  # respondents and non-respondents alike
    draws = []
    for i in range(20):
        completed = IterativeImputer(sample_posterior=True, random_state=i, max_iter=10)
        filled = pd.DataFrame(
            completed.fit_transform(study["frame"]), columns=["y", "a", "b"]
        ).clip(-1, 1)
        x = sm.add_constant(filled[["b", "a"]] / UNIT)
        fit = sm.Logit(filled["y"], x).fit(disp=False)
        draws.append((fit.params["b"], fit.cov_params().loc["b", "b"]))
    reference, _, _ = rubin(np.array([d[0] for d in draws]), np.array([d[1] for d in draws]), 2997)
    assert np.log(row["odds_ratio"]) == pytest.approx(reference, abs=0.08)
    truth = np.exp(BETA["b"] * UNIT)
    assert row["ci_low"] < truth < row["ci_high"]
    # complete cases only would have thrown away 40% of the customers: the imputed interval
    # is narrower than the complete-case one
    complete = study["frame"].dropna()
    cc = sm.Logit(complete["y"], sm.add_constant(complete[["b", "a"]] / UNIT)).fit(disp=False)
    cc_low, cc_high = np.exp(cc.conf_int().loc["b"])
    assert np.log(row["ci_high"] / row["ci_low"]) < np.log(cc_high / cc_low)


def test_delta_adjustment_table_shifts_the_imputed_emotions() -> None:
    study = _study(1500, seed=4, response=0.5)
    joint = _fit(study, imputations=5)
    table = joint.nonresponse
    assert list(table.columns) == list(NONRESPONSE_COLUMNS)
    b = table[table["stage"] == "b"].set_index("delta")
    assert 0.0 in b.index and b.index.min() < 0 < b.index.max()
    assert (b["n_imputed"] == b["n_reached"] - b["n_responded"]).all()
    assert (b["n_imputed"] > 0).all()
    at_zero = joint.summary.set_index("stage").loc["b", "odds_ratio"]
    assert b.loc[0.0, "odds_ratio"] == pytest.approx(at_zero)
    # the silent felt worse (delta < 0) than similar respondents: emotion's association with
    # churn, measured on shifted imputations, changes; the estimates differ by delta
    assert b["odds_ratio"].nunique() == len(b)


def test_without_reach_from_events_non_response_cannot_be_told_from_not_reaching() -> None:
    study = _study(400, seed=6, response=0.5)
    summary = joint_model(
        study["customers"],
        study["observations"],
        stages=["a", "b"],
        unit_size=UNIT,
        observation_end=END,
    ).summary.set_index("stage")
    # reach taken from the emotion observations: only respondents "reached" the stage
    assert summary.loc["b", "n_reached"] == summary.loc["b", "n_responded"]


def test_imputation_keeps_the_personas_own_slopes() -> None:
    """Personas' own slopes (interactions=True) from imputed data: the imputation model holds
    persona and persona x outcome, so that what is imputed for a persona's silent customers
    follows that persona's relation, not everyone's. Planted: log odds -2 per unit in one
    persona, none in the other; half the answers missing completely at random. An imputation
    model without the persona terms pulls both personas' odds ratios towards everyone's
    (measured on this seed: 0.84 for the null persona, 0.50 for the one planted at 0.37,
    neither interval covering its truth; 1.06 and 0.36 with them)."""
    rng = np.random.default_rng(12)
    n = 4000
    ids = np.array([f"P{i:05d}" for i in range(n)])
    steep = rng.random(n) < 0.5
    emotion = np.clip(rng.normal(0, 0.45, n), -1, 1)
    churned = rng.random(n) < 1 / (1 + np.exp(1 + np.where(steep, 2.0, 0.0) * emotion))
    signup = START + pd.to_timedelta(rng.uniform(0, 30, n), unit="D")
    churn_date = pd.Series(signup + pd.to_timedelta(rng.uniform(70, 230, n), unit="D"))
    customers = pd.DataFrame(
        {"customer_id": ids, "signup_date": signup, "churned": churned}
    ).assign(churn_date=churn_date.where(churned))
    said = rng.random(n) < 0.5
    events = pd.DataFrame({"customer_id": ids, "timestamp": signup + DAY, "stage": "a"})
    observations = pd.DataFrame(
        {
            "customer_id": ids[said],
            "timestamp": signup[said] + 2 * DAY,
            "stage": "a",
            "emotion": emotion[said],
        }
    )
    personas = pd.DataFrame(
        {
            "customer_id": ids,
            "persona_id": steep.astype(int),
            "persona_name": np.where(steep, "Steep", "Flat"),
        }
    )
    summary = joint_model(
        customers,
        observations,
        reach=stage_reach(events),
        personas=personas,
        interactions=True,
        stages=["a"],
        unit_size=UNIT,
        observation_end=END,
        imputations=20,
    ).summary.set_index("persona")
    assert summary.loc["Steep", "ci_low"] < np.exp(-2 * UNIT) < summary.loc["Steep", "ci_high"]
    assert summary.loc["Flat", "ci_low"] < 1 < summary.loc["Flat", "ci_high"]
    assert abs(np.log(summary.loc["Flat", "odds_ratio"])) < 0.1
