"""The pain-point sums of the prepared event log (not API).

:func:`pain_sums` reduces the log to :data:`cjresearch.analysis.journey_map.evidence.SUM_COLUMNS`,
one row per group and touchpoint met at a stage, for
:func:`cjresearch.analysis.journey_map.evidence.pain_table`; the explorer's cube keeps the same
sums for every window (:mod:`cjresearch.analysis.cube`). Every sum is over customers (or, for
sessions, over sessions), by ``numpy.bincount`` over the log's integer codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from cjresearch.analysis.journey_map._log import Log
from cjresearch.analysis.journey_map.evidence import SUM_COLUMNS, expected_by_stratum

__all__ = ["drop_outcomes", "pain_sums"]

# name -> (tp sums (groups, cells), stage sums (groups, stages) or None, journey sums or None)
_Sums = dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]


def drop_outcomes(reached: np.ndarray, churned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Customers x stages: (known, dropped). A customer at a stage (not the last) who reached a
    later one went on; one who did not and churned dropped off; one who did not and is still
    active is censored (neither)."""
    n_stages = reached.shape[1]
    furthest = np.where(reached.any(axis=1), n_stages - 1 - np.argmax(reached[:, ::-1], axis=1), -1)
    later = furthest[:, None] > np.arange(n_stages)[None, :]
    final = (np.arange(n_stages) == n_stages - 1)[None, :]
    at = reached & ~final
    dropped = at & ~later & churned[:, None]
    return at & (later | churned[:, None]), dropped


def _per_stage(log: Log, matrix: np.ndarray) -> np.ndarray:
    return np.stack([log.group_sum(matrix[:, s]) for s in range(log.n_stages)], axis=1)


def _n_strata(log: Log) -> int:
    return int(log.stratum.max()) + 1 if len(log.stratum) else 0


def _by_stage(log: Log, outcome: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Customers x stages: the mean ``outcome`` (customers x stages) of each customer's stratum
    at each stage, over the cells with ``weight`` (0 where the stratum has none there)."""
    code = (log.stratum[:, None] * log.n_stages + np.arange(log.n_stages)[None, :]).ravel()
    rate = expected_by_stratum(
        code, outcome.ravel(), weight.ravel(), n_strata=_n_strata(log) * log.n_stages
    )
    return np.nan_to_num(rate)[code].reshape(outcome.shape)


def _journey(log: Log, outcome: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per customer: the mean ``outcome`` of the customer's stratum over the whole journey."""
    repeated = np.repeat(log.stratum, log.n_stages)
    rate = expected_by_stratum(repeated, outcome.ravel(), weight.ravel(), n_strata=_n_strata(log))
    return np.nan_to_num(rate)[log.stratum]


def _rates(log: Log, tp_cells: tuple[np.ndarray, np.ndarray]) -> _Sums:
    """Churn and drop-off: observed, expected (stratum rates at the stage, and over the
    journey for drop-off), and the squares of the expected."""
    customers, cells = tp_cells
    n_inner = log.n_stages * log.n_labels
    stage_of_cell = cells // log.n_labels

    def per_cell(matrix: np.ndarray) -> np.ndarray:
        return log.group_cells(cells, n_inner, customers, weights=matrix[customers, stage_of_cell])

    out: _Sums = {}
    reached = log.reached.astype(np.float64)
    churned = np.broadcast_to(log.churned[:, None], reached.shape).astype(np.float64)
    e = _by_stage(log, churned, reached) * reached
    for stat, matrix in (("n", reached), ("o", churned * reached), ("e", e), ("q", e**2)):
        out[f"churn_{stat}"] = (per_cell(matrix), _per_stage(log, matrix), None)
    known, dropped = drop_outcomes(log.reached, log.churned)
    known_f, dropped_f = known.astype(np.float64), dropped.astype(np.float64)
    d = _by_stage(log, dropped_f, known_f) * known_f
    j = _journey(log, dropped_f, known_f)[:, None] * known_f
    matrices = {"n": known_f, "o": dropped_f, "e": d, "q": d**2, "je": j, "jq": j**2}
    for stat, matrix in matrices.items():
        stage = _per_stage(log, matrix)
        out[f"drop_{stat}"] = (per_cell(matrix), stage, stage.sum(axis=1))
    return out


def _emotion(
    log: Log, emotion: np.ndarray, own: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> _Sums:
    """Emotion: the touchpoint's own (per customer) and the stage's, raw and as residuals from
    the customer's stratum mean at the stage and over the journey."""
    customers, cells, own_mean = own
    n_inner = log.n_stages * log.n_labels
    has = np.isfinite(emotion)
    value = np.where(has, emotion, 0.0)
    at_stage = _by_stage(log, value, has.astype(np.float64))
    over_journey = _journey(log, value, has.astype(np.float64))
    has_own = np.isfinite(own_mean)
    own_value = np.where(has_own, own_mean, 0.0)
    own_stage = own_value - at_stage[customers, cells // log.n_labels]
    own_journey = own_value - over_journey[customers]
    stage_residual = value - at_stage
    journey_residual = value - over_journey[:, None]

    def pairs() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        # made one pair at a time, not all fourteen arrays at once (each customers x stages
        # or one per touchpoint cell: 56 MB and more at 1,000,000 customers)
        yield "n", np.ones_like(value), np.ones_like(own_value)
        yield "s", stage_residual, own_stage
        yield "ss", stage_residual**2, own_stage**2
        yield "js", journey_residual, own_journey
        yield "jss", journey_residual**2, own_journey**2
        yield "rs", value, own_value
        yield "rss", value**2, own_value**2

    out: _Sums = {}
    for stat, matrix, per_own in pairs():
        stage = _per_stage(log, np.where(has, matrix, 0.0))
        weights = np.where(has_own, per_own, 0.0)
        del matrix, per_own
        tp = log.group_cells(cells, n_inner, customers, weights=weights)
        out[f"emotion_{stat}"] = (tp, stage, stage.sum(axis=1))
    return out


def _sessions(log: Log, goal: int | None) -> _Sums:
    """Sessions that reached each stage (before the goal) and each touchpoint cell: how many,
    how many did not convert (reach the goal stage), the expected number and its squares,
    customers behind them; and exits (a session's last event) per cell."""
    n_inner = log.n_stages * log.n_labels
    n_groups = log.n_groups
    zeros_tp, zeros_stage = np.zeros((n_groups, n_inner)), np.zeros((n_groups, log.n_stages))
    names = ["session_n", "session_c", "session_o", "session_e", "session_q", "exit_x", "exit_xn"]
    if log.session is None or not len(log.session):
        return {name: (zeros_tp, zeros_stage, None) for name in names}
    order = log.session_order()
    session, stage = log.session[order], log.stage[order]
    cell = stage * log.n_labels + log.touchpoint[order]
    n_sessions = int(session.max()) + 1
    owner = np.zeros(n_sessions, dtype=np.int64)
    owner[session] = log.customer[order]
    goal = log.n_stages - 1 if goal is None else goal
    lost = np.bincount(session, weights=(stage == goal), minlength=n_sessions) == 0
    out: _Sums = {}

    def counted(unit: np.ndarray, inner: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        key = np.unique(unit * width + inner)
        return key // width, key % width

    stage_session, stage_at = counted(session, stage, log.n_stages)
    before = stage_at < goal
    code = log.stratum[owner] * log.n_stages
    rate = np.nan_to_num(
        expected_by_stratum(
            code[stage_session[before]] + stage_at[before],
            lost[stage_session[before]],
            n_strata=_n_strata(log) * log.n_stages,
        )
    )
    cell_session, cell_at = counted(session, cell, n_inner)
    cell_before = cell_at // log.n_labels < goal
    s1, at1 = cell_session[cell_before], cell_at[cell_before] // log.n_labels
    s0, at0 = stage_session[before], stage_at[before]
    weights: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "n": lambda s, _: np.ones(len(s)),
        "o": lambda s, _: lost[s].astype(np.float64),
        "e": lambda s, at: rate[code[s] + at],
        "q": lambda s, at: rate[code[s] + at] ** 2,
    }
    for stat, weight in weights.items():
        out[f"session_{stat}"] = (
            log.group_cells(cell_at[cell_before], n_inner, owner[s1], weights=weight(s1, at1)),
            log.group_cells(at0, log.n_stages, owner[s0], weights=weight(s0, at0)),
            None,
        )
    who_cell, at_cell = counted(owner[cell_session[cell_before]], cell_at[cell_before], n_inner)
    who_stage, at_stage = counted(owner[stage_session[before]], stage_at[before], log.n_stages)
    out["session_c"] = (
        log.group_cells(at_cell, n_inner, who_cell),
        log.group_cells(at_stage, log.n_stages, who_stage),
        None,
    )
    last = np.flatnonzero(np.r_[session[1:] != session[:-1], True])
    exits = log.group_cells(cell[last], n_inner, owner[session[last]]).astype(np.float64)
    pairs = log.group_cells(cell_at, n_inner, owner[cell_session]).astype(np.float64)
    shape = (n_groups, log.n_stages, log.n_labels)
    for name, per_cell in (("exit_x", exits), ("exit_xn", pairs)):
        out[name] = (per_cell, per_cell.reshape(shape).sum(axis=2), None)
    return out


def pain_sums(
    log: Log,
    emotion: np.ndarray,
    tp_cells: tuple[np.ndarray, np.ndarray],
    own: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    goal: int | None,
    min_group_size: int,
) -> pd.DataFrame:
    """One row per group and touchpoint met at a stage by at least ``min_group_size`` of the
    group's customers: ``persona, stage, touchpoint`` and every sum of ``SUM_COLUMNS``.

    ``emotion`` is the customers x stages stage emotion (NaN where none), ``tp_cells`` the
    distinct (customer, cell) pairs of touchpoint cells (``stage * n_labels + touchpoint``),
    ``own`` the distinct (customer, cell) pairs with emotion observations tied to the
    touchpoint and each one's mean, ``goal`` the stage code sessions convert at (None: the
    last).
    """
    sums = {**_rates(log, tp_cells), **_emotion(log, emotion, own)}
    sums |= _sessions(log, goal)
    n_with = sums["churn_n"][0]
    g, inner = np.nonzero(n_with >= min_group_size)
    s, t = inner // log.n_labels, inner % log.n_labels
    per_stage = np.bincount(np.unique(tp_cells[1]) // log.n_labels, minlength=log.n_stages)
    names = np.asarray(log.touchpoint_labels.astype(str), dtype=object)
    columns: dict[str, object] = {
        "persona": pd.array(np.asarray(log.labels, dtype=object)[g], dtype="str"),
        "stage": pd.Categorical.from_codes(s, dtype=pd.CategoricalDtype(log.stages, ordered=True)),
        "touchpoint": pd.array(names[t] if len(names) else [], dtype="str"),
        "stage_touchpoints": per_stage[s].astype(np.float64),
    }
    for name, (tp, stage, journey) in sums.items():
        columns[f"{name}_tp"] = tp[g, inner]
        if stage is not None:
            columns[f"{name}_stage"] = stage[g, s]
        if journey is not None:
            columns[f"{name}_all"] = journey[g]
    frame = pd.DataFrame(columns)
    return frame[["persona", "stage", "touchpoint", *SUM_COLUMNS]]
