"""Journeys: the event log as one row per customer, and stage-to-stage transitions.

:func:`customer_features` turns the canonical event log (and optionally each customer's
stage emotion from :func:`cjresearch.analysis.emotion.stage_emotion`) into one row per customer of
``customers``, in the customers' order. Customers without events are kept, with zero
counts and missing timings. Its columns, in order (``<s>`` is a stage, ``<c>`` a channel,
both sanitised to snake_case, see below):

======================== ==========================================================
column                   transformation
======================== ==========================================================
``customer_id``          copied from ``customers``
``n_events``             number of events (int64)
``n_touchpoints``        number of distinct touchpoints (int64)
``touchpoint_entropy``   Shannon entropy of the customer's touchpoint shares,
                         ``-sum(p * ln p)`` (natural log); 0 for one touchpoint or
                         no events
``furthest_stage``       the latest stage (in study order) with an event; ordered
                         Categorical over the stages, missing without events
``furthest_stage_index`` its 0-based position in the stages (int64), -1 without events
``n_stages_reached``     number of stages with at least one event (int64)
``n_stages_skipped``     stages before the furthest one without any event (int64)
``reached_<s>``          the customer has an event at ``s`` (bool)
``events_<s>``           number of events at ``s`` (int64)
``days_in_<s>``          days from the first to the last event at ``s`` (float64; 0
                         for one event, missing when ``s`` was not reached)
``channel_share_<c>``    share of the customer's events with a channel that were on
                         channel ``c`` (float64, 0 when none); one column per channel
                         seen in the events, only when the events have a ``channel``
                         column. Events without a channel are left out of the
                         denominator, so the shares of a customer with any channelled
                         event sum to 1, and are all 0 for a customer with none
``recency_days``         days from the last event to ``observation_end`` (float64,
                         missing without events)
``tenure_days``          days from the first to the last event (float64, missing
                         without events)
``events_per_30_days``   ``n_events / max(tenure_days, 1) * 30`` (float64; 0 without
                         events): activity per month, with a floor of one day so that
                         a burst of events on one day is not an infinite rate
``early_days_observed``  days of the customer's early window that lie inside the
                         observation: ``min(early_days, days from the start to
                         observation_end)`` (float64, missing without events). It
                         depends on when the customer arrived, never on when they left
``early_n_events``       events in the early window: everything up to ``early_days``
                         days after the customer's start, their ``signup_date`` when the
                         customers table has one, else their first event (int64)
``early_n_touchpoints``  distinct touchpoints in the early window (int64)
``early_events_per_30_days`` ``early_n_events`` per 30 days of the window (from the
                         first event to the window's end or the end of observation,
                         at least ``min(30, early_days)`` days; float64, 0 without
                         events). The floor of a month keeps a customer who arrived
                         days before the end of observation from an inflated rate; the
                         denominator never depends on churn
``early_channel_share_<c>`` channel shares (as ``channel_share_<c>``) of the early
                         window's events
``emotion_<s>``          mean emotion at ``s`` from ``stage_emotion`` (float64 in
                         [-1, 1]); missing when the customer has no observation there:
                         missing is not neutral, it is never filled with 0
``n_emotion_<s>``        number of emotion observations at ``s`` (int64, 0 when none)
*attributes*             the ``customers`` columns named in ``attributes``, as they are
======================== ==========================================================

The ``emotion_*`` columns appear only when ``stage_emotion`` is given.

Why an early window: the features that define personas must not be shaped by the outcome
the personas are compared on. A customer who churns after a week has few events, few
touchpoints and a short span, so ``n_touchpoints`` and ``events_per_30_days`` (which divides
by the customer's own span) partly measure churn itself; a one-time buyer becomes "highly
active" (one event on one day is 30 events per 30 days). The ``early_*`` columns measure
everyone over the same stretch of their life: everything up to ``early_days`` days (90
unless the study says otherwise) after its start (signup, else the first event). The
default persona features are these.

Column names
------------
Stage and channel names become part of column names, so they are sanitised
(:func:`cjresearch.data.names.sanitise_name`): accents on Latin letters are dropped, letters
of any script kept and lowercased, symbols such as emoji spelled by their Unicode name, and
every run of other characters becomes one ``_`` (``"Sign-up (web)"`` -> ``sign_up_web``).
Two names that sanitise to the same text, or a
generated name that equals another column, raise :class:`~cjresearch.errors.CJResearchError`.

Features for segmentation
-------------------------
:data:`DEFAULT_FEATURES` and :func:`select_features` choose the columns the personas step
clusters on (the study file's ``[personas] features`` overrides the default).

Transitions
-----------
:func:`stage_transitions` counts the directly-follows relation between the stages of each
customer's consecutive events.

Sessions
--------
A clickstream is read as visits: :func:`assign_sessions` numbers each event's session, from
the events' ``session_id`` column when they have one (a session is a customer's events with
one ``session_id``), else by splitting each customer's events where more than
``gap_minutes`` pass between two consecutive events (``[sessions] gap_minutes``; the usual
web-analytics rule is 30 minutes). :func:`session_codes` does the same on integer codes for
the journey map.

All functions are vectorised (integer codes, ``numpy.bincount`` and grouped reductions);
memory grows with the number of events plus customers x stages, customers x channels
and distinct customer-touchpoint pairs, never with customers x touchpoints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import (
    NS_PER_DAY,
    SLICE_ROWS,
    check_stages,
    codes,
    customer_codes,
    factorize,
    nanoseconds,
    stage_codes,
    time_order,
    touchpoint_codes,
    unique_ids,
)
from cjresearch.data.names import sanitise_name
from cjresearch.errors import CJResearchError, StudyFileError

__all__ = [
    "DEFAULT_EARLY_DAYS",
    "DEFAULT_FEATURES",
    "assign_sessions",
    "customer_features",
    "sanitise_name",
    "select_features",
    "session_codes",
    "stage_transitions",
]

#: Length of the early window of each customer's life that persona features are measured in.
DEFAULT_EARLY_DAYS = 90

#: The columns (exact names or ``prefix*`` patterns) that segmentation uses by default, all
#: measured in the same early window of every customer's life (``early_days``), so that how
#: long a customer stayed does not shape the personas later compared on churn:
#:
#: - ``early_channel_share_*``: the channel mix (how a customer deals with the company) is
#:   the most persona-like behaviour in a journey log, and shares are free of activity level;
#: - ``early_n_touchpoints``: breadth of the journey;
#: - ``early_events_per_30_days``: intensity per month of the window.
#:
#: Left out on purpose, because personas are later compared on emotion and churn, and a
#: persona defined by either would make those comparisons partly circular:
#: ``emotion_*`` (the persona-by-emotion findings would be built in), ``reached_*``
#: (reaching renewal needs a year of not churning; reaching support goes with churn),
#: ``recency_days`` and ``tenure_days`` (recency is close to the definition of churn), and the
#: whole-life ``n_touchpoints``, ``events_per_30_days`` and ``channel_share_*`` (churners'
#: short journeys would define them). ``touchpoint_entropy`` and the per-stage counts are
#: left out as largely redundant. Customer attributes are study-specific and
#: are named in ``[personas] features`` when wanted (the sample study adds ``age`` and
#: ``plan``); any of the above can be named there too.
DEFAULT_FEATURES: tuple[str, ...] = (
    "early_channel_share_*",
    "early_n_touchpoints",
    "early_events_per_30_days",
)

_EVENT_COLUMNS = ("customer_id", "timestamp", "touchpoint", "stage")
_KINDS = ("forward", "backward", "loop")


def _sanitised(names: Sequence[object], what: str) -> list[str]:
    seen: dict[str, object] = {}
    out = []
    for name in names:
        slug = sanitise_name(name)
        if slug in seen:
            msg = (
                f"the {what} names {seen[slug]!r} and {name!r} both become {slug!r} in column "
                f"names (lowercase, other characters as '_'); rename one of them"
            )
            raise CJResearchError(msg)
        seen[slug] = name
        out.append(slug)
    return out


def _utc(timestamp: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(timestamp)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _add(columns: dict[str, object], name: str, values: object) -> None:
    if name in columns:
        msg = (
            f"the output would have two columns named {name!r}: a stage or channel name "
            "sanitises to another feature's name, or an attribute is named like a feature; "
            "rename the stage, channel or attribute"
        )
        raise CJResearchError(msg)
    columns[name] = values


def _add_all(columns: dict[str, object], new: dict[str, np.ndarray]) -> None:
    for name, values in new.items():
        _add(columns, name, values)


def customer_features(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    stages: Sequence[str],
    observation_end: pd.Timestamp,
    stage_emotion: pd.DataFrame | None = None,
    attributes: Sequence[str] = (),
    early_days: int = DEFAULT_EARLY_DAYS,
) -> pd.DataFrame:
    """One row of journey features per customer.

    Parameters
    ----------
    events
        Canonical events: ``customer_id``, ``timestamp``, ``touchpoint``, ``stage`` and
        optionally ``channel``. Every customer must be in ``customers`` and every stage in
        ``stages``. Not modified.
    customers
        Canonical customers: ``customer_id`` (unique) and the ``attributes`` columns.
        The output has one row per customer, in this order. Not modified.
    stages
        The study's stages, in journey order.
    observation_end
        The exclusive end of observation (``StudyTables.observation_end``); naive
        timestamps are taken as UTC. Every event must be before it.
    stage_emotion
        Optional output of :func:`cjresearch.analysis.emotion.stage_emotion` (``customer_id``,
        ``stage``, ``emotion_mean``, ``n_observations``; one row per customer and stage).
    attributes
        ``customers`` columns to copy into the output, after the journey features.
    early_days
        Length of the early window (days from each customer's first event) that the
        ``early_*`` columns are measured in.

    Returns
    -------
    pandas.DataFrame
        One row per customer, RangeIndex, columns (see the module docstring for each
        transformation): ``customer_id, n_events, n_touchpoints, touchpoint_entropy,
        furthest_stage, furthest_stage_index, n_stages_reached, n_stages_skipped``, then
        ``reached_<s>``, ``events_<s>``, ``days_in_<s>`` for every stage,
        ``channel_share_<c>`` for every channel seen (when events have ``channel``),
        ``recency_days, tenure_days, events_per_30_days``, ``early_days_observed,
        early_n_events, early_n_touchpoints, early_events_per_30_days``,
        ``early_channel_share_<c>`` (when events have ``channel``), then ``emotion_<s>`` and
        ``n_emotion_<s>`` for every stage (when ``stage_emotion`` is given), then the
        ``attributes``.

    Raises
    ------
    CJResearchError
        A required column is missing, an attribute is not in ``customers``, customer ids
        repeat, events name unknown customers or stages, have missing values, are not
        before ``observation_end``, or stage/channel names collide after sanitising.

    Examples
    --------
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2026-01-01", "2026-01-03", "2026-01-02"], utc=True),
    ...     "touchpoint": ["ad", "checkout", "ad"],
    ...     "stage": ["awareness", "purchase", "awareness"],
    ... })
    >>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"]})
    >>> out = customer_features(
    ...     events, customers, stages=["awareness", "purchase"],
    ...     observation_end=pd.Timestamp("2026-01-11", tz="UTC"),
    ... )
    >>> out[["customer_id", "n_events", "furthest_stage", "recency_days"]]
      customer_id  n_events furthest_stage  recency_days
    0           a         2       purchase           8.0
    1           b         1      awareness           9.0
    2           c         0            NaN           NaN
    """
    require_columns(events, _EVENT_COLUMNS, "events")
    require_columns(customers, ("customer_id",), "customers")
    stages = check_stages(stages)
    if (
        isinstance(early_days, bool)
        or not isinstance(early_days, int | np.integer)
        or early_days < 1
    ):
        msg = f"early_days must be a whole number of days of at least 1, found {early_days!r}"
        raise CJResearchError(msg)
    attributes = [attributes] if isinstance(attributes, str) else list(attributes)
    absent = [a for a in attributes if a not in customers.columns]
    if absent:
        msg = (
            f"customers has no attribute column(s) {absent}; "
            f"available columns: {list(customers.columns)}"
        )
        raise CJResearchError(msg)
    stage_names = _sanitised(stages, "stage")

    ids = unique_ids(customers)
    n_customers, n_stages = len(ids), len(stages)

    customer = customer_codes(events, ids)
    stage = stage_codes(events, stages, "events")
    touchpoint, _ = touchpoint_codes(events, sort=False)
    time = nanoseconds(events["timestamp"], "events")
    end = _utc(observation_end).as_unit("ns").value
    if len(time) and time.max() >= end:
        msg = (
            f"events has {int((time >= end).sum())} rows at or after observation_end "
            f"{_utc(observation_end)} (it is exclusive); drop them or move the end"
        )
        raise CJResearchError(msg)

    columns: dict[str, object] = {"customer_id": customers["customer_id"].reset_index(drop=True)}

    # Customer x stage cells: counts, first and last event time.
    cell = customer * n_stages + stage
    size = n_customers * n_stages
    stage_counts = np.bincount(cell, minlength=size).reshape(n_customers, n_stages)
    first_flat = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    last_flat = np.full(size, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first_flat, cell, time)
    np.maximum.at(last_flat, cell, time)
    first = first_flat.reshape(n_customers, n_stages)
    last = last_flat.reshape(n_customers, n_stages)
    reached = stage_counts > 0
    n_events = stage_counts.sum(axis=1)
    has_events = n_events > 0

    # Touchpoint breadth and entropy from the distinct customer-touchpoint pairs only.
    n_touchpoint_labels = int(touchpoint.max()) + 1 if len(touchpoint) else 1
    pairs = pd.Series(customer * n_touchpoint_labels + touchpoint).value_counts(sort=False)
    pair_customer = pairs.index.to_numpy() // n_touchpoint_labels
    share = pairs.to_numpy() / n_events[pair_customer]
    _add(columns, "n_events", n_events.astype(np.int64))
    _add(
        columns, "n_touchpoints", np.bincount(pair_customer, minlength=n_customers).astype(np.int64)
    )
    entropy = np.bincount(pair_customer, weights=-share * np.log(share), minlength=n_customers)
    _add(columns, "touchpoint_entropy", np.abs(entropy))  # -0.0 for a single touchpoint

    furthest = np.where(has_events, n_stages - 1 - np.argmax(reached[:, ::-1], axis=1), -1)
    n_reached = reached.sum(axis=1)
    _add(
        columns,
        "furthest_stage",
        pd.Categorical.from_codes(furthest, dtype=pd.CategoricalDtype(stages, ordered=True)),
    )
    _add(columns, "furthest_stage_index", furthest.astype(np.int64))
    _add(columns, "n_stages_reached", n_reached.astype(np.int64))
    _add(columns, "n_stages_skipped", (furthest + 1 - n_reached).astype(np.int64))

    days_in = np.where(reached, (last - first) / NS_PER_DAY, np.nan)
    for j, name in enumerate(stage_names):
        _add(columns, f"reached_{name}", reached[:, j].copy())
    for j, name in enumerate(stage_names):
        _add(columns, f"events_{name}", stage_counts[:, j].astype(np.int64))
    for j, name in enumerate(stage_names):
        _add(columns, f"days_in_{name}", days_in[:, j].copy())

    if "channel" in events.columns:
        _add_all(columns, _channel_shares(events["channel"], customer, n_customers))

    first_event = np.where(has_events, first.min(axis=1), 0)
    last_event = np.where(has_events, last.max(axis=1), 0)
    tenure = np.where(has_events, (last_event - first_event) / NS_PER_DAY, np.nan)
    _add(columns, "recency_days", np.where(has_events, (end - last_event) / NS_PER_DAY, np.nan))
    _add(columns, "tenure_days", tenure)
    _add(columns, "events_per_30_days", n_events / np.fmax(tenure, 1.0) * 30.0)
    window = (events, customers, (customer, touchpoint, time), first_event, has_events, end)
    _add_all(columns, _early_window(*window, early_days))

    if stage_emotion is not None:
        _add_all(columns, _emotion_columns(stage_emotion, ids, stages, stage_names))

    for attribute in attributes:
        _add(columns, attribute, customers[attribute].reset_index(drop=True))
    # each column as its own block: one frame of them all would be a copy (468 MB at
    # 1,000,000 customers) made while the log's codes are still held
    return pd.DataFrame(columns, index=pd.RangeIndex(n_customers), copy=False)


def _early_window(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    codes: tuple[np.ndarray, np.ndarray, np.ndarray],
    first_event: np.ndarray,
    has_events: np.ndarray,
    end: int,
    early_days: int,
) -> dict[str, np.ndarray]:
    """The ``early_*`` columns: every customer measured over the same stretch of their life,
    everything up to ``early_days`` days after its start (see the module docstring)."""
    customer, touchpoint, time = codes
    n_customers = len(first_event)
    start = first_event.astype(np.float64)
    if "signup_date" in customers.columns:
        signup = pd.to_datetime(customers["signup_date"], utc=True).reset_index(drop=True)
        known = signup.notna().to_numpy()
        values = pd.DatetimeIndex(signup).as_unit("ns").asi8
        start = np.where(known, values, start)
    limit = start + early_days * NS_PER_DAY
    inside = np.empty(len(time), dtype=bool)
    for first in range(0, len(time), SLICE_ROWS):  # each row's limit, a slice at a time
        part = slice(first, first + SLICE_ROWS)
        np.less(time[part], limit[customer[part]], out=inside[part])
    window = (np.minimum(limit, end) - np.minimum(first_event, start)) / NS_PER_DAY
    observed = np.where(has_events, np.minimum(early_days, (end - start) / NS_PER_DAY), np.nan)
    n_early = np.bincount(customer[inside], minlength=n_customers)
    floor = min(30.0, float(early_days))
    columns: dict[str, np.ndarray] = {
        "early_days_observed": observed,
        "early_n_events": n_early.astype(np.int64),
        "early_n_touchpoints": _distinct_touchpoints(customer, touchpoint, inside, n_customers),
        "early_events_per_30_days": np.where(
            has_events, n_early / np.fmax(np.nan_to_num(window), floor) * 30.0, 0.0
        ),
    }
    if "channel" in events.columns:
        shares = _channel_shares(events["channel"], customer, n_customers, rows=inside)
        columns.update({f"early_{name}": values for name, values in shares.items()})
    return columns


def _distinct_touchpoints(
    customer: np.ndarray, touchpoint: np.ndarray, rows: np.ndarray, n_customers: int
) -> np.ndarray:
    """How many distinct touchpoints each customer used in the log's ``rows`` (a mask).

    While a byte per customer and touchpoint takes less than the 8 bytes per row that hashing
    the (customer, touchpoint) pairs needs for their keys alone, the pairs are marked in that
    grid a slice at a time: the hash took 62 MB at 100,000 customers (2.7 million events),
    the grid takes 4 MB. A log with very many touchpoints (the pages of a large site) hashes
    the pairs."""
    width = int(touchpoint.max()) + 1 if len(touchpoint) else 1
    if n_customers * width > 8 * len(touchpoint) + (1 << 20):
        distinct = pd.unique(customer[rows] * width + touchpoint[rows])
        return np.bincount(distinct // width, minlength=n_customers).astype(np.int64)
    seen = np.zeros(n_customers * width, dtype=bool)
    for first in range(0, len(touchpoint), SLICE_ROWS):
        part = slice(first, first + SLICE_ROWS)
        keep = rows[part]
        seen[customer[part][keep] * width + touchpoint[part][keep]] = True
    return seen.reshape(n_customers, width).sum(axis=1, dtype=np.int64)


def _channel_shares(
    channel: pd.Series, customer: np.ndarray, n_customers: int, rows: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    if isinstance(channel.dtype, pd.CategoricalDtype):  # its own (small) codes, not a copy
        channel_code, labels = channel.cat.codes.to_numpy(), pd.Index(channel.cat.categories)
    else:
        channel_code, labels = factorize(channel)
    # Only channels that occur, in a stable order: category order, else alphabetical.
    present = np.bincount(channel_code[channel_code >= 0], minlength=len(labels)) > 0
    order = [i for i in range(len(labels)) if present[i]]
    if not isinstance(channel.dtype, pd.CategoricalDtype):
        order.sort(key=lambda i: str(labels[i]))
    names = _sanitised([labels[i] for i in order], "channel")
    n_labels = max(len(labels), 1)
    counts = np.zeros(n_customers * n_labels, dtype=np.int64)
    for start in range(0, len(channel_code), SLICE_ROWS):  # a slice of the log at a time
        part = slice(start, start + SLICE_ROWS)
        known = channel_code[part] >= 0 if rows is None else (channel_code[part] >= 0) & rows[part]
        key = customer[part][known] * n_labels
        key += channel_code[part][known]
        counts += np.bincount(key, minlength=n_customers * n_labels)
        del known, key
    grid = counts.reshape(n_customers, n_labels)
    total = grid.sum(axis=1)
    denominator = np.where(total > 0, total, 1)
    return {
        f"channel_share_{name}": grid[:, i] / denominator
        for name, i in zip(names, order, strict=True)
    }


def _emotion_columns(
    stage_emotion: pd.DataFrame, ids: pd.Index, stages: list[str], stage_names: list[str]
) -> dict[str, np.ndarray]:
    require_columns(
        stage_emotion, ("customer_id", "stage", "emotion_mean", "n_observations"), "stage_emotion"
    )
    n_customers, n_stages = len(ids), len(stages)
    customer = codes(stage_emotion["customer_id"], ids)
    if (customer < 0).any():
        unknown = pd.unique(stage_emotion["customer_id"][customer < 0].astype(object))[:5]
        msg = f"stage_emotion has customers not in customers, e.g. {unknown.tolist()}"
        raise CJResearchError(msg)
    stage = stage_codes(stage_emotion, stages, "stage_emotion")
    cell = customer * n_stages + stage
    if len(np.unique(cell)) != len(cell):
        msg = "stage_emotion has more than one row for a customer and stage; pass stage_emotion()"
        raise CJResearchError(msg)
    mean_flat = np.full(n_customers * n_stages, np.nan)
    count_flat = np.zeros(n_customers * n_stages, dtype=np.int64)
    mean_flat[cell] = stage_emotion["emotion_mean"].to_numpy(dtype=np.float64, na_value=np.nan)
    count_flat[cell] = stage_emotion["n_observations"].to_numpy(dtype=np.int64)
    mean = mean_flat.reshape(n_customers, n_stages)
    count = count_flat.reshape(n_customers, n_stages)
    columns = {f"emotion_{name}": mean[:, j].copy() for j, name in enumerate(stage_names)}
    columns.update({f"n_emotion_{name}": count[:, j].copy() for j, name in enumerate(stage_names)})
    return columns


def select_features(features: pd.DataFrame, requested: Sequence[str] | None = None) -> pd.DataFrame:
    """The columns to segment on: ``customer_id`` plus the requested feature columns.

    Parameters
    ----------
    features
        The output of :func:`customer_features`. Not modified.
    requested
        Column names or ``prefix*`` patterns (``"channel_share_*"``, ``"emotion_*"``), as
        in the study file's ``[personas] features``. None selects :data:`DEFAULT_FEATURES`,
        skipping those that match nothing (e.g. ``emotion_*`` without emotion data).

    Returns
    -------
    pandas.DataFrame
        RangeIndex; ``customer_id`` then the selected columns in the requested order
        (a pattern's matches in their order in ``features``), each once, values as they
        are (missing stays missing).

    Raises
    ------
    StudyFileError
        A requested name or pattern matches no column (the message lists the available
        ones), or ``requested`` is empty.
    CJResearchError
        ``features`` has no ``customer_id`` column.
    """
    require_columns(features, ("customer_id",), "features")
    available = [c for c in features.columns if c != "customer_id"]
    strict = requested is not None
    if requested is None:
        requested = DEFAULT_FEATURES
    elif isinstance(requested, str):
        requested = [requested]
    if not requested:
        msg = f"[personas] features is empty; name at least one of {available}"
        raise StudyFileError(msg)
    chosen: dict[str, None] = {}
    unknown = []
    for entry in requested:
        if entry.endswith("*"):
            matches = [c for c in available if c.startswith(entry[:-1])]
        else:
            matches = [entry] if entry in available else []
        if not matches:
            unknown.append(entry)
        chosen.update(dict.fromkeys(matches))
    if strict and unknown:
        msg = (
            f"[personas] features: {unknown} match no feature column; "
            f"use exact names or 'prefix*' patterns from the available columns: {available}"
        )
        raise StudyFileError(msg)
    if not chosen:
        msg = f"[personas] features: none of the default features exist; available: {available}"
        raise StudyFileError(msg)
    return features[["customer_id", *chosen]].reset_index(drop=True).copy()


def stage_transitions(events: pd.DataFrame, *, stages: Sequence[str]) -> pd.DataFrame:
    """Directly-follows counts between the stages of each customer's consecutive events.

    Events are ordered by customer and time; events with the same timestamp keep their
    order in ``events``. Each pair of consecutive events of one customer is one
    transition from the first event's stage to the second's.

    Parameters
    ----------
    events
        Canonical events: ``customer_id``, ``timestamp``, ``stage``. Not modified.
    stages
        The study's stages, in journey order.

    Returns
    -------
    pandas.DataFrame
        One row per (from, to) pair that occurs, sorted by stage order, RangeIndex:

        - ``from_stage``, ``to_stage``: ordered Categorical over ``stages``.
        - ``n_transitions``: int64 number of such consecutive pairs.
        - ``n_customers``: int64 number of customers with at least one.
        - ``kind``: ``forward`` (later stage), ``backward`` (earlier stage) or ``loop``
          (same stage), by the study's order.

    Examples
    --------
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a"],
    ...     "timestamp": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"], utc=True),
    ...     "stage": ["awareness", "purchase", "awareness"],
    ... })
    >>> stage_transitions(events, stages=["awareness", "purchase"])
      from_stage  to_stage  n_transitions  n_customers      kind
    0  awareness  purchase              1            1   forward
    1   purchase awareness              1            1  backward
    """
    require_columns(events, ("customer_id", "timestamp", "stage"), "events")
    stages = check_stages(stages)
    n_stages = len(stages)
    stage = stage_codes(events, stages, "events")
    customer, _ = factorize(events["customer_id"])
    if (customer < 0).any():
        msg = f"events has {int((customer < 0).sum())} rows with a missing customer_id"
        raise CJResearchError(msg)
    time = nanoseconds(events["timestamp"], "events")

    order = time_order(customer, time)
    if order is not None:
        customer, stage = customer[order], stage[order]
    same = customer[1:] == customer[:-1]

    pair = (stage[:-1] * n_stages + stage[1:])[same]
    n_transitions = np.bincount(pair, minlength=n_stages * n_stages)
    per_customer = pd.unique(customer[1:][same] * (n_stages * n_stages) + pair)
    n_customers = np.bincount(per_customer % (n_stages * n_stages), minlength=n_stages * n_stages)

    occurs = np.flatnonzero(n_transitions)
    origin, target = occurs // n_stages, occurs % n_stages
    dtype = pd.CategoricalDtype(stages, ordered=True)
    kind = np.select([target > origin, target < origin], ["forward", "backward"], "loop")
    return pd.DataFrame(
        {
            "from_stage": pd.Categorical.from_codes(origin, dtype=dtype),
            "to_stage": pd.Categorical.from_codes(target, dtype=dtype),
            "n_transitions": n_transitions[occurs].astype(np.int64),
            "n_customers": n_customers[occurs].astype(np.int64),
            "kind": pd.array(kind, dtype="str"),
        }
    )


def session_codes(
    customer: np.ndarray,
    time: np.ndarray,
    session_id: pd.Series | None = None,
    *,
    gap_minutes: float | None = None,
) -> np.ndarray | None:
    """Each event's session as a code ``0 .. n_sessions - 1``, or None without sessions.

    Parameters
    ----------
    customer, time
        Per event, the customer code and the time in nanoseconds, the events sorted by
        customer and time.
    session_id
        The events' ``session_id`` column in the same order, or None. A session is one
        customer's events with one ``session_id``.
    gap_minutes
        Without ``session_id``: a new session starts at a customer's first event and after
        every pause of more than this many minutes. None (and no ``session_id``): no
        sessions.

    Returns
    -------
    numpy.ndarray or None
        int64 codes, numbered in order of each session's first event in the sorted log.
    """
    if session_id is not None:
        labels, _ = factorize(session_id.reset_index(drop=True))
        if (labels < 0).any():
            msg = f"events has {int((labels < 0).sum())} rows with a missing session_id"
            raise CJResearchError(msg)
        width = int(labels.max()) + 1 if len(labels) else 1
        _, first_seen, inverse = np.unique(
            customer.astype(np.int64) * width + labels, return_index=True, return_inverse=True
        )
        renumber = np.empty(len(first_seen), dtype=np.int64)
        renumber[np.argsort(first_seen, kind="stable")] = np.arange(len(first_seen))
        return renumber[inverse.ravel()]
    if gap_minutes is None:
        return None
    if not gap_minutes > 0:
        msg = f"gap_minutes must be a positive number of minutes, found {gap_minutes!r}"
        raise CJResearchError(msg)
    new = np.ones(len(customer), dtype=bool)
    if len(customer) > 1:
        gap = np.diff(time) > gap_minutes * 60 * 10**9
        new[1:] = (customer[1:] != customer[:-1]) | gap
    return (np.cumsum(new) - 1).astype(np.int64)


def assign_sessions(events: pd.DataFrame, *, gap_minutes: float | None = None) -> pd.Series:
    """The session of every event (see "Sessions" in the module docstring).

    Parameters
    ----------
    events
        Canonical events: ``customer_id``, ``timestamp`` and optionally ``session_id``.
        Not modified.
    gap_minutes
        Used when events have no ``session_id``: split each customer's events where more
        than this many minutes pass between consecutive ones.

    Returns
    -------
    pandas.Series
        int64 session numbers named ``session``, aligned to ``events`` (numbered in order of
        each session's first event by customer and time).

    Raises
    ------
    CJResearchError
        Neither a ``session_id`` column nor ``gap_minutes``, a missing session id, or a
        gap that is not positive.

    Examples
    --------
    >>> events = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 10:20",
    ...                                  "2026-01-01 12:00", "2026-01-01 10:05"], utc=True),
    ... })
    >>> assign_sessions(events, gap_minutes=30).tolist()
    [0, 0, 1, 2]
    """
    require_columns(events, ("customer_id", "timestamp"), "events")
    has_id = "session_id" in events.columns
    if not has_id and gap_minutes is None:
        msg = (
            "events have no session_id column and no gap_minutes was given; map your visit "
            "column under [columns.events] or set [sessions] gap_minutes in the study file"
        )
        raise CJResearchError(msg)
    customer, _ = factorize(events["customer_id"])
    time = nanoseconds(events["timestamp"], "events")
    order = time_order(customer, time)
    position = np.arange(len(events)) if order is None else order
    session_id = events["session_id"].iloc[position] if has_id else None
    found = session_codes(customer[position], time[position], session_id, gap_minutes=gap_minutes)
    out = np.empty(len(events), dtype=np.int64)
    out[position] = found if found is not None else 0
    return pd.Series(out, index=events.index, name="session")
