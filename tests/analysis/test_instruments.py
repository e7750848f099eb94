"""NPS, CSAT and CES per persona and stage, with intervals, n and suppression."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from cjresearch.analysis.instruments import INSTRUMENT_COLUMNS, instrument_summary, nps_interval

STAGES = ["onboarding", "support"]


def _answers(rng: np.random.Generator, n: int, instrument: str, stage: str, low: int, high: int):
    return pd.DataFrame(
        {
            "customer_id": [f"{instrument}-{stage}-{i}" for i in range(n)],
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
            "stage": stage,
            "instrument": instrument,
            "score": rng.integers(low, high + 1, n).astype(float),
        }
    )


@pytest.fixture
def feedback() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.concat(
        [
            _answers(rng, 200, "nps", "onboarding", 0, 10),
            _answers(rng, 150, "csat", "onboarding", 1, 5),
            _answers(rng, 120, "ces", "support", 1, 7),
        ],
        ignore_index=True,
    )


def test_every_measure_against_an_independent_computation(feedback) -> None:
    out = instrument_summary(feedback, None, stages=STAGES, min_group_size=10)
    assert list(out.columns) == list(INSTRUMENT_COLUMNS)
    row = out.set_index(["stage", "instrument"])
    nps = feedback[feedback["instrument"] == "nps"]["score"]
    expected = 100 * ((nps >= 9).mean() - (nps <= 6).mean())  # counted by hand
    assert row.loc[("onboarding", "nps"), "value"] == pytest.approx(expected)
    assert row.loc[("onboarding", "nps"), "n_customers"] == 200
    csat = feedback[feedback["instrument"] == "csat"]["score"]
    low, high = proportion_confint((csat >= 4).sum(), len(csat), method="wilson")  # statsmodels
    assert row.loc[("onboarding", "csat"), "value"] == pytest.approx((csat >= 4).mean())
    assert row.loc[("onboarding", "csat"), "ci_low"] == pytest.approx(low)
    assert row.loc[("onboarding", "csat"), "ci_high"] == pytest.approx(high)
    ces = feedback[feedback["instrument"] == "ces"]["score"]
    t_low, t_high = stats.t.interval(0.95, len(ces) - 1, loc=ces.mean(), scale=stats.sem(ces))
    assert row.loc[("support", "ces"), "value"] == pytest.approx(ces.mean())
    assert row.loc[("support", "ces"), "ci_low"] == pytest.approx(t_low)
    assert row.loc[("support", "ces"), "ci_high"] == pytest.approx(t_high)
    # all stages together: the same customers here (each answered at one stage)
    assert row.loc[("all", "nps"), "value"] == pytest.approx(expected)


def test_the_nps_interval_covers_the_truth_about_95_percent_of_the_time() -> None:
    # Rocks (2016) adjusted Wald: checked by simulation against a known NPS of +20
    rng = np.random.default_rng(11)
    truth = (0.45, 0.30, 0.25)  # promoters, passives, detractors -> NPS 20
    draws = rng.multinomial(60, truth, size=4000)
    _, low, high = nps_interval(draws[:, 0], draws[:, 2], np.full(len(draws), 60))
    coverage = float(np.mean((low <= 20) & (high >= 20)))
    assert 0.93 <= coverage <= 0.97, coverage
    value, low, high = nps_interval(np.array([10]), np.array([0]), np.array([10]))
    assert value[0] == 100 and high[0] == 100 and low[0] < 100  # clipped, never past 100


def test_a_customer_counts_once_with_the_latest_answer() -> None:
    feedback = pd.DataFrame(
        {
            "customer_id": ["A", "A"] + [f"B{i}" for i in range(10)],
            "timestamp": pd.to_datetime(["2026-01-01", "2026-02-01"] + ["2026-01-05"] * 10),
            "stage": "onboarding",
            "instrument": "nps",
            "score": [0.0, 10.0] + [10.0] * 10,
        }
    )
    out = instrument_summary(feedback, None, stages=STAGES, min_group_size=5)
    row = out[(out["stage"] == "onboarding")].iloc[0]
    assert row["n_customers"] == 11 and row["value"] == 100  # A's later 10 replaces the 0


def test_small_groups_are_withheld_with_their_neighbour(feedback) -> None:
    assignments = pd.DataFrame(
        {
            "customer_id": feedback["customer_id"],
            "persona_id": [1] * 195 + [2] * 5 + [1] * 270,
            "persona_name": ["Many"] * 195 + ["Few"] * 5 + ["Many"] * 270,
        }
    )
    out = instrument_summary(feedback, assignments, stages=STAGES, min_group_size=10)
    few = out[(out["persona"] == "Few") & (out["stage"] == "onboarding")]
    assert few["suppressed"].all() and few["value"].isna().all()
    # Many's onboarding NPS is the only other cell: withheld too, or All - Many gives Few
    many = out[(out["persona"] == "Many") & (out["stage"] == "onboarding")]
    many = many[many["instrument"] == "nps"]
    assert many["suppressed"].all()
    assert list(dict.fromkeys(out["persona"])) == ["all", "Many", "Few"]


def test_no_feedback_or_no_instrument_gives_an_empty_table() -> None:
    assert instrument_summary(None, None, stages=STAGES, min_group_size=10).empty
    text_only = pd.DataFrame(
        {
            "customer_id": ["A"],
            "timestamp": pd.Timestamp("2026-01-01"),
            "stage": "support",
            "instrument": "text",
            "score": [np.nan],
        }
    )
    out = instrument_summary(text_only, None, stages=STAGES, min_group_size=1)
    assert out.empty and list(out.columns) == list(INSTRUMENT_COLUMNS)


def test_a_customer_in_two_personas_counts_in_both_as_a_join_would() -> None:
    # assignments are one row per customer from a build; a hand-made table may repeat one
    feedback = pd.DataFrame(
        {
            "customer_id": pd.Categorical(["a", "b", "c"]),
            "timestamp": pd.to_datetime(["2026-01-01"] * 3, utc=True),
            "stage": ["usage"] * 3,
            "instrument": ["nps"] * 3,
            "score": [10.0, 0.0, 9.0],
        }
    )
    once = pd.DataFrame({"customer_id": ["a", "b", "c"], "persona_name": ["P", "P", "Q"]})
    twice = pd.concat([once, pd.DataFrame({"customer_id": ["a"], "persona_name": ["Q"]})])
    n = {}
    for name, assignments in (("once", once), ("twice", twice)):
        table = instrument_summary(feedback, assignments, stages=["usage"], min_group_size=1)
        cells = table[(table["stage"] == "usage") & (table["persona"] != "all")]
        n[name] = dict(zip(cells["persona"], cells["n_customers"], strict=True))
    assert n == {"once": {"P": 2, "Q": 1}, "twice": {"P": 2, "Q": 2}}
