"""The one definition of a pain point, from sums that a journey map or the explorer's cube keeps.

Both :func:`cjresearch.analysis.journey_map.build_map` (from the event log) and the explorer
(:mod:`cjresearch.explore.selection`, from the pre-aggregated cube) reduce a study to the same
per-touchpoint sums (:data:`SUM_COLUMNS`) and call :func:`pain_table`, so a touchpoint is a pain
point in a report exactly when it is one in the explorer. The rule, in full:

**Who is compared.** For a touchpoint ``t`` at stage ``s`` and a group (a persona, or all
customers): the group's customers who met ``t`` at ``s`` against the group's other customers
at ``s`` (the *stage* comparison; a kind is left out when fewer than ``min_group_size``
customers are on either side). At a stage where the study has a single touchpoint there is
nobody at the stage to compare with; there, drop-off and emotion are compared with the
group's customers at the journey's *other* stages (``comparison_basis = "journey"``): "the
drop-off after this step against the drop-off after the other steps". Churn and session
conversion have no such fallback (customers at later stages have survived longer, so their
churn is not comparable).

**Evidence kinds** (:data:`KINDS`), each an estimate with a standard error:

- ``churn``: the churn risk ratio, adjusted (below), on the log scale; harm is above 1;
- ``drop_off``: the risk ratio of dropping off, on the log scale; harm is above 1. A customer
  drops off at ``s`` when they reached no later stage *and* churned; a customer who reached
  no later stage but is still active is *censored* (they may yet go on) and counts in
  neither the numerator nor the denominator, so the last touchpoint before the end of
  observation gets no drop-off for the customers still there. The last stage has none;
- ``emotion``: the touchpoint's own emotion (observations tied to ``t``: an event's emotion,
  the ``[valence]`` of ``t``, feedback naming ``t``; a touchpoint with none has none, it does
  not borrow its stage's) minus the stage's emotion, adjusted; harm is below 0;
- ``session_conversion``: among the sessions that reached ``s``, the risk ratio of *not*
  converting (not reaching the goal stage, ``[sessions] goal``, default the last) with ``t``
  against without it, on the log scale; harm is above 1 (the bad outcome, as for churn; a
  ratio of the few conversions would be far noisier). Published beside it: both conversion
  rates and their difference, ``session_conversion_gap``. Only studies with sessions, stages
  before the goal.

**Adjustment for who meets a touchpoint.** Customers are put into strata by persona and by
the study's ``[statistics] controls`` (categorical controls by value, numeric ones by
quartile, missing values as a stratum of their own). Each customer's (or session's)
*expected* outcome is the mean outcome of their stratum at the same stage (for the journey
comparison: over the whole journey), and the estimate compares observed with expected
(internal indirect standardisation, Breslow and Day 1987, ch. 2; a stratum whose customers
all met the touchpoint adds as much to the expected as to the observed count, so only
strata with customers on both sides move the estimate, as in a Mantel-Haenszel estimate):
for a rate, ``(O1 / E1) / (O0 / E0)`` with ``O`` the observed and ``E`` the
expected count of each group, ``Var log(O / E) = (O - O^2 Q / E^2) / O^2`` (``Q`` the sum of
squared expected values: a binomial variance under ``p_i = (O / E) e_i``); for emotion, the
difference of the groups' mean residuals (value minus expected) with Welch's standard error. A
touchpoint that one persona simply uses more is no longer a pain point for that reason: its
customers churn as their persona and controls predict.

**Partial pooling.** Within each group and kind, the adjusted estimates of all touchpoints
are shrunk together (:func:`cjresearch.analysis.shrinkage.shrink`, empirical-Bayes adaptive
shrinkage towards "no effect"), giving ``*_shrunk`` estimates with intervals at the study's
confidence level (``1 - alpha``).

**The rule.** A kind is *evidence of harm* when its shrunk interval lies wholly on the harm
side. A touchpoint is a pain point (``is_pain_point``) when at least one kind is; ``evidence``
names them. Its ``score`` is the sum over kinds of the interval's near end on the harm side,
each clipped to [0, 1] (log ratio for the rates, emotion points for emotion), so a score is
positive exactly for pain points. Pain points are ranked by score within each group
(``rank`` 1 is the worst; ties by ``n_customers``); a touchpoint that is not a pain point has
no rank. ``rank_ci_low`` / ``rank_ci_high`` are a 95% interval of the rank from a parametric
bootstrap: 1,000 draws of every touchpoint's effects from their shrunk distributions, each
draw ranking the group's touchpoints by the same sum of clipped harms.

All of it is association: customers who met a pain point fared worse than comparable
customers who did not; it is not shown that the touchpoint made them.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from cjresearch.analysis.intervals import Z95, risk_ratio, welch_interval
from cjresearch.analysis.shrinkage import shrink
from cjresearch.errors import CJResearchError

__all__ = [
    "KINDS",
    "PAIN_POINT_COLUMNS",
    "SUM_COLUMNS",
    "expected_by_stratum",
    "pain_table",
    "strata",
]

#: The kinds of evidence, each: (display prefix of its columns, harm direction, log scale).
KINDS: dict[str, tuple[str, int, bool]] = {
    "churn": ("churn_lift", 1, True),
    "drop_off": ("drop_off_ratio", 1, True),
    "emotion": ("emotion_gap", -1, False),
    "session_conversion": ("non_conversion_ratio", 1, True),
}

#: Draws of the parametric bootstrap behind the rank intervals.
RANK_DRAWS = 1000
#: Numeric controls are cut into this many quantile bins to form strata.
CONTROL_BINS = 4


def _parts(prefix: str, stats: Sequence[str], parts: Sequence[str]) -> list[str]:
    return [f"{prefix}_{stat}_{part}" for part in parts for stat in stats]


#: The sums :func:`pain_table` reads, one row per group, stage and touchpoint. ``tp``: the
#: group's customers (sessions) who met the touchpoint at the stage; ``stage``: all the
#: group's customers (sessions) at the stage; ``all``: the whole journey (every stage for
#: emotion, every stage but the last for drop-off). ``n`` counts units, ``o`` observed bad
#: outcomes (churned, dropped off, sessions that did not convert), ``e`` / ``q`` expected
#: ones (the stratum's rate at the same stage) and their squares, ``je`` / ``jq`` the same
#: with the stratum's rate over the whole journey; ``s`` / ``ss`` residual emotion sums
#: (value minus the stratum's mean at the stage; ``js`` / ``jss`` minus its mean over the
#: journey), ``rs`` / ``rss`` raw emotion sums, ``c`` customers with sessions, ``x`` /
#: ``xn`` sessions that ended right after a touchpoint / sessions containing it;
#: ``stage_touchpoints`` is the number of touchpoints the study has at the stage.
SUM_COLUMNS: tuple[str, ...] = (
    "stage_touchpoints",
    *_parts("churn", ("n", "o", "e", "q"), ("tp", "stage")),
    *_parts("drop", ("n", "o", "e", "q", "je", "jq"), ("tp", "stage", "all")),
    *_parts("emotion", ("n", "s", "ss", "js", "jss", "rs", "rss"), ("tp", "stage", "all")),
    *_parts("session", ("n", "c", "o", "e", "q"), ("tp", "stage")),
    *_parts("exit", ("x", "xn"), ("tp", "stage")),
)


def _kind_columns(prefix: str) -> list[str]:
    return [
        f"{prefix}_{version}{end}"
        for version in ("adjusted", "shrunk")
        for end in ("", "_ci_low", "_ci_high")
    ]


#: The columns of ``pain_points.csv``: those of earlier releases first, then the evidence.
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
    "is_pain_point",
    "evidence",
    "rank_ci_low",
    "rank_ci_high",
    "comparison_basis",
    *_kind_columns("churn_lift"),
    "n_emotion",
    *_kind_columns("emotion_gap"),
    "n_drop_off_known",
    *_kind_columns("drop_off_ratio"),
    "n_sessions",
    "n_sessions_comparison",
    "session_conversion",
    "session_conversion_comparison",
    "session_conversion_gap",
    *_kind_columns("non_conversion_ratio"),
    "exit_rate",
    "exit_rate_comparison",
)


# --- strata and expected values ----------------------------------------------------------


def strata(customers: pd.DataFrame, group: np.ndarray, controls: Sequence[str] = ()) -> np.ndarray:
    """Each customer's stratum: persona (``group``) by the controls' levels.

    Categorical controls count by value, numeric ones by quartile (:data:`CONTROL_BINS`
    quantile bins), a missing value as a level of its own.

    Parameters
    ----------
    customers
        The customers, in the order of ``group``; must hold the ``controls`` columns.
    group
        Per customer, an integer persona code.
    controls
        Customer attribute columns to stratify by.

    Returns
    -------
    numpy.ndarray
        int64 stratum codes ``0 .. n_strata - 1``.

    Raises
    ------
    CJResearchError
        A control is not a column of ``customers``.
    """
    missing = [c for c in controls if c not in customers.columns]
    if missing:
        msg = f"customers has no control column(s) {missing}; found {list(customers.columns)}"
        raise CJResearchError(msg)
    key = pd.Series(np.asarray(group, dtype=np.int64)).astype(str)
    for control in controls:
        values = customers[control].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            ranked = values.rank(method="average")
            if ranked.notna().sum() > 0 and values.nunique() > CONTROL_BINS:
                level = pd.qcut(ranked, CONTROL_BINS, labels=False, duplicates="drop")
            else:
                level = values
        else:
            level = values
        key = key + "|" + level.astype(object).where(level.notna(), "<missing>").astype(str)
    codes, _ = pd.factorize(key, sort=True)
    return codes.astype(np.int64)


def expected_by_stratum(
    stratum: np.ndarray,
    outcome: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    n_strata: int | None = None,
) -> np.ndarray:
    """Per stratum code, the (weighted) mean outcome (NaN for a stratum without weight).

    Parameters
    ----------
    stratum
        Per unit, its stratum code (>= 0).
    outcome
        Per unit, its outcome (NaN counts as no weight).
    weight
        Per unit, its weight (1 when None).
    n_strata
        Length of the result (default: the largest code + 1).
    """
    stratum = np.asarray(stratum, dtype=np.int64)
    value = np.asarray(outcome, dtype=np.float64)
    w = np.ones(len(value)) if weight is None else np.asarray(weight, dtype=np.float64)
    w = np.where(np.isfinite(value), w, 0.0)
    size = n_strata if n_strata is not None else (int(stratum.max()) + 1 if len(stratum) else 0)
    total = np.bincount(stratum, weights=w * np.nan_to_num(value), minlength=size)
    count = np.bincount(stratum, weights=w, minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / count, np.nan)


# --- estimates from sums -----------------------------------------------------------------


def _log_smr_ratio(
    o1: np.ndarray, e1: np.ndarray, q1: np.ndarray, o0: np.ndarray, e0: np.ndarray, q0: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """log((O1/E1)/(O0/E0)) and its standard error (module docstring); 0.5 is added to O and
    E of both groups when an O is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        empty = (o1 <= 0) | (o0 <= 0)
        o1, o0 = np.where(empty, o1 + 0.5, o1), np.where(empty, o0 + 0.5, o0)
        e1, e0 = np.where(empty, e1 + 0.5, e1), np.where(empty, e0 + 0.5, e0)
        v1 = np.maximum(o1 - o1**2 * q1 / e1**2, 0.25)
        v0 = np.maximum(o0 - o0**2 * q0 / e0**2, 0.25)
        estimate = np.log(o1 / e1) - np.log(o0 / e0)
        se = np.sqrt(v1 / o1**2 + v0 / o0**2)
    ok = (e1 > 0) & (e0 > 0) & np.isfinite(estimate) & np.isfinite(se)
    return np.where(ok, estimate, np.nan), np.where(ok, se, np.nan)


def _mean_gap(
    n1: np.ndarray, s1: np.ndarray, ss1: np.ndarray, n0: np.ndarray, s0: np.ndarray, ss0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Difference of two means from sums, its standard error and Welch's 95% interval."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m1, m0 = s1 / n1, s0 / n0
        v1 = np.maximum((ss1 - n1 * m1**2) / (n1 - 1), 0.0)
        v0 = np.maximum((ss0 - n0 * m0**2) / (n0 - 1), 0.0)
        gap, low, high = welch_interval(m1, v1, n1, m0, v0, n0)
        se = np.sqrt(v1 / n1 + v0 / n0)
    return gap, se, low, high


def _rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _require_sums(sums: pd.DataFrame) -> None:
    missing = [c for c in ("persona", "stage", "touchpoint", *SUM_COLUMNS) if c not in sums]
    if missing:
        msg = f"pain-point sums lack the columns {missing[:6]}{'...' if len(missing) > 6 else ''}"
        raise CJResearchError(msg)


def _evidence(
    sums: pd.DataFrame, m: int
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The descriptive columns and each kind's adjusted (estimate, se) from the sums."""
    col = {c: sums[c].to_numpy(dtype=np.float64) for c in SUM_COLUMNS}
    out: dict[str, object] = {}
    n1 = col["churn_n_tp"]
    n_rest = col["churn_n_stage"] - n1
    stage_ok = n_rest >= m
    journey = col["stage_touchpoints"] <= 1
    basis = np.where(journey, "journey", np.where(stage_ok, "stage", ""))

    o1, o_rest = col["churn_o_tp"], col["churn_o_stage"] - col["churn_o_tp"]
    lift, lift_low, lift_high = risk_ratio(o1, n1, o_rest, np.where(stage_ok, n_rest, 0))
    out["n_comparison"] = np.where(stage_ok, n_rest, np.nan)
    out["churn_rate"] = _rate(o1, n1)
    out["churn_rate_comparison"] = np.where(stage_ok, _rate(o_rest, n_rest), np.nan)
    out["churn_lift"], out["lift_ci_low"], out["lift_ci_high"] = (
        np.where(stage_ok, x, np.nan) for x in (lift, lift_low, lift_high)
    )
    estimates: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    churn = _log_smr_ratio(
        o1,
        col["churn_e_tp"],
        col["churn_q_tp"],
        o_rest,
        col["churn_e_stage"] - col["churn_e_tp"],
        col["churn_q_stage"] - col["churn_q_tp"],
    )
    estimates["churn"] = tuple(np.where(stage_ok, x, np.nan) for x in churn)  # type: ignore[assignment]

    def pick(name: str, journey_name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(exposed, comparison) sums: the stage's others, or the journey's other stages."""
        tp, stage, whole = (col[f"{name}_{p}"] for p in ("tp", "stage", "all"))
        if journey_name is None:
            return tp, np.where(journey, whole - stage, stage - tp)
        jtp, jstage, jwhole = (col[f"{journey_name}_{p}"] for p in ("tp", "stage", "all"))
        return np.where(journey, jtp, tp), np.where(journey, jwhole - jstage, stage - tp)

    drop_n1, drop_n0 = pick("drop_n")
    drop_ok = (drop_n1 >= m) & (drop_n0 >= m) & (journey | stage_ok)
    drop_o1, drop_o0 = pick("drop_o")
    out["n_drop_off_known"] = np.where(drop_n1 > 0, drop_n1, np.nan)
    out["drop_off"] = np.where(drop_n1 >= m, _rate(drop_o1, drop_n1), np.nan)
    out["drop_off_comparison"] = np.where(drop_ok, _rate(drop_o0, drop_n0), np.nan)
    drop_e1, drop_e0 = pick("drop_e", "drop_je")
    drop_q1, drop_q0 = pick("drop_q", "drop_jq")
    drop = _log_smr_ratio(drop_o1, drop_e1, drop_q1, drop_o0, drop_e0, drop_q0)
    estimates["drop_off"] = tuple(np.where(drop_ok, x, np.nan) for x in drop)  # type: ignore[assignment]

    # emotion: the touchpoint's own against the stage as a whole (or the other stages)
    e_n1 = col["emotion_n_tp"]

    def emotion_other(name: str) -> np.ndarray:
        stage, whole = col[f"{name}_stage"], col[f"{name}_all"]
        return np.where(journey, whole - stage, stage)

    def emotion_own(name: str, journey_name: str) -> np.ndarray:
        return np.where(journey, col[f"{journey_name}_tp"], col[f"{name}_tp"])

    e_n0 = emotion_other("emotion_n")
    emotion_ok = (e_n1 >= m) & (e_n0 >= m) & (journey | stage_ok)
    out["n_emotion"] = np.where(e_n1 >= m, e_n1, np.nan)  # fewer: blank, never a small count
    out["emotion_mean"] = np.where(e_n1 >= m, _rate(col["emotion_rs_tp"], e_n1), np.nan)
    raw_gap, _, raw_low, raw_high = _mean_gap(
        e_n1, col["emotion_rs_tp"], col["emotion_rss_tp"],
        e_n0, emotion_other("emotion_rs"), emotion_other("emotion_rss"),
    )  # fmt: skip
    out["emotion_gap"], out["emotion_gap_ci_low"], out["emotion_gap_ci_high"] = (
        np.where(emotion_ok, x, np.nan) for x in (raw_gap, raw_low, raw_high)
    )
    gap, gap_se, _, _ = _mean_gap(
        e_n1, emotion_own("emotion_s", "emotion_js"), emotion_own("emotion_ss", "emotion_jss"),
        e_n0,
        np.where(journey, emotion_other("emotion_js"), emotion_other("emotion_s")),
        np.where(journey, emotion_other("emotion_jss"), emotion_other("emotion_ss")),
    )  # fmt: skip
    estimates["emotion"] = (np.where(emotion_ok, gap, np.nan), np.where(emotion_ok, gap_se, np.nan))

    s_n1, s_n0 = col["session_n_tp"], col["session_n_stage"] - col["session_n_tp"]
    s_c1, s_c0 = col["session_c_tp"], col["session_c_stage"] - col["session_c_tp"]
    s_o1, s_o0 = col["session_o_tp"], col["session_o_stage"] - col["session_o_tp"]
    session_ok = (s_c1 >= m) & (s_c0 >= m) & (s_n1 >= m) & (s_n0 >= m)
    out["n_sessions"] = np.where(s_c1 >= m, s_n1, np.nan)
    out["n_sessions_comparison"] = np.where(session_ok, s_n0, np.nan)
    conversion, conversion_0 = 1 - _rate(s_o1, s_n1), 1 - _rate(s_o0, s_n0)
    out["session_conversion"] = np.where(s_c1 >= m, conversion, np.nan)
    out["session_conversion_comparison"] = np.where(session_ok, conversion_0, np.nan)
    out["session_conversion_gap"] = np.where(session_ok, conversion - conversion_0, np.nan)
    sessions = _log_smr_ratio(
        s_o1, col["session_e_tp"], col["session_q_tp"],
        s_o0, col["session_e_stage"] - col["session_e_tp"],
        col["session_q_stage"] - col["session_q_tp"],
    )  # fmt: skip
    estimates["session_conversion"] = tuple(np.where(session_ok, x, np.nan) for x in sessions)  # type: ignore[assignment]

    x1, xn1 = col["exit_x_tp"], col["exit_xn_tp"]
    x0, xn0 = col["exit_x_stage"] - x1, col["exit_xn_stage"] - xn1
    out["exit_rate"] = np.where(s_c1 >= m, _rate(x1, xn1), np.nan)
    out["exit_rate_comparison"] = np.where(session_ok, _rate(x0, xn0), np.nan)
    out["comparison_basis"] = basis
    frame = pd.DataFrame(out, index=sums.index)
    return frame, estimates


# --- the rule ----------------------------------------------------------------------------


def pain_table(
    sums: pd.DataFrame,
    *,
    min_group_size: int,
    alpha: float = 0.05,
    seed: int = 7,
    group_order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The ``pain_points`` table from per-touchpoint sums, by the rule of the module docstring.

    Parameters
    ----------
    sums
        One row per group (``persona``), ``stage`` and ``touchpoint`` with
        :data:`SUM_COLUMNS` (missing sums are NaN). Rows whose ``churn_n_tp`` is below
        ``min_group_size`` are dropped. Not modified.
    min_group_size
        The smallest group any figure may describe.
    alpha
        The shrunk intervals are ``1 - alpha`` intervals.
    seed
        Seed of the rank bootstrap (each group draws from its own stream, so a group's
        intervals do not depend on which other groups are present).
    group_order
        The order of the groups in the output (default: as they first appear).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PAIN_POINT_COLUMNS`, sorted by group, then pain points by rank, then
        the other touchpoints by stage and touchpoint.

    Raises
    ------
    CJResearchError
        A sum column is missing.
    """
    _require_sums(sums)
    rows = sums[sums["churn_n_tp"].to_numpy(dtype=np.float64) >= min_group_size]
    rows = rows.reset_index(drop=True)
    described, estimates = _evidence(rows, min_group_size)
    frame = pd.concat(
        [
            rows[["persona", "stage", "touchpoint"]],
            pd.DataFrame({"n_customers": rows["churn_n_tp"].to_numpy(dtype=np.int64)}),
            described,
        ],
        axis=1,
    )
    labels = list(dict.fromkeys(frame["persona"].tolist()))
    if group_order is not None:
        labels = [g for g in group_order if g in set(labels)] + [
            g for g in labels if g not in set(group_order)
        ]
    harm = np.zeros(len(frame))
    evidence: list[list[str]] = [[] for _ in range(len(frame))]
    rank_low = np.full(len(frame), np.nan)
    rank_high = np.full(len(frame), np.nan)
    level_z = _z(alpha)
    for kind, (prefix, _, _) in KINDS.items():
        estimate, se = estimates[kind]
        adjusted = _shown(kind, estimate, estimate - level_z * se, estimate + level_z * se)
        for end, values in zip(("", "_ci_low", "_ci_high"), adjusted, strict=True):
            frame[f"{prefix}_adjusted{end}"] = values
        for end in ("", "_ci_low", "_ci_high"):
            frame[f"{prefix}_shrunk{end}"] = np.nan
    for label in labels:
        at = np.flatnonzero((frame["persona"] == label).to_numpy())
        rng = np.random.default_rng([seed, zlib.crc32(str(label).encode())])
        sampled = np.zeros((RANK_DRAWS, len(at)))
        for kind, (prefix, direction, _) in KINDS.items():
            estimate, se = estimates[kind]
            shrunk = shrink(estimate[at], se[at], level=1 - alpha)
            mean, low, high = _shown(kind, shrunk.mean, shrunk.low, shrunk.high)
            frame.loc[at, f"{prefix}_shrunk"] = mean
            frame.loc[at, f"{prefix}_shrunk_ci_low"] = low
            frame.loc[at, f"{prefix}_shrunk_ci_high"] = high
            near = shrunk.low if direction > 0 else -shrunk.high
            term = np.clip(np.nan_to_num(near, nan=0.0), 0.0, 1.0)
            harm[at] += term
            for i in at[term > 0]:
                evidence[i].append(kind)
            draw = direction * shrunk.draws(RANK_DRAWS, rng)
            sampled += np.clip(np.nan_to_num(draw, nan=0.0), 0.0, 1.0)
        ranks = stats.rankdata(-sampled, method="min", axis=1)
        rank_low[at] = np.percentile(ranks, 2.5, axis=0, method="lower")
        rank_high[at] = np.percentile(ranks, 97.5, axis=0, method="higher")
    frame["score"] = harm
    frame["is_pain_point"] = harm > 0
    frame["evidence"] = pd.array(["; ".join(e) for e in evidence], dtype="str")
    frame["rank_ci_low"] = rank_low
    frame["rank_ci_high"] = rank_high
    return _ranked(frame, labels)


def _z(alpha: float) -> float:
    return Z95 if alpha == 0.05 else float(stats.norm.ppf(1 - alpha / 2))


def _shown(
    kind: str, estimate: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates on the scale they are published on: ratios for the log-scale kinds."""
    if KINDS[kind][2]:
        with np.errstate(over="ignore"):
            return np.exp(estimate), np.exp(low), np.exp(high)
    return estimate, low, high


def _ranked(frame: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    order = {label: i for i, label in enumerate(labels)}
    frame = frame.assign(_group=frame["persona"].map(order), _pain=~frame["is_pain_point"])
    frame = frame.sort_values(
        ["_group", "_pain", "score", "n_customers", "stage", "touchpoint"],
        ascending=[True, True, False, False, True, True],
        kind="stable",
    )
    position = (frame.groupby("_group").cumcount() + 1).astype("Int64")
    frame["rank"] = position.where(frame["is_pain_point"].to_numpy(dtype=bool))
    frame = frame.drop(columns=["_group", "_pain"]).reset_index(drop=True)
    return frame[list(PAIN_POINT_COLUMNS)]
