"""The persona x stage map (``journey_map``, ``touchpoints``, ``channels``) and :func:`build_map`.

:func:`build_map` computes every table of the journey map once, from one preparation of the
event log (:mod:`cjresearch.analysis.journey_map._log`).

Groups, the label ``"all"``, suppression and column types are as described in
:mod:`cjresearch.analysis.journey_map`; columns are listed in order.

``journey_map``: one row per persona and stage.

=========================== ===================================================================
``n_customers``             customers of the persona with an event at the stage (reach count)
``reach``                   ``n_customers / n_persona`` (denominator: all the persona's customers)
``conversion_next``         share of ``n_customers`` who also reached the next stage (last stage:
                            missing)
``median_days``             median days from the first to the last event at the stage
``emotion_mean``            mean over customers of their stage emotion (the customer being
                            the unit; :func:`cjresearch.analysis.emotion.stage_emotion`)
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

``touchpoints`` / ``channels``: ``persona, stage, touchpoint`` (or ``channel``),
``n_customers`` (distinct customers meeting it there), ``n_events``, ``share`` (of the stage's
``n_customers``), ``emotion_mean, n_emotion`` (touchpoints only: mean over customers of their
emotion observations tied to the touchpoint), ``suppressed``. Every touchpoint/channel seen
at a stage gets a row for every persona, so a persona's absent touchpoint is suppressed
like any small count rather than revealed by a missing row.

The flows (``funnel``, ``transitions``, ``variants``) are documented in
:mod:`cjresearch.analysis.journey_map.flows`; ``pain_points``, ``opportunities`` and
``verbatims`` in :mod:`cjresearch.analysis.journey_map.pain_points`.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import NS_PER_DAY, codes
from cjresearch.analysis.intervals import t_interval, wilson_intervals
from cjresearch.analysis.journey_map._log import Log, empty_frame, prepare_study, ratio
from cjresearch.analysis.journey_map.flows import (
    funnel_table,
    ordered_funnel_table,
    step_conversion_table,
    transition_table,
    variant_table,
)
from cjresearch.analysis.journey_map.pain_points import (
    opportunity_table,
    own_emotion,
    pain_point_table,
    verbatim_table,
)
from cjresearch.analysis.privacy import check_publishable, display_frame, suppress, suppress_emotion
from cjresearch.analysis.settings import Settings
from cjresearch.errors import StatisticalWarning

__all__ = ["JOURNEY_MAP_COLUMNS", "JourneyMap", "build_map"]


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


def _stage_emotion_matrix(log: Log, stage_emotion: pd.DataFrame | None) -> np.ndarray:
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


def _distinct_cells(
    log: Log, codes: np.ndarray, n_labels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (customer, stage, label) triples as arrays, and (groups, stages, labels)
    customer counts and event counts."""
    n_inner = log.n_stages * n_labels
    inner = log.stage * n_labels + codes
    known = codes >= 0
    customer = log.customer
    if not known.all():  # (a checked log has every touchpoint: no copies then)
        customer, inner = customer[known], inner[known]
    events = log.group_cells(inner, n_inner, customer).reshape(log.n_groups, log.n_stages, n_labels)
    key = customer * n_inner
    key += inner
    del inner, customer
    distinct = pd.unique(key)
    del key
    customers = distinct // n_inner
    cells = distinct % n_inner
    counts = log.group_cells(cells, n_inner, customers).reshape(
        log.n_groups, log.n_stages, n_labels
    )
    return customers, cells, np.stack([counts, events])


def _map_table(
    log: Log,
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
    conversion = ratio(both, n_reached)
    previous = np.full((n_groups, n_stages), np.nan)
    previous[:, 1:] = conversion[:, :-1]
    churned = np.stack(
        [log.group_sum(reached[:, s] * log.churned) for s in range(n_stages)], axis=1
    )
    churn_rate = ratio(churned, n_reached)
    churn_low, churn_high = wilson_intervals(churned, n_reached)

    has = np.isfinite(emotion)
    values = np.where(has, emotion, 0.0)
    e_n = np.stack([log.group_sum(has[:, s].astype(float)) for s in range(n_stages)], axis=1)
    e_sum = np.stack([log.group_sum(values[:, s]) for s in range(n_stages)], axis=1)
    e_sq = np.stack([log.group_sum(values[:, s] ** 2) for s in range(n_stages)], axis=1)
    e_mean, e_low, e_high, _ = t_interval(e_sum, e_sq, e_n, bounds=(-1.0, 1.0))

    median_days = _median_days(log)

    table: dict[str, Any] = log.group_stage_columns(n_stages)
    top_tp, top_tp_share = _top(touchpoint_counts, log.touchpoint_labels, n_reached)
    if channel_counts is not None and log.channel_labels is not None:
        top_ch, top_ch_share = _top(channel_counts, log.channel_labels, n_reached)
    else:
        top_ch = pd.array([None] * (n_groups * n_stages), dtype="str")
        top_ch_share = np.full(n_groups * n_stages, np.nan)
    table.update(
        {
            "n_customers": n_reached.ravel().astype(np.int64),
            "reach": ratio(n_reached, n_persona[:, None]).ravel(),
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
    frame = suppress_emotion(frame, min_group_size=min_group_size)
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
        complementary_by=log.complementary(["stage"]),
    )
    # A persona smaller than the threshold: its size is a small count as well.
    frame["n_persona"] = frame["n_persona"].astype("float64")
    frame.loc[frame["n_persona"] < min_group_size, "n_persona"] = np.nan
    frame["emotion_suppressed"] = frame["emotion_suppressed"] | frame["suppressed"]
    return frame[list(JOURNEY_MAP_COLUMNS)]


def _median_days(log: Log) -> np.ndarray:
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
    return pd.array(shown, dtype="str"), ratio(best_count, n_reached).ravel()


def _label_table(
    log: Log,
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
            "share": ratio(customers[g, s, t], n_reached[g, s]),
        }
    )
    figures = ["n_customers", "n_events", "share"]
    if emotion is not None:
        total, n = emotion
        frame["emotion_mean"] = ratio(total[g, s, t], n[g, s, t])
        frame["n_emotion"] = n[g, s, t].astype(np.int64)
        frame = suppress_emotion(frame, min_group_size=min_group_size, flag_col="_emotion").drop(
            columns="_emotion"
        )
        figures += ["emotion_mean", "n_emotion"]
    frame = suppress(
        frame,
        min_group_size=min_group_size,
        columns=figures,
        complementary_by=log.complementary(["stage", column]),
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
    log: Log, own: tuple[np.ndarray, np.ndarray, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """(groups, stages, touchpoints) sum of customer-mean emotion and customer counts."""
    if own is None:
        return None
    customers, cells, means = own
    n_inner = log.n_stages * log.n_labels
    total = log.group_cells(cells, n_inner, customers, weights=means)
    n = log.group_cells(cells, n_inner, customers)
    shape = (log.n_groups, log.n_stages, log.n_labels)
    return total.reshape(shape), n.reshape(shape)


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
    opportunities, verbatims, ordered_funnel, step_conversion
        The tables (see :mod:`cjresearch.analysis.journey_map` for their columns). None holds a
        customer id; every figure describing fewer than ``min_group_size`` customers is
        suppressed.
    notes
        Caveats to show beside the map (e.g. groups too small to show anything, no stage
        among the opportunities because the statistics table has no ``finding`` column).
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
    ordered_funnel: pd.DataFrame = field(default_factory=pd.DataFrame)
    step_conversion: pd.DataFrame = field(default_factory=pd.DataFrame)

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
            "ordered_funnel": self.ordered_funnel,
            "step_conversion": self.step_conversion,
        }

    def _repr_html_(self) -> str:
        def table(frame: pd.DataFrame) -> str:
            shown = display_frame(frame) if "suppressed" in frame.columns else frame
            return shown.to_html(index=False, escape=True, na_rep="", float_format="{:.3g}".format)

        top = self.pain_points[(self.pain_points["rank"] <= 3).fillna(False).astype(bool)]
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
        number of customers any published figure may describe), ``cx_lexicon`` (how the
        quoted comments are scored), ``controls`` (customer columns pain points are adjusted
        for, besides persona), ``alpha`` (pain points' intervals are ``1 - alpha``), ``seed``
        (of the rank bootstrap), ``session_gap_minutes``, ``session_goal``, ``step_within``
        and ``step_minutes`` (sessions and step conversion).

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
    log = prepare_study(events, customers, personas=personas, settings=settings)
    notes = _size_notes(log, min_group_size)
    emotion = _stage_emotion_matrix(log, stage_emotion)
    tp_customers, tp_cells, tp_counts = _distinct_cells(
        log, log.touchpoint, max(len(log.touchpoint_labels), 1)
    )
    ch_counts = None
    if log.channel is not None and log.channel_labels is not None:
        _, _, ch_counts = _distinct_cells(log, log.channel, max(len(log.channel_labels), 1))
    journey = _map_table(log, emotion, tp_counts, ch_counts, min_group_size)
    own = own_emotion(log, observations) if observations is not None else None
    touchpoints = _label_table(
        log,
        tp_counts,
        log.touchpoint_labels,
        "touchpoint",
        min_group_size,
        emotion=_touchpoint_emotion(log, own),
    )
    if ch_counts is not None and log.channel_labels is not None:
        channels = _label_table(log, ch_counts, log.channel_labels, "channel", min_group_size)
    else:
        channels = empty_frame(("persona", "stage", "channel", "n_customers", "n_events", "share"))
    empty = np.array([], dtype=np.int64)
    pains = pain_point_table(
        log,
        emotion,
        (tp_customers, tp_cells),
        own if own is not None else (empty, empty, np.array([], dtype=np.float64)),
        settings,
    )
    n_persona = dict(zip(log.labels, log.group_sum(np.ones(len(log.ids))), strict=True))
    opportunities, opportunity_notes = opportunity_table(
        log.labels, journey, pains, n_persona, emotion_churn, min_group_size
    )
    notes += opportunity_notes
    result = JourneyMap(
        stages=tuple(log.stages),
        personas=tuple(log.labels),
        min_group_size=int(min_group_size),
        journey_map=journey,
        funnel=funnel_table(log, min_group_size),
        touchpoints=touchpoints,
        channels=channels,
        transitions=transition_table(log, min_group_size, levels),
        variants=variant_table(log, min_group_size, top_variants),
        pain_points=pains,
        opportunities=opportunities,
        verbatims=verbatim_table(log, pains, feedback, settings, max_pain_points),
        notes=tuple(notes),
        ordered_funnel=ordered_funnel_table(log, min_group_size),
        step_conversion=step_conversion_table(
            log,
            min_group_size,
            within_steps=settings.step_within,
            within_minutes=settings.step_minutes,
        ),
    )
    known = set(log.ids.astype(str))
    for name, frame in result.tables().items():
        check_publishable(frame, name=name, customer_ids=known)
    return result


def _size_notes(log: Log, min_group_size: int) -> list[str]:

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
