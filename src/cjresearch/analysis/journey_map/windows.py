"""Pain-point sums for any window of months, from per-stratum pieces the explorer's cube keeps.

The one definition of a pain point (:mod:`cjresearch.analysis.journey_map.evidence`) reads
per-touchpoint sums (:data:`~cjresearch.analysis.journey_map.evidence.SUM_COLUMNS`). Every
one of them is a sum over customers (or sessions) of a value that depends only on the
customer's *stratum* (persona by the study's controls) and on counts within that stratum:
an expected churn is the stratum's churn rate at the stage, an emotion residual a customer's
emotion minus the stratum's mean. So the sums of a window follow exactly from a few counts
per stratum and stage, and per stratum and touchpoint, for that window, which the cube
(:mod:`cjresearch.analysis.cube`) keeps for every window of months:

- :func:`pain_pieces` codes a study once into the rows those counts are made of (with each
  row's month), for the cube to aggregate over every window;
- :func:`window_sums` turns the counts of one window back into the sums, one row per group
  and touchpoint, for :func:`~cjresearch.analysis.journey_map.evidence.pain_table`, the
  function the build uses.

What a window means: the customers (sessions) counted at a stage or touchpoint are those with
an event there inside the window (a session counts in the month it starts); emotion is each
customer's mean over their observations inside the window; churn is churn by the end of
observation, and so is drop-off ("reached no later stage by the end of observation and
churned"; still active: censored), so for the whole observation period every sum, and so
the table, equals the build's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cjresearch.analysis._codes import codes
from cjresearch.analysis.journey_map._log import Log, prepare_study
from cjresearch.analysis.journey_map._pain_sums import drop_outcomes
from cjresearch.analysis.journey_map.evidence import SUM_COLUMNS
from cjresearch.analysis.settings import Settings

__all__ = ["PIECES", "PainPieces", "pain_pieces", "window_sums"]

#: The per-stratum counts, by name: (axis, how rows add up). ``axis`` is ``"stage"`` or
#: ``"touchpoint"``; ``"distinct"`` counts distinct units (with a weight per unit),
#: ``"means"`` gives the units' window means as count, sum and sum of squares (``_n``,
#: ``_s``, ``_ss``), ``"total"`` adds row weights.
PIECES: dict[str, tuple[str, str]] = {
    "st_n": ("stage", "distinct"),  # customers at the stage
    "st_o": ("stage", "distinct"),  # ... who churned
    "st_dn": ("stage", "distinct"),  # ... whose drop-off is known
    "st_do": ("stage", "distinct"),  # ... who dropped off
    "tc_n": ("touchpoint", "distinct"),
    "tc_o": ("touchpoint", "distinct"),
    "tc_dn": ("touchpoint", "distinct"),
    "tc_do": ("touchpoint", "distinct"),
    "se": ("stage", "means"),  # customers' stage emotion
    "te": ("touchpoint", "means"),  # customers' own emotion about the touchpoint
    "ss_n": ("stage", "total"),  # sessions at the stage (before the goal)
    "ss_o": ("stage", "total"),  # ... that did not convert
    "ss_c": ("stage", "distinct"),  # customers with such sessions
    "sc_n": ("touchpoint", "total"),
    "sc_o": ("touchpoint", "total"),
    "sc_c": ("touchpoint", "distinct"),
    "sx_x": ("touchpoint", "total"),  # sessions that ended right after the touchpoint
    "sx_xn": ("touchpoint", "total"),  # sessions that contain it
}


@dataclass(frozen=True)
class PainPieces:
    """A study coded into the rows of :data:`PIECES` (not suppressed: an internal artifact).

    Attributes
    ----------
    labels
        Group labels: ``"all"``, then the persona names (as the journey map's).
    stages
        The study's stages.
    touchpoints
        ``(stage, touchpoint)`` pairs met in the events: the touchpoint axis.
    stratum_group
        Per stratum, its group code (0: no persona, else the index into ``labels``).
    stage_touchpoints
        Per stage, how many touchpoints the study has there.
    rows
        Per piece name: ``(group, unit, month, weight)``; ``group`` is
        ``stratum * n_axis + axis index``, ``unit`` a unit code (distinct units; None for
        totals), ``month`` the row's UTC calendar month (``year * 12 + month - 1``),
        ``weight`` per unit for distinct counts (None: 1), per row for totals and the value
        for means. Pieces counted over the same rows share the very same arrays (the four
        of a stage, the four of a touchpoint: each counts distinct customer-stage units),
        so that a consumer can aggregate them in one pass.
    """

    labels: tuple[str, ...]
    stages: tuple[str, ...]
    touchpoints: tuple[tuple[str, str], ...]
    stratum_group: np.ndarray
    stage_touchpoints: np.ndarray
    rows: dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]] = field(
        repr=False
    )

    @property
    def n_strata(self) -> int:
        return len(self.stratum_group)


def pain_pieces(
    events: pd.DataFrame,
    customers: pd.DataFrame,
    observations: pd.DataFrame | None,
    *,
    personas: pd.DataFrame | None,
    settings: Settings,
) -> PainPieces:
    """Code a study into the rows of the per-stratum counts (see the module docstring).

    Parameters
    ----------
    events, customers, observations
        As for :func:`cjresearch.analysis.journey_map.build_map` (observations: the
        emotion observations, all sources).
    personas
        ``customer_id, persona_id, persona_name`` or None.
    settings
        The study's settings: stages, controls, sessions and their goal.

    Returns
    -------
    PainPieces
        The coded rows, with the labels and axes they refer to.
    """
    log = prepare_study(events, customers, personas=personas, settings=settings)
    n_s, n_l = log.n_stages, log.n_labels
    cell = log.stage * n_l + log.touchpoint  # every event has a touchpoint (prepare checks)
    pairs = np.unique(cell)
    n_c = len(pairs)
    names = [str(label) for label in log.touchpoint_labels]
    touchpoints = tuple((log.stages[k // n_l], names[k % n_l]) for k in pairs)
    tp = np.searchsorted(pairs, cell).astype(np.int32)
    del cell
    n_k = int(log.stratum.max()) + 1 if len(log.stratum) else 0
    stratum_group = np.zeros(n_k, dtype=np.int64)
    stratum_group[log.stratum] = log.group
    k = log.stratum.astype(np.int32)[log.customer]
    # Each piece counts distinct customer-stage units (a group fixes the stage, so within a
    # group they are the customers), weighted per unit: 1, churned, drop-off known, dropped.
    unit = _key(log.customer, n_s, log.stage)
    month = utc_months(log.time)
    known, dropped = (m.astype(np.float64).ravel() for m in drop_outcomes(log.reached, log.churned))
    churned = np.repeat(log.churned.astype(np.float64), n_s)
    per_unit = {"n": None, "o": churned, "dn": known, "do": dropped}
    rows: dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]] = {}
    for prefix, group in (("st", _key(k, n_s, log.stage)), ("tc", _key(k, n_c, tp))):
        for suffix, weight in per_unit.items():
            rows[f"{prefix}_{suffix}"] = (group, unit, month, weight)
    del k, unit
    rows |= _emotion_rows(log, observations, pairs, n_c)
    rows |= _session_rows(log, tp, pairs // n_l, settings)
    return PainPieces(
        labels=tuple(log.labels),
        stages=tuple(log.stages),
        touchpoints=touchpoints,
        stratum_group=stratum_group,
        stage_touchpoints=np.bincount(pairs // n_l, minlength=n_s).astype(np.float64),
        rows=rows,
    )


def _emotion_rows(
    log: Log, observations: pd.DataFrame | None, pairs: np.ndarray, n_c: int
) -> dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]]:
    """Observations at a stage (``se``) and tied to a touchpoint met there (``te``)."""
    empty = np.array([], dtype=np.int64)
    if observations is None or observations.empty:
        nothing = (empty, empty, empty, np.array([], dtype=np.float64))
        return {"se": nothing, "te": nothing}
    customer = codes(observations["customer_id"], log.ids)
    stage = codes(observations["stage"], pd.Index(log.stages))
    value = observations["emotion"].to_numpy(dtype=np.float64, na_value=np.nan)
    stamps = pd.to_datetime(observations["timestamp"], utc=True).to_numpy(dtype="datetime64[ns]")
    month = utc_months(stamps.astype(np.int64))
    keep = (customer >= 0) & (stage >= 0) & np.isfinite(value)
    k = np.where(keep, log.stratum[np.maximum(customer, 0)], -1)
    out = {"se": (k[keep] * log.n_stages + stage[keep], customer[keep], month[keep], value[keep])}
    if "touchpoint" in observations.columns:
        label = codes(observations["touchpoint"], log.touchpoint_labels)
        cell = stage * log.n_labels + label
        at = np.searchsorted(pairs, cell)
        found = keep & (label >= 0) & (at < len(pairs))
        found[found] = pairs[at[found]] == cell[found]
        out["te"] = (k[found] * n_c + at[found], customer[found], month[found], value[found])
    else:
        out["te"] = (empty, empty, empty, np.array([], dtype=np.float64))
    return out


def _session_rows(
    log: Log, tp: np.ndarray, stage_of: np.ndarray, settings: Settings
) -> dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]]:
    """Sessions before the goal stage at each stage and touchpoint, counted in the month each
    session starts, with whether it converted; exits after each touchpoint."""
    empty = np.array([], dtype=np.int64)
    names = ("ss_n", "ss_o", "ss_c", "sc_n", "sc_o", "sc_c", "sx_x", "sx_xn")
    if log.session is None or not len(log.session):
        return {name: (empty, empty, empty, None) for name in names}
    goal = (
        log.n_stages - 1
        if settings.session_goal is None
        else log.stages.index(settings.session_goal)
    )
    order = log.session_order()
    session, stage, cell = log.session[order], log.stage[order], tp[order]
    n_sessions = int(session.max()) + 1
    owner = np.zeros(n_sessions, dtype=np.int64)
    owner[session] = log.customer[order]
    start = np.full(n_sessions, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(start, session, log.time[order])
    start = utc_months(start)
    lost = (np.bincount(session, weights=(stage == goal), minlength=n_sessions) == 0).astype(
        np.float64
    )
    k = log.stratum[owner]
    out: dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]] = {}
    key = np.unique(session * log.n_stages + stage)
    s_session, s_stage = key // log.n_stages, key % log.n_stages
    before = s_stage < goal
    s_session, s_stage = s_session[before], s_stage[before]
    group = k[s_session] * log.n_stages + s_stage
    month = start[s_session]
    out["ss_n"] = (group, None, month, np.ones(len(group)))
    out["ss_o"] = (group, None, month, lost[s_session])
    out["ss_c"] = (group, owner[s_session], month, None)
    n_c = len(stage_of)
    met = cell >= 0
    key = np.unique(session[met] * n_c + cell[met])
    c_session, c_cell = key // n_c, key % n_c
    c_before = stage_of[c_cell] < goal
    b_session, b_cell = c_session[c_before], c_cell[c_before]
    group = k[b_session] * n_c + b_cell
    month = start[b_session]
    out["sc_n"] = (group, None, month, np.ones(len(group)))
    out["sc_o"] = (group, None, month, lost[b_session])
    out["sc_c"] = (group, owner[b_session], month, None)
    last = np.flatnonzero(np.r_[session[1:] != session[:-1], True])
    last = last[cell[last] >= 0]
    out["sx_x"] = (k[session[last]] * n_c + cell[last], None, start[session[last]],
                   np.ones(len(last)))  # fmt: skip
    out["sx_xn"] = (k[c_session] * n_c + c_cell, None, start[c_session], np.ones(len(c_cell)))
    return out


def window_sums(
    counts: Mapping[str, np.ndarray],
    *,
    stratum_row: np.ndarray,
    labels: Sequence[str],
    stages: Sequence[str],
    touchpoints: Sequence[tuple[str, str]],
    stage_touchpoints: np.ndarray,
    min_group_size: int,
) -> pd.DataFrame:
    """The pain-point sums of one window from its per-stratum counts.

    Parameters
    ----------
    counts
        Per name of :data:`PIECES` (``"means"`` pieces as ``<name>_n``, ``_s``, ``_ss``):
        ``(n_strata, n_axis)`` counts of the window.
    stratum_row
        Per stratum, the row of ``labels`` it belongs to (>= 1; every stratum also counts in
        row 0, all customers), or -1 for strata of customers without a persona (row 0
        only).
    labels
        Group labels, ``"all"`` first.
    stages, touchpoints
        The axes: stages, and ``(stage, touchpoint)`` pairs.
    stage_touchpoints
        Per stage, the number of touchpoints the study has there.
    min_group_size
        Rows whose group met the touchpoint with fewer customers are left out.

    Returns
    -------
    pandas.DataFrame
        ``persona, stage, touchpoint`` and every column of
        :data:`~cjresearch.analysis.journey_map.evidence.SUM_COLUMNS`, one row per group and
        touchpoint met by at least ``min_group_size`` of the group's customers, as
        :func:`~cjresearch.analysis.journey_map.evidence.pain_table` reads them.
    """
    n_g, n_s, stage_list = len(labels), len(stages), list(stages)
    stage_of = np.array([stage_list.index(s) for s, _ in touchpoints], dtype=np.int64)
    member = np.zeros((len(stratum_row), n_g))
    member[:, 0] = 1.0
    inside = stratum_row >= 1
    member[np.flatnonzero(inside), stratum_row[inside]] = 1.0

    def c(name: str) -> np.ndarray:
        return np.asarray(counts[name], dtype=np.float64)

    def group(per_stratum: np.ndarray) -> np.ndarray:
        return member.T @ per_stratum  # (groups, axis)

    def rate(o: np.ndarray, n: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, o / np.where(n > 0, n, 1), 0.0)

    sums: dict[str, tuple[np.ndarray, np.ndarray | None, bool]] = {}
    r = rate(c("st_o"), c("st_n"))
    tn, sn = c("tc_n"), c("st_n")
    sums["churn_n"] = (group(tn), group(sn), False)
    sums["churn_o"] = (group(c("tc_o")), group(c("st_o")), False)
    sums["churn_e"] = (group(tn * r[:, stage_of]), group(sn * r), False)
    sums["churn_q"] = (group(tn * r[:, stage_of] ** 2), group(sn * r**2), False)
    rd = rate(c("st_do"), c("st_dn"))
    rj = rate(c("st_do").sum(axis=1), c("st_dn").sum(axis=1))[:, None]
    tn, sn = c("tc_dn"), c("st_dn")
    sums["drop_n"] = (group(tn), group(sn), True)
    sums["drop_o"] = (group(c("tc_do")), group(c("st_do")), True)
    sums["drop_e"] = (group(tn * rd[:, stage_of]), group(sn * rd), True)
    sums["drop_q"] = (group(tn * rd[:, stage_of] ** 2), group(sn * rd**2), True)
    sums["drop_je"] = (group(tn * rj), group(sn * rj), True)
    sums["drop_jq"] = (group(tn * rj**2), group(sn * rj**2), True)
    sums |= _emotion_sums(c, group, rate, stage_of)
    rs = rate(c("ss_o"), c("ss_n"))
    tn, sn = c("sc_n"), c("ss_n")
    sums["session_n"] = (group(tn), group(sn), False)
    sums["session_c"] = (group(c("sc_c")), group(c("ss_c")), False)
    sums["session_o"] = (group(c("sc_o")), group(c("ss_o")), False)
    sums["session_e"] = (group(tn * rs[:, stage_of]), group(sn * rs), False)
    sums["session_q"] = (group(tn * rs[:, stage_of] ** 2), group(sn * rs**2), False)
    by_stage = np.zeros((len(touchpoints), n_s))
    by_stage[np.arange(len(touchpoints)), stage_of] = 1.0
    for name in ("x", "xn"):
        per_tp = group(c(f"sx_{name}"))
        sums[f"exit_{name}"] = (per_tp, per_tp @ by_stage, False)

    g, t = np.nonzero(sums["churn_n"][0] >= min_group_size)
    s = stage_of[t]
    columns: dict[str, object] = {
        "persona": pd.array(np.asarray(labels, dtype=object)[g], dtype="str"),
        "stage": pd.Categorical.from_codes(
            s, dtype=pd.CategoricalDtype(list(stages), ordered=True)
        ),
        "touchpoint": pd.array(
            np.asarray([p for _, p in touchpoints], dtype=object)[t] if len(t) else [], dtype="str"
        ),
        "stage_touchpoints": np.asarray(stage_touchpoints, dtype=np.float64)[s],
    }
    for name, (tp, stage, journey) in sums.items():
        columns[f"{name}_tp"] = tp[g, t]
        if stage is not None:
            columns[f"{name}_stage"] = stage[g, s]
        if journey:
            columns[f"{name}_all"] = stage.sum(axis=1)[g] if stage is not None else np.nan
    frame = pd.DataFrame(columns)
    return frame[["persona", "stage", "touchpoint", *SUM_COLUMNS]]


def _emotion_sums(c, group, rate, stage_of: np.ndarray) -> dict[str, tuple]:
    """Emotion sums: raw, and residuals from the stratum's mean at the stage and over the
    journey, for the touchpoint's own emotion and the stage's."""
    sn, ss, sss = c("se_n"), c("se_s"), c("se_ss")
    tn, ts, tss = c("te_n"), c("te_s"), c("te_ss")
    mu = rate(ss, sn)
    mj = rate(ss.sum(axis=1), sn.sum(axis=1))[:, None]
    mt = mu[:, stage_of]

    def residual(n, s, q, m):
        return s - n * m, q - 2 * m * s + n * m**2

    st_s, st_ss = residual(sn, ss, sss, mu)
    sj_s, sj_ss = residual(sn, ss, sss, mj)
    tp_s, tp_ss = residual(tn, ts, tss, mt)
    tj_s, tj_ss = residual(tn, ts, tss, mj)
    pairs = {
        "n": (tn, sn), "s": (tp_s, st_s), "ss": (tp_ss, st_ss), "js": (tj_s, sj_s),
        "jss": (tj_ss, sj_ss), "rs": (ts, ss), "rss": (tss, sss),
    }  # fmt: skip
    return {f"emotion_{k}": (group(tp), group(st), True) for k, (tp, st) in pairs.items()}


def utc_months(nanoseconds: np.ndarray) -> np.ndarray:
    """UTC nanoseconds since the epoch as calendar months, ``year * 12 + month - 1``
    (int32: a month per row takes half the memory of its time)."""
    months = np.asarray(nanoseconds, dtype="datetime64[ns]").astype("datetime64[M]")
    return (months.astype(np.int64) + 1970 * 12).astype(np.int32)


def _key(outer: np.ndarray, n_inner: int, inner: np.ndarray) -> np.ndarray:
    """``outer * n_inner + inner``, computed in int64 and held as int32 where it fits (a
    key per event: half the memory)."""
    key = outer.astype(np.int64) * n_inner + inner
    return key.astype(np.int32) if key.max(initial=0) < np.iinfo(np.int32).max else key
