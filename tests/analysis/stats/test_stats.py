"""Emotion -> churn statistics: planted truth, golden fits, many-test control, degenerate input."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.multitest import multipletests

from cjresearch.analysis.stats import (
    EMOTION_CHURN_COLUMNS,
    FINDINGS_COLUMNS,
    TIME_TO_CHURN_COLUMNS,
    adjust_pvalues,
    analyse,
    emotion_churn,
    findings,
    joint_model,
    opportunities,
    survival_curves,
    time_to_churn,
)
from cjresearch.datasets.sample import EFFECTS
from cjresearch.errors import (
    CJResearchError,
    SeparationWarning,
    SmallSampleWarning,
    StatisticalWarning,
)
from helpers import sample_pipeline

UNIT = 0.5
CONTROLS = ["tenure_months", "plan"]


def _personas(pipeline) -> pd.DataFrame:
    truth = pd.Series(pipeline.sample.truth["customer_persona"])
    return pd.DataFrame(
        {
            "customer_id": truth.index,
            "persona_id": pd.factorize(truth.to_numpy())[0],
            "persona_name": truth.to_numpy(),
        }
    )


@pytest.fixture(scope="module")
def big():
    return sample_pipeline(20_000)


@pytest.fixture(scope="module")
def small():
    return sample_pipeline(3_000)


# ------------------------------------------------------------------- planted truth


def test_per_stage_models_find_the_planted_stages_and_not_awareness(big) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        table = emotion_churn(
            big.tables.customers,
            big.stage_emotion,
            stages=["awareness", "onboarding", "support"],
            controls=CONTROLS,
            unit_size=UNIT,
        ).set_index("stage")
    for stage in ("onboarding", "support"):
        assert table.loc[stage, "odds_ratio"] < 1  # planted: lower emotion, more churn
        assert table.loc[stage, "q_value"] < 0.001
    assert table.loc["awareness", "q_value"] >= 0.05
    # onboarding alone carries no confounding stage before it: its interval covers the truth
    planted = np.exp(EFFECTS["onboarding"] * UNIT)
    assert table.loc["onboarding", "ci_low"] <= planted <= table.loc["onboarding", "ci_high"]
    assert (table["n_customers"] > 5_000).all()


def test_joint_model_recovers_the_planted_odds_ratios(big) -> None:
    """The planted model is a joint logit with emotion 0 where unmeasured plus a
    support-reached term: the missing-indicator joint model is that model re-parametrised,
    so its intervals must cover exp(effect x unit) for every planted stage."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        joint = joint_model(
            big.tables.customers,
            big.stage_emotion,
            stages=["awareness", "onboarding", "support"],
            controls=CONTROLS,
            unit_size=UNIT,
        )
    table = joint.summary.set_index("stage")
    for stage, effect in EFFECTS.items():
        planted = np.exp(effect * UNIT)
        assert table.loc[stage, "ci_low"] <= planted <= table.loc[stage, "ci_high"], stage
    assert table.loc["onboarding", "q_value"] < 0.001
    assert table.loc["support", "q_value"] < 0.001
    assert table.loc["awareness", "q_value"] >= 0.05
    diagnostics = joint.diagnostics.iloc[0]
    assert diagnostics["auc"] > 0.7
    assert 0.8 <= diagnostics["calibration_slope"] <= 1.2
    assert "missing-indicator" in joint.formula


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


def test_analyse_on_the_sample_gives_every_table_with_its_columns(small) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        result = analyse(
            small.tables.customers,
            small.observations,
            small.stage_emotion,
            stages=list(small.study.stages),
            personas=_personas(small),
            controls=CONTROLS,
            observation_end=small.tables.observation_end,
            interactions=True,
        )
    assert list(result.emotion_churn.columns) == list(EMOTION_CHURN_COLUMNS)
    assert list(result.time_to_churn.columns) == list(TIME_TO_CHURN_COLUMNS)
    assert list(result.findings.columns) == list(FINDINGS_COLUMNS)
    n_groups = 1 + _personas(small)["persona_name"].nunique()
    assert len(result.emotion_churn) == n_groups * len(small.study.stages)
    assert result.emotion_churn["persona"].iloc[0] == "all"
    assert result.emotion_churn["family"].str.contains("stage x persona").all()
    assert set(result.joint["persona"]) == {"all", *_personas(small)["persona_name"]}
    assert result.findings["rank"].tolist() == list(range(1, len(result.findings) + 1))
    top = result.findings.iloc[0]
    assert top["stage"] in {"onboarding", "support"} and top["q_value"] < 0.001
    # no customer id reaches any table
    ids = set(small.tables.customers["customer_id"])
    for name, frame in result.tables().items():
        text = frame.astype(str).to_numpy().ravel()
        assert not ids & set(text), name
    curves = result.km_curves
    assert (curves["n_at_risk"] >= 10).all()
    for _, curve in curves.groupby(["persona", "stage", "tercile"]):
        assert (np.diff(curve["survival"].to_numpy()) <= 1e-12).all()
        assert (curve["ci_low"] <= curve["survival"] + 1e-12).all()
    onboarding = result.logrank.set_index(["persona", "stage"]).loc[("all", "onboarding")]
    assert onboarding["p_value"] < 0.001
    opp = result.opportunities
    assert opp["rank"].tolist() == list(range(1, len(opp) + 1))
    best = opp.iloc[0]
    assert best["churn_rate_if_better"] < best["churn_rate_modelled"]
    assert best["ci_low"] <= best["churn_rate_if_better"] <= best["ci_high"]
    assert "<table" in result._repr_html_()


# ---------------------------------------------------------------------- golden fits


def test_logistic_fit_equals_statsmodels_formula_logit(small) -> None:
    """Reference: statsmodels.formula.api.logit on the same frame (patsy's C() coding)."""
    customers, per_stage = small.tables.customers, small.stage_emotion
    table = emotion_churn(
        customers, per_stage, stages=["onboarding"], controls=CONTROLS, unit_size=UNIT
    )
    onboarding = per_stage[per_stage["stage"] == "onboarding"][["customer_id", "emotion_mean"]]
    frame = customers.merge(onboarding, on="customer_id")
    frame = frame.assign(churned=frame["churned"].astype(int), step=frame["emotion_mean"] / UNIT)
    reference = smf.logit("churned ~ step + tenure_months + C(plan)", data=frame).fit(disp=False)
    row = table.iloc[0]
    ci = reference.conf_int().loc["step"]
    assert row["n_customers"] == len(frame)
    assert row["odds_ratio"] == pytest.approx(np.exp(reference.params["step"]), rel=1e-8)
    assert row["ci_low"] == pytest.approx(np.exp(ci[0]), rel=1e-8)
    assert row["ci_high"] == pytest.approx(np.exp(ci[1]), rel=1e-8)
    assert row["p_value"] == pytest.approx(reference.pvalues["step"], rel=1e-6)


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


def test_holm_correction_reaches_the_table(small) -> None:
    bh = emotion_churn(small.tables.customers, small.stage_emotion, stages=["onboarding", "usage"])
    holm = emotion_churn(
        small.tables.customers,
        small.stage_emotion,
        stages=["onboarding", "usage"],
        correction="holm",
    )
    np.testing.assert_allclose(holm["q_value"], multipletests(bh["p_value"], method="holm")[1])
    assert holm["family"].str.contains("Holm").all()


# ----------------------------------------------------------------- degenerate input


def _toy(n: int = 400, seed: int = 0, effect: float = -1.5) -> dict[str, pd.DataFrame]:
    """Small study: stages a and b, churn planted on emotion at a."""
    rng = np.random.default_rng(seed)
    ids = [f"K{i:04d}" for i in range(n)]
    signup = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        rng.uniform(0, 100, n), unit="D"
    )
    e_a = rng.uniform(-1, 1, n)
    churned = rng.random(n) < 1 / (1 + np.exp(-(-0.5 + effect * e_a)))
    churn_date = signup + pd.to_timedelta(rng.uniform(20, 200, n), unit="D")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup,
            "churned": churned,
            "churn_date": pd.Series(churn_date).where(churned),
            "plan": rng.choice(["basic", "premium"], n),
            "tenure_months": rng.integers(1, 24, n),
        }
    )
    observations = pd.DataFrame(
        {
            "customer_id": ids * 2,
            "timestamp": list(signup + pd.Timedelta(days=2)) + list(signup + pd.Timedelta(days=5)),
            "stage": ["a"] * n + ["b"] * n,
            "touchpoint": "t",
            "source": "event",
            "emotion": np.concatenate([e_a, rng.uniform(-1, 1, n)]),
        }
    )
    per_stage = observations.groupby(["customer_id", "stage"], as_index=False).agg(
        emotion_mean=("emotion", "mean"), n_observations=("emotion", "size")
    )
    personas = pd.DataFrame(
        {
            "customer_id": ids,
            "persona_id": np.arange(n) % 2,
            "persona_name": np.where(np.arange(n) % 2, "Loyal <b>ones</b>", "Others"),
        }
    )
    return {
        "customers": customers,
        "observations": observations,
        "stage_emotion": per_stage,
        "personas": personas,
    }


def _run(toy: dict[str, pd.DataFrame], **kwargs):
    return analyse(
        toy["customers"],
        toy["observations"],
        toy["stage_emotion"],
        personas=toy["personas"],
        observation_end=pd.Timestamp("2026-01-01", tz="UTC"),
        **{"stages": ["a", "b", "c"], **kwargs},
    )


def _flags(table: pd.DataFrame, persona: str, stage: str) -> set[str]:
    row = table[(table["persona"] == persona) & (table["stage"] == stage)].iloc[0]
    return set(filter(None, row["flags"].split(";")))


def test_degenerate_cases_warn_and_flag_instead_of_crashing() -> None:
    toy = _toy()
    customers = toy["customers"].copy()
    loyal = toy["personas"]["persona_name"].str.startswith("Loyal").to_numpy()
    customers.loc[loyal, "churned"] = False  # no churners in one persona
    customers.loc[loyal, "churn_date"] = pd.NaT
    toy["customers"] = customers
    with pytest.warns(SmallSampleWarning) as record:
        result = _run(toy)
    messages = " ".join(str(w.message) for w in record)
    assert "no_events" in messages and "no_customers" in messages
    odds = result.emotion_churn
    assert "no_customers" in _flags(odds, "all", "c")  # a stage nobody reached
    assert _flags(odds, "Loyal <b>ones</b>", "a") == {"no_events"}
    assert np.isnan(odds.loc[odds["stage"] == "c", "odds_ratio"]).all()
    assert "no_events" in _flags(result.time_to_churn, "Loyal <b>ones</b>", "a")
    assert "no_customers" in _flags(result.time_to_churn, "all", "c")
    assert "&lt;b&gt;" in result._repr_html_() and "<b>ones" not in result._repr_html_()


def test_one_emotion_value_for_everyone_is_flagged() -> None:
    toy = _toy()
    toy["stage_emotion"] = toy["stage_emotion"].assign(emotion_mean=0.25)
    toy["observations"] = toy["observations"].assign(emotion=0.25)
    with pytest.warns(StatisticalWarning, match="no_variation"):
        result = _run(toy, stages=["a"])
    assert _flags(result.emotion_churn, "all", "a") == {"no_variation"}
    assert _flags(result.time_to_churn, "all", "a") == {"no_variation"}
    assert "few_distinct_values" in _flags(result.logrank, "all", "a")


def test_perfect_separation_is_flagged_and_not_estimated() -> None:
    toy = _toy()
    customers = toy["customers"].copy()
    a = toy["stage_emotion"].query("stage == 'a'").set_index("customer_id")["emotion_mean"]
    customers["churned"] = customers["customer_id"].map(a).to_numpy() < 0
    toy["customers"] = customers.assign(
        churn_date=customers["signup_date"].where(~customers["churned"]) + pd.Timedelta(days=50)
    )
    toy["customers"].loc[~customers["churned"], "churn_date"] = pd.NaT
    with pytest.warns(SeparationWarning, match="separation"):
        table = emotion_churn(toy["customers"], toy["stage_emotion"], stages=["a"])
    assert "separation" in _flags(table, "all", "a")
    assert np.isnan(table["odds_ratio"].iloc[0])


def test_small_groups_are_suppressed_and_constant_controls_dropped() -> None:
    toy = _toy(n=30)
    customers = toy["customers"].assign(plan="basic")
    with pytest.warns(StatisticalWarning) as record:
        table = emotion_churn(
            customers,
            toy["stage_emotion"],
            stages=["a"],
            controls=["plan"],
            personas=toy["personas"],
            min_group_size=20,
        )
    assert "dropped_control:plan" in _flags(table, "all", "a")
    assert _flags(table, "Others", "a") == {"small_group"}
    assert table.loc[table["persona"] == "Others", "odds_ratio"].isna().all()
    assert any(issubclass(w.category, SmallSampleWarning) for w in record)


def test_bad_arguments_are_clear_errors() -> None:
    toy = _toy(n=50)
    with pytest.raises(CJResearchError, match="control column"):
        emotion_churn(toy["customers"], toy["stage_emotion"], stages=["a"], controls=["nope"])
    with pytest.raises(CJResearchError, match="unit_size"):
        emotion_churn(toy["customers"], toy["stage_emotion"], stages=["a"], unit_size=0)
    with pytest.raises(CJResearchError, match="interactions=True needs"):
        joint_model(toy["customers"], toy["stage_emotion"], stages=["a"], interactions=True)


def test_inputs_are_not_mutated() -> None:
    toy = _toy(n=200)
    before = {k: v.copy() for k, v in toy.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        _run(toy, controls=["plan", "tenure_months"])
    for name, frame in toy.items():
        pd.testing.assert_frame_equal(frame, before[name])


# ------------------------------------------------------------------------- findings

CAUSAL = re.compile(
    r"\b(?:cause[sd]?|causing|drives?|driven|leads? to|because|impact|effect)\b", re.I
)


def test_findings_are_associational_and_label_shaky_results(small) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        result = analyse(
            small.tables.customers,
            small.observations,
            small.stage_emotion,
            stages=list(small.study.stages),
            personas=_personas(small),
            controls=CONTROLS,
            observation_end=small.tables.observation_end,
        )
    texts = result.findings["text"]
    assert len(texts) > 10
    assert not texts.str.contains(CAUSAL).any(), texts[texts.str.contains(CAUSAL)].tolist()
    solid = result.findings[result.findings["kind"] == "odds_ratio"].iloc[0]
    assert re.search(
        r"times the odds of churning \(odds ratio; 95% CI [\d.]+-[\d.]+; q", solid["text"]
    )
    # a row with a shaky flag is labelled tentative
    odds = result.emotion_churn.copy()
    odds.loc[:, "flags"] = "low_epv"
    relabelled = findings(odds, alpha=0.05)
    assert relabelled["text"].str.startswith("Tentative").all()
    assert (relabelled["kind"].isin(["odds_ratio", "no_clear_association"])).all()
    null = result.findings[result.findings["kind"] == "no_clear_association"]
    assert null["text"].str.startswith(("No clear association", "Tentative")).all()


def test_opportunities_and_survival_curves_stand_alone() -> None:
    toy = _toy(n=600)
    opp = opportunities(toy["customers"], toy["stage_emotion"], stages=["a", "b"])
    a = opp.set_index("stage").loc["a"]
    assert a["churn_rate_if_better"] < a["churn_rate_modelled"]
    assert a["change_ci_high"] < 0
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
