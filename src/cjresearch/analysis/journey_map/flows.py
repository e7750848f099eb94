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

:func:`transitions` and :func:`funnel` compute one table each from the event log;
:func:`transition_table`, :func:`funnel_table` and :func:`variant_table` compute them from the
prepared log, for these and for :func:`cjresearch.analysis.journey_map.build_map`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjresearch.analysis.intervals import wilson_intervals
from cjresearch.analysis.journey_map._log import Log, empty_frame, prepare, ratio
from cjresearch.analysis.privacy import suppress
from cjresearch.analysis.settings import Settings
from cjresearch.errors import CJResearchError

__all__ = ["TRANSITION_COLUMNS", "funnel", "transitions"]

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
