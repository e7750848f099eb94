"""KPIs and headline figures: pinned to the journey map and to computations by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from cjresearch.analysis.journey_map import build_map
from cjresearch.analysis.kpis import FIGURE_COLUMNS, Kpi, measure, status
from cjresearch.errors import CJResearchError, CJResearchWarning
from helpers import planted_personas, sample_pipeline

N = 2000
MAP_COLUMNS = {
    "reach": "reach",
    "conversion": "conversion_next",
    "emotion": "emotion_mean",
    "churn_rate": "churn_rate",
}


def _kpi(name: str, stage: str, metric: str, target: str = ">= 0", **extra: object) -> Kpi:
    from cjresearch.data.management import parse_target

    comparison, threshold = parse_target(target, metric=metric)
    return Kpi(name, stage, metric, comparison, threshold, target, **extra)  # type: ignore[arg-type]


def _measure(min_group_size: int = 10, kpis: tuple[Kpi, ...] = (), **tables: object):
    p = sample_pipeline(N)
    inputs = {
        "customers": p.tables.customers,
        "events": p.tables.events,
        "feedback": p.tables.feedback,
        "stage_emotion": p.stage_emotion,
        "observations": p.observations,
        **tables,
    }
    return measure(
        **inputs,
        kpis=kpis,
        personas=planted_personas(p.sample.truth),
        stages=p.study.stages,
        min_group_size=min_group_size,
    )


@pytest.mark.filterwarnings("ignore:2 of 6 groups have fewer than 330")
@pytest.mark.parametrize("min_group_size", [10, 330])
def test_headline_figures_are_the_journey_maps_own(min_group_size: int) -> None:
    # an independent computation: the journey map's bincount tables, suppression included
    # (330 hides the smallest personas at late stages, with its secondary suppression)
    p = sample_pipeline(N)
    the_map = build_map(
        p.tables.events,
        p.tables.customers,
        p.observations,
        p.stage_emotion,
        stages=p.study.stages,
        personas=planted_personas(p.sample.truth),
        min_group_size=min_group_size,
    ).journey_map
    the_map = the_map.assign(stage=the_map["stage"].astype(str)).set_index(["persona", "stage"])
    figures = _measure(min_group_size)
    figures = figures[figures["kind"] == "map"]
    hidden = 0
    for metric, column in MAP_COLUMNS.items():
        mine = figures[figures["metric"] == metric].set_index(["persona", "stage"])
        theirs = the_map[column].reindex(mine.index)
        np.testing.assert_allclose(mine["value"], theirs, atol=1e-12, equal_nan=True)
        assert (mine["value"].isna() == theirs.isna()).all(), metric
        hidden += int(mine["value"].isna().sum())
    # conversion's last stage is not a figure; and some cells are suppressed at 330
    assert len(figures) == 6 * (7 * 4 - 1)
    assert (hidden > 0) == (min_group_size > 10)
    shown = figures[figures["value"].notna()]
    assert (shown["n_customers"] >= 1).all() and shown["status"].isna().all()
    assert (figures.loc[figures["value"].isna(), "status"] == "suppressed").all()


def test_survey_kpis_equal_a_computation_by_hand() -> None:
    p = sample_pipeline(N)
    fb = p.tables.feedback
    kpis = (
        _kpi("CSAT", "onboarding", "csat", ">= 0.45"),
        _kpi("NPS", "usage", "nps", "> -40"),
        _kpi("CES", "support", "ces", "<= 3"),
        _kpi("Setup CSAT", "onboarding", "csat", ">= 0.5", touchpoint="account_setup"),
    )
    found = _measure(kpis=kpis).set_index("kpi")

    def latest(instrument: str, stage: str, touchpoint: str | None = None) -> pd.Series:
        rows = fb[(fb["instrument"] == instrument) & (fb["stage"] == stage)]
        if touchpoint is not None:
            rows = rows[rows["touchpoint"] == touchpoint]
        return rows.sort_values("timestamp").groupby("customer_id")["score"].last()

    for name, scores in (
        ("CSAT", latest("csat", "onboarding")),
        ("Setup CSAT", latest("csat", "onboarding", "account_setup")),
    ):
        satisfied, n = int((scores >= 4).sum()), len(scores)
        low, high = proportion_confint(satisfied, n, method="wilson")
        row = found.loc[name]
        assert (row["n_customers"], row["successes"]) == (n, satisfied)
        assert row["value"] == pytest.approx(satisfied / n)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))

    nps = latest("nps", "usage")
    promoters, detractors = (nps >= 9).mean(), (nps <= 6).mean()
    coded = np.where(nps >= 9, 100.0, np.where(nps <= 6, -100.0, 0.0))
    half = stats.t.ppf(0.975, len(coded) - 1) * stats.sem(coded)
    row = found.loc["NPS"]
    assert row["value"] == pytest.approx(100 * (promoters - detractors))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (coded.mean() - half, coded.mean() + half)
    )
    assert row["variance"] == pytest.approx(coded.var(ddof=1))

    ces = latest("ces", "support")
    half = stats.t.ppf(0.975, len(ces) - 1) * stats.sem(ces)
    row = found.loc["CES"]
    assert row["value"] == pytest.approx(ces.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ces.mean() - half, ces.mean() + half))
    assert row["n_customers"] == len(ces)


def test_touchpoint_and_persona_kpis_count_the_right_customers() -> None:
    p = sample_pipeline(N)
    personas = planted_personas(p.sample.truth)
    name = str(personas["persona_name"].iloc[0])
    kpis = (
        _kpi("Setup failed reach", "onboarding", "reach", "<= 0.5", touchpoint="setup_failed"),
        _kpi(
            "Setup failed churn",
            "onboarding",
            "churn_rate",
            "<= 0.5",
            touchpoint="setup_failed",
            persona=name,
        ),
        _kpi("Setup failed emotion", "onboarding", "emotion", ">= 0", touchpoint="setup_failed"),
        _kpi(
            "By id",
            "onboarding",
            "reach",
            "<= 0.5",
            touchpoint="setup_failed",
            persona=str(personas["persona_id"].iloc[0]),
        ),
    )
    found = _measure(kpis=kpis).set_index("kpi")
    events = p.tables.events
    met = set(events.loc[events["touchpoint"] == "setup_failed", "customer_id"])
    assert found.loc["Setup failed reach", "successes"] == len(met)
    assert found.loc["Setup failed reach", "n_customers"] == len(p.tables.customers)
    mine = set(personas.loc[personas["persona_name"] == name, "customer_id"]) & met
    churned = p.tables.customers.set_index("customer_id")["churned"]
    assert found.loc["Setup failed churn", "n_customers"] == len(mine)
    assert found.loc["Setup failed churn", "value"] == pytest.approx(churned[list(mine)].mean())
    assert found.loc["Setup failed churn", "persona"] == name
    # a persona named by its id is the same persona
    by_id = found.loc["By id"]
    assert by_id["persona"] == name
    obs = p.observations
    at = obs[(obs["touchpoint"] == "setup_failed") & (obs["stage"] == "onboarding")]
    per_customer = at.groupby("customer_id")["emotion"].mean()
    assert found.loc["Setup failed emotion", "value"] == pytest.approx(per_customer.mean())
    assert found.loc["Setup failed emotion", "n_customers"] == len(per_customer)


@pytest.mark.parametrize(
    ("interval", "comparison", "expected"),
    [
        ((0.86, 0.82, 0.90), ">=", "met"),
        ((0.80, 0.80, 0.85), ">=", "met"),  # the bound on the target satisfies >=
        ((0.80, 0.80, 0.85), ">", "unclear"),
        ((0.70, 0.60, 0.79), ">=", "missed"),
        ((0.70, 0.60, 0.80), ">", "missed"),
        ((0.79, 0.75, 0.83), ">=", "unclear"),
        ((0.70, 0.60, 0.79), "<=", "met"),
        ((0.90, 0.81, 0.95), "<", "missed"),
        ((0.90, np.nan, np.nan), ">=", "unclear"),
        ((np.nan, np.nan, np.nan), ">=", "suppressed"),
    ],
)
def test_status_needs_the_whole_interval_on_one_side(
    interval: tuple[float, float, float], comparison: str, expected: str
) -> None:
    assert status(*interval, comparison=comparison, threshold=0.80) == expected


def _tiny() -> dict[str, pd.DataFrame]:
    """25 customers: persona A (20) and B (5), all at stage s1; 12 of A and 2 of B at s2."""
    ids = [f"K{i:03d}" for i in range(25)]
    customers = pd.DataFrame({"customer_id": ids, "churned": [i % 3 == 0 for i in range(25)]})
    later = ids[:12] + ids[20:22]
    events = pd.DataFrame(
        {
            "customer_id": ids + later,
            "stage": ["s1"] * 25 + ["s2"] * len(later),
            "touchpoint": ["t1"] * 25 + ["t2"] * len(later),
        }
    )
    personas = pd.DataFrame(
        {
            "customer_id": ids,
            "persona_id": [1] * 20 + [2] * 5,
            "persona_name": ["A"] * 20 + ["B"] * 5,
        }
    )
    return {"customers": customers, "events": events, "personas": personas}


def test_small_groups_are_suppressed_and_cannot_be_recovered_by_difference() -> None:
    tiny = _tiny()
    kpis = (
        _kpi("All churn", "s1", "churn_rate", "<= 0.5"),
        _kpi("A churn", "s1", "churn_rate", "<= 0.5", persona="A"),
        _kpi("B churn", "s1", "churn_rate", "<= 0.5", persona="B"),
        _kpi("All s2 reach", "s2", "reach", ">= 0.3"),
    )
    found = measure(
        tiny["customers"], tiny["events"], kpis=kpis, personas=tiny["personas"],
        stages=["s1", "s2"], min_group_size=10,
    ).set_index("kpi")  # fmt: skip
    assert found.loc["All churn", "status"] in ("met", "unclear")
    assert found.loc["All churn", "n_customers"] == 25
    # B has 5 customers; A's 20 beside all's 25 would give B's away as the difference
    for name in ("A churn", "B churn"):
        assert found.loc[name, "status"] == "suppressed"
        assert found.loc[name, ["value", "ci_low", "ci_high", "n_customers"]].isna().all()
    assert found.loc["All s2 reach", "successes"] == 14
    maps = found[(found["kind"] == "map") & (found["stage"] == "s2")]
    # the journey map's rule at s2: B (2 customers) hidden, and A with it (one hidden persona
    # per stage would be "all" minus the rest); all customers shown, every metric alike
    for metric, rows in maps.groupby("metric"):
        shown = rows.set_index("persona")["value"]
        assert pd.isna(shown["A"]) and pd.isna(shown["B"]), metric
        assert pd.notna(shown["all"]) or metric == "emotion", metric


def test_an_unknown_persona_warns_and_is_suppressed_and_inputs_are_not_modified() -> None:
    tiny = _tiny()
    before = {k: v.copy() for k, v in tiny.items()}
    with pytest.warns(CJResearchWarning, match="no persona 'C' in this build"):
        found = measure(
            tiny["customers"], tiny["events"], personas=tiny["personas"],
            kpis=(_kpi("C reach", "s1", "reach", ">= 0.5", persona="C"),),
            stages=["s1", "s2"], min_group_size=10,
        )  # fmt: skip
    assert found.loc[0, "status"] == "suppressed" and found.loc[0, "persona"] == "C"
    assert list(found.columns) == list(FIGURE_COLUMNS)
    for name, frame in tiny.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_no_feedback_no_emotion_and_no_personas_still_measure() -> None:
    tiny = _tiny()
    kpis = (_kpi("CSAT", "s1", "csat", ">= 0.5"), _kpi("Emotion", "s1", "emotion", ">= 0"))
    found = measure(tiny["customers"], tiny["events"], kpis=kpis, stages=["s1", "s2"])
    assert set(found["persona"]) == {"all"}
    assert (found.loc[found["kind"] == "kpi", "status"] == "suppressed").all()
    assert found.loc[found["kind"] == "kpi", "n_customers"].isna().all()


def test_bad_definitions_are_errors() -> None:
    tiny = _tiny()
    with pytest.raises(CJResearchError, match="metric must be one of"):
        Kpi("x", "s1", "happiness", ">=", 0.5, ">= 0.5")
    with pytest.raises(CJResearchError, match="comparison must be"):
        Kpi("x", "s1", "reach", "=>", 0.5, "=> 0.5")
    with pytest.raises(CJResearchError, match="stage 's3' is not one of"):
        measure(tiny["customers"], tiny["events"], kpis=(_kpi("x", "s3", "reach"),),
                stages=["s1", "s2"])  # fmt: skip
    with pytest.raises(CJResearchError, match="conversion needs a stage after 's2'"):
        measure(tiny["customers"], tiny["events"], kpis=(_kpi("x", "s2", "conversion"),),
                stages=["s1", "s2"])  # fmt: skip


def test_the_figures_do_not_depend_on_names_held_as_categories_or_as_text() -> None:
    # categoricals are compared by their categories, plain text row by row: the same rows
    p = sample_pipeline(N)
    kpis = (
        _kpi("Setup failed reach", "onboarding", "reach", "<= 0.5", touchpoint="setup_failed"),
        _kpi("Setup failed emotion", "onboarding", "emotion", ">= 0", touchpoint="setup_failed"),
        _kpi("Onboarding CSAT", "onboarding", "csat", ">= 0.5"),
    )

    def as_text(frame: pd.DataFrame) -> pd.DataFrame:
        names = [c for c in ("stage", "touchpoint", "instrument", "channel") if c in frame]
        return frame.assign(**{c: frame[c].astype(str).astype(object) for c in names})

    as_read = _measure(kpis=kpis)
    textual = _measure(
        kpis=kpis,
        events=as_text(p.tables.events),
        feedback=as_text(p.tables.feedback),
        observations=as_text(p.observations),
        stage_emotion=as_text(p.stage_emotion),
    )
    assert isinstance(p.tables.events["touchpoint"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(as_read, textual)
    assert as_read["n_customers"].notna().all()
