"""Generated studies of other shapes than the sample, each with its planted truth.

The sample study (:mod:`cjresearch.datasets.sample`) has one shape: seven stages, many
touchpoints per stage, emotion everywhere, five personas. Analyses that only ever meet that
shape break on others, so the tests also run on these, each seeded and small:

- :func:`confounded`: three personas with very different base churn, each with touchpoints
  of its own, and *one* touchpoint (``broken_link``) with a planted effect on churn and
  emotion that every persona meets alike. A pain-point analysis that does not account for
  who meets a touchpoint ranks the high-churn persona's touchpoints as pain points;
- :func:`one_population`: one homogeneous population (no personas to find);
- :func:`stepwise`: one touchpoint per stage and no emotion at all, with a planted drop-off
  after ``order_1`` and customers still on their way at the end of observation (censored);
- :func:`clickstream`: web sessions (a ``session_id`` per visit) through a checkout, with a
  planted incident (``payment_error`` during a window) that stops sessions from converting.

Each returns a :class:`GeneratedStudy` (tables, truth, and the study file's sections);
:meth:`GeneratedStudy.write` writes a study folder that ``cjresearch build`` reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cjresearch._files import write_text

__all__ = [
    "GeneratedStudy",
    "clickstream",
    "confounded",
    "one_population",
    "stepwise",
    "toml_value",
]

_START = pd.Timestamp("2025-01-01", tz="UTC")


@dataclass(frozen=True)
class GeneratedStudy:
    """A generated study: its tables, its planted truth and its study file's sections."""

    customers: pd.DataFrame
    events: pd.DataFrame
    feedback: pd.DataFrame | None
    truth: dict[str, Any]
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def stages(self) -> list[str]:
        return list(self.sections["study"]["stages"])

    def frames(self) -> dict[str, pd.DataFrame]:
        """The tables by name, as written (with the study's own column names)."""
        out = {"customers": self.customers, "events": self.events}
        if self.feedback is not None:
            out["feedback"] = self.feedback
        return out

    def canonical_frames(self) -> dict[str, pd.DataFrame]:
        """The tables with canonical column names (the study's ``[columns]`` renames applied),
        as :func:`cjresearch.data.tables.validate_tables` takes them."""
        renames = self.sections.get("columns", {})
        return {
            name: frame.rename(columns={v: k for k, v in renames.get(name, {}).items()})
            for name, frame in self.frames().items()
        }

    def study_toml(self) -> str:
        """The study file (TOML) of the sections."""
        return _toml(self.sections)

    def write(self, directory: str | Path) -> Path:
        """Write the tables (CSV), ``truth.json`` and ``study.toml``; returns the study file."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, frame in self.frames().items():
            frame.to_csv(directory / f"{name}.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        write_text(directory / "truth.json", json.dumps(self.truth, indent=1, default=str) + "\n")
        return write_text(directory / "study.toml", self.study_toml())


def toml_value(value: Any) -> str:
    """A value as TOML writes it (strings quoted as JSON, lists in brackets)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def _toml(sections: Mapping[str, Mapping[str, Any]]) -> str:
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items() if not isinstance(v, dict)]
        for sub, table in values.items():
            if isinstance(table, dict):
                lines.append(f"[{section}.{sub}]")
                lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in table.items()]
        lines.append("")
    return "\n".join(lines)


def _ids(n: int, prefix: str) -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(1, n + 1)]


def _at(days: np.ndarray) -> pd.Series | pd.DatetimeIndex:
    """Timestamps ``days`` (fractional) after :data:`_START`."""
    return _START + pd.to_timedelta(days, unit="D")


def _events(ids: list[str], raw: pd.DataFrame, *, stage: str = "stage") -> pd.DataFrame:
    """Canonical events from generated rows: ``customer`` (index into ``ids``), ``day``,
    ``touchpoint``, the ``stage`` column and, when present, ``channel``."""
    frame = {
        "customer_id": np.asarray(ids, dtype=object)[raw["customer"]],
        "timestamp": _at(raw["day"].to_numpy()),
        "touchpoint": raw["touchpoint"].to_numpy(),
        "stage": raw[stage].to_numpy(),
    }
    if "channel" in raw.columns:
        frame["channel"] = raw["channel"].to_numpy()
    return pd.DataFrame(frame)


def _sections(name: str, stages: list[str], **extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {
        "study": {"name": name, "stages": stages},
        "data": {"customers": "customers.csv", "events": "events.csv"},
    }
    sections.update(extra)
    return sections


# --- confounded: personas with their own touchpoints and base churn -----------------------

#: persona -> (share, base churn log-odds, channel, mood)
_CONFOUNDED_PERSONAS = {
    "heavy": (0.3, 0.2, "app", -0.25),
    "casual": (0.4, -1.6, "web", 0.3),
    "store": (0.3, -1.4, "store", 0.25),
}
#: stage -> {touchpoint: persona it belongs to (None: everyone's)}
_CONFOUNDED_TOUCHPOINTS: dict[str, dict[str, str | None]] = {
    "discover": {"social_ad": "heavy", "search_ad": "casual", "flyer": "store"},
    "join": {"app_signup": "heavy", "web_signup": "casual", "store_signup": "store"},
    "use": {
        "app_feed": "heavy",
        "app_widget": "heavy",
        "web_portal": "casual",
        "store_visit": "store",
        "newsletter": None,
        "broken_link": None,
    },
    "help": {"chat": "heavy", "faq": "casual", "phone_line": "store"},
}
_PLANTED_LOG_ODDS = 1.0
_PLANTED_MOOD = -0.35


def _persona_choice(rng: np.random.Generator, stage: str, persona: str) -> str:
    """One of the stage's touchpoints, the persona's own six times as likely as another."""
    options = list(_CONFOUNDED_TOUCHPOINTS[stage])
    owners = [_CONFOUNDED_TOUCHPOINTS[stage][t] for t in options]
    weights = np.array([6.0 if o == persona else 1.0 for o in owners])
    return options[rng.choice(len(options), p=weights / weights.sum())]


def confounded(n_customers: int = 6_000, *, seed: int = 3) -> GeneratedStudy:
    """Personas with their own touchpoints and base churn, and one touchpoint with a real
    effect (see the module docstring).

    Returns
    -------
    GeneratedStudy
        ``truth``: ``planted`` (stage, touchpoint), ``persona_touchpoints`` (touchpoint ->
        persona), ``customer_persona`` (customer id -> persona), ``churn_rate`` per persona.
    """
    rng = np.random.default_rng(seed)
    names = list(_CONFOUNDED_PERSONAS)
    shares = np.array([v[0] for v in _CONFOUNDED_PERSONAS.values()])
    persona = rng.choice(len(names), size=n_customers, p=shares / shares.sum())
    ids = _ids(n_customers, "G")
    signup = rng.uniform(0, 240, n_customers)
    plan = np.where(rng.random(n_customers) < 0.5, "basic", "plus")
    hit = rng.random(n_customers) < 0.25
    base = np.array([v[1] for v in _CONFOUNDED_PERSONAS.values()])[persona]
    logit = base + np.where(plan == "basic", 0.3, 0.0) + _PLANTED_LOG_ODDS * hit
    churned = rng.random(n_customers) < 1 / (1 + np.exp(-logit))
    # the planted touchpoint is met early in use; churn comes after it
    end = np.where(churned, signup + rng.uniform(70, 140, n_customers), 330.0)
    rows: list[tuple[int, float, str, str]] = []
    mood = np.array([v[3] for v in _CONFOUNDED_PERSONAS.values()])[persona]
    for i in range(n_customers):
        own = names[persona[i]]
        for stage, offset in (("discover", -5.0), ("join", 0.0)):
            choice = _persona_choice(rng, stage, own)
            rows.append((i, signup[i] + offset + rng.uniform(0, 2), choice, stage))
        use = [t for t, o in _CONFOUNDED_TOUCHPOINTS["use"].items() if o == own]
        for day in np.arange(signup[i] + 3, end[i], 12.0):
            touchpoint = use[rng.integers(len(use))] if rng.random() < 0.9 else "web_portal"
            rows.append((i, day + rng.uniform(0, 5), touchpoint, "use"))
        if rng.random() < 0.5:
            rows.append((i, signup[i] + rng.uniform(5, 40), "newsletter", "use"))
        if hit[i]:
            rows.append((i, signup[i] + rng.uniform(5, 40), "broken_link", "use"))
        if rng.random() < 0.45:
            choice = _persona_choice(rng, "help", own)
            rows.append((i, signup[i] + rng.uniform(20, 60), choice, "help"))
    raw = pd.DataFrame(rows, columns=["customer", "day", "touchpoint", "stage"])
    raw = raw[raw["day"] < np.minimum(end[raw["customer"]], 330.0)]
    events = _events(ids, raw).sort_values(["customer_id", "timestamp"], kind="stable")
    # feedback: a CSAT about one touchpoint met at use, felt as the persona feels
    use_events = raw[raw["stage"] == "use"].groupby("customer").sample(n=1, random_state=seed)
    asked = use_events[rng.random(len(use_events)) < 0.6]
    felt = (
        mood[asked["customer"]]
        + np.where(asked["touchpoint"] == "broken_link", _PLANTED_MOOD, 0.0)
        + rng.normal(0, 0.35, len(asked))
    )
    feedback = pd.DataFrame(
        {
            "customer_id": np.asarray(ids, dtype=object)[asked["customer"]],
            "timestamp": _at(asked["day"].to_numpy() + 0.01),
            "stage": "use",
            "touchpoint": asked["touchpoint"].to_numpy(),
            "instrument": "csat",
            "score": np.clip(np.round(3 + 2 * felt), 1, 5),
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "plan": plan,
            "churned": churned,
        }
    )
    truth = {
        "planted": {"stage": "use", "touchpoint": "broken_link"},
        "persona_touchpoints": {
            t: o
            for stage in _CONFOUNDED_TOUCHPOINTS.values()
            for t, o in stage.items()
            if o is not None
        },
        "customer_persona": dict(zip(ids, np.asarray(names)[persona].tolist(), strict=True)),
        "churn_rate": {n: float(churned[persona == k].mean()) for k, n in enumerate(names)},
    }
    sections = _sections(
        "Confounded touchpoints",
        list(_CONFOUNDED_TOUCHPOINTS),
        data={"customers": "customers.csv", "events": "events.csv", "feedback": "feedback.csv"},
        statistics={"controls": ["plan"]},
    )
    return GeneratedStudy(customers, events.reset_index(drop=True), feedback, truth, sections)


# --- one population: nothing to segment ---------------------------------------------------


def one_population(n_customers: int = 3_000, *, seed: int = 5) -> GeneratedStudy:
    """One homogeneous population: every customer drawn from the same distributions (channel
    mix, activity, age), churn unrelated to any of it.

    Returns
    -------
    GeneratedStudy
        ``truth``: ``n_personas`` (1) and the overall ``churn_rate``.
    """
    rng = np.random.default_rng(seed)
    stages = ["discover", "join", "use", "help"]
    touchpoints = {
        "discover": [("ad", "social"), ("search", "web")],
        "join": [("signup_web", "web"), ("signup_app", "app")],
        "use": [("feed", "app"), ("portal", "web"), ("mail", "email")],
        "help": [("chat", "app"), ("faq", "web")],
    }
    channels = ["app", "web", "email", "social"]
    mix = rng.dirichlet(np.full(len(channels), 4.0), size=n_customers)
    rate = rng.lognormal(np.log(2.5), 0.35, n_customers)
    signup = rng.uniform(0, 200, n_customers)
    churned = rng.random(n_customers) < 0.25
    end = np.where(churned, signup + rng.uniform(100, 200, n_customers), 300.0)
    rows = []
    for i in range(n_customers):
        for stage in stages:
            if stage == "help" and rng.random() > 0.4:
                continue
            options = touchpoints[stage]
            weight = np.array([mix[i, channels.index(c)] for _, c in options])
            n = 1 if stage != "use" else max(1, rng.poisson(rate[i] * 3))
            for _ in range(n):
                touchpoint, channel = options[rng.choice(len(options), p=weight / weight.sum())]
                day = signup[i] + {"discover": -3, "join": 0, "use": 2, "help": 10}[stage]
                day += rng.uniform(0, 80 if stage == "use" else 3)
                rows.append((i, day, touchpoint, stage, channel))
    raw = pd.DataFrame(rows, columns=["customer", "day", "touchpoint", "stage", "channel"])
    raw = raw[raw["day"] < np.minimum(end[raw["customer"]], 300.0)]
    ids = _ids(n_customers, "U")
    events = _events(ids, raw).sort_values(["customer_id", "timestamp"], kind="stable")
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "age": np.clip(np.round(rng.normal(40, 12, n_customers)), 18, 90).astype(int),
            "churned": churned,
        }
    )
    truth = {"n_personas": 1, "churn_rate": float(churned.mean())}
    sections = _sections("One population", stages)
    return GeneratedStudy(customers, events.reset_index(drop=True), None, truth, sections)


# --- stepwise: one touchpoint per stage, no emotion, censoring ----------------------------

_STEPS = ["landing", "register", "order_1", "order_2", "order_3"]
_GO_ON = [0.85, 0.9, 0.45, 0.8]


def stepwise(n_customers: int = 4_000, *, seed: int = 11) -> GeneratedStudy:
    """One touchpoint per stage and no emotion: customers step through ``landing``,
    ``register``, ``order_1``, ``order_2``, ``order_3`` (one stage each), going on with
    probabilities 0.85, 0.9, 0.45 and 0.8, a step every 20 days or so. Who stops churns (a
    churn column); who would take the next step after the end of observation is still active
    (censored, not churned).

    Returns
    -------
    GeneratedStudy
        ``truth``: ``planted`` (stage and touchpoint of the big drop-off, ``order_1``), the
        continuation probabilities and the number of censored customers.
    """
    rng = np.random.default_rng(seed)
    horizon = 360.0
    start = rng.uniform(0, 330, n_customers)
    rows = []
    churned = np.zeros(n_customers, dtype=bool)
    censored = 0
    for i in range(n_customers):
        day = start[i]
        for step, touchpoint in enumerate(_STEPS):
            rows.append((i, day, touchpoint))
            if step == len(_STEPS) - 1:
                break
            nxt = day + rng.exponential(20.0) + 1.0
            if rng.random() >= _GO_ON[step]:
                churned[i] = nxt < horizon  # a stop that shows before the end
                censored += int(nxt >= horizon)
                break
            if nxt >= horizon:
                censored += 1
                break
            day = nxt
    raw = pd.DataFrame(rows, columns=["customer", "day", "touchpoint"])
    ids = _ids(n_customers, "S")
    events = _events(ids, raw, stage="touchpoint")
    customers = pd.DataFrame({"customer_id": ids, "churned": churned})
    truth = {
        "planted": {"stage": "order_1", "touchpoint": "order_1"},
        "go_on": dict(zip(_STEPS[:-1], _GO_ON, strict=True)),
        "n_censored": censored,
    }
    sections = _sections(
        "Stepwise purchases",
        list(_STEPS),
        study={
            "name": "Stepwise purchases",
            "stages": list(_STEPS),
            "observation_end": str((_START + pd.Timedelta(days=horizon - 1)).date()),
        },
    )
    return GeneratedStudy(customers, events, None, truth, sections)


# --- clickstream: sessions through a checkout, with an incident ---------------------------

_CLICK_STAGES = ["browse", "cart", "checkout", "purchase"]
_CLICK_MAP = {
    "home": "browse",
    "catalog": "browse",
    "product": "browse",
    "search": "browse",
    "add_to_cart": "cart",
    "cart": "cart",
    "shipping": "checkout",
    "payment": "checkout",
    "payment_error": "checkout",
    "help_chat": "checkout",
    "purchase": "purchase",
}


def _one_session(rng: np.random.Generator, incident: bool) -> tuple[list[str], bool]:
    """The touchpoints of one session in order, and whether the incident hit it."""
    path = ["home", *rng.choice(["catalog", "product", "search"], rng.integers(1, 5))]
    if rng.random() > 0.35:
        return path, False
    path += ["add_to_cart", "cart"]
    if rng.random() > 0.6:
        return path, False
    path.append("shipping")
    if rng.random() > 0.75:
        return path, False
    path.append("payment")
    hit = incident and rng.random() < 0.6
    if hit:
        path += ["payment_error", "help_chat"] if rng.random() < 0.5 else ["payment_error"]
    if rng.random() < (0.12 if hit else 0.8):
        path.append("purchase")
    return path, hit


def clickstream(n_users: int = 1_500, *, seed: int = 13) -> GeneratedStudy:
    """Web sessions through a checkout (stages ``browse, cart, checkout, purchase``, a
    ``[stage_map]``), each session with its ``session_id``, and an incident: between days 60
    and 80, 60% of the sessions that reach ``payment`` show a ``payment_error``, after which
    12% convert instead of 80%. Events within a session are a minute or two apart; sessions
    of a user are days apart. Churn is derived (no visit in the last 30 days).

    Returns
    -------
    GeneratedStudy
        ``truth``: ``planted`` (stage and touchpoint of the incident), its window in days and
        the sessions it hit.
    """
    rng = np.random.default_rng(seed)
    rows = []
    n_hit = 0
    session = 0
    for user in range(n_users):
        day = rng.uniform(0, 30)
        for _ in range(rng.integers(2, 9)):
            session += 1
            path, hit = _one_session(rng, 60 <= day < 80)
            n_hit += int(hit)
            seconds = np.cumsum(rng.uniform(20, 150, len(path)))
            rows += [
                (user, session, day + s / 86_400, t) for s, t in zip(seconds, path, strict=True)
            ]
            day += rng.exponential(9.0) + 0.5
            if day > 120:
                break
    raw = pd.DataFrame(rows, columns=["user", "session", "day", "event"])
    ids = _ids(n_users, "W")
    events = pd.DataFrame(
        {
            "user_id": np.asarray(ids, dtype=object)[raw["user"]],
            "session": [f"s{s:07d}" for s in raw["session"]],
            "ts": _at(raw["day"].to_numpy()),
            "event": raw["event"].to_numpy(),
        }
    )
    customers = pd.DataFrame(
        {
            "user_id": ids,
            "device": np.where(rng.random(n_users) < 0.5, "mobile", "desktop"),
        }
    )
    truth = {
        "planted": {"stage": "checkout", "touchpoint": "payment_error"},
        "window_days": [60, 80],
        "n_sessions_hit": n_hit,
    }
    sections = _sections(
        "Clickstream with an incident",
        list(_CLICK_STAGES),
        columns={
            "customers": {"customer_id": "user_id"},
            "events": {
                "customer_id": "user_id",
                "timestamp": "ts",
                "touchpoint": "event",
                "session_id": "session",
            },
        },
        stage_map=dict(_CLICK_MAP),
        churn={"inactivity_days": 30},
    )
    return GeneratedStudy(customers, events, None, truth, sections)
