"""What changed between two builds, and the alerts: tests pinned to scipy and statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from cjresearch.analysis.changes import (
    ALERT_COLUMNS,
    CHANGE_COLUMNS,
    KPI_COLUMNS,
    alert_table,
    changes_table,
    compare,
    kpi_table,
)
from cjresearch.analysis.kpis import FIGURE_COLUMNS, Kpi, measure
from cjresearch.errors import CJResearchError


def _figure(key: str, metric: str, value: float, n: int, **extra: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(FIGURE_COLUMNS)
    kind = "kpi" if not key.startswith("map") else "map"
    row.update(
        key=key, kind=kind, kpi=key, stage="onboarding", persona="all", metric=metric,
        value=value, ci_low=value - 0.01, ci_high=value + 0.01, n_customers=n,
    )  # fmt: skip
    if metric in ("csat", "conversion", "churn_rate", "reach") and not np.isnan(value):
        row["successes"] = round(value * n)
    row.update(extra)
    return row


def _frame(*rows: dict[str, object]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=list(FIGURE_COLUMNS))
    for column in ("persona_id", "n_customers", "successes"):
        frame[column] = frame[column].astype("Int64")
    for column in ("value", "ci_low", "ci_high", "variance"):
        frame[column] = frame[column].astype("float64")
    return frame


def test_the_same_figures_compared_change_nothing() -> None:
    now = _frame(
        _figure("CSAT", "csat", 0.8, 200, target=">= 0.7", status="met"),
        _figure("map|emotion", "emotion", 0.1, 300, variance=0.2),
        _figure("NPS", "nps", 20.0, 150, variance=5000.0, target=">= 0", status="missed"),
    )
    compared = compare(now, now.copy())
    assert compared["p_value"].tolist() == [1.0, 1.0, 1.0]
    assert not compared["beyond_chance"].any() and not compared["worse"].any()
    assert (compared["change"] == 0).all()
    assert changes_table(now, compared, previous_run_id="r1", personas=[(1, "A")],
                         previous_personas=[(1, "A")]).empty  # fmt: skip
    # the NPS was missed and still is: no alert; first build: nothing changed at all
    assert alert_table(now, compared, previous_run_id="r1").empty
    first = compare(now, None)
    assert first["previous_value"].isna().all() and first["p_value"].isna().all()
    assert changes_table(now, first, previous_run_id=None).empty
    assert list(changes_table(now, first, previous_run_id=None).columns) == list(CHANGE_COLUMNS)


def test_tests_and_the_correction_equal_statsmodels_and_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.2, 0.4, 120), rng.normal(0.05, 0.5, 90)
    before = _frame(
        _figure("CSAT", "csat", 150 / 200, 200),
        _figure("map|emotion", "emotion", a.mean(), len(a), variance=a.var(ddof=1)),
        _figure("Reach", "reach", 0.5, 1000),
    )
    after = _frame(
        _figure("CSAT", "csat", 120 / 190, 190),
        _figure("map|emotion", "emotion", b.mean(), len(b), variance=b.var(ddof=1)),
        _figure("Reach", "reach", 0.52, 1000),
    )
    compared = compare(after, before, alpha=0.05)
    _, p_share = proportions_ztest([120, 150], [190, 200])
    # Welch from the raw values (an independent computation of the same test)
    p_mean = stats.ttest_ind(b, a, equal_var=False).pvalue
    _, p_reach = proportions_ztest([520, 500], [1000, 1000])
    expected = [p_share, p_mean, p_reach]
    np.testing.assert_allclose(compared["p_value"], expected, rtol=1e-10)
    np.testing.assert_allclose(
        compared["q_value"], multipletests(expected, method="fdr_bh")[1], rtol=1e-10
    )
    assert compared["test"].tolist() == ["two-proportion z", "Welch t", "two-proportion z"]
    holm = compare(after, before, correction="holm")
    np.testing.assert_allclose(
        holm["q_value"], multipletests(expected, method="holm")[1], rtol=1e-10
    )


def test_figures_suppressed_in_either_build_are_not_compared() -> None:
    before = _frame(_figure("A", "csat", 0.8, 200), _figure("B", "csat", np.nan, 0))
    after = _frame(_figure("A", "csat", np.nan, 0), _figure("B", "csat", 0.1, 200))
    compared = compare(after, before)
    assert compared["p_value"].isna().all() and compared["q_value"].isna().all()
    assert not compared["beyond_chance"].any()


def test_changes_list_significant_moves_status_changes_and_personas() -> None:
    before = _frame(
        _figure("CSAT", "csat", 0.85, 400, target=">= 0.8", status="met"),
        _figure("Effort", "ces", 3.0, 300, variance=1.0, target="<= 3.5", status="met"),
        _figure("map|reach", "reach", 0.5, 1000, persona="P", persona_id=1),
    )
    after = _frame(
        _figure("CSAT", "csat", 0.60, 400, target=">= 0.8", status="missed"),
        _figure("Effort", "ces", 3.02, 300, variance=1.0, target="<= 3.5", status="unclear"),
        _figure("map|reach", "reach", 0.70, 1000, persona="P", persona_id=1),
    )
    compared = compare(after, before)
    found = changes_table(
        after, compared, previous_run_id="r1", personas=[(1, "P"), (3, "New")],
        previous_personas=[(1, "P"), (2, "Gone")],
    )  # fmt: skip
    kinds = found["kind"].tolist()
    assert kinds == [
        "kpi_change", "map_change", "kpi_status", "kpi_status", "persona_birth", "persona_death",
    ]  # fmt: skip
    assert found.loc[0, "description"].startswith("CSAT fell from 85.0% to 60.0% (n = 400)")
    assert "q < 0.001" in found.loc[0, "description"]
    # a status change is listed even when the figure hardly moved
    effort = found[(found["kind"] == "kpi_status") & (found["kpi"] == "Effort")].iloc[0]
    assert (effort["previous_status"], effort["status"]) == ("met", "unclear")
    assert effort["q_value"] > 0.5
    assert found.loc[4, "description"] == "Persona 3 (New) appeared"
    assert found.loc[5, "description"] == "Persona 2 (Gone) no longer appears"
    assert (found["previous_run_id"] == "r1").all()
    table = kpi_table(after, compared)
    assert list(table.columns) == list(KPI_COLUMNS)
    assert table["previous_value"].tolist() == [0.85, 3.0]
    assert table["change"].tolist() == pytest.approx([-0.25, 0.02])


def test_alerts_newly_missed_and_worse_beyond_chance_only() -> None:
    before = _frame(
        _figure("Newly missed", "csat", 0.85, 400, target=">= 0.8", status="met", owner="O1"),
        _figure("Still missed", "csat", 0.5, 400, target=">= 0.8", status="missed", owner="O2"),
        _figure("Worse but met", "csat", 0.97, 400, target=">= 0.8", status="met", owner="O3"),
        _figure("Better", "churn_rate", 0.4, 500, target="<= 0.3", status="missed"),
        _figure("map|emotion", "emotion", 0.3, 500, variance=0.1),
        _figure("map|emotion|1", "emotion", 0.3, 500, variance=0.1, persona="P", persona_id=1),
        _figure("Untouched", "csat", 0.9, 300, target=">= 0.8", status="met", stage="support"),
    )
    after = before.copy()
    after.loc[0, ["value", "successes", "status", "ci_low", "ci_high"]] = [
        0.6, 240, "missed", 0.55, 0.65,
    ]  # fmt: skip
    after.loc[1, ["value", "successes"]] = [0.49, 196]
    after.loc[2, ["value", "successes"]] = [0.88, 352]
    after.loc[3, ["value", "successes"]] = [0.2, 100]
    after.loc[4, "value"] = 0.1
    after.loc[5, "value"] = 0.1
    alerts = alert_table(
        after, compare(after, before), previous_run_id="r1", owners={"onboarding": "Stage owner"}
    )
    assert list(alerts.columns) == list(ALERT_COLUMNS)
    assert alerts["kpi"].tolist() == ["Newly missed", "Worse but met", "map|emotion"]
    first = alerts.iloc[0]
    assert first["owner"] == "O1" and first["status"] == "missed"
    assert first["message"].startswith("Newly missed misses its target >= 0.8: 60.0% ")
    assert "was 85.0%, met" in first["message"] and first["message"].endswith("Owner: O1.")
    assert alerts.iloc[1]["message"].startswith("Worse but met fell from 97.0% to 88.0%")
    # a headline figure alerts its stage's owner; a persona's drop stays in the changes
    assert alerts.iloc[2]["owner"] == "Stage owner" and pd.isna(alerts.iloc[2]["target"])


def test_a_kpi_missed_at_the_first_build_is_an_alert() -> None:
    now = _frame(_figure("CSAT", "csat", 0.5, 100, target=">= 0.8", status="missed"))
    alerts = alert_table(now, compare(now, None), previous_run_id=None)
    assert alerts["kpi"].tolist() == ["CSAT"]
    assert "first measurement" in alerts.loc[0, "message"]
    assert alerts.loc[0, "message"].endswith("No owner is named in the study file.")


def test_compare_refuses_frames_that_are_not_measurements() -> None:
    now = _frame(_figure("CSAT", "csat", 0.5, 100))
    with pytest.raises(CJResearchError, match="has no column"):
        compare(now.drop(columns="successes"), None)
    with pytest.raises(CJResearchError, match="compare\\(current"):
        kpi_table(now, compare(_frame(_figure("X", "csat", 0.5, 100)), None))


def test_a_degraded_stage_changes_that_stage_only() -> None:
    # measure twice on generated data: lower one stage's CSAT scores; only its figures move
    from cjresearch.analysis.emotion import emotion_observations, stage_emotion
    from helpers import sample_pipeline

    p = sample_pipeline(2000)
    kpis = tuple(
        Kpi(name, stage, "csat", ">=", 0.2, ">= 0.2", owner=owner)
        for name, stage, owner in (
            ("Onboarding CSAT", "onboarding", "Onboarding team"),
            ("Support CSAT", "support", "Customer care"),
        )
    )

    def measured(feedback: pd.DataFrame) -> pd.DataFrame:
        observations = emotion_observations(
            p.tables.events, feedback, valence=p.study.valence,
            rating_scale=p.study.emotion.rating_scale,
        )  # fmt: skip
        return measure(
            p.tables.customers, p.tables.events, feedback, stage_emotion(observations),
            observations, kpis=kpis, stages=p.study.stages,
        )  # fmt: skip

    before = measured(p.tables.feedback)
    feedback = p.tables.feedback.copy()
    lowered = (feedback["stage"] == "onboarding") & (feedback["instrument"] == "csat")
    feedback.loc[lowered, "score"] = (feedback.loc[lowered, "score"] - 2).clip(lower=1)
    after = measured(feedback)
    compared = compare(after, before)
    found = changes_table(after, compared, previous_run_id="r1")
    assert set(found["stage"]) == {"onboarding"}
    assert {"Onboarding CSAT", "map: emotion at onboarding, all customers"} <= set(found["kpi"])
    alerts = alert_table(after, compared, previous_run_id="r1")
    assert "Support CSAT" not in set(alerts["kpi"])
    assert alerts.set_index("kpi").loc["Onboarding CSAT", "owner"] == "Onboarding team"
