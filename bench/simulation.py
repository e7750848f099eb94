"""Simulation study of cjresearch.analysis.stats: interval coverage and false findings under a null.

Not part of the test run. Each repetition generates a study whose truth is known on the scale
the models report:

- logistic: churn is drawn from ``logit P = -1 + 0.3 [plan == basic] + sum_s beta_s e_s
  + 0.3 [reached c]`` with ``e_s`` the stage emotion (0 where a stage was not reached) and
  emotions correlated across stages through a shared mood. The joint missing-indicator model
  of ``joint_model`` is this model re-parametrised, so its odds ratio per ``unit`` step is
  exactly ``exp(beta_s * unit)``: coverage of its 95% intervals should be about 95%.
- Cox: each customer expresses an emotion at stage ``a`` at a random time after signup
  (delayed entry) and from then on churns with hazard ``h0 exp(gamma e_a)``, censored at
  the end of observation; ``time_to_churn`` is then correctly specified and its hazard ratio
  per step is ``exp(gamma * unit)``.
- null: every beta and gamma is 0; the share of q < 0.05 results among all stage x persona
  tests (per-stage logistic and Cox) should stay at or below 5%, and so should the share of
  repetitions with any q < 0.05 within a family (BH controls the family-wise rate under the
  complete null; across two separately corrected families the union can exceed 5%).

Usage: ``python bench/simulation.py [--reps 400] [--n 2000] [--seed 1]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from cjresearch.analysis.stats import emotion_churn, joint_model, time_to_churn
from cjresearch.errors import StatisticalWarning

UNIT = 0.5
BETA = {"a": 0.0, "b": -1.6, "c": -1.2}
GAMMA = -1.0
START = pd.Timestamp("2025-01-01", tz="UTC")
END = pd.Timestamp("2026-01-01", tz="UTC")


def generate(n: int, rng: np.random.Generator, *, null: bool) -> dict[str, pd.DataFrame]:
    beta = dict.fromkeys(BETA, 0.0) if null else BETA
    gamma = 0.0 if null else GAMMA
    ids = np.array([f"S{i:06d}" for i in range(n)])
    plan = rng.choice(["basic", "premium"], n)
    persona = rng.integers(0, 2, n)
    mood = rng.normal(0, 0.25, n)
    emotion = {s: np.clip(mood + rng.normal(0, 0.4, n), -1, 1) for s in BETA}
    reached = {"a": rng.random(n) < 0.9, "b": np.ones(n, bool), "c": rng.random(n) < 0.4}
    logit = -1 + 0.3 * (plan == "basic") + 0.3 * reached["c"]
    logit = logit + sum(beta[s] * np.where(reached[s], emotion[s], 0.0) for s in BETA)
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    signup = START + pd.to_timedelta(rng.uniform(0, 100, n), unit="D")
    customers = pd.DataFrame(
        {"customer_id": ids, "signup_date": signup, "churned": churned, "plan": plan}
    )
    rows = [
        pd.DataFrame(
            {
                "customer_id": ids[reached[s]],
                "timestamp": signup[reached[s]] + pd.Timedelta(days=1),
                "stage": s,
                "emotion": emotion[s][reached[s]],
            }
        )
        for s in BETA
    ]
    observations = pd.concat(rows, ignore_index=True)
    per_stage = observations.assign(emotion_mean=observations["emotion"], n_observations=1)
    # survival: enter at the emotion at a (day 1..30), then a constant hazard
    entry = rng.uniform(1, 30, n)
    hazard = (1 / 300) * np.exp(gamma * emotion["a"])
    churn_day = entry + rng.exponential(1 / hazard)
    follow = ((END - signup) / pd.Timedelta(days=1)).to_numpy(float)
    churn_seen = churn_day < follow
    survival_customers = customers.assign(
        churned=churn_seen,
        churn_date=pd.Series(signup + pd.to_timedelta(churn_day, unit="D")).where(churn_seen),
    )
    survival_obs = pd.DataFrame(
        {
            "customer_id": ids,
            "timestamp": signup + pd.to_timedelta(entry, unit="D"),
            "stage": "a",
            "emotion": emotion["a"],
        }
    )
    personas = pd.DataFrame(
        {"customer_id": ids, "persona_id": persona, "persona_name": np.where(persona, "P1", "P0")}
    )
    return {
        "customers": customers,
        "stage_emotion": per_stage,
        "survival_customers": survival_customers,
        "survival_obs": survival_obs,
        "personas": personas,
    }


def run(reps: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    covered: dict[str, list[bool]] = {f"joint {s}": [] for s in BETA} | {"cox a": []}
    null_q: list[float] = []
    null_any: dict[str, list[bool]] = {"logistic": [], "cox": []}
    started = time.perf_counter()
    warnings.simplefilter("ignore", StatisticalWarning)
    for _ in range(reps):
        study = generate(n, rng, null=False)
        joint = joint_model(
            study["customers"], study["stage_emotion"], stages=list(BETA), controls=["plan"]
        ).summary.set_index("stage")
        for s, b in BETA.items():
            truth = np.exp(b * UNIT)
            covered[f"joint {s}"].append(
                bool(joint.loc[s, "ci_low"] <= truth <= joint.loc[s, "ci_high"])
            )
        cox = time_to_churn(
            study["survival_customers"],
            study["survival_obs"],
            stages=["a"],
            observation_end=END,
        ).iloc[0]
        truth = np.exp(GAMMA * UNIT)
        covered["cox a"].append(bool(cox["ci_low"] <= truth <= cox["ci_high"]))

        null = generate(n, rng, null=True)
        odds = emotion_churn(
            null["customers"],
            null["stage_emotion"],
            stages=list(BETA),
            personas=null["personas"],
            controls=["plan"],
        )
        hazards = time_to_churn(
            null["survival_customers"],
            null["survival_obs"],
            stages=["a"],
            personas=null["personas"],
            observation_end=END,
        )
        q = np.concatenate([odds["q_value"].dropna(), hazards["q_value"].dropna()])
        null_q.extend(q.tolist())
        null_any["logistic"].append(bool((odds["q_value"] < 0.05).any()))
        null_any["cox"].append(bool((hazards["q_value"] < 0.05).any()))
    elapsed = time.perf_counter() - started
    print(f"simulation: {reps} repetitions of n = {n:,} customers, seed {seed}, {elapsed:.0f} s")
    print("coverage of 95% intervals for planted effects (target 92-98%):")
    for name, hits in covered.items():
        share = np.mean(hits)
        se = np.sqrt(share * (1 - share) / len(hits))
        print(f"  {name:<8} {share:6.1%}  (Monte Carlo SE {se:.1%})")
    share = np.mean(np.asarray(null_q) < 0.05)
    print(f"true null: share of q < 0.05 among {len(null_q):,} tests: {share:.2%} (target <= 5%)")
    for family, hits in null_any.items():
        print(
            f"true null: share of repetitions with any q < 0.05 in the {family} family: "
            f"{np.mean(hits):.1%} (BH under the complete null: <= 5%)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    run(args.reps, args.n, args.seed)


if __name__ == "__main__":
    main()
