"""KPIs against their targets, and the journey map's headline figures, measured from data.

A KPI (``[[kpis]]`` in the study file, :class:`Kpi` here) is one figure of one stage,
optionally of one touchpoint at that stage and of one persona, compared with a target.
:func:`measure` computes every KPI and the journey map's headline figures (reach,
conversion, emotion and churn per persona and stage) from the canonical tables, each with
its 95% interval and the customers it describes, in one tidy frame (:data:`FIGURE_COLUMNS`)
that the build keeps in its history (:mod:`cjresearch.artifacts.history`) and compares with
the previous build's (:mod:`cjresearch.analysis.changes`).

Metrics (the customer is the unit: each counts once in a figure)
================  ==========================================================================
``csat``          share of customers satisfied (4 or 5 of 5), each by their latest CSAT at the
                  stage (touchpoint); Wilson interval
``nps``           % promoters (9-10) minus % detractors (0-6), each customer by their latest
                  NPS answer there, -100..100; the mean of the answers coded +100 / 0 / -100
                  with its t interval
``ces``           mean of each customer's latest CES answer there (1..7, low effort is good);
                  t interval
``emotion``       mean of the customers' emotion there (-1..1): the stage emotion of
                  :func:`cjresearch.analysis.emotion.stage_emotion`, or for a touchpoint the
                  mean of the customer's observations tied to it; t interval (the journey
                  map's ``emotion_mean``)
``conversion``    share of the customers who reached the stage (met the touchpoint) who also
                  reached the next stage; Wilson (the journey map's ``conversion_next``)
``churn_rate``    share of those customers who churned; Wilson (``churn_rate``)
``reach``         share of the group's customers who reached the stage (met the touchpoint);
                  Wilson (``reach``)
================  ==========================================================================

"Reached" means an event at the stage (the journey map's definition). The survey metrics
take each customer's latest answer so that every customer is one trial of the interval;
customers who gave no answer are missing, not neutral.

Status against the target (``target`` such as ``">= 0.80"``): ``met`` when the whole
interval satisfies the target, ``missed`` when none of it does, ``unclear`` when it straddles
the target (or has no interval), ``suppressed`` when the figure describes fewer than
``min_group_size`` customers (for ``reach``: reached the stage), in which case its value,
interval and count are blank. Headline figures are suppressed as the journey map suppresses
its rows (the same secondary suppression across personas), and a KPI that shows one of
their cells is suppressed with it, so that no combination of published figures reveals a
small group.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import SLICE_ROWS, check_stages, codes, sliced_codes, unique_ids
from cjresearch.analysis.intervals import t_interval, wilson_intervals
from cjresearch.analysis.privacy import suppress
from cjresearch.analysis.settings import Settings
from cjresearch.data.management import METRIC_RANGES
from cjresearch.data.schema import ALL
from cjresearch.errors import CJResearchError, CJResearchWarning

if TYPE_CHECKING:
    from cjresearch.data.study import Study

__all__ = [
    "FIGURE_COLUMNS",
    "MAP_METRICS",
    "SHARE_METRICS",
    "STATUSES",
    "Kpi",
    "definitions_from_study",
    "figure_label",
    "format_change",
    "format_value",
    "measure",
    "status",
]

#: Metrics that are shares (a Wilson interval, a two-proportion test between builds).
SHARE_METRICS: frozenset[str] = frozenset({"csat", "conversion", "churn_rate", "reach"})
#: The journey map's headline figures, measured for every persona and stage.
MAP_METRICS: tuple[str, ...] = ("reach", "conversion", "emotion", "churn_rate")
#: A KPI's possible statuses.
STATUSES: tuple[str, ...] = ("met", "missed", "unclear", "suppressed")
#: What a measured figure holds (the history keeps these columns).
FIGURE_COLUMNS: tuple[str, ...] = (
    "key",
    "kind",
    "kpi",
    "stage",
    "touchpoint",
    "persona",
    "persona_id",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "n_customers",
    "successes",
    "variance",
    "target",
    "status",
    "owner",
)
_INSTRUMENTS = {"csat", "nps", "ces"}


@dataclass(frozen=True)
class Kpi:
    """A KPI's definition.

    Attributes
    ----------
    name
        Its name (unique in a study).
    stage, metric
        Where it is measured and what (see the module docstring for the metrics).
    comparison, threshold
        The target: ``>=``, ``>``, ``<=`` or ``<`` and a number on the metric's scale.
    target
        The target as the study file writes it (``">= 0.80"``).
    touchpoint
        Only customers who met this touchpoint at the stage (survey metrics: answers given
        at it), or None.
    persona
        A persona id or name, or None for all customers.
    owner
        Who answers for it, or None.
    """

    name: str
    stage: str
    metric: str
    comparison: str
    threshold: float
    target: str
    touchpoint: str | None = None
    persona: str | None = None
    owner: str | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRIC_RANGES:
            msg = f"KPI {self.name!r}: metric must be one of {list(METRIC_RANGES)}, found "
            msg += repr(self.metric)
            raise CJResearchError(msg)
        if self.comparison not in (">=", ">", "<=", "<"):
            msg = f"KPI {self.name!r}: comparison must be >=, >, <= or <, found "
            msg += repr(self.comparison)
            raise CJResearchError(msg)

    @property
    def higher_is_better(self) -> bool:
        """Whether the target asks for a high value (``>=``, ``>``)."""
        return self.comparison.startswith(">")


def definitions_from_study(study: Study) -> tuple[Kpi, ...]:
    """The study file's ``[[kpis]]`` as :class:`Kpi` values, each with its owner (its own,
    else its touchpoint's, else its stage's)."""
    return tuple(
        Kpi(
            name=k.name,
            stage=k.stage,
            metric=k.metric,
            comparison=k.comparison,
            threshold=k.threshold,
            target=k.target,
            touchpoint=k.touchpoint,
            persona=k.persona,
            owner=study.kpi_owner(k),
        )
        for k in study.kpis
    )


def status(
    value: float, ci_low: float, ci_high: float, *, comparison: str, threshold: float
) -> str:
    """A figure's status against a target: ``met`` when its whole interval satisfies the
    target, ``missed`` when none of it does, else ``unclear``; ``suppressed`` when the
    value is missing.

    >>> status(0.86, 0.82, 0.90, comparison=">=", threshold=0.80)
    'met'
    >>> status(0.81, 0.76, 0.86, comparison=">=", threshold=0.80)
    'unclear'
    >>> status(2.9, 2.6, 3.2, comparison="<", threshold=3.5)
    'met'
    """
    if pd.isna(value):
        return "suppressed"
    if pd.isna(ci_low) or pd.isna(ci_high):
        return "unclear"
    holds = {
        ">=": lambda x: x >= threshold,
        ">": lambda x: x > threshold,
        "<=": lambda x: x <= threshold,
        "<": lambda x: x < threshold,
    }[comparison]
    if holds(ci_low) and holds(ci_high):
        return "met"
    if not holds(ci_low) and not holds(ci_high):
        return "missed"
    return "unclear"


def figure_label(metric: str, stage: str, persona_id: int | None) -> str:
    """The name a headline figure goes by in the history (stable across persona renames).

    >>> figure_label("churn_rate", "onboarding", None), figure_label("reach", "usage", 3)
    ('map: churn_rate at onboarding, all customers', 'map: reach at usage, persona 3')
    """
    group = "all customers" if persona_id is None else f"persona {int(persona_id)}"
    return f"map: {metric} at {stage}, {group}"


def format_value(metric: str, value: object) -> str:
    """A figure as a sentence or a page shows it: shares as percentages, NPS as a signed
    whole number, means with two decimals, ``suppressed`` when missing; a value shown as
    zero has no sign.

    >>> format_value("csat", 0.8234), format_value("nps", 12.4), format_value("ces", 3.456)
    ('82.3%', '+12', '3.46')
    >>> format_value("emotion", -0.001), format_value("reach", float("nan"))
    ('0.00', 'suppressed')
    """
    if value is None or pd.isna(value):
        return "suppressed"
    x = float(value)  # type: ignore[arg-type]
    if metric == "nps":
        text = f"{x:+.0f}"
    elif metric in SHARE_METRICS:
        text = f"{x:.1%}"
    else:
        text = f"{x:.2f}"
    return text if any(c in "123456789" for c in text) else text.lstrip("+-")


def format_change(metric: str, change: object) -> str:
    """A change between two measurements as a page shows it, always signed: shares in
    percentage points (a difference of two percentages is not a percentage), NPS in points,
    means with two decimals; ``suppressed`` when missing; no change has no sign.

    >>> format_change("csat", -0.495), format_change("nps", 3.2), format_change("ces", 0.1)
    ('-49.5 percentage points', '+3 points', '+0.10')
    >>> format_change("reach", 0.0001), format_change("csat", float("nan"))
    ('0.0 percentage points', 'suppressed')
    """
    if change is None or pd.isna(change):
        return "suppressed"
    x = float(change)  # type: ignore[arg-type]
    if metric == "nps":
        number, unit = f"{x:+.0f}", " points"
    elif metric in SHARE_METRICS:
        number, unit = f"{100 * x:+.1f}", " percentage points"
    else:
        number, unit = f"{x:+.2f}", ""
    if not any(c in "123456789" for c in number):
        number = number.lstrip("+-")
    return number + unit


# --- the data, coded once -------------------------------------------------------------------


@dataclass(frozen=True)
class _Journey:
    """The canonical tables as per-customer arrays (not API)."""

    stages: list[str]
    ids: pd.Index
    group: np.ndarray  # per customer: 0 without persona, 1..P the persona
    labels: list[str]  # "all", then persona names
    persona_ids: list[int | None]  # None, then persona ids
    churned: np.ndarray
    reached: np.ndarray  # customers x stages
    events: pd.DataFrame
    feedback: pd.DataFrame | None
    stage_emotion: pd.DataFrame | None
    observations: pd.DataFrame | None

    def group_sum(self, values: np.ndarray) -> np.ndarray:
        """Per group (0: all customers) sums of a per-customer array."""
        per = np.bincount(self.group, weights=values, minlength=len(self.labels))
        return np.concatenate([[per.sum()], per[1:]])

    def stage_index(self, stage: str) -> int:
        return self.stages.index(stage)

    def met(self, stage: str, touchpoint: str | None) -> np.ndarray:
        """Customers with an event at the stage (at the touchpoint there)."""
        if touchpoint is None:
            return self.reached[:, self.stage_index(stage)]
        events = self.events
        at = _is(events["stage"], stage) & _is(events["touchpoint"], touchpoint)
        out = np.zeros(len(self.ids), dtype=bool)
        customer = codes(events["customer_id"][at], self.ids)
        out[customer[customer >= 0]] = True
        return out

    def emotion(self, stage: str, touchpoint: str | None) -> np.ndarray:
        """Each customer's emotion at the stage (touchpoint); NaN where they expressed none."""
        out = np.full(len(self.ids), np.nan)
        if touchpoint is None:
            frame = self.stage_emotion
            if frame is None or frame.empty:
                return out
            rows = frame[_is(frame["stage"], stage)]
            values = rows["emotion_mean"]
        else:
            frame = self.observations
            if frame is None or frame.empty:
                return out
            at = frame[
                _is(frame["stage"], stage)
                & _is(frame["touchpoint"], touchpoint)
                & frame["emotion"].notna().to_numpy()
            ]
            values = at.groupby("customer_id", observed=True, sort=False)["emotion"].mean()
            rows = values.index.to_frame(index=False)
        customer = codes(rows["customer_id"], self.ids)
        array = np.asarray(values, dtype=np.float64)
        out[customer[customer >= 0]] = array[customer >= 0]
        return out

    def latest(self, instrument: str, stage: str, touchpoint: str | None) -> np.ndarray:
        """Each customer's latest score on ``instrument`` at the stage (touchpoint)."""
        out = np.full(len(self.ids), np.nan)
        feedback = self.feedback
        if feedback is None or feedback.empty:
            return out
        keep = _is(feedback["instrument"], instrument) & _is(feedback["stage"], stage)
        if touchpoint is not None:
            if "touchpoint" not in feedback:
                return out
            keep &= _is(feedback["touchpoint"], touchpoint)
        keep &= feedback["score"].notna().to_numpy()
        rows = feedback.loc[keep, ["customer_id", "timestamp", "score"]]
        rows = rows.sort_values("timestamp", kind="stable").drop_duplicates(
            "customer_id", keep="last"
        )
        customer = codes(rows["customer_id"], self.ids)
        scores = rows["score"].to_numpy(dtype=np.float64)
        out[customer[customer >= 0]] = scores[customer >= 0]
        return out


def _is(column: pd.Series, value: str) -> np.ndarray:
    """The rows whose value, as text, is ``value``: a categorical's categories are compared,
    not its rows (a log's stage and touchpoint columns hold tens of millions)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        hits = np.flatnonzero(column.cat.categories.astype(str) == value)
        return np.isin(column.cat.codes.to_numpy(), hits)
    return (column.astype(str) == value).to_numpy()


def _prepare(
    customers: pd.DataFrame,
    events: pd.DataFrame,
    feedback: pd.DataFrame | None,
    stage_emotion: pd.DataFrame | None,
    observations: pd.DataFrame | None,
    personas: pd.DataFrame | None,
    stages: list[str],
) -> _Journey:
    require_columns(customers, ("customer_id", "churned"), "customers")
    require_columns(events, ("customer_id", "stage", "touchpoint"), "events")
    if feedback is not None:
        require_columns(
            feedback, ("customer_id", "timestamp", "stage", "instrument", "score"), "feedback"
        )
    if stage_emotion is not None:
        require_columns(stage_emotion, ("customer_id", "stage", "emotion_mean"), "stage_emotion")
    if observations is not None:
        require_columns(
            observations, ("customer_id", "stage", "touchpoint", "emotion"), "observations"
        )
    ids = unique_ids(customers)
    reached = np.zeros((len(ids), len(stages)), dtype=bool)
    stage_column = events["stage"]
    if not isinstance(stage_column.dtype, pd.CategoricalDtype):
        stage_column = stage_column.astype(str)  # (categories are compared once, not per row)
    slices = zip(  # a slice of the log at a time (all its codes at once: 0.9 GB at 26.6M events)
        sliced_codes(events["customer_id"], ids, SLICE_ROWS),
        sliced_codes(stage_column, pd.Index(stages), SLICE_ROWS),
        strict=True,
    )
    for customer, stage in slices:
        ok = (customer >= 0) & (stage >= 0)
        reached[customer[ok], stage[ok]] = True
    group = np.zeros(len(ids), dtype=np.int64)
    labels: list[str] = [ALL]
    persona_ids: list[int | None] = [None]
    if personas is not None and not personas.empty:
        require_columns(personas, ("customer_id", "persona_id", "persona_name"), "personas")
        known = personas.drop_duplicates("persona_id").sort_values("persona_id")
        for position, row in enumerate(known.itertuples(index=False), 1):
            labels.append(str(row.persona_name))
            persona_ids.append(int(row.persona_id))
            mine = codes(personas.loc[personas["persona_id"] == row.persona_id, "customer_id"], ids)
            group[mine[mine >= 0]] = position
    return _Journey(
        stages=stages,
        ids=ids,
        group=group,
        labels=labels,
        persona_ids=persona_ids,
        churned=customers["churned"].to_numpy(dtype=bool),
        reached=reached,
        events=events,
        feedback=feedback,
        stage_emotion=stage_emotion,
        observations=observations,
    )


# --- one metric for every group -------------------------------------------------------------


def _units(
    journey: _Journey, metric: str, stage: str, touchpoint: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(who counts, their value) per customer for one metric at one stage (touchpoint)."""
    if metric == "reach":
        return np.ones(len(journey.ids), dtype=bool), journey.met(stage, touchpoint)
    if metric in ("conversion", "churn_rate"):
        met = journey.met(stage, touchpoint)
        if metric == "churn_rate":
            return met, journey.churned
        s = journey.stage_index(stage)
        if s + 1 >= len(journey.stages):
            msg = f"conversion needs a stage after {stage!r}; it is the last stage"
            raise CJResearchError(msg)
        return met, journey.reached[:, s + 1]
    if metric == "emotion":
        values = journey.emotion(stage, touchpoint)
        return np.isfinite(values), values
    if metric in _INSTRUMENTS:
        scores = journey.latest(metric, stage, touchpoint)
        has = np.isfinite(scores)
        if metric == "csat":
            return has, scores >= 4
        if metric == "nps":
            return has, np.where(scores >= 9, 100.0, np.where(scores <= 6, -100.0, 0.0))
        return has, scores
    msg = f"unknown metric {metric!r}; metrics are {list(METRIC_RANGES)}"
    raise CJResearchError(msg)


def _per_group(
    journey: _Journey, metric: str, stage: str, touchpoint: str | None
) -> dict[str, np.ndarray]:
    """Value, interval, n, successes (shares), variance (means) and the suppression count,
    one entry per group (0: all customers)."""
    units, values = _units(journey, metric, stage, touchpoint)
    weights = units.astype(np.float64)
    x = np.where(units, np.asarray(values, dtype=np.float64), 0.0)
    n = journey.group_sum(weights)
    total = journey.group_sum(x)
    nan = np.full(len(n), np.nan)
    if metric in SHARE_METRICS:
        low, high = wilson_intervals(total, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(n > 0, total / np.where(n > 0, n, 1), np.nan)
        successes, variance = total, nan
    else:
        value, low, high, variance = t_interval(
            total, journey.group_sum(x**2), n, bounds=METRIC_RANGES[metric]
        )
        successes = nan
    # reach describes the customers who reached the stage; the others their whole base
    count = total if metric == "reach" else n
    return {
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "n_customers": n,
        "successes": successes,
        "variance": variance,
        "count": count,
    }


# --- the figures ----------------------------------------------------------------------------


def _map_figures(journey: _Journey, min_group_size: int) -> pd.DataFrame:
    rows = []
    for stage in journey.stages:
        last = stage == journey.stages[-1]
        for metric in MAP_METRICS:
            if metric == "conversion" and last:
                continue
            cells = _per_group(journey, metric, stage, None)
            for g, label in enumerate(journey.labels):
                pid = journey.persona_ids[g]
                rows.append(
                    {
                        "key": f"map|{metric}|{stage}|{'all' if pid is None else pid}",
                        "kind": "map",
                        "kpi": figure_label(metric, stage, pid),
                        "stage": stage,
                        "touchpoint": None,
                        "persona": label,
                        "persona_id": pid,
                        "metric": metric,
                        **{k: float(v[g]) for k, v in cells.items()},
                    }
                )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    # the journey map's rule: a (persona, stage) row is suppressed by its reach count, with
    # one more persona where exactly one is hidden, and every figure of the row with it
    reach = frame[frame["metric"] == "reach"][["stage", "persona", "count"]].reset_index(drop=True)
    hidden = suppress(
        reach.assign(n=reach["count"]),
        min_group_size=min_group_size,
        count_col="n",
        columns=[],
        complementary_by=["stage"] if len(journey.labels) > 2 else None,
    )
    shut = hidden[hidden["suppressed"]]
    rows_hidden = set(zip(shut["stage"], shut["persona"], strict=True))
    by_row = [(s, p) in rows_hidden for s, p in zip(frame["stage"], frame["persona"], strict=True)]
    return _blank(frame, np.asarray(by_row) | ~(frame["count"].to_numpy() >= min_group_size))


def _blank(frame: pd.DataFrame, hide: np.ndarray) -> pd.DataFrame:
    out = frame.copy()
    for column in ("value", "ci_low", "ci_high", "n_customers", "successes", "variance"):
        out[column] = out[column].astype("float64").mask(hide)
    out["suppressed"] = hide
    return out


def _resolve_persona(kpi: Kpi, journey: _Journey) -> int:
    """The group (position) of a KPI's persona: by name, else by id; -1 when unknown."""
    if kpi.persona is None:
        return 0
    if kpi.persona in journey.labels[1:]:
        return journey.labels.index(kpi.persona, 1)
    ids = [str(p) for p in journey.persona_ids]
    if kpi.persona in ids[1:]:
        return ids.index(kpi.persona, 1)
    warnings.warn(
        f"KPI {kpi.name!r}: no persona {kpi.persona!r} in this build (personas: "
        f"{journey.labels[1:]}); it describes nobody and is shown as suppressed",
        CJResearchWarning,
        stacklevel=4,
    )
    return -1


def _kpi_figures(
    journey: _Journey, kpis: Sequence[Kpi], hidden_map: pd.DataFrame, min_group_size: int
) -> pd.DataFrame:
    cache: dict[tuple[str, str, str | None], dict[str, np.ndarray]] = {}
    rows = []
    for kpi in kpis:
        if kpi.stage not in journey.stages:
            msg = f"KPI {kpi.name!r}: stage {kpi.stage!r} is not one of {journey.stages}"
            raise CJResearchError(msg)
        g = _resolve_persona(kpi, journey)
        scope = (kpi.metric, kpi.stage, kpi.touchpoint)
        if scope not in cache:
            cache[scope] = _per_group(journey, *scope)
        cells = {k: (float(v[g]) if g >= 0 else np.nan) for k, v in cache[scope].items()}
        if g < 0:
            cells["n_customers"] = cells["count"] = 0.0
        pid = journey.persona_ids[g] if g >= 0 else None
        rows.append(
            {
                "key": "|".join(
                    [
                        "kpi",
                        kpi.name,
                        kpi.metric,
                        kpi.stage,
                        kpi.touchpoint or "",
                        "" if pid is None else str(pid),
                    ]
                ),
                "kind": "kpi",
                "kpi": kpi.name,
                "stage": kpi.stage,
                "touchpoint": kpi.touchpoint,
                "persona": journey.labels[g] if g >= 0 else kpi.persona,
                "persona_id": pid,
                "metric": kpi.metric,
                **cells,
                "target": kpi.target,
                "owner": kpi.owner,
                "_group": g,
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    hide = ~(frame["count"].to_numpy(dtype=float) >= min_group_size)
    # a KPI showing a cell of the journey map hides with it
    if not hidden_map.empty:
        cells = hidden_map[hidden_map["suppressed"]]
        hidden = set(zip(cells["metric"], cells["stage"], cells["persona"], strict=True))
        hide |= np.array(
            [
                pd.isna(t) and (m, s, p) in hidden
                for m, s, t, p in zip(
                    frame["metric"], frame["stage"], frame["touchpoint"], frame["persona"],
                    strict=True,
                )
            ]
        )  # fmt: skip
    hide |= _differences(frame, hide, min_group_size)
    out = _blank(frame, hide)
    out["status"] = [
        status(value, low, high, comparison=kpi.comparison, threshold=kpi.threshold)
        for value, low, high, kpi in zip(
            out["value"], out["ci_low"], out["ci_high"], kpis, strict=True
        )
    ]
    return out.drop(columns="_group")


def _differences(frame: pd.DataFrame, hide: np.ndarray, min_group_size: int) -> np.ndarray:
    """KPIs to hide so that "all customers" minus the personas shown beside it, on one
    metric and scope, is not a group of fewer than ``min_group_size`` customers."""
    extra = np.zeros(len(frame), dtype=bool)
    scope = frame["metric"] + "|" + frame["stage"] + "|" + frame["touchpoint"].fillna("")
    for _, rows in frame.groupby(scope, sort=False):
        everyone = rows.index[rows["_group"] == 0]
        personas = rows.index[(rows["_group"] > 0)].drop_duplicates()
        if len(everyone) == 0 or len(personas) == 0 or hide[everyone].all():
            continue
        for _ in range(len(personas)):
            shown = [i for i in personas if not (hide[i] or extra[i])]
            if not shown:
                break
            counts = rows.loc[shown].drop_duplicates("_group")["count"]
            rest = float(rows.loc[everyone[0], "count"]) - float(counts.sum())
            if not 0 < rest < min_group_size:
                break
            extra[int(rows.loc[shown, "count"].idxmin())] = True
    return extra


def measure(
    customers: pd.DataFrame,
    events: pd.DataFrame,
    feedback: pd.DataFrame | None = None,
    stage_emotion: pd.DataFrame | None = None,
    observations: pd.DataFrame | None = None,
    *,
    kpis: Sequence[Kpi] = (),
    personas: pd.DataFrame | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Every KPI and the journey map's headline figures, with intervals, n and status.

    Parameters
    ----------
    customers
        Canonical customers: ``customer_id`` (unique) and ``churned``. Not modified.
    events
        Canonical events: ``customer_id, stage, touchpoint``.
    feedback
        Canonical feedback (``customer_id, timestamp, stage, instrument, score`` and
        ``touchpoint`` for touchpoint KPIs), for the survey metrics; or None.
    stage_emotion
        :func:`cjresearch.analysis.emotion.stage_emotion` output, for ``emotion`` at a stage.
    observations
        :func:`cjresearch.analysis.emotion.emotion_observations` output, for ``emotion`` at a
        touchpoint.
    kpis
        The KPIs (:func:`definitions_from_study`).
    personas
        ``customer_id, persona_id, persona_name``; None measures all customers only.
    settings, **options
        A :class:`~cjresearch.analysis.settings.Settings` and/or its fields as keywords:
        ``stages`` and ``min_group_size``.

    Returns
    -------
    pandas.DataFrame
        One row per KPI (``kind = "kpi"``, in the study's order), then per headline figure
        (``kind = "map"``: persona, stage and metric, ``all`` first), with columns
        :data:`FIGURE_COLUMNS`: ``key`` (what identifies the figure across builds), ``kind``,
        ``kpi`` (the KPI's name, or :func:`figure_label`), ``stage``, ``touchpoint``,
        ``persona`` (its name, ``all`` for everyone), ``persona_id``, ``metric``, ``value``,
        ``ci_low``, ``ci_high`` (95%), ``n_customers`` (the customers the figure is a share or
        mean of), ``successes`` (shares: the count behind the share), ``variance`` (means:
        the customers' sample variance), ``target``, ``status`` (KPIs: one of
        :data:`STATUSES`; headline figures: ``suppressed`` or missing) and ``owner``.

    Raises
    ------
    CJResearchError
        Missing columns, duplicate customer ids, a KPI at a stage not in ``stages``.

    Warns
    -----
    CJResearchWarning
        A KPI names a persona this build does not have (it is shown as suppressed).
    """
    settings = Settings.resolve(settings, **options)
    stages = check_stages(settings.require_stages())
    journey = _prepare(customers, events, feedback, stage_emotion, observations, personas, stages)
    figures = _map_figures(journey, settings.min_group_size)
    kpi_rows = _kpi_figures(journey, kpis, figures, settings.min_group_size)
    if not figures.empty:
        figures = figures.assign(target=None, owner=None)
        figures["status"] = figures["suppressed"].map({True: "suppressed", False: None})
    frames = [f for f in (kpi_rows, figures) if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FIGURE_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["persona_id"] = out["persona_id"].astype("Int64")
    out["n_customers"] = out["n_customers"].round().astype("Int64")
    out["successes"] = out["successes"].round().astype("Int64")
    for column in ("key", "kind", "kpi", "stage", "persona", "metric"):
        out[column] = out[column].astype(str)
    for column in ("touchpoint", "target", "status", "owner"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out[list(FIGURE_COLUMNS)]
