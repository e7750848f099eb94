"""The synthetic sample study, with its planted truth.

A subscription business with seven stages, 34 touchpoints over six channels and five planted
personas. Everything is drawn from one seeded generator, so the same seed gives the same files.
Churn is planted on the emotion *as cjresearch measures it* (the mean normalised score of a
customer at a stage, computed with :mod:`cjresearch.analysis.emotion`), so an analysis that
recovers the planted effects is checking the whole chain, not a shortcut around it:

    logit P(churned) = intercept + plan effect + tenure_per_month * (tenure_months - 12)
                       + support_reached * reached_support
                       + sum over stages s of effect[s] * emotion_s

where ``emotion_s`` is 0 for customers with no emotion measured at stage s. Effects are log-odds
per one unit of the [-1, 1] emotion scale: onboarding and support matter, awareness does not.
The planted pain is a failing onboarding touchpoint (``setup_failed``) that two personas meet
far more often; it carries negative valence and draws negative feedback, and through onboarding
emotion it raises churn.

``truth.json`` beside the data holds all of it: personas with their shares, the persona of
every customer, the effects, the pain point and the churn rate per persona.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from cjresearch._files import atomic_path, write_text
from cjresearch.analysis.emotion import emotion_observations, stage_emotion
from cjresearch.datasets._sample_files import (
    CSV_DATES,
    block_writers,
    study_file_text,
    write_truth,
)
from cjresearch.datasets._sample_text import PII_SENTENCES, comments

__all__ = [
    "BLOCK_CUSTOMERS",
    "CHANNELS",
    "EFFECTS",
    "PERSONAS",
    "STAGES",
    "TOUCHPOINTS",
    "VALENCE",
    "PersonaSpec",
    "SampleBlock",
    "SampleStudy",
    "generate_sample",
    "sample_blocks",
    "study_toml",
    "write_sample",
]

STAGES = ("awareness", "consideration", "purchase", "onboarding", "usage", "support", "renewal")
CHANNELS = ("web", "app", "email", "phone", "store", "social")

#: touchpoint -> (stage, channel, base weight within its stage)
TOUCHPOINTS: dict[str, tuple[str, str, float]] = {
    "social_ad": ("awareness", "social", 1.0),
    "search_result": ("awareness", "web", 1.0),
    "newsletter": ("awareness", "email", 0.8),
    "store_display": ("awareness", "store", 0.8),
    "radio_spot": ("awareness", "phone", 0.4),
    "pricing_page": ("consideration", "web", 1.2),
    "product_review": ("consideration", "social", 0.8),
    "sales_call": ("consideration", "phone", 0.8),
    "store_consultation": ("consideration", "store", 0.8),
    "app_preview": ("consideration", "app", 0.8),
    "checkout_web": ("purchase", "web", 1.0),
    "checkout_app": ("purchase", "app", 1.0),
    "phone_order": ("purchase", "phone", 1.0),
    "store_purchase": ("purchase", "store", 1.0),
    "payment_error": ("purchase", "web", 0.08),
    "welcome_email": ("onboarding", "email", 1.0),
    "account_setup": ("onboarding", "app", 1.0),
    "tutorial": ("onboarding", "app", 0.7),
    "activation_call": ("onboarding", "phone", 0.7),
    "setup_failed": ("onboarding", "app", 0.0),  # planted separately: the pain point
    "app_session": ("usage", "app", 1.5),
    "web_dashboard": ("usage", "web", 1.0),
    "usage_report": ("usage", "email", 0.5),
    "store_workshop": ("usage", "store", 0.4),
    "phone_checkin": ("usage", "phone", 0.3),
    "help_center": ("support", "web", 1.0),
    "chat_support": ("support", "app", 1.0),
    "phone_support": ("support", "phone", 1.0),
    "support_ticket": ("support", "email", 0.8),
    "store_help": ("support", "store", 0.6),
    "community_forum": ("support", "social", 0.4),
    "renewal_reminder": ("renewal", "email", 1.0),
    "renewal_payment": ("renewal", "web", 1.0),
    "plan_change": ("renewal", "app", 0.4),
}

#: emotion implied by a touchpoint, as a study file's [valence] would declare it
VALENCE = {"setup_failed": -0.9, "payment_error": -0.6, "tutorial": 0.3}

#: planted log-odds of churn per one unit of stage emotion (the [-1, 1] scale)
EFFECTS = {"awareness": 0.0, "onboarding": -1.6, "support": -1.2}
_INTERCEPT = -1.05
_PLAN_EFFECT = {"basic": 0.3, "standard": 0.0, "premium": -0.4}
_TENURE_PER_MONTH = 0.04
_SUPPORT_REACHED = 0.3
_PAIN_SHIFT = -0.7  # onboarding emotion of customers who hit setup_failed

_START = pd.Timestamp("2024-07-01", tz="UTC")
_LAST_SIGNUP = pd.Timestamp("2026-03-31", tz="UTC")
_OBSERVATION_END = pd.Timestamp("2026-06-30", tz="UTC")
_RATING_SCALE = (1, 5)
#: customers per block of the generator (see :func:`generate_sample`): a block of 100,000
#: customers (about 2.6 million events) is generated in about 1 GB
BLOCK_CUSTOMERS = 100_000


@dataclass(frozen=True)
class PersonaSpec:
    """One planted persona: who they are, how they behave, how they feel."""

    key: str
    name: str
    share: float
    age: tuple[float, float]
    plans: dict[str, float]
    channels: dict[str, float]
    intensity: float
    support: float
    skip_consideration: float
    pain: float
    mood: dict[str, float]


def _mood(**overrides: float) -> dict[str, float]:
    base = dict.fromkeys(STAGES, 0.25)
    base.update(overrides)
    return base


PERSONAS: tuple[PersonaSpec, ...] = (
    PersonaSpec(
        "app_natives",
        "App natives",
        0.30,
        (27, 5),
        {"basic": 0.5, "standard": 0.4, "premium": 0.1},
        {"app": 0.45, "social": 0.25, "web": 0.15, "email": 0.1, "phone": 0.03, "store": 0.02},
        intensity=1.5,
        support=0.25,
        skip_consideration=0.4,
        pain=0.05,
        mood=_mood(onboarding=0.45, usage=0.4, support=0.15),
    ),
    PersonaSpec(
        "phone_first",
        "Phone-first traditionalists",
        0.20,
        (63, 7),
        {"basic": 0.3, "standard": 0.6, "premium": 0.1},
        {"phone": 0.45, "store": 0.25, "email": 0.15, "web": 0.1, "app": 0.03, "social": 0.02},
        intensity=0.6,
        support=0.7,
        skip_consideration=0.1,
        pain=0.55,
        mood=_mood(onboarding=0.2, usage=0.15, support=0.05),
    ),
    PersonaSpec(
        "bargain_hunters",
        "Bargain hunters",
        0.20,
        (38, 7),
        {"basic": 0.8, "standard": 0.2, "premium": 0.0},
        {"web": 0.45, "email": 0.3, "social": 0.1, "app": 0.1, "phone": 0.03, "store": 0.02},
        intensity=0.9,
        support=0.4,
        skip_consideration=0.05,
        pain=0.5,
        mood=_mood(consideration=0.0, purchase=0.1, onboarding=0.2, support=0.0),
    ),
    PersonaSpec(
        "premium_power",
        "Premium power users",
        0.15,
        (46, 6),
        {"basic": 0.0, "standard": 0.2, "premium": 0.8},
        {"web": 0.35, "app": 0.35, "email": 0.2, "phone": 0.05, "store": 0.03, "social": 0.02},
        intensity=2.4,
        support=0.35,
        skip_consideration=0.3,
        pain=0.05,
        mood=_mood(onboarding=0.5, usage=0.55, support=0.3, renewal=0.4),
    ),
    PersonaSpec(
        "store_loyalists",
        "Store loyalists",
        0.15,
        (53, 8),
        {"basic": 0.2, "standard": 0.7, "premium": 0.1},
        {"store": 0.5, "phone": 0.2, "email": 0.15, "web": 0.1, "app": 0.03, "social": 0.02},
        intensity=0.8,
        support=0.45,
        skip_consideration=0.2,
        pain=0.05,
        mood=_mood(purchase=0.45, onboarding=0.4, support=0.35),
    ),
)

# Mean events per reached stage, beyond the first one (usage accrues per active month).
_EXTRA_EVENTS = {
    "awareness": 1.2,
    "consideration": 1.5,
    "purchase": 0.3,
    "onboarding": 2.2,
    "support": 1.8,
    "renewal": 1.0,
}
_USAGE_PER_30_DAYS = 1.0  # usage events per active month at intensity 1
_CHANNEL_SHARPNESS = 3.0  # exponent on channel preferences (see _touchpoint_probabilities)
# Renewal comes around the first anniversary of signup.
_RENEWAL_WINDOW = (350.0, 368.0)
# Window of each (early) stage, in days relative to signup.
_WINDOWS = {
    "awareness": (-60.0, -10.0),
    "consideration": (-20.0, -0.5),
    "purchase": (-0.4, 0.0),
    "onboarding": (0.0, 14.0),
    "support": (15.0, 85.0),
}
# Feedback per reached stage: (instrument, probability).
_SURVEYS = {
    "awareness": (("rating", 0.25), ("text", 0.10)),
    "consideration": (("rating", 0.25),),
    "purchase": (("csat", 0.40), ("rating", 0.15)),
    "onboarding": (("csat", 0.50), ("ces", 0.35), ("text", 0.25)),
    "usage": (("nps", 0.45), ("text", 0.15)),
    "support": (("csat", 0.55), ("ces", 0.40), ("text", 0.30)),
    "renewal": (("nps", 0.50),),
}
_COMMENT_RATE = 0.3  # share of scored feedback that also carries a comment
_PII = PII_SENTENCES  # the personal data planted in comments (the privacy tests look for it)


@dataclass(frozen=True)
class SampleStudy:
    """A generated study: the three tables and the planted truth."""

    customers: pd.DataFrame
    events: pd.DataFrame
    feedback: pd.DataFrame
    truth: dict[str, object]


def generate_sample(
    n_customers: int = 20_000, *, seed: int = 7, block: int = BLOCK_CUSTOMERS
) -> SampleStudy:
    """Generate the sample study.

    Customers are drawn in blocks of ``block`` customers, each from its own seeded generator
    (the first from ``seed`` itself, block ``b`` from ``[seed, b]``), so a study of any size
    can be written block by block in bounded memory (:func:`write_sample`) and gives the same
    rows as this function. A study of at most ``block`` customers is one block: the rows of
    the sizes the tests and the bundled sample use are those of the one-generator sample.

    Parameters
    ----------
    n_customers
        Number of customers (about 25 events each).
    seed
        Seed of the random generators everything is drawn from.
    block
        Customers per block (part of the definition of the rows: another block size gives
        another, equally planted, sample).

    Returns
    -------
    SampleStudy
        ``customers`` (customer_id, signup_date, age, plan, region, tenure_months, churned,
        churn_date), ``events`` (customer_id, timestamp, touchpoint, stage, channel, emotion),
        ``feedback`` (customer_id, timestamp, stage, touchpoint, instrument, score, text) and
        ``truth``.
    """
    blocks = list(sample_blocks(n_customers, seed=seed, block=block))
    if len(blocks) == 1:
        (one,) = blocks
        customers, events, feedback = one.customers, one.events, one.feedback
    else:
        customers = pd.concat([b.customers for b in blocks], ignore_index=True)
        events = _joined([b.events for b in blocks], customers["customer_id"])
        feedback = _joined([b.feedback for b in blocks], customers["customer_id"])
    truth = _truth(
        n_customers,
        seed,
        customers["customer_id"],
        np.concatenate([b.persona for b in blocks]),
        np.concatenate([b.churned for b in blocks]),
        {s: np.concatenate([b.measured[s] for b in blocks]) for s in EFFECTS},
    )
    return SampleStudy(customers, events, feedback, truth)


@dataclass(frozen=True)
class SampleBlock:
    """One block of customers of the sample study, with what its truth needs."""

    customers: pd.DataFrame
    events: pd.DataFrame
    feedback: pd.DataFrame
    persona: np.ndarray
    churned: np.ndarray
    measured: dict[str, np.ndarray]


def sample_blocks(
    n_customers: int, *, seed: int = 7, block: int = BLOCK_CUSTOMERS
) -> Iterator[SampleBlock]:
    """The sample study's blocks of customers, one after another (see :func:`generate_sample`).

    Returns
    -------
    Iterator[SampleBlock]
        Blocks of ``block`` customers (the last one the rest), with the columns of
        :func:`generate_sample`'s tables; the customer ids of a block's events and feedback
        are categories of that block's ids only.
    """
    if n_customers < 1:
        msg = f"n_customers must be at least 1, found {n_customers}"
        raise ValueError(msg)
    if block < 1:
        msg = f"block must be at least 1, found {block}"
        raise ValueError(msg)
    for number, first in enumerate(range(0, n_customers, block)):
        rng = np.random.default_rng(seed if number == 0 else [seed, number])
        yield _block(rng, min(block, n_customers - first), first + 1)


def _joined(frames: list[pd.DataFrame], ids: pd.Series) -> pd.DataFrame:
    """Blocks' events (or feedback) as one table, their customer ids coded on all ``ids``."""
    offsets = np.cumsum([0] + [len(f["customer_id"].cat.categories) for f in frames[:-1]])
    codes = np.concatenate(
        [
            f["customer_id"].cat.codes.to_numpy(np.int64) + o
            for f, o in zip(frames, offsets, strict=True)
        ]
    )
    joined = pd.concat(frames, ignore_index=True)
    joined["customer_id"] = pd.Categorical.from_codes(codes, categories=ids)
    return joined


def _block(rng: np.random.Generator, n: int, first: int) -> SampleBlock:
    shares = np.array([p.share for p in PERSONAS])
    persona = rng.choice(len(PERSONAS), size=n, p=shares / shares.sum())
    ids = pd.Series([f"C{i:07d}" for i in range(first, first + n)], dtype="str")

    signup_days = rng.uniform(0, (_LAST_SIGNUP - _START).days, size=n)
    signup = _START + pd.to_timedelta(signup_days, unit="D")
    exposure_days = (_OBSERVATION_END - signup).days.to_numpy().astype(float)
    age = np.clip(
        np.round(
            _by_persona(persona, lambda p: p.age[0])
            + rng.normal(size=n) * _by_persona(persona, lambda p: p.age[1])
        ),
        18,
        90,
    ).astype(int)
    plan = _choose_per_persona(rng, persona, lambda p: p.plans)
    region = rng.choice(np.array(["north", "south", "east", "west"]), size=n)

    mood = rng.normal(0, 0.1, size=n)
    pain = rng.random(n) < _by_persona(persona, lambda p: p.pain)
    latent = {
        stage: np.clip(
            _by_persona(persona, lambda p, s=stage: p.mood[s])  # type: ignore[misc]
            + mood
            + rng.normal(0, 0.35, size=n)
            + (np.where(pain, _PAIN_SHIFT, 0.0) if stage == "onboarding" else 0.0),
            -1,
            1,
        )
        for stage in STAGES
    }
    reached = {
        "awareness": rng.random(n) < 0.9,
        "consideration": rng.random(n) >= _by_persona(persona, lambda p: p.skip_consideration),
        "purchase": np.ones(n, bool),
        "onboarding": np.ones(n, bool),
        "support": rng.random(n) < _by_persona(persona, lambda p: p.support),
    }

    early = [s for s in STAGES if s in _WINDOWS]
    events = [_stage_events(rng, s, reached[s], persona, signup_days) for s in early]
    events.append(_pain_events(rng, pain, signup_days))
    early_events = pd.concat(events, ignore_index=True)
    early_feedback = _feedback(rng, early, early_events, latent)

    # Churn is drawn on the emotion as measured, with the package's own emotion pipeline.
    measured = _measured_emotion(ids, early_events, early_feedback)
    tenure_months = np.floor(exposure_days / 30.4375).astype(int)
    logit = (
        _INTERCEPT
        + pd.Series(plan).map(_PLAN_EFFECT).to_numpy()
        + _TENURE_PER_MONTH * (tenure_months - 12)
        + _SUPPORT_REACHED * reached["support"]
        + sum(EFFECTS[s] * np.nan_to_num(measured[s], nan=0.0) for s in EFFECTS)
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    churn_day = np.where(churned, rng.uniform(90, np.maximum(exposure_days, 90.5)), np.nan)
    active_until = np.where(churned, churn_day, exposure_days)

    usage = _usage_events(rng, persona, signup_days, active_until)
    reached["renewal"] = active_until > 366
    renewal = _stage_events(rng, "renewal", reached["renewal"], persona, signup_days)
    late_events = pd.concat([usage, renewal], ignore_index=True)
    late_feedback = _feedback(rng, ["usage", "renewal"], late_events, latent)
    # a survey answered after leaving (or after the end of observation) would not exist
    limit = (
        signup_days[late_feedback["customer"].to_numpy(dtype=int)]
        + active_until[late_feedback["customer"].to_numpy(dtype=int)]
    )
    late_feedback["day"] = np.minimum(late_feedback["day"].to_numpy(dtype=float), limit - 0.001)

    events_all = pd.concat([early_events, late_events], ignore_index=True)
    feedback_all = pd.concat([early_feedback, late_feedback], ignore_index=True)
    if feedback_all.empty:
        feedback_all = _one_survey(usage, latent)
    events_frame = _events_frame(events_all, ids)
    feedback_frame = _feedback_frame(feedback_all, ids)

    churn_date = signup + pd.to_timedelta(np.nan_to_num(churn_day, nan=0.0), unit="D")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": signup.floor("s"),
            "age": age,
            "plan": plan,
            "region": region,
            "tenure_months": tenure_months,
            "churned": churned,
            "churn_date": pd.Series(churn_date.floor("s")).where(churned),
        }
    )
    return SampleBlock(customers, events_frame, feedback_frame, persona, churned, measured)


def _one_survey(usage: pd.DataFrame, latent: dict[str, np.ndarray]) -> pd.DataFrame:
    """An NPS answer at the first usage event: a tiny study may draw no survey at all, and a
    feedback file with no rows is an error."""
    first = usage.iloc[0]
    return pd.DataFrame(
        {
            "customer": [first["customer"]],
            "day": [first["day"]],
            "stage": ["usage"],
            "touchpoint": [first["touchpoint"]],
            "instrument": ["nps"],
            "score": _to_instrument(latent["usage"][[int(first["customer"])]], "nps"),
            "text": [None],
        }
    )


def _by_persona(persona: np.ndarray, attribute: Callable[[PersonaSpec], float]) -> np.ndarray:
    values = np.array([float(attribute(p)) for p in PERSONAS])
    return values[persona]


def _choose_per_persona(
    rng: np.random.Generator,
    persona: np.ndarray,
    options: Callable[[PersonaSpec], dict[str, float]],
) -> np.ndarray:
    """Draw one option per customer from its persona's distribution (a dict of weights)."""
    names = list(options(PERSONAS[0]))
    weights = np.array([[options(p).get(k, 0.0) for k in names] for p in PERSONAS])
    cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)[persona]
    index = (rng.random(len(persona))[:, None] > cumulative).sum(axis=1)
    return np.array(names, dtype=object)[np.minimum(index, len(names) - 1)]


def _touchpoint_probabilities(stage: str) -> tuple[list[str], np.ndarray]:
    """Per persona, the probability of each of the stage's touchpoints (rows: personas).

    A touchpoint's weight is its base weight times the persona's channel preference cubed
    (``_CHANNEL_SHARPNESS``). Each stage offers only some channels, so with preferences taken
    as they are a persona's mix blurs towards the stage's offer; sharpened, the mix shows in
    every stage and the planted personas are distinct enough to be found again (measured:
    the planted partition's silhouette on the default features rises from 0.24 to 0.37).
    """
    names = [t for t, (s, _, w) in TOUCHPOINTS.items() if s == stage and w > 0]
    weights = np.array(
        [
            [
                TOUCHPOINTS[t][2] * (0.02 + p.channels[TOUCHPOINTS[t][1]]) ** _CHANNEL_SHARPNESS
                for t in names
            ]
            for p in PERSONAS
        ]
    )
    return names, weights / weights.sum(axis=1, keepdims=True)


def _pick_touchpoints(
    rng: np.random.Generator, stage: str, persona_of_event: np.ndarray
) -> np.ndarray:
    """One touchpoint per event, drawn from its customer's persona's distribution."""
    names, probs = _touchpoint_probabilities(stage)
    cumulative = np.cumsum(probs, axis=1)[persona_of_event]
    draw = rng.random(len(persona_of_event))[:, None]
    pick = np.minimum((draw > cumulative).sum(axis=1), len(names) - 1)
    return np.array(names, dtype=object)[pick]


def _stage_events(
    rng: np.random.Generator,
    stage: str,
    reached: np.ndarray,
    persona: np.ndarray,
    signup_days: np.ndarray,
) -> pd.DataFrame:
    customers = np.flatnonzero(reached)
    counts = 1 + rng.poisson(_EXTRA_EVENTS[stage], size=len(customers))
    who = np.repeat(customers, counts)
    touchpoints = _pick_touchpoints(rng, stage, persona[who])
    low, high = _RENEWAL_WINDOW if stage == "renewal" else _WINDOWS[stage]
    offset = rng.uniform(low, high, size=len(who))
    return pd.DataFrame(
        {
            "customer": who,
            "day": signup_days[who] + offset,
            "touchpoint": touchpoints,
            "stage": stage,
        }
    )


def _pain_events(
    rng: np.random.Generator, pain: np.ndarray, signup_days: np.ndarray
) -> pd.DataFrame:
    customers = np.flatnonzero(pain)
    counts = 1 + rng.poisson(0.5, size=len(customers))
    who = np.repeat(customers, counts)
    return pd.DataFrame(
        {
            "customer": who,
            "day": signup_days[who] + rng.uniform(0.2, 10.0, size=len(who)),
            "touchpoint": "setup_failed",
            "stage": "onboarding",
        }
    )


def _usage_events(
    rng: np.random.Generator,
    persona: np.ndarray,
    signup_days: np.ndarray,
    active_until: np.ndarray,
) -> pd.DataFrame:
    n = len(persona)
    intensity = _by_persona(persona, lambda p: p.intensity)
    start = 7.0
    active = np.maximum(active_until - start, 1.0)
    # usage accrues with active time, so that activity per month (not signup date) is what
    # tells an intense persona from a light one
    counts = 1 + rng.poisson(_USAGE_PER_30_DAYS * intensity * active / 30.0, size=n)
    who = np.repeat(np.arange(n), counts)
    touchpoints = _pick_touchpoints(rng, "usage", persona[who])
    span = active[who]
    return pd.DataFrame(
        {
            "customer": who,
            "day": signup_days[who] + start + rng.random(len(who)) * span * 0.999,
            "touchpoint": touchpoints,
            "stage": "usage",
        }
    )


def _feedback(
    rng: np.random.Generator,
    stages: list[str],
    events: pd.DataFrame,
    latent: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Survey answers and comments about one event of the customer at each reached stage."""
    parts = []
    for stage in stages:
        at_stage = events[events["stage"] == stage]
        if at_stage.empty:
            continue
        # One event per customer and stage is what the survey asks about; a failed setup
        # is the event a customer who met one comments on.
        priority = (at_stage["touchpoint"] == "setup_failed").to_numpy() * 2 + rng.random(
            len(at_stage)
        )
        chosen = (
            at_stage.assign(_priority=priority)
            .sort_values("_priority", ascending=False, kind="stable")
            .drop_duplicates("customer")
            .sort_values("customer", kind="stable")
        )
        who = chosen["customer"].to_numpy()
        for instrument, probability in _SURVEYS[stage]:
            asked = rng.random(len(who)) < probability
            if not asked.any():
                continue
            rows = chosen[asked]
            customers = who[asked]
            felt = np.clip(latent[stage][customers] + rng.normal(0, 0.15, len(customers)), -1, 1)
            comment = (
                np.ones(len(customers), bool)
                if instrument == "text"
                else rng.random(len(customers)) < _COMMENT_RATE
            )
            day = rows["day"].to_numpy() + rng.uniform(0.01, 2.0, len(customers))
            texts = comments(rng, stage, felt)
            texts[~comment] = None
            parts.append(
                pd.DataFrame(
                    {
                        "customer": customers,
                        "day": day,
                        "stage": stage,
                        "touchpoint": rows["touchpoint"].to_numpy(),
                        "instrument": instrument,
                        "score": _to_instrument(felt, instrument),
                        "text": texts,
                    }
                )
            )
    if not parts:
        return pd.DataFrame(
            columns=["customer", "day", "stage", "touchpoint", "instrument", "score", "text"]
        )
    return pd.concat(parts, ignore_index=True)


def _to_instrument(felt: np.ndarray, instrument: str) -> np.ndarray:
    """Map an emotion in [-1, 1] to the instrument's own (integer) scale."""
    if instrument == "nps":
        return np.round(5 * felt + 5)
    if instrument == "csat":
        return np.round(2 * felt + 3)
    if instrument == "ces":
        return np.round(4 - 3 * felt)
    if instrument == "rating":
        low, high = _RATING_SCALE
        return np.round((felt + 1) / 2 * (high - low) + low)
    return np.full(len(felt), np.nan)


def _timestamps(day: pd.Series) -> pd.Series:
    return (_START + pd.to_timedelta(day.to_numpy(), unit="D")).floor("s")


def _events_frame(raw: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    # Categoricals: a million customers make 25 million events, and one string object per
    # event would cost gigabytes; codes plus one copy of each name cost a few hundred MB.
    touchpoint = pd.Categorical(raw["touchpoint"], categories=list(TOUCHPOINTS))
    channels = sorted({c for _, c, _ in TOUCHPOINTS.values()})
    frame = pd.DataFrame(
        {
            "customer_id": _customer_ids(raw["customer"], ids),
            "timestamp": _timestamps(raw["day"]),
            "touchpoint": touchpoint,
            "stage": pd.Categorical(raw["stage"], categories=list(STAGES)),
            "channel": pd.Categorical(
                touchpoint.map({t: c for t, (_, c, _) in TOUCHPOINTS.items()}), categories=channels
            ),
        }
    )
    # two identical clicks in the same second are one event
    frame = frame.drop_duplicates(["customer_id", "timestamp", "touchpoint"])
    return frame.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)


def _customer_ids(codes: pd.Series, ids: pd.Series) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.to_numpy(dtype=np.int64), categories=ids)


def _feedback_frame(raw: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": _customer_ids(raw["customer"], ids),
            "timestamp": _timestamps(raw["day"]),
            "stage": pd.Categorical(raw["stage"], categories=list(STAGES)),
            "touchpoint": pd.Categorical(raw["touchpoint"], categories=list(TOUCHPOINTS)),
            "instrument": raw["instrument"].to_numpy(),
            "score": raw["score"].to_numpy(dtype=float),
            "text": pd.Series(raw["text"].to_numpy(), dtype="str").where(
                raw["text"].notna().to_numpy()
            ),
        }
    )
    return frame.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)


def _measured_emotion(
    ids: pd.Series, events: pd.DataFrame, feedback: pd.DataFrame
) -> dict[str, np.ndarray]:
    observations = emotion_observations(
        _events_frame(events, ids),
        _feedback_frame(feedback, ids),
        valence=VALENCE,
        rating_scale=_RATING_SCALE,
    )
    per_stage = stage_emotion(observations)
    measured = {}
    for stage in EFFECTS:
        values = per_stage[per_stage["stage"] == stage].set_index("customer_id")["emotion_mean"]
        measured[stage] = ids.map(values).to_numpy(dtype=float)
    return measured


def _truth(
    n: int,
    seed: int,
    ids: pd.Series,
    persona: np.ndarray,
    churned: np.ndarray,
    measured: dict[str, np.ndarray],
) -> dict[str, object]:
    keys = [p.key for p in PERSONAS]
    coverage = {s: int(np.isfinite(v).sum()) for s, v in measured.items()}
    return {
        **_truth_summary(n, seed, persona, churned, coverage),
        "customer_persona": dict(zip(ids.tolist(), [keys[i] for i in persona], strict=True)),
    }


def _truth_summary(
    n: int, seed: int, persona: np.ndarray, churned: np.ndarray, coverage: dict[str, int]
) -> dict[str, object]:
    """The truth but the persona of every customer (``coverage``: customers with a measured
    emotion, per stage)."""
    return {
        "seed": seed,
        "n_customers": n,
        "n_personas": len(PERSONAS),
        "personas": [
            {
                "key": p.key,
                "name": p.name,
                "share_planted": p.share,
                "n_customers": int((persona == i).sum()),
                "churn_rate": float(churned[persona == i].mean()) if (persona == i).any() else None,
                "setup_failed_probability": p.pain,
            }
            for i, p in enumerate(PERSONAS)
        ],
        "churn_model": {
            "scale": "log-odds per one unit of stage emotion on [-1, 1]; emotion as measured by "
            "cjresearch (mean normalised score of the customer at the stage), 0 where none",
            "intercept": _INTERCEPT,
            "effects": EFFECTS,
            "plan": _PLAN_EFFECT,
            "tenure_months_centred_at_12": _TENURE_PER_MONTH,
            "support_reached": _SUPPORT_REACHED,
        },
        "pain_point": {
            "stage": "onboarding",
            "touchpoint": "setup_failed",
            "valence": VALENCE["setup_failed"],
            "onboarding_emotion_shift": _PAIN_SHIFT,
            "personas": [p.key for p in PERSONAS if p.pain >= 0.3],
        },
        "churn_rate": float(churned.mean()),
        # a count over n: the mean of the finite flags, exactly
        "measured_emotion_coverage": {s: c / n for s, c in coverage.items()},
    }


def study_toml(
    *,
    fmt: Literal["csv", "parquet"] = "csv",
    name: str = "Sample subscriptions",
    output: str = "reports",
    artifacts: str = "processed",
) -> str:
    """The study file of the sample study (``output`` and ``artifacts``: its ``[reports]``
    folders, relative to the file)."""
    return study_file_text(
        name=name,
        stages=STAGES,
        observation_end=str(_OBSERVATION_END.date()),
        fmt=fmt,
        valence=VALENCE,
        rating_scale=_RATING_SCALE,
        output=output,
        artifacts=artifacts,
    )


def write_sample(
    directory: str | Path,
    *,
    n_customers: int = 20_000,
    seed: int = 7,
    fmt: Literal["csv", "parquet"] = "csv",
    output: str = "reports",
    artifacts: str = "processed",
    block: int = BLOCK_CUSTOMERS,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Generate the sample study and write it (tables, ``study.toml``, ``truth.json``);
    ``output`` and ``artifacts`` go into its ``[reports]`` (relative to the study file).

    A study of more than ``block`` customers is generated and written one block at a time
    (see :func:`generate_sample`), so its memory is that of one block whatever its size: a
    Parquet file gets a row group per block, a CSV file the blocks one after another, and
    the customer ids of events and feedback are written as strings. Its rows are those of
    ``generate_sample(n_customers, seed=seed, block=block)``. ``progress`` (when given) is
    called with the customers written so far and the total after each block.

    Returns
    -------
    Path
        The study file.
    """
    if fmt not in ("csv", "parquet"):
        msg = f"format must be 'csv' or 'parquet', found {fmt!r}"
        raise ValueError(msg)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if n_customers > block:
        _write_blocks(directory, n_customers, seed=seed, fmt=fmt, block=block, progress=progress)
    else:
        sample = generate_sample(n_customers, seed=seed, block=block)
        for table, frame in (
            ("customers", sample.customers),
            ("events", sample.events),
            ("feedback", sample.feedback),
        ):
            with atomic_path(directory / f"{table}.{fmt}") as temporary:
                if fmt == "csv":
                    frame.to_csv(temporary, index=False, date_format=CSV_DATES)
                else:
                    frame.to_parquet(temporary, index=False)
        write_text(directory / "truth.json", json.dumps(sample.truth, indent=1) + "\n")
    toml = study_toml(fmt=fmt, output=output, artifacts=artifacts)
    return write_text(directory / "study.toml", toml)


def _write_blocks(
    directory: Path,
    n: int,
    *,
    seed: int,
    fmt: Literal["csv", "parquet"],
    block: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Write the study block by block: the memory of one block, the rows of
    :func:`generate_sample` (ids as strings, a Parquet row group per block)."""
    persona, churned, coverage = [], [], dict.fromkeys(EFFECTS, 0)
    with block_writers(directory, ("customers", "events", "feedback"), fmt) as writers:
        for part in sample_blocks(n, seed=seed, block=block):
            for table in ("customers", "events", "feedback"):
                writers[table].write(getattr(part, table))
            persona.append(part.persona.astype(np.int8))
            churned.append(part.churned)
            for stage, values in part.measured.items():
                coverage[stage] += int(np.isfinite(values).sum())
            if progress is not None:
                progress(sum(len(p) for p in persona), n)
    personas, churns = np.concatenate(persona), np.concatenate(churned)
    keys = [p.key for p in PERSONAS]
    step = 1_000_000
    write_truth(
        directory / "truth.json",
        _truth_summary(n, seed, personas, churns, coverage),
        (
            ((f"C{i + 1:07d}", keys[personas[i]]) for i in range(start, min(start + step, n)))
            for start in range(0, n, step)
        ),
    )
