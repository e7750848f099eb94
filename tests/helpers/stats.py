"""Data for the statistics tests: a small seeded study with churn planted on emotion at stage
``a``, and the sample study's planted personas as a personas frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cjresearch.analysis.stats import EmotionChurnResult, analyse
from helpers import SamplePipeline

#: The emotion step and the controls the sample-study tests model with.
UNIT = 0.5
CONTROLS = ["tenure_months", "plan"]


def sample_personas(pipeline: SamplePipeline) -> pd.DataFrame:
    """The planted persona of every customer of a sample pipeline (ids by first appearance)."""
    truth = pd.Series(pipeline.sample.truth["customer_persona"])
    return pd.DataFrame(
        {
            "customer_id": truth.index,
            "persona_id": pd.factorize(truth.to_numpy())[0],
            "persona_name": truth.to_numpy(),
        }
    )


def toy_study(n: int = 400, seed: int = 0, effect: float = -1.5) -> dict[str, pd.DataFrame]:
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


def run_toy(toy: dict[str, pd.DataFrame], **kwargs: Any) -> EmotionChurnResult:
    """Every analysis of the toy study, with stage ``c`` that nobody reached."""
    return analyse(
        toy["customers"],
        toy["observations"],
        toy["stage_emotion"],
        personas=toy["personas"],
        observation_end=pd.Timestamp("2026-01-01", tz="UTC"),
        **{"stages": ["a", "b", "c"], **kwargs},
    )


def flags_of(table: pd.DataFrame, persona: str, stage: str) -> set[str]:
    """The flag codes of one persona/stage row of a table."""
    row = table[(table["persona"] == persona) & (table["stage"] == stage)].iloc[0]
    return set(filter(None, row["flags"].split(";")))
