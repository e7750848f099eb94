"""One declared family (stats.family) and the lag-sensitivity warnings (stats.lags), on
tables built by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats.family import declare_family
from cjresearch.analysis.stats.lags import lag_sensitive_stages, lag_warnings

STAGES = ["s", "t", "u"]
PERSONAS = ["all", "P0", "P1"]


def _tables(het: dict[str, float]):
    rows = [(p, s) for p in PERSONAS for s in STAGES]
    rng = np.random.default_rng(2)
    p_odds = [1e-6, 0.2, 0.003, 0.001, 0.4, 0.02, 0.03, 0.5, 0.6]
    odds = pd.DataFrame(
        {
            "persona": [p for p, _ in rows],
            "stage": [s for _, s in rows],
            "odds_ratio": [0.5, 0.9, 0.7] * 3,
            "p_value": p_odds,
            "q_value": np.nan,
            "family": "",
            "flags": "",
            "heterogeneity_p": [het[s] for _, s in rows],
        }
    )
    hazards = odds[["persona", "stage", "q_value", "family", "flags"]].assign(
        p_value=rng.uniform(0, 1, len(rows)).round(3), hazard_ratio=0.8
    )
    logrank = odds[["persona", "stage", "q_value", "flags"]].assign(
        p_value=rng.uniform(0, 1, len(rows)).round(3)
    )
    # the joint model agrees at s and u (interval below 1), not at t (spans 1)
    joint = pd.DataFrame(
        {
            "persona": "all",
            "stage": STAGES,
            "ci_low": [0.3, 0.7, 0.5],
            "ci_high": [0.8, 1.2, 0.9],
        }
    )
    return odds, hazards, logrank, joint


def test_the_stage_tests_of_every_model_and_the_heterogeneity_tests_are_one_family() -> None:
    het = {"s": 1e-5, "t": 0.5, "u": 0.9}
    odds, hazards, logrank, joint = _tables(het)
    settings = Settings(stages=STAGES, alpha=0.05)
    new_odds, new_hazards, new_logrank = declare_family(odds, hazards, logrank, joint, settings)
    everyone = odds["persona"] == "all"
    p = np.concatenate(
        [
            odds.loc[everyone, "p_value"],
            hazards.loc[everyone, "p_value"],
            logrank.loc[everyone, "p_value"],
            [het[s] for s in STAGES],
        ]
    )
    # reference: statsmodels multipletests over the 12 tests at once
    q = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(new_odds.loc[everyone, "q_value"], q[0:3])
    np.testing.assert_allclose(new_hazards.loc[everyone, "q_value"], q[3:6])
    np.testing.assert_allclose(new_logrank.loc[everyone, "q_value"], q[6:9])
    np.testing.assert_allclose(new_odds.loc[everyone, "heterogeneity_q"], q[9:12])
    assert new_odds.loc[everyone, "family"].str.contains("12 tests, BH").all()
    # personas differ only at s: persona rows elsewhere have no q-value and are no finding
    persona = ~everyone
    at_s = persona & (odds["stage"] == "s")
    assert new_odds.loc[persona & ~at_s, "q_value"].isna().all()
    assert not new_odds.loc[persona & ~at_s, "finding"].any()
    assert new_odds.loc[persona & ~at_s, "family"].str.startswith("personas: not tested").all()
    # at s: the six persona tests of the three models, BH, times m / R = 3 / 1
    p_s = np.concatenate(
        [t.loc[at_s, "p_value"] for t in (odds, hazards, logrank)]  # P0, P1 of each model
    )
    expected = np.minimum(multipletests(p_s, method="fdr_bh")[1] * 3, 1)
    np.testing.assert_allclose(new_odds.loc[at_s, "q_value"], expected[0:2])
    np.testing.assert_allclose(new_hazards.loc[at_s, "q_value"], expected[2:4])
    # the inputs are untouched
    assert odds["q_value"].isna().all()


def test_a_finding_needs_the_correction_the_joint_model_and_a_lag_that_holds() -> None:
    odds, hazards, logrank, joint = _tables({"s": 0.9, "t": 0.9, "u": 0.9})
    settings = Settings(stages=STAGES, alpha=0.05)
    plain, _, _ = declare_family(odds, hazards, logrank, joint, settings)
    found = plain[plain["persona"] == "all"].set_index("stage")["finding"]
    # s: q < 0.05 and the joint model agrees; t: q >= 0.05; u: q < 0.05 and agrees
    assert found.to_dict() == {"s": True, "t": False, "u": True}
    odds_t = odds.assign(p_value=np.where(odds["stage"] == "t", 1e-8, odds["p_value"]))
    t_small, _, _ = declare_family(odds_t, hazards, logrank, joint, settings)
    everyone = t_small[t_small["persona"] == "all"].set_index("stage")
    assert everyone.loc["t", "q_value"] < 0.05
    assert not everyone.loc["t", "finding"]  # the joint model's interval spans 1
    lagged, _, _ = declare_family(
        odds, hazards, logrank, joint, settings, lag_sensitive={"landmark logit": {"u"}}
    )
    row = lagged[lagged["persona"] == "all"].set_index("stage").loc["u"]
    assert not row["finding"] and "lag_sensitive" in row["flags"]


def _lag_table() -> pd.DataFrame:
    rows = []
    for stage, ratios, ps in (
        ("s", [0.20, 0.25, 0.30, 0.95, 1.05], [1e-9, 1e-7, 1e-5, 0.6, 0.7]),
        ("t", [0.50, 0.50, 0.52, 0.55, 0.56], [1e-6] * 5),
    ):
        for lag, ratio, p in zip((0, 7, 14, 30, 60), ratios, ps, strict=True):
            rows.append(
                {
                    "stage": stage,
                    "model": "lagged Cox",
                    "lag_days": float(lag),
                    "ratio": ratio,
                    "p_value": p,
                    "study_lag": lag == 14,
                }
            )
    return pd.DataFrame(rows)


def test_a_stage_whose_association_collapses_as_the_lag_grows_is_warned_about() -> None:
    table = _lag_table()
    warned = lag_warnings(table, alpha=0.05, unit_size=0.5)
    assert warned["stage"].tolist() == ["s"]
    text = warned["text"].iloc[0]
    assert "hazard ratio per 0.5 points of emotion is 0.20 at a lag of 0 days" in text
    assert "1.05 at 60 days" in text and "already leaving" in text
    assert "The tables use a lag of 14 days." in text
    # at the study's lag (14 days) s is significant and collapses by 60 days: flagged
    assert lag_sensitive_stages(table, alpha=0.05) == {"landmark logit": set(), "lagged Cox": {"s"}}
    # at a study lag of 30 days s is no longer significant: nothing to flag there
    later = table.assign(study_lag=table["lag_days"] == 30.0)
    assert lag_sensitive_stages(later, alpha=0.05)["lagged Cox"] == set()


@pytest.mark.parametrize("reversed_sign", [True, False])
def test_an_association_that_changes_sign_counts_as_collapsed(reversed_sign: bool) -> None:
    table = _lag_table()
    t = table["stage"] == "t"
    if reversed_sign:
        table.loc[t & (table["lag_days"] == 60.0), "ratio"] = 1.3
    flagged = "t" in lag_sensitive_stages(table, alpha=0.05)["lagged Cox"]
    assert flagged is reversed_sign
