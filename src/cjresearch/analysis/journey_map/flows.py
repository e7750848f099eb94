"""Flows through the journey: the ``funnel``, ``transitions`` and ``variants`` tables.

Groups, the label ``"all"``, suppression and column types are as described in
:mod:`cjresearch.analysis.journey_map`; columns are listed in order.

``funnel``: ``persona, stage, step, n_customers, share, n_from_previous, conversion,
suppressed``: customers reaching each stage in the study's order (``share`` of the persona),
and of the previous stage's customers how many reached this one (``conversion``).

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

The ``funnel`` counts stages reached in any order over the whole observation; the ordered
tables below count what happened *in order*:

``ordered_funnel``: ``persona, unit, step, stage, n_units, share, conversion,
median_minutes_from_previous, n_customers, suppressed``. For each ``unit`` (``customers``;
also ``sessions`` in a study with sessions), the units that reached the stages in the study's
order: step 1 is an event at the first stage, step k an event at stage k after the event that
matched step k - 1 (events in time order; a unit that skips a stage stops there). ``share`` is
of the group's units, ``conversion`` of the previous step's, ``median_minutes_from_previous``
the median time between the two matched events, ``n_customers`` the customers behind the
units (figures of fewer than ``min_group_size`` customers are suppressed).

``step_conversion`` (studies with sessions only): ``persona, from_stage, from_touchpoint,
to_stage, to_touchpoint, n_occurrences, n_converted, conversion, baseline, lift, lift_ci_low,
lift_ci_high, median_minutes, n_customers``. "A then B": of the ``n_occurrences`` events A
(a touchpoint at a stage), ``n_converted`` were followed by B within the next ``within_steps``
events of the same session (``[sessions] within_steps``, default 10) and, when
``[sessions] within_minutes`` is set, within that many minutes. ``baseline`` is the same
share over every other event of the group, ``lift = conversion / baseline`` with its Katz
95% interval (events of one session are not independent: read the interval as a guide),
``median_minutes`` the median time from A to the first such B. Pairs done by fewer than
``min_group_size`` customers are left out.

:func:`transitions` and :func:`funnel` compute one table each from the event log;
:func:`transition_table`, :func:`funnel_table` and :func:`variant_table` compute them from the
prepared log, for these and for :func:`cjresearch.analysis.journey_map.build_map`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjresearch.analysis.intervals import risk_ratio, wilson_intervals
from cjresearch.analysis.journey_map._log import Log, empty_frame, prepare, ratio
from cjresearch.analysis.privacy import suppress
from cjresearch.analysis.settings import Settings
from cjresearch.errors import CJResearchError

__all__ = [
    "ORDERED_FUNNEL_COLUMNS",
    "STEP_CONVERSION_COLUMNS",
    "TRANSITION_COLUMNS",
    "funnel",
    "transitions",
]

# Largest (from, to) pair space counted with bincount rather than a sort.
_DIRECT_PAIRS = 20_000_000


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


def _directly_follows(
    log: Log, node: np.ndarray, n_nodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Occurring (from, to) node pairs and their (groups, pairs) transition and customer
    counts."""
    # Only nodes that occur, so that the pair space stays small enough to count directly.
    present = np.flatnonzero(np.bincount(node, minlength=n_nodes))
    n_present = max(len(present), 1)
    # int32 codes and pairs where the pairs fit (half the memory per event)
    kind = np.int32 if n_present * n_present < np.iinfo(np.int32).max else np.int64
    compact = np.zeros(max(n_nodes, 1), dtype=kind)
    compact[present] = np.arange(len(present))
    node = compact[node]
    same = log.customer[1:] == log.customer[:-1]
    pair = node[:-1] * kind(n_present)
    pair += node[1:]
    pair, customer = pair[same], log.customer[1:][same]
    del node, same
    if n_present * n_present <= _DIRECT_PAIRS:
        counts = np.bincount(pair, minlength=n_present * n_present)
        occurring = np.flatnonzero(counts)
        lookup = np.zeros(n_present * n_present, dtype=np.int32)
        lookup[occurring] = np.arange(len(occurring))
        pair_code = lookup[pair]
    else:
        occurring, pair_code = np.unique(pair, return_inverse=True)
    del pair
    n_pairs = max(len(occurring), 1)
    n_transitions = log.group_cells(pair_code, n_pairs, customer)
    # Distinct (customer, pair): a plain sort beats hashing millions of distinct keys.
    key = customer * n_pairs
    key += pair_code
    del customer, pair_code
    key.sort()
    distinct = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    del key
    n_customers = log.group_cells(distinct % n_pairs, n_pairs, distinct // n_pairs)
    return (
        present[occurring // n_present],
        present[occurring % n_present],
        n_transitions[:, : len(occurring)],
        n_customers[:, : len(occurring)],
    )


def transition_table(log: Log, min_group_size: int, levels: Sequence[str]) -> pd.DataFrame:
    """The ``transitions`` table of the prepared log at the given levels."""
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
        complementary_by=log.complementary(
            ["level", "from_stage", "from_touchpoint", "to_stage", "to_touchpoint"]
        ),
    )
    return frame[list(TRANSITION_COLUMNS)]


def funnel_table(log: Log, min_group_size: int) -> pd.DataFrame:
    """The ``funnel`` table of the prepared log."""
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
            **log.group_stage_columns(log.n_stages),
            "step": np.tile(np.arange(1, log.n_stages + 1), log.n_groups).astype(np.int64),
            "n_customers": n.ravel().astype(np.int64),
            "share": ratio(n, n_persona[:, None]).ravel(),
            "n_from_previous": from_previous.ravel(),
            "conversion": ratio(from_previous, prior).ravel(),
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
        complementary_by=log.complementary(["stage"]),
    )
    small_flow = frame["n_from_previous"] < min_group_size
    frame.loc[small_flow, ["n_from_previous", "conversion"]] = np.nan
    return frame[list(_FUNNEL_COLUMNS)]


def variant_table(log: Log, min_group_size: int, top: int) -> pd.DataFrame:
    """The ``variants`` table of the prepared log: the ``top`` paths per persona."""
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
        return empty_frame(_VARIANT_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    frame["persona"] = pd.array(frame["persona"], dtype="str")
    frame["path"] = pd.array(frame["path"], dtype="str")
    return frame[list(_VARIANT_COLUMNS)]


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
    :func:`cjresearch.analysis.journey_map.build_map`; its columns are in the module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRANSITION_COLUMNS`.
    """
    settings = Settings.resolve(settings, **options)
    log = prepare(events, customers, stages=settings.require_stages(), personas=personas)
    return transition_table(log, settings.min_group_size, levels)


def funnel(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """The funnel over the study's stages per persona (the ``funnel`` table of
    :func:`cjresearch.analysis.journey_map.build_map`).

    Returns
    -------
    pandas.DataFrame
        Columns ``persona, stage, step, n_customers, share, n_from_previous, conversion,
        suppressed``.
    """
    settings = Settings.resolve(settings, **options)
    log = prepare(events, customers, stages=settings.require_stages(), personas=personas)
    return funnel_table(log, settings.min_group_size)


#: The columns of ``ordered_funnel.csv``.
ORDERED_FUNNEL_COLUMNS: tuple[str, ...] = (
    "persona",
    "unit",
    "step",
    "stage",
    "n_units",
    "share",
    "conversion",
    "median_minutes_from_previous",
    "n_customers",
    "suppressed",
)

#: The columns of ``step_conversion.csv``.
STEP_CONVERSION_COLUMNS: tuple[str, ...] = (
    "persona",
    "from_stage",
    "from_touchpoint",
    "to_stage",
    "to_touchpoint",
    "n_occurrences",
    "n_converted",
    "conversion",
    "baseline",
    "lift",
    "lift_ci_low",
    "lift_ci_high",
    "median_minutes",
    "n_customers",
)


def _ordered_matches(
    stage: np.ndarray, unit: np.ndarray, start: np.ndarray, n_stages: int
) -> np.ndarray:
    """(units, stages): the event index where each unit reached each stage in order (the first
    event of stage k after the match of stage k - 1; -1 when it never did). ``stage`` and
    ``unit`` are per event, sorted by unit and time; ``start`` is each unit's first index."""
    n_units = len(start)
    matched = np.full((n_units, n_stages), -1, dtype=np.int64)
    previous = start - 1  # "before the unit's first event"
    alive = start >= 0
    for k in range(n_stages):
        at = np.flatnonzero(stage == k)
        candidate = np.full(n_units, -1, dtype=np.int64)
        if len(at):
            j = np.searchsorted(at, previous, side="right")
            inside = alive & (j < len(at))
            candidate[inside] = at[j[inside]]
        found = candidate >= 0
        found[found] = unit[candidate[found]] == np.flatnonzero(found)
        matched[found, k] = candidate[found]
        alive = found
        previous = np.where(found, candidate, previous)
    return matched


def _funnel_rows(
    log: Log,
    unit_name: str,
    stage: np.ndarray,
    unit: np.ndarray,
    time: np.ndarray,
    owner: np.ndarray,
) -> pd.DataFrame:
    """One unit kind's ordered funnel per group (``owner``: each unit's customer)."""
    n_units = len(owner)  # every unit, with events or not (customers without any)
    start = np.full(n_units, -1, dtype=np.int64)
    first = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]]) if len(unit) else np.array([], int)
    start[unit[first]] = first
    matched = _ordered_matches(stage, unit, start, log.n_stages)
    reached = matched >= 0
    totals = log.group_cells(np.zeros(n_units, dtype=np.int64), 1, owner)[:, 0]
    rows: list[dict[str, object]] = []
    for k in range(log.n_stages):
        counts = log.group_cells(reached[:, k].astype(np.int64), 2, owner)[:, 1]
        customers = np.unique(owner[reached[:, k]])
        n_customers = log.group_cells(np.zeros(len(customers), dtype=np.int64), 1, customers)[:, 0]
        minutes = np.full(log.n_groups, np.nan)
        if k:
            both = reached[:, k]
            gap = (time[matched[both, k]] - time[matched[both, k - 1]]) / 6e10
            frame = pd.DataFrame({"g": log.group[owner[both]], "m": gap})
            if len(frame):
                minutes[0] = frame["m"].median()
                per = frame[frame["g"] > 0].groupby("g")["m"].median()
                minutes[per.index.to_numpy()] = per.to_numpy()
        previous: np.ndarray = counts if not k else np.asarray(rows[-1]["n_units"])
        rows.append(
            {
                "step": k + 1,
                "stage": log.stages[k],
                "n_units": counts,
                "share": ratio(counts, totals),
                "conversion": ratio(counts, previous) if k else np.full(log.n_groups, np.nan),
                "median_minutes_from_previous": minutes,
                "n_customers": n_customers,
            }
        )
    return pd.DataFrame(
        {
            "persona": np.tile(log.labels, len(rows)),
            "unit": unit_name,
            **{
                key: np.concatenate([np.asarray(r[key]) for r in rows])
                if key not in ("step", "stage")
                else np.repeat([r[key] for r in rows], log.n_groups)
                for key in rows[0]
            },
        }
    )


def ordered_funnel_table(log: Log, min_group_size: int) -> pd.DataFrame:
    """The ``ordered_funnel`` table: units (customers, and sessions when the study has them)
    that reached the stages in the study's order, each after the previous one."""
    parts = [
        _funnel_rows(log, "customers", log.stage, log.customer, log.time, np.arange(len(log.ids)))
    ]
    if log.session is not None and len(log.session):
        order = log.session_order()
        session = log.session[order]
        owner = np.zeros(int(session.max()) + 1, dtype=np.int64)
        owner[session] = log.customer[order]
        parts.append(
            _funnel_rows(log, "sessions", log.stage[order], session, log.time[order], owner)
        )
    frame = pd.concat(parts, ignore_index=True)
    order_of = {label: i for i, label in enumerate(log.labels)}
    frame = frame.sort_values(
        ["unit", "persona", "step"],
        key=lambda c: c.map(order_of) if c.name == "persona" else c,
        kind="stable",
    ).reset_index(drop=True)
    frame["persona"] = pd.array(frame["persona"], dtype="str")
    frame["unit"] = pd.array(frame["unit"], dtype="str")
    frame["stage"] = pd.Categorical(
        frame["stage"], dtype=pd.CategoricalDtype(log.stages, ordered=True)
    )
    frame["step"] = frame["step"].astype(np.int64)
    frame = suppress(
        frame,
        min_group_size=min_group_size,
        count_col="n_customers",
        columns=["n_units", "share", "conversion", "median_minutes_from_previous", "n_customers"],
        complementary_by=log.complementary(["unit", "stage"]),
    )
    return frame[list(ORDERED_FUNNEL_COLUMNS)]


def step_conversion_table(
    log: Log, min_group_size: int, *, within_steps: int, within_minutes: float | None
) -> pd.DataFrame:
    """The ``step_conversion`` table: within sessions, how often touchpoint A is followed by
    touchpoint B within ``within_steps`` events (and ``within_minutes``, when set), against
    how often any other event is (empty without sessions)."""
    if log.session is None or len(log.session) < 2:
        return empty_frame(STEP_CONVERSION_COLUMNS)
    order = log.session_order()
    session, time = log.session[order], log.time[order]
    node = log.stage[order] * log.n_labels + log.touchpoint[order]
    customer = log.customer[order]
    n_nodes = log.n_stages * log.n_labels
    starts, targets, gaps = [], [], []
    for d in range(1, within_steps + 1):
        i = np.arange(len(node) - d)
        ok = session[i + d] == session[i]
        if within_minutes is not None:
            ok &= (time[i + d] - time[i]) <= within_minutes * 6e10
        i = i[ok & (node[i + d] != node[i])]
        starts.append(i)
        targets.append(node[i + d])
        gaps.append((time[i + d] - time[i]) / 6e10)
    start, target, gap = np.concatenate(starts), np.concatenate(targets), np.concatenate(gaps)
    # each occurrence counts a target once, timed by its first appearance
    key = start * n_nodes + target
    first = np.lexsort((gap, key))
    keep = first[np.r_[True, key[first][1:] != key[first][:-1]]]
    start, target, gap = start[keep], target[keep], gap[keep]
    pair = node[start] * n_nodes + target
    occurring, pair_code = np.unique(pair, return_inverse=True)
    n_pairs = len(occurring)
    if not n_pairs:
        return empty_frame(STEP_CONVERSION_COLUMNS)
    converted = log.group_cells(pair_code, n_pairs, customer[start]).astype(np.float64)
    occurrences = log.group_cells(node, n_nodes, customer).astype(np.float64)
    n_events = occurrences.sum(axis=1)
    a_node, b_node = occurring // n_nodes, occurring % n_nodes
    into_b = np.zeros((log.n_groups, n_nodes))
    for group in range(log.n_groups):
        np.add.at(into_b[group], b_node, converted[group])
    distinct = np.unique(customer[start] * n_pairs + pair_code)
    n_customers = log.group_cells(distinct % n_pairs, n_pairs, distinct // n_pairs)
    g, p = np.nonzero(n_customers >= min_group_size)
    n1 = occurrences[g, a_node[p]]
    a = converted[g, p]
    n0 = n_events[g] - n1
    c = into_b[g, b_node[p]] - a
    lift, low, high = risk_ratio(a, n1, c, n0)
    timing = pd.DataFrame({"key": pair_code, "group": log.group[customer[start]], "m": gap})
    overall = timing.groupby("key")["m"].median()
    personas = timing[timing["group"] > 0].groupby(["group", "key"])["m"].median()
    median = np.where(
        g == 0,
        overall.reindex(p).to_numpy(),
        personas.reindex(pd.MultiIndex.from_arrays([g, p])).to_numpy(),
    )
    names = np.asarray(log.touchpoint_labels.astype(str), dtype=object)
    dtype = pd.CategoricalDtype(log.stages, ordered=True)
    frame = pd.DataFrame(
        {
            "persona": pd.array(np.asarray(log.labels, dtype=object)[g], dtype="str"),
            "from_stage": pd.Categorical.from_codes(a_node[p] // log.n_labels, dtype=dtype),
            "from_touchpoint": pd.array(names[a_node[p] % log.n_labels], dtype="str"),
            "to_stage": pd.Categorical.from_codes(b_node[p] // log.n_labels, dtype=dtype),
            "to_touchpoint": pd.array(names[b_node[p] % log.n_labels], dtype="str"),
            "n_occurrences": n1.astype(np.int64),
            "n_converted": a.astype(np.int64),
            "conversion": ratio(a, n1),
            "baseline": ratio(c, n0),
            "lift": lift,
            "lift_ci_low": low,
            "lift_ci_high": high,
            "median_minutes": median,
            "n_customers": n_customers[g, p].astype(np.int64),
        }
    )
    return frame.sort_values(
        ["persona", "from_stage", "from_touchpoint", "lift"],
        ascending=[True, True, True, False],
        key=lambda c: (
            c.map({label: i for i, label in enumerate(log.labels)}) if c.name == "persona" else c
        ),
        kind="stable",
    ).reset_index(drop=True)[list(STEP_CONVERSION_COLUMNS)]
