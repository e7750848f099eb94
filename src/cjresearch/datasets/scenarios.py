"""Generated studies whose truth lies in time: about-to-leave complaints, unequal follow-up,
non-response among customers who reached a stage, studies without churn dates.

Not the sample study (:mod:`cjresearch.datasets.sample`, whose personas and pain points other
analyses rely on): these studies are small and exist to check the emotion -> churn design
against a known truth (``bench/simulation.py``, and the tests). Three stages, in this order:

- ``onboarding``: every customer, at signup + 0-2 days; feedback a few days later;
- ``usage``: every customer, at signup + 7-14 days, then an event about every 30 days while
  still a customer (so that a churner's last event dates their leaving); feedback in the
  first three weeks;
- ``support``: 40% of customers, at signup + 20-200 days (with ``unequal_follow_up``,
  unhappy customers get there later: up to 350 days), feedback at the contact.

Emotion at each stage is ``mood + noise`` (``mood`` shared across a customer's stages: the
stages' emotions correlate), clipped to [-1, 1]; a customer gives feedback at a stage with
probability ``response`` (with ``informative``, less often when unhappy:
``logit p = logit(response) + informative x emotion``). Feedback is an event with an
``emotion``: the events table is the only source, and a reached stage without feedback is
non-response.

Churn, by ``Scenario.mechanism``:

- ``"hazard"``: a constant hazard from signup, ``h0 x exp(hazard_effect x onboarding
  emotion)`` (0: no association anywhere); the lagged Cox model is then correctly specified
  and its hazard ratio per step is ``exp(hazard_effect x step)``;
- ``"landmark"``: churn before the onboarding landmark at hazard ``h0``; then, among those
  still customers, churn within ``horizon_days`` after it with probability
  ``expit(logit(0.2) + onboarding_log_odds x onboarding emotion)``; after that, hazard
  ``h0`` again. The landmark logit at onboarding is then correctly specified and its odds
  ratio per step is ``exp(onboarding_log_odds x step)``.

With ``about_to_leave``, that share of the churners also contacts support in the 30 days
before leaving and says something bad (emotion about -0.7): the reverse causation of real
customers. ``churn_dates=False`` drops the customers' ``churn_date`` column.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cjresearch._files import atomic_path, write_text

__all__ = ["SCENARIO_STAGES", "Scenario", "ScenarioStudy", "generate_scenario", "write_scenario"]

SCENARIO_STAGES = ("onboarding", "usage", "support")
_START = pd.Timestamp("2024-01-01", tz="UTC")
_SIGNUP_DAYS = 365.0
_OBSERVED_AFTER = 450.0  # the end of observation: this many days after the last signup
_H0 = 1 / 1000  # baseline churn hazard per day
_BASE_ODDS = np.log(0.2 / 0.8)  # of churn within the horizon, landmark mechanism, emotion 0


@dataclass(frozen=True)
class Scenario:
    """What a generated study plants (see the module)."""

    name: str = "null"
    mechanism: str = "hazard"
    hazard_effect: float = 0.0
    onboarding_log_odds: float = 0.0
    about_to_leave: float = 0.0
    unequal_follow_up: bool = False
    response: float = 1.0
    informative: float = 0.0
    churn_dates: bool = True
    mood: float = 0.25
    exposure_window_days: float = 30.0
    lag_days: float = 30.0
    horizon_days: float = 180.0

    def __post_init__(self) -> None:
        if self.mechanism not in ("hazard", "landmark"):
            msg = f"mechanism must be 'hazard' or 'landmark', found {self.mechanism!r}"
            raise ValueError(msg)
        if not 0 < self.response <= 1 or not 0 <= self.about_to_leave <= 1:
            msg = "response must be in (0, 1] and about_to_leave in [0, 1]"
            raise ValueError(msg)


@dataclass(frozen=True)
class ScenarioStudy:
    """A generated study: canonical tables, the random personas and the truth."""

    customers: pd.DataFrame
    events: pd.DataFrame
    personas: pd.DataFrame
    observation_end: pd.Timestamp
    truth: dict[str, object]


def _expit(value: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-value))


def _responds(rng: np.random.Generator, emotion: np.ndarray, scenario: Scenario) -> np.ndarray:
    if scenario.response >= 1 and scenario.informative == 0:
        return np.ones(len(emotion), dtype=bool)
    base = np.log(scenario.response / (1 - scenario.response)) if scenario.response < 1 else 6.0
    return rng.random(len(emotion)) < _expit(base + scenario.informative * emotion)


def _churn_day(
    rng: np.random.Generator, onboarding: np.ndarray, emotion: np.ndarray, scenario: Scenario
) -> np.ndarray:
    """Days from signup to churn (possibly after the end of observation)."""
    n = len(emotion)
    if scenario.mechanism == "hazard":
        return rng.exponential(1 / (_H0 * np.exp(scenario.hazard_effect * emotion)))
    landmark = onboarding + scenario.exposure_window_days + scenario.lag_days
    early = rng.exponential(1 / _H0, n)
    window = rng.random(n) < _expit(_BASE_ODDS + scenario.onboarding_log_odds * emotion)
    late = landmark + scenario.horizon_days + rng.exponential(1 / _H0, n)
    inside = landmark + rng.uniform(0, scenario.horizon_days, n)
    return np.where(early <= landmark, early, np.where(window, inside, late))


def _customers(
    rng: np.random.Generator,
    ids: np.ndarray,
    signup: np.ndarray,
    churn: np.ndarray,
    end: float,
    *,
    churn_dates: bool,
) -> pd.DataFrame:
    """The customers table (days since the start turned into timestamps)."""
    churned = churn < end
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": (_START + pd.to_timedelta(signup, unit="D")).floor("s"),
            "plan": rng.choice(np.array(["basic", "premium"]), len(ids)),
            "churned": churned,
            "churn_date": pd.Series(
                (_START + pd.to_timedelta(np.where(churned, churn, 0.0), unit="D")).floor("s")
            ).where(churned),
        }
    )
    if not churn_dates:
        customers = customers.drop(columns="churn_date")
    return customers


def _complaints(
    rng: np.random.Generator, signup: np.ndarray, churn: np.ndarray, end: float, share: float
) -> pd.DataFrame:
    """About-to-leave complaints: ``share`` of the churners contact support in the 30 days
    before leaving and say something bad."""
    n = len(signup)
    everyone = np.arange(n)
    leaving = everyone[(churn < end) & (rng.random(n) < share)]
    complaint = churn[leaving] - rng.uniform(0.5, 30, len(leaving))
    inside = complaint > signup[leaving]
    words = np.clip(rng.normal(-0.7, 0.2, int(inside.sum())), -1, 1)
    return pd.DataFrame(
        {
            "who": leaving[inside],
            "day": complaint[inside],
            "stage": "support",
            "touchpoint": "support_contact",
            "emotion": words,
        }
    )


def generate_scenario(n_customers: int, scenario: Scenario, *, seed: int = 0) -> ScenarioStudy:
    """Generate a study of ``n_customers`` under ``scenario``.

    Returns
    -------
    ScenarioStudy
        ``customers`` (customer_id, signup_date, plan, churned, churn_date unless
        ``churn_dates`` is False), ``events`` (customer_id, timestamp, touchpoint, stage,
        channel, emotion), ``personas`` (customer_id, persona_id, persona_name: two random
        groups, unrelated to anything), ``observation_end`` and ``truth``.
    """
    if n_customers < 10:
        msg = f"n_customers must be at least 10, found {n_customers}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    n = n_customers
    signup = rng.uniform(0, _SIGNUP_DAYS, n)
    end = _SIGNUP_DAYS + _OBSERVED_AFTER
    mood = rng.normal(0, scenario.mood, n) if scenario.mood > 0 else np.zeros(n)
    emotion = {s: np.clip(mood + rng.normal(0, 0.4, n), -1, 1) for s in SCENARIO_STAGES}
    onboarding = rng.uniform(0, 2, n)
    churn = signup + _churn_day(rng, onboarding, emotion["onboarding"], scenario)
    active_until = np.minimum(churn, end)
    rows: list[pd.DataFrame] = []

    def add(who: np.ndarray, day: np.ndarray, stage: str, touchpoint: str, felt: object) -> None:
        keep = day < active_until[who]
        values = np.broadcast_to(np.asarray(felt, dtype=float), who.shape)
        rows.append(
            pd.DataFrame(
                {
                    "who": who[keep],
                    "day": day[keep],
                    "stage": stage,
                    "touchpoint": touchpoint,
                    "emotion": values[keep],
                }
            )
        )

    everyone = np.arange(n)
    add(everyone, signup + onboarding, "onboarding", "welcome", np.nan)
    said = _responds(rng, emotion["onboarding"], scenario)
    later = signup + onboarding + rng.uniform(0.5, 5, n)
    add(everyone[said], later[said], "onboarding", "onboarding_survey", emotion["onboarding"][said])
    # usage: reached a week or two in, then an event about every 30 days while a customer
    start = signup + rng.uniform(7, 14, n)
    months = np.ceil(np.maximum(active_until - start, 0) / 30).astype(int) + 1
    who = np.repeat(everyone, months)
    step = np.concatenate([np.arange(k) for k in months]) * 30.0
    add(
        who,
        start[who] + step + rng.uniform(-5, 5, len(who)) * (step > 0),
        "usage",
        "session",
        np.nan,
    )
    said = _responds(rng, emotion["usage"], scenario)
    survey = start + rng.uniform(1, 20, n)
    add(everyone[said], survey[said], "usage", "usage_survey", emotion["usage"][said])
    # support: 40% of customers, unhappy later when follow-up is unequal
    contacts = everyone[rng.random(n) < 0.4]
    felt = emotion["support"][contacts]
    delay = (
        20 + 300 * (1 - felt) / 2 + rng.uniform(0, 30, len(contacts))
        if scenario.unequal_follow_up
        else rng.uniform(20, 200, len(contacts))
    )
    said = _responds(rng, felt, scenario)
    add(
        contacts,
        signup[contacts] + delay,
        "support",
        "support_contact",
        np.where(said, felt, np.nan),
    )
    rows.append(_complaints(rng, signup, churn, end, scenario.about_to_leave))
    raw = pd.concat(rows, ignore_index=True).sort_values(["who", "day"], kind="stable")
    ids = np.array([f"T{i:06d}" for i in range(n)])
    events = pd.DataFrame(
        {
            "customer_id": ids[raw["who"].to_numpy()],
            "timestamp": (_START + pd.to_timedelta(raw["day"].to_numpy(), unit="D")).floor("s"),
            "touchpoint": raw["touchpoint"].to_numpy(),
            "stage": raw["stage"].to_numpy(),
            "channel": rng.choice(np.array(["web", "app"]), len(raw)),
            "emotion": raw["emotion"].to_numpy(),
        }
    ).reset_index(drop=True)
    customers = _customers(rng, ids, signup, churn, end, churn_dates=scenario.churn_dates)
    churned = customers["churned"].to_numpy()
    group = rng.integers(0, 2, n)
    personas = pd.DataFrame(
        {
            "customer_id": ids,
            "persona_id": group,
            "persona_name": np.where(group == 1, "Group B", "Group A"),
        }
    )
    truth = {
        **asdict(scenario),
        "n_customers": n,
        "seed": seed,
        "churn_rate": float(churned.mean()),
        "scale": "onboarding_log_odds and hazard_effect per one unit of emotion on [-1, 1]",
    }
    return ScenarioStudy(customers, events, personas, _START + pd.Timedelta(days=end), truth)


def write_scenario(
    directory: str | Path, n_customers: int, scenario: Scenario, *, seed: int = 0
) -> Path:
    """Write a generated study as CSV tables, ``study.toml`` and ``truth.json``.

    Returns
    -------
    Path
        The study file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    study = generate_scenario(n_customers, scenario, seed=seed)
    for name, frame in (("customers", study.customers), ("events", study.events)):
        with atomic_path(directory / f"{name}.csv") as temporary:
            frame.to_csv(temporary, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    write_text(directory / "truth.json", json.dumps(study.truth, indent=1) + "\n")
    text = f"""\
# A generated study with truth in time ({scenario.name}); see truth.json.

[study]
name = {json.dumps("Scenario " + scenario.name)}
stages = {json.dumps(list(SCENARIO_STAGES))}
observation_end = "{(study.observation_end - pd.Timedelta(days=1)).date()}"

[data]
customers = "customers.csv"
events = "events.csv"

[personas]
k = 2

[statistics]
controls = ["plan"]
exposure_window_days = {scenario.exposure_window_days:g}
lag_days = {scenario.lag_days:g}
horizon_days = {scenario.horizon_days:g}

[reports]
min_group_size = 10
"""
    return write_text(directory / "study.toml", text)
