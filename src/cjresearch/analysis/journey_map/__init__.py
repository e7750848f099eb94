"""Journey maps from data: persona x stage tables, flows, pain points, opportunities.

:func:`build_map` computes the whole map once and returns a :class:`JourneyMap` with every
table. Each table describes groups of customers: one group per persona (labelled with its
``persona_name``) and the population (labelled ``"all"``). Customers without a persona
count in ``"all"`` only. Every published figure that describes fewer than
``min_group_size`` customers is suppressed (:func:`cjresearch.analysis.privacy.suppress`): the row
keeps its labels, its figures are missing and ``suppressed`` is True. No table holds a
customer id.

Tables (columns in order; ``persona`` is text, ``stage`` an ordered Categorical over the
study's stages)
-----------------------------------------------------------------------------------------

``journey_map``: one row per persona and stage.

=========================== ===================================================================
``n_customers``             customers of the persona with an event at the stage (reach count)
``reach``                   ``n_customers / n_persona`` (denominator: all the persona's customers)
``conversion_next``         share of ``n_customers`` who also reached the next stage (last stage:
                            missing)
``median_days``             median days from the first to the last event at the stage
``emotion_mean``            mean over customers of their stage emotion
                            (:func:`cjresearch.analysis.emotion.stage_emotion`), the customer being the unit
``emotion_ci_low/high``     its 95% t interval (clipped to [-1, 1]); ``n_emotion`` customers
``churn_rate``              share of ``n_customers`` who churned
``top_touchpoint``          the touchpoint met by most of ``n_customers`` (``top_touchpoint_share``)
``top_channel``             likewise for channels (missing when events have no channel)
``suppressed``              ``n_customers < min_group_size``
``n_persona``               the persona's customers (the denominator of ``reach``; missing when
                            the persona itself has fewer than ``min_group_size``)
``reach_of_previous``       share of the previous stage's customers who reached this stage
                            (denominator: ``n_customers`` of the previous stage; first: missing)
``n_emotion``               customers with a stage emotion; when below ``min_group_size`` the
                            emotion figures are missing and ``emotion_suppressed`` is True
``churn_ci_low/high``       Wilson 95% interval of ``churn_rate``
=========================== ===================================================================

``funnel``: ``persona, stage, step, n_customers, share, n_from_previous, conversion,
suppressed``: customers reaching each stage in the study's order (``share`` of the persona),
and of the previous stage's customers how many reached this one (``conversion``).

``touchpoints`` / ``channels``: ``persona, stage, touchpoint`` (or ``channel``),
``n_customers`` (distinct customers meeting it there), ``n_events``, ``share`` (of the stage's
``n_customers``), ``emotion_mean, n_emotion`` (touchpoints only: mean over customers of their
emotion observations tied to the touchpoint), ``suppressed``. Every touchpoint/channel seen
at a stage gets a row for every persona, so a persona's absent touchpoint is suppressed
like any small count rather than revealed by a missing row.

``transitions``: ``persona, level, from_stage, from_touchpoint, to_stage, to_touchpoint,
kind, n_transitions, n_customers, suppressed``. The directly-follows relation of each
customer's consecutive events (ordered by time; ties keep their order in the log), at
``level`` ``"stage"`` (touchpoint columns missing) and ``"touchpoint"`` (a node is a touchpoint
at a stage). ``kind``: ``forward`` (to a later stage), ``backward`` (to an earlier stage),
``loop`` (the same stage, or at touchpoint level the same touchpoint at the same stage) and,
at touchpoint level only, ``within`` (another touchpoint of the same stage). At stage level
the counts equal :func:`cjresearch.analysis.journeys.stage_transitions` for ``"all"``.

``variants``: ``persona, rank, path, n_stages, n_customers, share, churn_rate, churn_ci_low,
churn_ci_high``: the most common paths, a path being the stages in the order a customer
first reached them (``"awareness > purchase > usage"``). Paths of fewer than
``min_group_size`` customers are left out: a rare path describes a few identifiable people.

``pain_points``: ``persona, stage, touchpoint, n_customers, emotion_mean, churn_lift,
lift_ci_low, lift_ci_high, drop_off, score, rank``, then ``n_comparison, churn_rate,
churn_rate_comparison, emotion_gap, emotion_gap_ci_low, emotion_gap_ci_high,
drop_off_comparison``. For each touchpoint at a stage, the customers who met it
(``n_customers``) are compared with the persona's other customers at that stage
(``n_comparison``):

- ``emotion_mean``: their mean stage emotion at the stage; ``emotion_gap`` = that minus the
  comparison group's, with a Welch 95% interval;
- ``churn_lift``: their churn rate over the comparison group's (a risk ratio), with a 95%
  interval on the log scale (Katz; 0.5 added to every cell when one is empty);
- ``drop_off``: share of them who reached no later stage of the study (missing at the last
  stage); ``drop_off_comparison`` likewise for the comparison group.

The **score** is the mean of three terms, each in [0, 1] and counting only what lies beyond
chance::

    emotion term = clip(-emotion_gap_ci_high, 0, 1)     # worse emotion, the interval's near end
    churn term   = clip(log(lift_ci_low), 0, 1)          # higher churn, the interval's near end
    drop term    = clip(drop_off - drop_off_comparison, 0, 1)
    score        = (emotion term + churn term + drop term) / 3

A term that cannot be computed (no emotion, a comparison group below ``min_group_size``,
the last stage) counts 0. Touchpoints met by fewer than ``min_group_size`` customers of the
persona are not ranked (no row). ``rank`` is 1 for the highest score within each persona
(ties broken by ``n_customers``). All of it is association: a touchpoint that scores high
goes together with low emotion and churn, it is not shown to cause them.

``opportunities``: ``persona, stage, touchpoint, source, n_customers, reach, effect,
effect_ci_low, effect_ci_high, score, rank, reason``; ranked by ``score = reach x effect``
within each persona. With an ``emotion_churn`` table (from the statistics step: one row per
persona and stage with ``odds_ratio, ci_low, ci_high`` per ``unit_size`` of emotion), each
stage whose interval lies below 1 is an opportunity (``source="emotion_churn"``): ``effect
= 1 - odds_ratio`` (lower odds of churn per ``unit_size`` better emotion), ``reach`` the share
of the persona reaching the stage, ``touchpoint`` missing. Without it, each pain point whose
lift interval lies above 1 is one (``source="pain_points"``): ``effect = churn_rate -
churn_rate_comparison`` (risk difference, Wald interval) and ``reach`` the share of the
persona meeting the touchpoint, so the score is the excess churn per customer of the persona
that goes with it. ``reason`` says so in plain, associational words.

``verbatims``: ``persona, stage, touchpoint, pain_rank, kind, text, text_emotion, n_texts``:
for each of the first ``max_pain_points`` pain points of each persona, up to three feedback
comments about that touchpoint at that stage by the persona's customers: the most negative
one (``kind="most negative"``, lowest VADER score) and the most typical ones
(``kind="typical"``, closest to the median score), each distinct, redacted with
:func:`cjresearch.analysis.privacy.redact`. Only pools of at least ``min_group_size`` customers' comments
are quoted from (``n_texts``).

Computation is vectorised over integer codes (``numpy.bincount``, one sort check of the log);
memory grows with the events plus customers x stages, never customers x touchpoints.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import (
    NS_PER_DAY,
    check_stages,
    codes,
    customer_codes,
    nanoseconds,
    sorted_codes,
    stage_codes,
    time_order,
    touchpoint_codes,
    unique_ids,
)
from cjresearch.analysis.emotion import score_texts
from cjresearch.analysis.intervals import (
    Z95,
    risk_ratio,
    t_interval,
    welch_interval,
    wilson_intervals,
)
from cjresearch.analysis.privacy import check_publishable, display_frame, redact, suppress
from cjresearch.analysis.settings import Settings
from cjresearch.data.schema import ALL
from cjresearch.errors import CJResearchError, StatisticalWarning

__all__ = [
    "EMOTION_CHURN_COLUMNS",
    "JOURNEY_MAP_COLUMNS",
    "OPPORTUNITY_COLUMNS",
    "PAIN_POINT_COLUMNS",
    "TRANSITION_COLUMNS",
    "JourneyMap",
    "build_map",
    "funnel",
    "transitions",
]

# Largest (from, to) pair space counted with bincount rather than a sort.
_DIRECT_PAIRS = 20_000_000

#: The columns of ``journey_map.csv``: the issue's contract first, then the denominators.
JOURNEY_MAP_COLUMNS: tuple[str, ...] = (
    "persona",
    "stage",
    "n_customers",
    "reach",
    "conversion_next",
    "median_days",
    "emotion_mean",
    "emotion_ci_low",
    "emotion_ci_high",
    "churn_rate",
    "top_touchpoint",
    "top_channel",
    "suppressed",
    "n_persona",
    "reach_of_previous",
    "n_emotion",
    "emotion_suppressed",
    "churn_ci_low",
    "churn_ci_high",
    "top_touchpoint_share",
    "top_channel_share",
)
#: The columns of ``pain_points.csv``.
PAIN_POINT_COLUMNS: tuple[str, ...] = (
    "persona",
    "stage",
    "touchpoint",
    "n_customers",
    "emotion_mean",
    "churn_lift",
    "lift_ci_low",
    "lift_ci_high",
    "drop_off",
    "score",
    "rank",
    "n_comparison",
    "churn_rate",
    "churn_rate_comparison",
    "emotion_gap",
    "emotion_gap_ci_low",
    "emotion_gap_ci_high",
    "drop_off_comparison",
)
#: The columns of ``transitions.csv``.
TRANSITION_COLUMNS: tuple[str, ...] = (
    "persona",
    "level",
    "from_stage",
    "from_touchpoint",
    "to_stage",
    "to_touchpoint",
    "kind",
    "n_transitions",
    "n_customers",
    "suppressed",
)
#: The columns of ``opportunities.csv``.
OPPORTUNITY_COLUMNS: tuple[str, ...] = (
    "persona",
    "stage",
    "touchpoint",
    "source",
    "n_customers",
    "reach",
    "effect",
    "effect_ci_low",
    "effect_ci_high",
    "score",
    "rank",
    "reason",
)
#: The columns an ``emotion_churn`` table must have (the statistics step's output).
EMOTION_CHURN_COLUMNS: tuple[str, ...] = (
    "persona",
    "stage",
    "n_customers",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "unit_size",
)
_FUNNEL_COLUMNS = (
    "persona",
    "stage",
    "step",
    "n_customers",
    "share",
    "n_from_previous",
    "conversion",
    "suppressed",
)
_VARIANT_COLUMNS = (
    "persona",
    "rank",
    "path",
    "n_stages",
    "n_customers",
    "share",
    "churn_rate",
    "churn_ci_low",
    "churn_ci_high",
)
_VERBATIM_COLUMNS = (
    "persona",
    "stage",
    "touchpoint",
    "pain_rank",
    "kind",
    "text",
    "text_emotion",
    "n_texts",
)


# --- preparation: the log as integer codes ----------------------------------------------


@dataclass(frozen=True)
class _Log:
    """The event log and customers as integer codes (not API)."""

    stages: list[str]
    labels: list[str]  # group labels: "all", then persona names
    ids: pd.Index
    group: np.ndarray  # per customer: 0 without persona, 1..P the persona
    churned: np.ndarray  # per customer, bool
    customer: np.ndarray  # per event, sorted by customer and time
    stage: np.ndarray
    touchpoint: np.ndarray
    touchpoint_labels: pd.Index
    channel: np.ndarray | None
    channel_labels: pd.Index | None
    first: np.ndarray  # customers x stages: first event time (ns), int64 max if never
    last: np.ndarray
    reached: np.ndarray  # customers x stages, bool

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    def group_sum(self, values: np.ndarray, customers: np.ndarray | None = None) -> np.ndarray:
        """Sum of per-row ``values`` by group (row 0 "all"); rows are customers or the given
        customer codes."""
        group = self.group if customers is None else self.group[customers]
        per = np.bincount(group, weights=values, minlength=self.n_groups)
        return np.concatenate([[per.sum()], per[1:]])

    def group_cells(
        self, cell: np.ndarray, n_cells: int, customers: np.ndarray, weights: Any = None
    ) -> np.ndarray:
        """(groups, n_cells) sums over rows with a cell index and a customer."""
        key = self.group[customers].astype(np.int64) * n_cells + cell
        per = np.bincount(key, weights=weights, minlength=self.n_groups * n_cells).reshape(
            self.n_groups, n_cells
        )
        per[0] = per.sum(axis=0)
        return per


def _prepare(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    stages: Sequence[str],
    personas: pd.DataFrame | None,
) -> _Log:
    require_columns(events, ("customer_id", "timestamp", "touchpoint", "stage"), "events")
    require_columns(customers, ("customer_id", "churned"), "customers")
    stages = check_stages(stages)
    ids = unique_ids(customers)
    churned_raw = customers["churned"]
    if churned_raw.isna().any() or not pd.api.types.is_bool_dtype(churned_raw):
        msg = (
            f"customers 'churned' must be true/false with no missing values, found dtype "
            f"{churned_raw.dtype}; load the tables with cjresearch.load_tables"
        )
        raise CJResearchError(msg)
    churned = churned_raw.to_numpy(dtype=bool)
    labels, group = _persona_groups(personas, ids)

    customer = customer_codes(events, ids)
    stage = stage_codes(events, stages, "events")
    touchpoint, touchpoint_labels = touchpoint_codes(events, sort=True)
    time = nanoseconds(events["timestamp"], "events")
    channel: np.ndarray | None = None
    channel_labels: pd.Index | None = None
    if "channel" in events.columns:
        channel, channel_labels = sorted_codes(events["channel"])

    order = time_order(customer, time)
    if order is not None:
        customer, stage, touchpoint, time = (
            customer[order],
            stage[order],
            touchpoint[order],
            time[order],
        )
        if channel is not None:
            channel = channel[order]

    n_customers, n_stages = len(ids), len(stages)
    cell = customer * n_stages + stage
    size = n_customers * n_stages
    first = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(size, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, cell, time)
    np.maximum.at(last, cell, time)
    reached = (np.bincount(cell, minlength=size) > 0).reshape(n_customers, n_stages)
    return _Log(
        stages=stages,
        labels=labels,
        ids=ids,
        group=group,
        churned=churned,
        customer=customer,
        stage=stage,
        touchpoint=touchpoint,
        touchpoint_labels=touchpoint_labels,
        channel=channel,
        channel_labels=channel_labels,
        first=first.reshape(n_customers, n_stages),
        last=last.reshape(n_customers, n_stages),
        reached=reached,
    )


def _persona_groups(personas: pd.DataFrame | None, ids: pd.Index) -> tuple[list[str], np.ndarray]:
    if personas is None:
        return [ALL], np.zeros(len(ids), dtype=np.int64)
    require_columns(personas, ("customer_id", "persona_id", "persona_name"), "personas")
    if personas["customer_id"].duplicated().any():
        repeated = personas["customer_id"][personas["customer_id"].duplicated()].head(5).tolist()
        msg = f"personas has more than one row for a customer, e.g. {repeated}"
        raise CJResearchError(msg)
    if personas[["persona_id", "persona_name"]].isna().any().any():
        msg = "personas has missing persona_id or persona_name values"
        raise CJResearchError(msg)
    names = (
        personas[["persona_id", "persona_name"]]
        .drop_duplicates()
        .assign(persona_name=lambda f: f["persona_name"].astype(str))
    )
    if names["persona_id"].duplicated().any() or names["persona_name"].duplicated().any():
        msg = "personas must give each persona_id exactly one persona_name, and names must differ"
        raise CJResearchError(msg)
    if (names["persona_name"] == ALL).any():
        msg = f"a persona may not be named {ALL!r}: that label stands for all customers"
        raise CJResearchError(msg)
    names = names.sort_values("persona_id", kind="stable").reset_index(drop=True)
    code_of = pd.Series(np.arange(1, len(names) + 1), index=pd.Index(names["persona_id"]))
    position = codes(personas["customer_id"], ids)
    if (position < 0).any():
        unknown = personas["customer_id"][position < 0].head(5).tolist()
        msg = f"personas names customers not in customers, e.g. {unknown}"
        raise CJResearchError(msg)
    group = np.zeros(len(ids), dtype=np.int64)
    group[position] = code_of.reindex(personas["persona_id"].to_numpy()).to_numpy(dtype=np.int64)
    return [ALL, *names["persona_name"].tolist()], group


def _stage_emotion_matrix(log: _Log, stage_emotion: pd.DataFrame | None) -> np.ndarray:
    """customers x stages of stage emotion (NaN where none)."""
    matrix = np.full((len(log.ids), log.n_stages), np.nan)
    if stage_emotion is None or stage_emotion.empty:
        return matrix
    require_columns(stage_emotion, ("customer_id", "stage", "emotion_mean"), "stage_emotion")
    customer = codes(stage_emotion["customer_id"], log.ids)
    stage = codes(stage_emotion["stage"], pd.Index(log.stages))
    keep = (customer >= 0) & (stage >= 0)
    values = stage_emotion["emotion_mean"].to_numpy(dtype=np.float64, na_value=np.nan)
    matrix[customer[keep], stage[keep]] = values[keep]
    return matrix


def _frame_of_groups(log: _Log, n_inner: int) -> dict[str, Any]:
    """persona and stage columns for a (groups x stages) grid, flattened in C order."""
    dtype = pd.CategoricalDtype(log.stages, ordered=True)
    return {
        "persona": pd.array(np.repeat(log.labels, n_inner), dtype="str"),
        "stage": pd.Categorical.from_codes(
            np.tile(np.arange(log.n_stages), log.n_groups), dtype=dtype
        ),
    }


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan
        )


# --- the journey map table ---------------------------------------------------------------


def _distinct_cells(
    log: _Log, codes: np.ndarray, n_labels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (customer, stage, label) triples as arrays, and (groups, stages, labels)
    customer counts and event counts."""
    n_inner = log.n_stages * n_labels
    inner = log.stage * n_labels + codes
    known = codes >= 0
    key = log.customer[known] * n_inner + inner[known]
    events = log.group_cells(inner[known], n_inner, log.customer[known]).reshape(
        log.n_groups, log.n_stages, n_labels
    )
    distinct = pd.unique(key)
    customers = distinct // n_inner
    cells = distinct % n_inner
    counts = log.group_cells(cells, n_inner, customers).reshape(
        log.n_groups, log.n_stages, n_labels
    )
    return customers, cells, np.stack([counts, events])


def _map_table(
    log: _Log,
    emotion: np.ndarray,
    touchpoint_counts: np.ndarray,
    channel_counts: np.ndarray | None,
    min_group_size: int,
) -> pd.DataFrame:
    n_groups, n_stages = log.n_groups, log.n_stages
    reached = log.reached.astype(np.float64)
    n_persona = log.group_sum(np.ones(len(log.ids)))
    n_reached = np.stack([log.group_sum(reached[:, s]) for s in range(n_stages)], axis=1)
    both = np.full((n_groups, n_stages), np.nan)
    for s in range(n_stages - 1):
        both[:, s] = log.group_sum(reached[:, s] * reached[:, s + 1])
    conversion = _ratio(both, n_reached)
    previous = np.full((n_groups, n_stages), np.nan)
    previous[:, 1:] = conversion[:, :-1]
    churned = np.stack(
        [log.group_sum(reached[:, s] * log.churned) for s in range(n_stages)], axis=1
    )
    churn_rate = _ratio(churned, n_reached)
    churn_low, churn_high = wilson_intervals(churned, n_reached)

    has = np.isfinite(emotion)
    values = np.where(has, emotion, 0.0)
    e_n = np.stack([log.group_sum(has[:, s].astype(float)) for s in range(n_stages)], axis=1)
    e_sum = np.stack([log.group_sum(values[:, s]) for s in range(n_stages)], axis=1)
    e_sq = np.stack([log.group_sum(values[:, s] ** 2) for s in range(n_stages)], axis=1)
    e_mean, e_low, e_high, _ = t_interval(e_sum, e_sq, e_n, bounds=(-1.0, 1.0))

    median_days = _median_days(log)

    table: dict[str, Any] = _frame_of_groups(log, n_stages)
    top_tp, top_tp_share = _top(touchpoint_counts, log.touchpoint_labels, n_reached)
    if channel_counts is not None and log.channel_labels is not None:
        top_ch, top_ch_share = _top(channel_counts, log.channel_labels, n_reached)
    else:
        top_ch = pd.array([None] * (n_groups * n_stages), dtype="str")
        top_ch_share = np.full(n_groups * n_stages, np.nan)
    table.update(
        {
            "n_customers": n_reached.ravel().astype(np.int64),
            "reach": _ratio(n_reached, n_persona[:, None]).ravel(),
            "conversion_next": conversion.ravel(),
            "median_days": median_days.ravel(),
            "emotion_mean": e_mean.ravel(),
            "emotion_ci_low": e_low.ravel(),
            "emotion_ci_high": e_high.ravel(),
            "churn_rate": churn_rate.ravel(),
            "top_touchpoint": top_tp,
            "top_channel": top_ch,
            "n_persona": np.repeat(n_persona, n_stages).astype(np.int64),
            "reach_of_previous": previous.ravel(),
            "n_emotion": e_n.ravel().astype(np.int64),
            "churn_ci_low": churn_low.ravel(),
            "churn_ci_high": churn_high.ravel(),
            "top_touchpoint_share": top_tp_share,
            "top_channel_share": top_ch_share,
        }
    )
    frame = pd.DataFrame(table)
    emotion_cols = ["n_emotion", "emotion_mean", "emotion_ci_low", "emotion_ci_high"]
    frame = suppress(
        frame,
        min_group_size=min_group_size,
        count_col="n_emotion",
        columns=emotion_cols,
        flag_col="emotion_suppressed",
    )
    figures = [
        c
        for c in JOURNEY_MAP_COLUMNS
        if c not in ("persona", "stage", "suppressed", "emotion_suppressed", "n_persona")
    ]
    frame = suppress(
        frame,
        min_group_size=min_group_size,
        count_col="n_customers",
        columns=figures,
        complementary_by=_complementary_keys(log, ["stage"]),
    )
    # A persona smaller than the threshold: its size is a small count as well.
    frame["n_persona"] = frame["n_persona"].astype("float64")
    frame.loc[frame["n_persona"] < min_group_size, "n_persona"] = np.nan
    frame["emotion_suppressed"] = frame["emotion_suppressed"] | frame["suppressed"]
    return frame[list(JOURNEY_MAP_COLUMNS)]


def _complementary_keys(log: _Log, keys: list[str]) -> list[str] | None:
    """Secondary suppression across personas of one cell, so that a hidden persona count
    cannot be recovered as "all" minus the others (pointless with a single persona)."""
    return keys if log.n_groups > 2 else None


def _median_days(log: _Log) -> np.ndarray:
    n_stages = log.n_stages
    customer, stage = np.nonzero(log.reached)
    days = (log.last[customer, stage] - log.first[customer, stage]) / NS_PER_DAY
    frame = pd.DataFrame({"g": log.group[customer], "s": stage, "days": days})
    out = np.full((log.n_groups, n_stages), np.nan)
    if frame.empty:
        return out
    overall = frame.groupby("s")["days"].median()
    out[0, overall.index.to_numpy()] = overall.to_numpy()
    personas = frame[frame["g"] > 0].groupby(["g", "s"])["days"].median()
    if len(personas):
        g = personas.index.get_level_values(0).to_numpy()
        s = personas.index.get_level_values(1).to_numpy()
        out[g, s] = personas.to_numpy()
    return out


def _top(
    counts: np.ndarray, labels: pd.Index, n_reached: np.ndarray
) -> tuple[pd.api.extensions.ExtensionArray, np.ndarray]:
    customers = counts[0]  # (groups, stages, labels)
    best = customers.argmax(axis=2)
    best_count = np.take_along_axis(customers, best[:, :, None], axis=2)[:, :, 0]
    names: np.ndarray = np.full(best.shape, None, dtype=object)
    if len(labels):
        names = np.asarray(labels.astype(str), dtype=object)[best]
    shown = np.where(best_count > 0, names, np.full(best.shape, None, dtype=object)).ravel()
    return pd.array(shown, dtype="str"), _ratio(best_count, n_reached).ravel()


def _label_table(
    log: _Log,
    counts: np.ndarray,
    labels: pd.Index,
    column: str,
    min_group_size: int,
    emotion: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    customers, events = counts[0], counts[1]
    present = np.argwhere(customers[0] > 0)  # (stage, label) pairs seen in "all"
    n_reached = np.stack(
        [log.group_sum(log.reached[:, s].astype(float)) for s in range(log.n_stages)], axis=1
    )
    g = np.repeat(np.arange(log.n_groups), len(present))
    s = np.tile(present[:, 0], log.n_groups)
    t = np.tile(present[:, 1], log.n_groups)
    dtype = pd.CategoricalDtype(log.stages, ordered=True)
    frame = pd.DataFrame(
        {
            "persona": pd.array(np.asarray(log.labels, dtype=object)[g], dtype="str"),
            "stage": pd.Categorical.from_codes(s, dtype=dtype),
            column: pd.array(np.asarray(labels.astype(str), dtype=object)[t], dtype="str"),
            "n_customers": customers[g, s, t].astype(np.int64),
            "n_events": events[g, s, t].astype(np.int64),
            "share": _ratio(customers[g, s, t], n_reached[g, s]),
        }
    )
    figures = ["n_customers", "n_events", "share"]
    if emotion is not None:
        total, n = emotion
        frame["emotion_mean"] = _ratio(total[g, s, t], n[g, s, t])
        frame["n_emotion"] = n[g, s, t].astype(np.int64)
        frame = suppress(
            frame,
            min_group_size=min_group_size,
            count_col="n_emotion",
            columns=["n_emotion", "emotion_mean"],
            flag_col="_emotion",
        ).drop(columns="_emotion")
        figures += ["emotion_mean", "n_emotion"]
    frame = suppress(
        frame,
        min_group_size=min_group_size,
        columns=figures,
        complementary_by=_complementary_keys(log, ["stage", column]),
    )
    frame["_group"] = g
    frame["_n"] = customers[g, s, t]
    return (
        frame.sort_values(
            ["_group", "stage", "_n", column], ascending=[True, True, False, True], kind="stable"
        )
        .drop(columns=["_group", "_n"])
        .reset_index(drop=True)
    )


def _touchpoint_emotion(
    log: _Log, observations: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """(groups, stages, touchpoints) sum of customer-mean emotion and customer counts."""
    if observations is None:
        return None
    require_columns(observations, ("customer_id", "stage", "touchpoint", "emotion"), "observations")
    n_labels = max(len(log.touchpoint_labels), 1)
    n_inner = log.n_stages * n_labels
    customer = codes(observations["customer_id"], log.ids)
    stage = codes(observations["stage"], pd.Index(log.stages))
    touchpoint = codes(observations["touchpoint"], log.touchpoint_labels)
    emotion = observations["emotion"].to_numpy(dtype=np.float64, na_value=np.nan)
    keep = (customer >= 0) & (stage >= 0) & (touchpoint >= 0) & np.isfinite(emotion)
    key = customer[keep] * n_inner + stage[keep] * n_labels + touchpoint[keep]
    per_customer = pd.Series(emotion[keep]).groupby(key).mean()
    keys = per_customer.index.to_numpy()
    total = log.group_cells(
        keys % n_inner, n_inner, keys // n_inner, weights=per_customer.to_numpy()
    )
    n = log.group_cells(keys % n_inner, n_inner, keys // n_inner)
    shape = (log.n_groups, log.n_stages, n_labels)
    return total.reshape(shape), n.reshape(shape)


# --- flows -------------------------------------------------------------------------------


def _directly_follows(
    log: _Log, node: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Occurring (from, to) node pairs and their (groups, pairs) transition and customer
    counts."""
    # Only nodes that occur, so that the pair space stays small enough to count directly.
    present = np.flatnonzero(np.bincount(node, minlength=n_nodes))
    n_present = max(len(present), 1)
    compact = np.zeros(max(n_nodes, 1), dtype=np.int64)
    compact[present] = np.arange(len(present))
    node = compact[node]
    same = log.customer[1:] == log.customer[:-1]
    pair = (node[:-1] * n_present + node[1:])[same]
    customer = log.customer[1:][same]
    if n_present * n_present <= _DIRECT_PAIRS:
        counts = np.bincount(pair, minlength=n_present * n_present)
        occurring = np.flatnonzero(counts)
        lookup = np.zeros(n_present * n_present, dtype=np.int64)
        lookup[occurring] = np.arange(len(occurring))
        pair_code = lookup[pair]
    else:
        occurring, pair_code = np.unique(pair, return_inverse=True)
    n_pairs = max(len(occurring), 1)
    n_transitions = log.group_cells(pair_code, n_pairs, customer)
    # Distinct (customer, pair): a plain sort beats hashing millions of distinct keys.
    key = np.sort(customer * n_pairs + pair_code)
    distinct = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    n_customers = log.group_cells(distinct % n_pairs, n_pairs, distinct // n_pairs)
    return (
        present[occurring // n_present],
        present[occurring % n_present],
        n_transitions[:, : len(occurring)],
        n_customers[:, : len(occurring)],
    )


def _transitions(log: _Log, min_group_size: int, levels: Sequence[str]) -> pd.DataFrame:
    parts = []
    dtype = pd.CategoricalDtype(log.stages, ordered=True)
    for level in levels:
        if level == "stage":
            origin, target, n_tr, n_cu = _directly_follows(log, log.stage, log.n_stages)
            from_stage, to_stage = origin, target
            from_tp = to_tp = None
            kind = np.select(
                [to_stage > from_stage, to_stage < from_stage], ["forward", "backward"], "loop"
            )
        elif level == "touchpoint":
            n_labels = max(len(log.touchpoint_labels), 1)
            node = log.stage * n_labels + log.touchpoint
            origin, target, n_tr, n_cu = _directly_follows(log, node, log.n_stages * n_labels)
            from_stage, to_stage = origin // n_labels, target // n_labels
            names = np.asarray(log.touchpoint_labels.astype(str), dtype=object)
            from_tp, to_tp = names[origin % n_labels], names[target % n_labels]
            kind = np.select(
                [origin == target, to_stage > from_stage, to_stage < from_stage],
                ["loop", "forward", "backward"],
                "within",
            )
        else:
            msg = f"unknown transition level {level!r}; expected 'stage' or 'touchpoint'"
            raise CJResearchError(msg)
        n_pairs = len(origin)
        g = np.repeat(np.arange(log.n_groups), n_pairs)
        p = np.tile(np.arange(n_pairs), log.n_groups)
        none = np.full(n_pairs * log.n_groups, None, dtype=object)
        parts.append(
            pd.DataFrame(
                {
                    "persona": pd.array(np.asarray(log.labels, dtype=object)[g], dtype="str"),
                    "level": level,
                    "from_stage": pd.Categorical.from_codes(from_stage[p], dtype=dtype),
                    "from_touchpoint": pd.array(
                        none if from_tp is None else from_tp[p], dtype="str"
                    ),
                    "to_stage": pd.Categorical.from_codes(to_stage[p], dtype=dtype),
                    "to_touchpoint": pd.array(none if to_tp is None else to_tp[p], dtype="str"),
                    "kind": pd.array(kind[p], dtype="str"),
                    "n_transitions": n_tr[g, p].astype(np.int64),
                    "n_customers": n_cu[g, p].astype(np.int64),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    frame["level"] = pd.array(frame["level"], dtype="str")
    frame = suppress(
        frame,
        min_group_size=min_group_size,
        columns=["n_transitions", "n_customers"],
        complementary_by=_complementary_keys(
            log, ["level", "from_stage", "from_touchpoint", "to_stage", "to_touchpoint"]
        ),
    )
    return frame[list(TRANSITION_COLUMNS)]


def _funnel(log: _Log, min_group_size: int) -> pd.DataFrame:
    reached = log.reached.astype(np.float64)
    n_persona = log.group_sum(np.ones(len(log.ids)))
    n = np.stack([log.group_sum(reached[:, s]) for s in range(log.n_stages)], axis=1)
    from_previous = np.full_like(n, np.nan)
    for s in range(1, log.n_stages):
        from_previous[:, s] = log.group_sum(reached[:, s - 1] * reached[:, s])
    prior = np.full_like(n, np.nan)
    prior[:, 1:] = n[:, :-1]
    frame = pd.DataFrame(
        {
            **_frame_of_groups(log, log.n_stages),
            "step": np.tile(np.arange(1, log.n_stages + 1), log.n_groups).astype(np.int64),
            "n_customers": n.ravel().astype(np.int64),
            "share": _ratio(n, n_persona[:, None]).ravel(),
            "n_from_previous": from_previous.ravel(),
            "conversion": _ratio(from_previous, prior).ravel(),
        }
    )
    # conversion describes the previous stage's customers: suppress it by their count too
    frame["_prior"] = prior.ravel()
    frame = suppress(
        frame,
        min_group_size=min_group_size,
        count_col="_prior",
        columns=["n_from_previous", "conversion"],
        flag_col="_prior_small",
    )
    frame.loc[frame["step"] == 1, "_prior_small"] = False
    frame = suppress(
        frame,
        min_group_size=min_group_size,
        columns=["n_customers", "share", "n_from_previous", "conversion"],
        complementary_by=_complementary_keys(log, ["stage"]),
    )
    small_flow = frame["n_from_previous"] < min_group_size
    frame.loc[small_flow, ["n_from_previous", "conversion"]] = np.nan
    return frame[list(_FUNNEL_COLUMNS)]


def _variants(log: _Log, min_group_size: int, top: int) -> pd.DataFrame:
    n_stages = log.n_stages
    has_events = log.reached.any(axis=1)
    first = np.where(log.reached, log.first, np.iinfo(np.int64).max)
    order = np.argsort(first, axis=1, kind="stable")
    n_reached = log.reached.sum(axis=1)
    # The path as bytes: stage codes in first-reach order, padded with 255.
    codes = np.where(np.arange(n_stages)[None, :] < n_reached[:, None], order, 255).astype(np.uint8)
    rows = np.ascontiguousarray(codes[has_events])
    as_bytes = rows.view(np.dtype((np.void, n_stages))).ravel()
    unique, inverse = np.unique(as_bytes, return_inverse=True)
    customers = np.flatnonzero(has_events)
    parts = []
    n_variants = len(unique)
    counts = log.group_cells(inverse.ravel(), n_variants, customers)
    churn = log.group_cells(
        inverse.ravel(), n_variants, customers, weights=log.churned[customers].astype(float)
    )
    with_events = log.group_sum(has_events.astype(float))
    paths = [
        " > ".join(log.stages[c] for c in np.frombuffer(u.tobytes(), dtype=np.uint8) if c != 255)
        for u in unique
    ]
    lengths = np.array([p.count(" > ") + 1 for p in paths]) if paths else np.array([])
    for g, label in enumerate(log.labels):
        keep = np.flatnonzero(counts[g] >= min_group_size)
        keep = keep[np.lexsort((keep, -counts[g, keep]))][:top]
        if not len(keep):
            continue
        low, high = wilson_intervals(churn[g, keep], counts[g, keep])
        parts.append(
            pd.DataFrame(
                {
                    "persona": label,
                    "rank": np.arange(1, len(keep) + 1, dtype=np.int64),
                    "path": [paths[i] for i in keep],
                    "n_stages": lengths[keep].astype(np.int64),
                    "n_customers": counts[g, keep].astype(np.int64),
                    "share": counts[g, keep] / with_events[g],
                    "churn_rate": churn[g, keep] / counts[g, keep],
                    "churn_ci_low": low,
                    "churn_ci_high": high,
                }
            )
        )
    if not parts:
        return _empty(_VARIANT_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    frame["persona"] = pd.array(frame["persona"], dtype="str")
    frame["path"] = pd.array(frame["path"], dtype="str")
    return frame[list(_VARIANT_COLUMNS)]


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})


# --- pain points -------------------------------------------------------------------------


def _pain_points(
    log: _Log, emotion: np.ndarray, tp_cells: tuple[np.ndarray, np.ndarray], min_group_size: int
) -> pd.DataFrame:
    customers, cells = tp_cells
    n_labels = max(len(log.touchpoint_labels), 1)
    n_inner = log.n_stages * n_labels
    stage_of_cell = cells // n_labels
    reached = log.reached.astype(np.float64)
    furthest = np.where(
        log.reached.any(axis=1),
        log.n_stages - 1 - np.argmax(log.reached[:, ::-1], axis=1),
        -1,
    )

    def per_cell(weights: np.ndarray) -> np.ndarray:
        return log.group_cells(cells, n_inner, customers, weights=weights)

    def per_stage(matrix: np.ndarray) -> np.ndarray:
        return np.stack([log.group_sum(matrix[:, s]) for s in range(log.n_stages)], axis=1)

    churned = log.churned.astype(np.float64)
    n_with = per_cell(np.ones(len(customers)))
    churn_with = per_cell(churned[customers])
    emo = emotion[customers, stage_of_cell]
    has = np.isfinite(emo)
    e_val = np.where(has, emo, 0.0)
    e_n_with = per_cell(has.astype(float))
    e_sum_with = per_cell(e_val)
    e_sq_with = per_cell(e_val**2)
    drop_with = per_cell((furthest[customers] == stage_of_cell).astype(float))

    has_stage = np.isfinite(emotion) & log.reached
    s_val = np.where(has_stage, emotion, 0.0)
    n_stage = per_stage(reached)
    churn_stage = per_stage(reached * churned[:, None])
    e_n_stage = per_stage(has_stage.astype(float))
    e_sum_stage = per_stage(s_val)
    e_sq_stage = per_stage(s_val**2)
    drop_stage = per_stage(
        reached * (furthest[:, None] == np.arange(log.n_stages)[None, :]).astype(float)
    )

    g, inner = np.nonzero(n_with >= min_group_size)
    s = inner // n_labels
    t = inner % n_labels
    n1 = n_with[g, inner]
    a = churn_with[g, inner]
    n0 = n_stage[g, s] - n1
    c = churn_stage[g, s] - a
    comparable = n0 >= min_group_size
    lift, lift_low, lift_high = risk_ratio(a, n1, c, n0)
    lift, lift_low, lift_high = (
        np.where(comparable, x, np.nan) for x in (lift, lift_low, lift_high)
    )
    p1 = a / n1
    p0 = np.where(comparable, _ratio(c, n0), np.nan)

    en1 = e_n_with[g, inner]
    en0 = e_n_stage[g, s] - en1
    m1, _, _, v1 = t_interval(e_sum_with[g, inner], e_sq_with[g, inner], en1)
    m0, _, _, v0 = t_interval(
        e_sum_stage[g, s] - e_sum_with[g, inner], e_sq_stage[g, s] - e_sq_with[g, inner], en0
    )
    gap, gap_low, gap_high = welch_interval(m1, v1, en1, m0, v0, en0)
    usable = (en1 >= min_group_size) & (en0 >= min_group_size)
    gap, gap_low, gap_high = (np.where(usable, x, np.nan) for x in (gap, gap_low, gap_high))
    m1 = np.where(en1 >= min_group_size, m1, np.nan)

    last = s == log.n_stages - 1
    drop1 = np.where(last, np.nan, drop_with[g, inner] / n1)
    drop0 = np.where(last | ~comparable, np.nan, _ratio(drop_stage[g, s] - drop_with[g, inner], n0))

    emotion_term = np.clip(np.nan_to_num(-gap_high, nan=0.0), 0, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        churn_term = np.clip(np.nan_to_num(np.log(lift_low), nan=0.0, neginf=0.0), 0, 1)
    drop_term = np.clip(np.nan_to_num(drop1 - drop0, nan=0.0), 0, 1)
    score = (emotion_term + churn_term + drop_term) / 3

    dtype = pd.CategoricalDtype(log.stages, ordered=True)
    names = np.asarray(log.touchpoint_labels.astype(str), dtype=object)
    frame = pd.DataFrame(
        {
            "persona": pd.array(np.asarray(log.labels, dtype=object)[g], dtype="str"),
            "_group": g,
            "stage": pd.Categorical.from_codes(s, dtype=dtype),
            "touchpoint": pd.array(names[t] if len(names) else [], dtype="str"),
            "n_customers": n1.astype(np.int64),
            "emotion_mean": m1,
            "churn_lift": lift,
            "lift_ci_low": lift_low,
            "lift_ci_high": lift_high,
            "drop_off": drop1,
            "score": score,
            "rank": 0,
            "n_comparison": np.where(comparable, n0, np.nan),
            "churn_rate": p1,
            "churn_rate_comparison": p0,
            "emotion_gap": gap,
            "emotion_gap_ci_low": gap_low,
            "emotion_gap_ci_high": gap_high,
            "drop_off_comparison": drop0,
        }
    )
    frame = frame.sort_values(
        ["_group", "score", "n_customers", "stage", "touchpoint"],
        ascending=[True, False, False, True, True],
        kind="stable",
    )
    frame["rank"] = frame.groupby("_group").cumcount().astype(np.int64) + 1
    return frame.drop(columns="_group").reset_index(drop=True)[list(PAIN_POINT_COLUMNS)]


# --- opportunities -----------------------------------------------------------------------


def _opportunities(
    labels: Sequence[str],
    journey_map: pd.DataFrame,
    pain_points: pd.DataFrame,
    n_persona: Mapping[str, float],
    emotion_churn: pd.DataFrame | None,
    min_group_size: int,
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    if emotion_churn is not None:
        require_columns(emotion_churn, EMOTION_CHURN_COLUMNS, "emotion_churn")
        reach = journey_map.set_index(["persona", journey_map["stage"].astype(str)])["reach"]
        for rec in emotion_churn.to_dict("records"):
            persona, stage = str(rec["persona"]), str(rec["stage"])
            odds, low, high = (float(rec[k]) for k in ("odds_ratio", "ci_low", "ci_high"))
            n = float(rec["n_customers"])
            r = reach.get((persona, stage), np.nan)
            if not (n >= min_group_size and np.isfinite(r) and high < 1 and odds < 1):
                continue
            unit = float(rec["unit_size"])
            rows.append(
                {
                    "persona": persona,
                    "stage": stage,
                    "touchpoint": None,
                    "source": "emotion_churn",
                    "n_customers": n,
                    "reach": r,
                    "effect": 1 - odds,
                    "effect_ci_low": 1 - high,
                    "effect_ci_high": 1 - low,
                    "score": r * (1 - odds),
                    "reason": (
                        f"{_share(r)} of {_who(persona)} reach {stage}. There, customers who "
                        f"feel {unit:g} better on the emotion scale have {_share(1 - odds)} "
                        f"lower odds of churning (odds ratio {odds:.2f}, 95% CI {low:.2f} to "
                        f"{high:.2f}, n = {int(n):,}). This is an association, not a proven "
                        f"cause: improving how {stage} feels is worth testing."
                    ),
                }
            )
    else:
        useful = pain_points[pain_points["lift_ci_low"] > 1]
        for rec in useful.to_dict("records"):
            persona, stage, touchpoint = rec["persona"], str(rec["stage"]), rec["touchpoint"]
            n1, n0 = float(rec["n_customers"]), float(rec["n_comparison"])
            p1, p0 = float(rec["churn_rate"]), float(rec["churn_rate_comparison"])
            total = n_persona.get(persona, np.nan)
            r = n1 / total if total and np.isfinite(total) else np.nan
            diff = p1 - p0
            se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
            rows.append(
                {
                    "persona": persona,
                    "stage": stage,
                    "touchpoint": touchpoint,
                    "source": "pain_points",
                    "n_customers": n1,
                    "reach": r,
                    "effect": diff,
                    "effect_ci_low": diff - Z95 * se,
                    "effect_ci_high": diff + Z95 * se,
                    "score": r * diff,
                    "reason": (
                        f"{int(n1):,} customers ({_share(r)} of {_who(persona)}) met "
                        f"{touchpoint} at {stage}; {_share(p1)} of them churned against "
                        f"{_share(p0)} of the others at {stage} (churn {rec['churn_lift']:.2f} "
                        f"times as high, 95% CI {rec['lift_ci_low']:.2f} to "
                        f"{rec['lift_ci_high']:.2f}). That is about {100 * r * diff:.1f} more "
                        f"churners per 100 customers going together with {touchpoint}; an "
                        f"association, not a proven cause, so fixing it is worth testing."
                    ),
                }
            )
    if not rows:
        return _empty(OPPORTUNITY_COLUMNS).astype(
            {c: "str" for c in ("persona", "stage", "touchpoint", "source", "reason")}
        )
    frame = pd.DataFrame(rows)
    order = {label: i for i, label in enumerate(labels)}
    frame["_group"] = frame["persona"].map(order)
    frame = frame.sort_values(["_group", "score"], ascending=[True, False], kind="stable")
    frame["rank"] = frame.groupby("persona").cumcount().astype(np.int64) + 1
    for column in ("persona", "stage", "touchpoint", "source", "reason"):
        frame[column] = pd.array(frame[column].to_numpy(dtype=object), dtype="str")
    frame["n_customers"] = frame["n_customers"].astype(np.int64)
    return frame.reset_index(drop=True)[list(OPPORTUNITY_COLUMNS)]


def _share(value: float) -> str:
    return f"{100 * value:.0f}%"


def _who(persona: str) -> str:
    return "all customers" if persona == ALL else f"persona {persona!r}"


# --- verbatims ---------------------------------------------------------------------------


def _verbatims(
    log: _Log,
    pain_points: pd.DataFrame,
    feedback: pd.DataFrame | None,
    settings: Settings,
    max_pain_points: int,
) -> pd.DataFrame:
    min_group_size = settings.min_group_size
    if feedback is None or "text" not in feedback.columns or pain_points.empty:
        return _empty(_VERBATIM_COLUMNS)
    require_columns(feedback, ("customer_id", "stage", "text"), "feedback")
    text = feedback["text"]
    present = text.notna().to_numpy() & (text.astype(str).str.strip() != "").to_numpy()
    if not present.any():
        return _empty(_VERBATIM_COLUMNS)
    rows = feedback[present]
    customer = codes(rows["customer_id"], log.ids)
    stage = codes(rows["stage"], pd.Index(log.stages))
    n_labels = max(len(log.touchpoint_labels), 1)
    if "touchpoint" in rows.columns:
        touchpoint = codes(rows["touchpoint"], log.touchpoint_labels)
    else:
        touchpoint = np.full(len(rows), -1, dtype=np.int64)
    raw = rows["text"].astype(str).reset_index(drop=True)
    pool = pd.DataFrame(
        {
            "customer": customer,
            "group": np.where(customer >= 0, log.group[np.maximum(customer, 0)], -1),
            "stage": stage,
            "touchpoint": touchpoint,
            "raw": raw,
        }
    )
    pool = pool[(pool["customer"] >= 0) & (pool["stage"] >= 0)]
    if pool.empty:
        return _empty(_VERBATIM_COLUMNS)
    pool["score"] = score_texts(pool["raw"], cx_lexicon=settings.cx_lexicon).to_numpy()
    pool["text"] = redact(pool["raw"]).to_numpy()

    # Without a touchpoint on the feedback row: the stage's comments of customers who met it.
    met: set[int] | None = None
    if "touchpoint" not in rows.columns:
        met_keys = log.customer * (log.n_stages * n_labels) + log.stage * n_labels + log.touchpoint
        met = set(pd.unique(met_keys).tolist())
    stage_index = {s: i for i, s in enumerate(log.stages)}
    label_index = {str(t): i for i, t in enumerate(log.touchpoint_labels)}
    group_index = {label: i for i, label in enumerate(log.labels)}
    parts = []
    chosen = pain_points[pain_points["rank"] <= max_pain_points]
    for rec in chosen.to_dict("records"):
        s = stage_index[str(rec["stage"])]
        t = label_index[str(rec["touchpoint"])]
        g = group_index[rec["persona"]]
        candidates = pool[pool["stage"] == s]
        if g > 0:
            candidates = candidates[candidates["group"] == g]
        if met is None:
            candidates = candidates[candidates["touchpoint"] == t]
        else:
            keys = candidates["customer"] * (log.n_stages * n_labels) + s * n_labels + t
            candidates = candidates[keys.isin(met)]
        n_texts = int(candidates["customer"].nunique())
        if n_texts < min_group_size:
            continue
        distinct = candidates.drop_duplicates("text")
        picks = _representative(distinct)
        parts.append(
            pd.DataFrame(
                {
                    "persona": rec["persona"],
                    "stage": rec["stage"],
                    "touchpoint": rec["touchpoint"],
                    "pain_rank": int(rec["rank"]),
                    "kind": [k for k, _ in picks],
                    "text": [distinct.loc[i, "text"] for _, i in picks],
                    "text_emotion": [float(distinct.loc[i, "score"]) for _, i in picks],
                    "n_texts": n_texts,
                }
            )
        )
    if not parts:
        return _empty(_VERBATIM_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    for column in ("persona", "touchpoint", "kind", "text"):
        frame[column] = pd.array(frame[column].to_numpy(dtype=object), dtype="str")
    frame["stage"] = pd.Categorical(
        frame["stage"].astype(str), dtype=pd.CategoricalDtype(log.stages, ordered=True)
    )
    return frame[list(_VERBATIM_COLUMNS)]


def _representative(distinct: pd.DataFrame) -> list[tuple[str, Any]]:
    """The most negative comment, then up to two closest to the median score."""
    scores = distinct["score"]
    worst = scores.idxmin()
    median = float(scores.median())
    rest = distinct.drop(index=worst)
    typical = (rest["score"] - median).abs().sort_values(kind="stable").index[:2]
    return [("most negative", worst), *[("typical", i) for i in typical]]


# --- the result --------------------------------------------------------------------------


@dataclass(frozen=True)
class JourneyMap:
    """A journey map computed from data, per persona and for all customers.

    Attributes
    ----------
    stages
        The study's stages, in order.
    personas
        The group labels: ``"all"`` then the persona names.
    min_group_size
        The suppression threshold the tables were built with.
    journey_map, funnel, touchpoints, channels, transitions, variants, pain_points,
    opportunities, verbatims
        The tables (see :mod:`cjresearch.analysis.journey_map` for their columns). None holds a
        customer id; every figure describing fewer than ``min_group_size`` customers is
        suppressed.
    notes
        Caveats to show beside the map (e.g. groups too small to show anything); each was
        also emitted as a :class:`~cjresearch.errors.StatisticalWarning`.
    """

    stages: tuple[str, ...]
    personas: tuple[str, ...]
    min_group_size: int
    journey_map: pd.DataFrame
    funnel: pd.DataFrame
    touchpoints: pd.DataFrame
    channels: pd.DataFrame
    transitions: pd.DataFrame
    variants: pd.DataFrame
    pain_points: pd.DataFrame
    opportunities: pd.DataFrame
    verbatims: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def summary(self) -> pd.DataFrame:
        """The persona x stage map table (``journey_map``)."""
        return self.journey_map

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by its published name (``tables/<name>.csv``)."""
        return {
            "journey_map": self.journey_map,
            "funnel": self.funnel,
            "touchpoints": self.touchpoints,
            "channels": self.channels,
            "transitions": self.transitions,
            "variants": self.variants,
            "pain_points": self.pain_points,
            "opportunities": self.opportunities,
            "verbatims": self.verbatims,
        }

    def _repr_html_(self) -> str:
        def table(frame: pd.DataFrame) -> str:
            shown = display_frame(frame) if "suppressed" in frame.columns else frame
            return shown.to_html(index=False, escape=True, na_rep="", float_format="{:.3g}".format)

        top = self.pain_points[self.pain_points["rank"] <= 3]
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<div><h4>Journey map: {len(self.personas) - 1} persona(s) x "
            f"{len(self.stages)} stages (groups under {self.min_group_size} customers "
            "suppressed)</h4>"
            f"{table(self.journey_map)}<h4>Top pain points per persona</h4>{table(top)}"
            f"{'<ul>' + notes + '</ul>' if notes else ''}</div>"
        )


def build_map(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    observations: pd.DataFrame | None = None,
    stage_emotion: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    *,
    personas: pd.DataFrame | None = None,
    emotion_churn: pd.DataFrame | None = None,
    top_variants: int = 10,
    max_pain_points: int = 5,
    levels: Sequence[str] = ("stage", "touchpoint"),
    settings: Settings | None = None,
    **options: Any,
) -> JourneyMap:
    """Compute the journey map: every table, per persona and for all customers.

    Parameters
    ----------
    events
        Canonical events: ``customer_id, timestamp, touchpoint, stage`` and optionally
        ``channel``. Not modified.
    customers
        Canonical customers: ``customer_id`` (unique) and ``churned`` (bool).
    observations
        :func:`cjresearch.analysis.emotion.emotion_observations` output (for touchpoint emotion), or
        None.
    stage_emotion
        :func:`cjresearch.analysis.emotion.stage_emotion` output (the emotion curve and pain points'
        emotion), or None.
    feedback
        Canonical feedback (for verbatims: ``customer_id, stage, text`` and ideally
        ``touchpoint``), or None.
    personas
        ``customer_id, persona_id, persona_name``, one row per customer; None maps only
        ``"all"``.
    emotion_churn
        The statistics step's emotion-to-churn table (:data:`EMOTION_CHURN_COLUMNS` at
        least), used for opportunities when given.
    top_variants
        Paths kept per persona.
    max_pain_points
        Pain points per persona that get verbatims.
    levels
        Transition levels: ``"stage"`` and/or ``"touchpoint"``.
    settings, **options
        A :class:`~cjresearch.analysis.settings.Settings` and/or its fields as keywords:
        ``stages`` (the study's stages, in journey order), ``min_group_size`` (the smallest
        number of customers any published figure may describe) and ``cx_lexicon`` (how the
        quoted comments are scored).

    Returns
    -------
    JourneyMap
        All tables; see the module docstring for every column.

    Raises
    ------
    CJResearchError
        Missing columns, unknown customers or stages, duplicate ids, a persona named
        ``"all"``, or ``min_group_size`` below 1.

    Warns
    -----
    StatisticalWarning
        When every persona (or the whole population) is below ``min_group_size``, so
        that nearly everything is suppressed.
    """
    settings = Settings.resolve(settings, **options)
    min_group_size = settings.min_group_size
    log = _prepare(events, customers, stages=settings.require_stages(), personas=personas)
    notes = _size_notes(log, min_group_size)
    emotion = _stage_emotion_matrix(log, stage_emotion)
    tp_customers, tp_cells, tp_counts = _distinct_cells(
        log, log.touchpoint, max(len(log.touchpoint_labels), 1)
    )
    ch_counts = None
    if log.channel is not None and log.channel_labels is not None:
        _, _, ch_counts = _distinct_cells(log, log.channel, max(len(log.channel_labels), 1))
    journey = _map_table(log, emotion, tp_counts, ch_counts, min_group_size)
    touchpoints = _label_table(
        log,
        tp_counts,
        log.touchpoint_labels,
        "touchpoint",
        min_group_size,
        emotion=_touchpoint_emotion(log, observations),
    )
    if ch_counts is not None and log.channel_labels is not None:
        channels = _label_table(log, ch_counts, log.channel_labels, "channel", min_group_size)
    else:
        channels = _empty(("persona", "stage", "channel", "n_customers", "n_events", "share"))
    pains = _pain_points(log, emotion, (tp_customers, tp_cells), min_group_size)
    n_persona = dict(zip(log.labels, log.group_sum(np.ones(len(log.ids))), strict=True))
    result = JourneyMap(
        stages=tuple(log.stages),
        personas=tuple(log.labels),
        min_group_size=int(min_group_size),
        journey_map=journey,
        funnel=_funnel(log, min_group_size),
        touchpoints=touchpoints,
        channels=channels,
        transitions=_transitions(log, min_group_size, levels),
        variants=_variants(log, min_group_size, top_variants),
        pain_points=pains,
        opportunities=_opportunities(
            log.labels, journey, pains, n_persona, emotion_churn, min_group_size
        ),
        verbatims=_verbatims(log, pains, feedback, settings, max_pain_points),
        notes=tuple(notes),
    )
    known = set(log.ids.astype(str))
    for name, frame in result.tables().items():
        check_publishable(frame, name=name, customer_ids=known)
    return result


def _size_notes(log: _Log, min_group_size: int) -> list[str]:
    import warnings

    sizes = log.group_sum(np.ones(len(log.ids)))
    small = [label for label, n in zip(log.labels, sizes, strict=True) if n < min_group_size]
    notes = []
    if small:
        text = (
            f"{len(small)} of {len(log.labels)} groups have fewer than {min_group_size} "
            f"customers and are suppressed throughout: {small}"
        )
        notes.append(text)
        warnings.warn(text, StatisticalWarning, stacklevel=3)
    return notes


def transitions(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    levels: Sequence[str] = ("stage", "touchpoint"),
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Directly-follows transitions per persona (the ``transitions`` table of
    :func:`build_map`, see the module docstring for its columns).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRANSITION_COLUMNS`.
    """
    settings = Settings.resolve(settings, **options)
    log = _prepare(events, customers, stages=settings.require_stages(), personas=personas)
    return _transitions(log, settings.min_group_size, levels)


def funnel(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """The funnel over the study's stages per persona (the ``funnel`` table of
    :func:`build_map`).

    Returns
    -------
    pandas.DataFrame
        Columns ``persona, stage, step, n_customers, share, n_from_previous, conversion,
        suppressed``.
    """
    settings = Settings.resolve(settings, **options)
    log = _prepare(events, customers, stages=settings.require_stages(), personas=personas)
    return _funnel(log, settings.min_group_size)
