"""Through the command line: a generated study where churners complain at support just before
leaving (no association with churn otherwise) and onboarding emotion is planted. The support
stage must not be a finding, onboarding must be; the 0.1 design would have found support."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from cjresearch.analysis.settings import Settings
from cjresearch.artifacts.compute import open_artifacts, reanalyse
from cjresearch.cli import app
from cjresearch.data.study import load_study
from cjresearch.datasets.scenarios import Scenario, write_scenario
from cjresearch.errors import StatisticalWarning

# 60% of churners complain at support (emotion about -0.7) in the 30 days before leaving;
# onboarding emotion lowers the odds of churn within the landmark horizon (log odds -2 per
# unit); the stages' emotions are independent (mood 0), so support is a pure null
SCENARIO = Scenario(
    "leaving-and-onboarding",
    mechanism="landmark",
    onboarding_log_odds=-2.0,
    about_to_leave=0.6,
    mood=0.0,
    response=0.8,
)


def _everyone(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["persona"] == "all"].set_index("stage")


def test_about_to_leave_complaints_make_no_finding_and_the_planted_stage_does(
    tmp_path: Path,
) -> None:
    study = write_scenario(tmp_path / "study", 1500, SCENARIO, seed=0)
    out, artifacts = tmp_path / "out", tmp_path / "artifacts"
    result = CliRunner().invoke(
        app, ["build", str(study), "--out", str(out), "--artifacts", str(artifacts), "--jobs", "2"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "study" / "truth.json").read_text())["about_to_leave"] == 0.6

    odds = _everyone(pd.read_csv(out / "tables" / "emotion_churn.csv"))
    assert odds.loc["onboarding", "finding"]
    assert odds.loc["onboarding", "odds_ratio"] < 1
    assert not odds.loc["support", "finding"]
    assert odds.loc["support", "q_value"] >= 0.05
    assert (odds["design"] == "landmark").all()
    assert odds.loc["support", "n_reached"] > odds.loc["support", "n_responded"]
    hazards = _everyone(pd.read_csv(out / "tables" / "time_to_churn.csv"))
    assert not hazards.loc["support", "finding"]
    findings = pd.read_csv(out / "tables" / "findings.csv", keep_default_na=False)
    solid = findings[
        findings["kind"].isin(["odds_ratio", "hazard_ratio", "logrank", "opportunity"])
    ]
    assert "onboarding" in set(solid["stage"])
    assert "support" not in set(solid["stage"])
    sizing = pd.read_csv(out / "tables" / "opportunity_sizing.csv")
    assert set(sizing.loc[sizing["finding"], "stage"]) == {"onboarding"}
    journey = pd.read_csv(out / "tables" / "opportunities.csv")
    from_stats = journey[journey["source"] == "emotion_churn"]
    assert set(from_stats["stage"]) <= {"onboarding"}
    # the lag table shows the reverse causation at support: at lag 0 the Cox model sees it
    lags = pd.read_csv(out / "tables" / "emotion_churn_lag.csv")
    support = lags[(lags["stage"] == "support") & (lags["model"] == "lagged Cox")]
    assert support.set_index("lag_days").loc[0.0, "p_value"] < 0.001
    page = (out / "stages" / "support.html").read_text(encoding="utf-8")
    assert "already leaving" in page  # the stage report carries the warning

    # the 0.1 analysis (every emotion against churn at any time) finds support
    settings = Settings.from_study(load_study(study))
    naive = Settings.resolve(settings, design="whole_follow_up", lag_days=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)
        tables = reanalyse(open_artifacts(artifacts), naive)
    old = _everyone(tables["emotion_churn"])
    assert old.loc["support", "q_value"] < 0.001 and old.loc["support", "odds_ratio"] < 0.5
