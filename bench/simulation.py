"""Simulation study of cjresearch.analysis.stats: false findings under nulls that real data
produce, and interval coverage and power for planted effects, for the default (time-ordered)
settings and for the old naive ones side by side.

Not part of the test run. Each repetition generates a study with
:func:`cjresearch.datasets.scenarios.generate_scenario` (three stages: onboarding, usage,
support; see that module for the data-generating process) and fits, per stage:

- the logit of :func:`emotion_churn` (default: the landmark design; naive: every emotion
  against churn at any time, ``design="whole_follow_up"``),
- the Cox model of :func:`time_to_churn` (default: emotion counts from ``lag_days`` = 30 days
  after it was expressed; naive: lag 0),
- the log-rank test of :func:`survival_curves` (default: terciles of the window's emotion,
  followed from the landmark; naive: terciles of the stage mean over the whole follow-up),
- the joint model of :func:`joint_model` (default: per-stage landmark models with non-response
  multiply imputed; naive: one missing-indicator model).

Null scenarios (no emotion goes with churn at all): the rejection rate is the share of stage
tests with q < 0.05 (Benjamini-Hochberg over each table's three stage tests). Effect scenarios:
coverage of the 95% interval of the planted stage's ratio by its true value, and power
(q < 0.05 there), for the models that are correctly specified for that truth (the landmark
logit and the joint model for a planted landmark odds ratio, the lagged Cox for a planted
hazard ratio); the naive column estimates something else, so its coverage shows its bias.

Usage: ``python bench/simulation.py [--reps 100] [--n 2000] [--seed 1] [--only NAME ...]``
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cjresearch.analysis.emotion import emotion_observations
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import (
    emotion_churn,
    joint_model,
    stage_reach,
    survival_curves,
    time_to_churn,
)
from cjresearch.datasets.scenarios import SCENARIO_STAGES, Scenario, generate_scenario
from cjresearch.errors import StatisticalWarning

UNIT = 0.5
EFFECT = -1.0  # planted log odds (or log hazard) per unit of onboarding emotion
DEFAULT = Settings(stages=SCENARIO_STAGES, controls=("plan",), unit_size=UNIT)
NAIVE = Settings(
    stages=SCENARIO_STAGES,
    controls=("plan",),
    unit_size=UNIT,
    design="whole_follow_up",
    lag_days=0.0,
)
MODELS = ("logit", "cox", "log-rank", "joint")


@dataclass(frozen=True)
class Case:
    """A bench scenario: what is planted, and which models it checks."""

    label: str
    scenario: Scenario
    truth: float | None = None  # the planted ratio per UNIT at onboarding (None: a null)
    models: tuple[str, ...] = MODELS


CASES = (
    Case("null, about-to-leave complaints", Scenario("leaving", about_to_leave=0.5)),
    Case("null, unequal follow-up", Scenario("follow-up", unequal_follow_up=True)),
    Case("null, random non-response", Scenario("random-nr", response=0.6, about_to_leave=0.3)),
    Case(
        "null, informative non-response",
        Scenario("informative-nr", response=0.6, informative=2.0, about_to_leave=0.3),
    ),
    Case(
        "null, no churn dates (+ complaints)",
        Scenario("no-dates", about_to_leave=0.5, churn_dates=False),
    ),
    Case(
        "landmark OR at onboarding, 40% non-response",
        Scenario(
            "landmark-effect",
            mechanism="landmark",
            onboarding_log_odds=EFFECT,
            response=0.6,
            about_to_leave=0.3,
        ),
        truth=float(np.exp(EFFECT * UNIT)),
        models=("logit", "joint"),
    ),
    Case(  # the same without non-response: what the model does before any imputation
        "landmark OR at onboarding, everyone answers",
        Scenario(
            "landmark-full",
            mechanism="landmark",
            onboarding_log_odds=EFFECT,
            about_to_leave=0.3,
        ),
        truth=float(np.exp(EFFECT * UNIT)),
        models=("logit", "joint"),
    ),
    Case(
        "hazard HR at onboarding, complaints",
        Scenario("hazard-effect", hazard_effect=EFFECT, about_to_leave=0.3),
        truth=float(np.exp(EFFECT * UNIT)),
        models=("cox",),
    ),
)

RATIO = {"logit": "odds_ratio", "cox": "hazard_ratio", "joint": "odds_ratio"}


def fit(study, settings: Settings, models: tuple[str, ...] = MODELS) -> dict[str, pd.DataFrame]:
    """The per-stage tables of ``models`` for one study and settings (only those are fitted:
    a case checks only some)."""
    observations = emotion_observations(study.events, None)
    reach = stage_reach(study.events)
    common = {"reach": reach, "observation_end": study.observation_end, "settings": settings}
    make = {
        "logit": lambda: emotion_churn(study.customers, observations, **common),
        "cox": lambda: time_to_churn(study.customers, observations, **common),
        "log-rank": lambda: survival_curves(study.customers, observations, **common)[1],
        "joint": lambda: joint_model(study.customers, observations, **common).summary,
    }
    return {model: make[model]() for model in models}


def _stage_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["persona"].astype(str) == "all"].set_index("stage")


def run(cases: tuple[Case, ...], reps: int, n: int, seed: int) -> pd.DataFrame:
    """Per case, model and settings: the rejection rate (nulls) or coverage and power."""
    warnings.simplefilter("ignore", StatisticalWarning)
    warnings.simplefilter("ignore", RuntimeWarning)
    records = []
    for case in cases:
        number = CASES.index(case)  # seeds as in the full run whatever --only picks
        for rep in range(reps):
            study = generate_scenario(n, case.scenario, seed=seed * 100_003 + number * 10_007 + rep)
            for name, settings in (("default", DEFAULT), ("naive", NAIVE)):
                for model, table in fit(study, settings, case.models).items():
                    rows = _stage_rows(table)
                    stages = list(SCENARIO_STAGES) if case.truth is None else ["onboarding"]
                    for stage in stages:
                        if stage not in rows.index:
                            continue
                        row = rows.loc[stage]
                        q = float(row["q_value"])
                        covered = np.nan
                        if case.truth is not None:
                            low, high = float(row["ci_low"]), float(row["ci_high"])
                            covered = float(low <= case.truth <= high)
                        records.append(
                            {
                                "case": case.label,
                                "model": model,
                                "settings": name,
                                "rejected": float(q < 0.05) if np.isfinite(q) else np.nan,
                                "covered": covered,
                                "ratio": float(row.get(RATIO.get(model, ""), np.nan)),
                            }
                        )
    return pd.DataFrame(records)


def summarise(records: pd.DataFrame, cases: tuple[Case, ...]) -> pd.DataFrame:
    """One row per case and model: default and naive side by side."""
    rows = []
    for case in cases:
        for model in case.models:
            row: dict[str, object] = {"scenario": case.label, "model": model}
            for name in ("default", "naive"):
                part = records[
                    (records["case"] == case.label)
                    & (records["model"] == model)
                    & (records["settings"] == name)
                ]
                rejected = part["rejected"].dropna()
                if case.truth is None:
                    row[f"{name} reject"] = f"{rejected.mean():.1%} of {len(rejected)}"
                else:
                    covered = part["covered"].dropna()
                    row[f"{name} coverage"] = f"{covered.mean():.1%}"
                    row[f"{name} power"] = f"{rejected.mean():.1%}"
                    row[f"{name} median ratio"] = f"{part['ratio'].median():.3f}"
            if case.truth is not None:
                row["truth"] = f"{case.truth:.3f}"
            rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="scenario names (Scenario.name) to run")
    args = parser.parse_args()
    cases = tuple(c for c in CASES if not args.only or c.scenario.name in args.only)
    started = time.process_time()
    records = run(cases, args.reps, args.n, args.seed)
    elapsed = time.process_time() - started
    print(
        f"simulation: {args.reps} repetitions of n = {args.n:,} customers per scenario, "
        f"seed {args.seed}, {elapsed:.0f} s CPU"
    )
    print("default: landmark design, window 30 d, lag 30 d, horizon 180 d, 10 imputations;")
    print("naive: whole follow-up, lag 0 (the 0.1 analysis). Targets: reject <= 6% under a")
    print("null; coverage 92-98% with a planted effect.")
    nulls = summarise(records, tuple(c for c in cases if c.truth is None))
    effects = summarise(records, tuple(c for c in cases if c.truth is not None))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        if len(nulls):
            print("\nrejection rate at q < 0.05 under a null (share of stage tests):")
            print(nulls.to_string(index=False))
        if len(effects):
            print("\nplanted effect at onboarding (ratio per 0.5 step of emotion):")
            print(effects.to_string(index=False))


if __name__ == "__main__":
    main()
