"""Where the journey hurts: the ``pain_points``, ``opportunities`` and ``verbatims`` tables.

Groups, the label ``"all"``, suppression and column types are as described in
:mod:`cjresearch.analysis.journey_map`; columns are listed in order.

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
persona and stage with ``odds_ratio, ci_low, ci_high`` per ``unit_size`` of emotion and
``finding``), each stage that is a ``finding`` there (its association survives the one family
of tests and the joint model) and whose interval lies below 1 is an opportunity
(``source="emotion_churn"``): ``effect
= 1 - odds_ratio`` (lower odds of churn per ``unit_size`` better emotion), ``reach`` the share
of the persona reaching the stage, ``touchpoint`` missing. Without it, each pain point whose
lift interval lies above 1 is one (``source="pain_points"``): ``effect = churn_rate -
churn_rate_comparison`` (risk difference, Wald interval) and ``reach`` the share of the
persona meeting the touchpoint, so the score is the excess churn per customer of the persona
that goes with it. ``reason`` says so in plain, associational words.

``verbatims``: ``persona, stage, touchpoint, pain_rank, kind, text, text_emotion, n_texts``:
for each of the first ``max_pain_points`` pain points of each persona, up to three feedback
comments about that touchpoint at that stage by the persona's customers: the most negative
one (``kind="most negative"``, lowest ``text_emotion``) and the most typical ones
(``kind="typical"``, closest to the median score), each distinct, redacted with
:func:`cjresearch.analysis.privacy.redact`. ``text_emotion`` is the comment's score as
written, with the study's lexicon setting (``cx_lexicon``,
:func:`cjresearch.analysis.emotion.score_texts`). Only pools of at least ``min_group_size``
customers' comments are quoted from (``n_texts``); the rule is
:mod:`cjresearch.analysis.verbatims`.

:func:`pain_point_table`, :func:`opportunity_table` and :func:`verbatim_table` compute the
tables from the prepared log for :func:`cjresearch.analysis.journey_map.build_map`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import codes
from cjresearch.analysis.intervals import Z95, risk_ratio, t_interval, welch_interval
from cjresearch.analysis.journey_map._log import Log, empty_frame, ratio
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.verbatims import comment_pool, n_quotable, pick, scored
from cjresearch.data.schema import ALL

__all__ = ["EMOTION_CHURN_COLUMNS", "OPPORTUNITY_COLUMNS", "PAIN_POINT_COLUMNS"]


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
    "finding",
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


def pain_point_table(
    log: Log, emotion: np.ndarray, tp_cells: tuple[np.ndarray, np.ndarray], min_group_size: int
) -> pd.DataFrame:
    """The ``pain_points`` table: every touchpoint met at a stage by enough customers, scored."""
    with_, at_stage = _sums(log, emotion, tp_cells)
    n_labels = max(len(log.touchpoint_labels), 1)
    n_with, churn_with, drop_with = with_["n"], with_["churned"], with_["dropped"]
    e_n_with, e_sum_with, e_sq_with = with_["e_n"], with_["e_sum"], with_["e_sq"]
    n_stage, churn_stage, drop_stage = at_stage["n"], at_stage["churned"], at_stage["dropped"]
    e_n_stage, e_sum_stage, e_sq_stage = at_stage["e_n"], at_stage["e_sum"], at_stage["e_sq"]

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
    p0 = np.where(comparable, ratio(c, n0), np.nan)

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
    drop0 = np.where(last | ~comparable, np.nan, ratio(drop_stage[g, s] - drop_with[g, inner], n0))

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


def _sums(
    log: Log, emotion: np.ndarray, tp_cells: tuple[np.ndarray, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per group and touchpoint cell, and per group and stage: customers (``n``), churned,
    dropped off (reached no later stage), and the count, sum and sum of squares of their stage
    emotion (``e_n``, ``e_sum``, ``e_sq``)."""
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
    emo = emotion[customers, stage_of_cell]
    has = np.isfinite(emo)
    e_val = np.where(has, emo, 0.0)
    with_ = {
        "n": per_cell(np.ones(len(customers))),
        "churned": per_cell(churned[customers]),
        "e_n": per_cell(has.astype(float)),
        "e_sum": per_cell(e_val),
        "e_sq": per_cell(e_val**2),
        "dropped": per_cell((furthest[customers] == stage_of_cell).astype(float)),
    }
    has_stage = np.isfinite(emotion) & log.reached
    s_val = np.where(has_stage, emotion, 0.0)
    at_stage = {
        "n": per_stage(reached),
        "churned": per_stage(reached * churned[:, None]),
        "e_n": per_stage(has_stage.astype(float)),
        "e_sum": per_stage(s_val),
        "e_sq": per_stage(s_val**2),
        "dropped": per_stage(
            reached * (furthest[:, None] == np.arange(log.n_stages)[None, :]).astype(float)
        ),
    }
    return with_, at_stage


def opportunity_table(
    labels: Sequence[str],
    journey_map: pd.DataFrame,
    pain_points: pd.DataFrame,
    n_persona: Mapping[str, float],
    emotion_churn: pd.DataFrame | None,
    min_group_size: int,
) -> pd.DataFrame:
    """The ``opportunities`` table, from the ``emotion_churn`` table when given, else from the pain
    points."""
    rows: list[dict[str, Any]] = []
    if emotion_churn is not None:
        require_columns(emotion_churn, EMOTION_CHURN_COLUMNS, "emotion_churn")
        reach = journey_map.set_index(["persona", journey_map["stage"].astype(str)])["reach"]
        for rec in emotion_churn.to_dict("records"):
            persona, stage = str(rec["persona"]), str(rec["stage"])
            odds, low, high = (float(rec[k]) for k in ("odds_ratio", "ci_low", "ci_high"))
            n = float(rec["n_customers"])
            r = reach.get((persona, stage), np.nan)
            found = not pd.isna(rec["finding"]) and bool(rec["finding"])
            if not (found and n >= min_group_size and np.isfinite(r) and high < 1 and odds < 1):
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
        return empty_frame(OPPORTUNITY_COLUMNS).astype(
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


def verbatim_table(
    log: Log,
    pain_points: pd.DataFrame,
    feedback: pd.DataFrame | None,
    settings: Settings,
    max_pain_points: int,
) -> pd.DataFrame:
    """The ``verbatims`` table: comments quoted for the first ``max_pain_points`` pain points,
    by the rule of :mod:`cjresearch.analysis.verbatims` (scored with the study's lexicon)."""
    rows = comment_pool(feedback)
    if rows is None or rows.empty or pain_points.empty:
        return empty_frame(_VERBATIM_COLUMNS)
    require_columns(rows, ("customer_id", "stage", "text"), "feedback")
    customer = codes(rows["customer_id"], log.ids)
    stage = codes(rows["stage"], pd.Index(log.stages))
    if "touchpoint" in rows.columns:
        touchpoint = codes(rows["touchpoint"], log.touchpoint_labels)
    else:
        touchpoint = np.full(len(rows), -1, dtype=np.int64)
    pool = pd.DataFrame(
        {
            "customer": customer,
            "group": np.where(customer >= 0, log.group[np.maximum(customer, 0)], -1),
            "stage": stage,
            "touchpoint": touchpoint,
            "raw": rows["text"].astype(str).reset_index(drop=True),
        }
    )
    pool = pool[(pool["customer"] >= 0) & (pool["stage"] >= 0)]
    if pool.empty:
        return empty_frame(_VERBATIM_COLUMNS)
    pool = scored(pool, cx_lexicon=settings.cx_lexicon, customer_ids=log.ids)
    # Without a touchpoint on the feedback row: the stage's comments of customers who met it.
    met = None if "touchpoint" in rows.columns else set(pd.unique(_met_keys(log)).tolist())
    parts = []
    for rec in pain_points[pain_points["rank"] <= max_pain_points].to_dict("records"):
        candidates = _pain_pool(log, pool, rec, met)
        n_texts = n_quotable(candidates["customer"], min_group_size=settings.min_group_size)
        if n_texts is None:
            continue
        picks = pick(candidates, most_negative=1, typical=2)
        parts.append(
            pd.DataFrame(
                {
                    "persona": rec["persona"],
                    "stage": rec["stage"],
                    "touchpoint": rec["touchpoint"],
                    "pain_rank": int(rec["rank"]),
                    "kind": picks["kind"].tolist(),
                    "text": picks["text"].tolist(),
                    "text_emotion": [float(v) for v in picks["text_emotion"]],
                    "n_texts": n_texts,
                }
            )
        )
    if not parts:
        return empty_frame(_VERBATIM_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    for column in ("persona", "touchpoint", "kind", "text"):
        frame[column] = pd.array(frame[column].to_numpy(dtype=object), dtype="str")
    frame["stage"] = pd.Categorical(
        frame["stage"].astype(str), dtype=pd.CategoricalDtype(log.stages, ordered=True)
    )
    return frame[list(_VERBATIM_COLUMNS)]


def _met_keys(log: Log) -> np.ndarray:
    """Per event, its (customer, stage, touchpoint) as one code."""
    n_labels = max(len(log.touchpoint_labels), 1)
    return log.customer * (log.n_stages * n_labels) + log.stage * n_labels + log.touchpoint


def _pain_pool(
    log: Log, pool: pd.DataFrame, pain: dict[str, Any], met: set[int] | None
) -> pd.DataFrame:
    """The comments about one pain point: at its stage, by its persona's customers (all
    customers for "all"), about its touchpoint (or, when feedback names no touchpoint, by
    customers who met it there)."""
    s = log.stages.index(str(pain["stage"]))
    t = [str(label) for label in log.touchpoint_labels].index(str(pain["touchpoint"]))
    g = log.labels.index(pain["persona"])
    candidates = pool[pool["stage"] == s]
    if g > 0:
        candidates = candidates[candidates["group"] == g]
    if met is None:
        return candidates[candidates["touchpoint"] == t]
    n_labels = max(len(log.touchpoint_labels), 1)
    keys = candidates["customer"] * (log.n_stages * n_labels) + s * n_labels + t
    return candidates[keys.isin(met)]
