"""Where the journey hurts: the ``pain_points``, ``opportunities`` and ``verbatims`` tables.

Groups, the label ``"all"``, suppression and column types are as described in
:mod:`cjresearch.analysis.journey_map`; columns are listed in order.

``pain_points``: one row per group and touchpoint met at a stage by at least
``min_group_size`` of the group's customers, whether or not it is a pain point; the rule that
decides, the evidence behind it and every column are defined once in
:mod:`cjresearch.analysis.journey_map.evidence` (the explorer uses the same rule). In short:
the customers who met the touchpoint are compared with the group's other customers at the
stage on churn, drop-off (censored at the end of observation), their own emotion about the
touchpoint and, in studies with sessions, session conversion; each comparison is adjusted
for persona and the study's controls and pooled across touchpoints; a touchpoint is a pain
point (``is_pain_point``) only when at least one of them shows harm beyond chance
(``evidence`` names which), and only pain points get a ``score`` above 0 and a ``rank``.
Columns: :data:`PAIN_POINT_COLUMNS` (``persona, stage, touchpoint, n_customers,
emotion_mean, churn_lift, lift_ci_low, lift_ci_high, drop_off, score, rank`` as in earlier
releases; ``emotion_mean`` is now the touchpoint's own emotion, missing when it has none).

``opportunities``: ``persona, stage, touchpoint, source, n_customers, reach, effect,
effect_ci_low, effect_ci_high, score, rank, reason``, then ``churn_rate,
churn_rate_comparison, n_comparison``. Two kinds, ranked together within each group by
``score = reach x effect``, the churners per customer of the group that go with it:

- touchpoint level (``source = "pain_points"``): every pain point with churn among its
  evidence. ``reach`` is the share of the group that met it, ``churn_rate`` /
  ``churn_rate_comparison`` the churn pair (with / without it at the stage, ``n_customers``
  / ``n_comparison`` customers) and ``effect = churn_rate x (1 - 1 / lift)`` with the
  adjusted and pooled churn lift (``churn_lift_shrunk``; its interval gives the effect's):
  the share of the touchpoint's customers whose churn goes beyond what their persona and
  controls predict;
- stage level (``source = "emotion_churn"``, ``touchpoint`` missing): every row of the
  statistics step's ``emotion_churn`` table whose ``finding`` is True (it survived that
  step's correction for many tests) with an odds ratio below 1. ``reach`` is the share of
  the group reaching the stage; with ``p`` its churn rate and ``OR`` the odds ratio per
  ``unit_size`` of emotion, ``effect = p - p OR / (1 - p + p OR)``, the drop in churn
  that goes with feeling one step better there (intervals from the odds ratio's).

When the statistics give no finding (or no table), the touchpoint-level opportunities are
the whole table. ``reason`` says each in plain, associational words.

``verbatims``: ``persona, stage, touchpoint, pain_rank, kind, text, text_emotion, n_texts``:
for each of the first ``max_pain_points`` pain points of each persona, up to three feedback
comments about that touchpoint at that stage by the persona's customers: the most negative
one (``kind="most negative"``, lowest ``text_emotion``) and the most typical ones
(``kind="typical"``, closest to the median score), each distinct, redacted with
:func:`cjresearch.analysis.privacy.redact`. ``text_emotion`` is the comment's score as
written, with the study's lexicon setting (``cx_lexicon``,
:func:`cjresearch.analysis.emotion.score_texts`). Only pools of at least ``min_group_size``
customers' comments are quoted from (``n_texts``); the rule is
:mod:`cjresearch.analysis.verbatims`. A touchpoint that is not a pain point is never quoted
as one.

:func:`pain_point_table`, :func:`opportunity_table` and :func:`verbatim_table` compute the
tables from the prepared log for :func:`cjresearch.analysis.journey_map.build_map`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import codes
from cjresearch.analysis.journey_map._log import Log, empty_frame
from cjresearch.analysis.journey_map._pain_sums import pain_sums
from cjresearch.analysis.journey_map.evidence import PAIN_POINT_COLUMNS, pain_table
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.verbatims import comment_pool, n_quotable, pick, scored
from cjresearch.data.schema import ALL

__all__ = ["EMOTION_CHURN_COLUMNS", "OPPORTUNITY_COLUMNS", "PAIN_POINT_COLUMNS"]


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
    "churn_rate",
    "churn_rate_comparison",
    "n_comparison",
)


#: The columns an ``emotion_churn`` table must have (the statistics step's output); only its
#: rows whose ``finding`` column is True become opportunities.
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


def own_emotion(
    log: Log, observations: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (customer, touchpoint cell) pairs with emotion observations tied to the
    touchpoint at a stage, and each one's mean (a cell is ``stage * n_labels + touchpoint``)."""
    empty = np.array([], dtype=np.int64)
    if observations is None or observations.empty:
        return empty, empty, np.array([], dtype=np.float64)
    require_columns(observations, ("customer_id", "stage", "touchpoint", "emotion"), "observations")
    n_inner = log.n_stages * log.n_labels
    customer = codes(observations["customer_id"], log.ids)
    stage = codes(observations["stage"], pd.Index(log.stages))
    touchpoint = codes(observations["touchpoint"], log.touchpoint_labels)
    emotion = observations["emotion"].to_numpy(dtype=np.float64, na_value=np.nan)
    keep = (customer >= 0) & (stage >= 0) & (touchpoint >= 0) & np.isfinite(emotion)
    key = customer[keep] * n_inner + stage[keep] * log.n_labels + touchpoint[keep]
    per_customer = pd.Series(emotion[keep]).groupby(key).mean()
    keys = per_customer.index.to_numpy(dtype=np.int64)
    return keys // n_inner, keys % n_inner, per_customer.to_numpy(dtype=np.float64)


def pain_point_table(
    log: Log,
    emotion: np.ndarray,
    tp_cells: tuple[np.ndarray, np.ndarray],
    own: tuple[np.ndarray, np.ndarray, np.ndarray],
    settings: Settings,
) -> pd.DataFrame:
    """The ``pain_points`` table: every touchpoint met at a stage by enough customers, judged by
    the rule of :mod:`cjresearch.analysis.journey_map.evidence`."""
    goal = None if settings.session_goal is None else log.stages.index(settings.session_goal)
    sums = pain_sums(log, emotion, tp_cells, own, goal=goal, min_group_size=settings.min_group_size)
    return pain_table(
        sums,
        min_group_size=settings.min_group_size,
        alpha=settings.alpha,
        seed=settings.seed,
        group_order=log.labels,
    )


def opportunity_table(
    labels: Sequence[str],
    journey_map: pd.DataFrame,
    pain_points: pd.DataFrame,
    n_persona: Mapping[str, float],
    emotion_churn: pd.DataFrame | None,
    min_group_size: int,
) -> tuple[pd.DataFrame, list[str]]:
    """The ``opportunities`` table (touchpoint and stage level, ranked together) and notes."""
    notes: list[str] = []
    rows = _touchpoint_opportunities(pain_points, n_persona)
    if emotion_churn is not None:
        needed = [c for c in EMOTION_CHURN_COLUMNS if c != "finding"]  # without: a note
        require_columns(emotion_churn, needed, "emotion_churn")
        if "finding" not in emotion_churn.columns:
            notes.append(
                "the emotion -> churn table has no 'finding' column, so no stage is an "
                "opportunity; the opportunities are touchpoints"
            )
        else:
            rows += _stage_opportunities(journey_map, emotion_churn, min_group_size)
    if not rows:
        return _no_opportunities(), notes
    frame = pd.DataFrame(rows)
    order = {label: i for i, label in enumerate(labels)}
    frame["_group"] = frame["persona"].map(order)
    frame = frame.sort_values(
        ["_group", "score", "n_customers"], ascending=[True, False, False], kind="stable"
    )
    frame["rank"] = frame.groupby("persona").cumcount().astype(np.int64) + 1
    for column in ("persona", "stage", "touchpoint", "source", "reason"):
        frame[column] = pd.array(frame[column].to_numpy(dtype=object), dtype="str")
    frame["n_customers"] = frame["n_customers"].astype(np.int64)
    return frame.reset_index(drop=True)[list(OPPORTUNITY_COLUMNS)], notes


def _no_opportunities() -> pd.DataFrame:
    return empty_frame(OPPORTUNITY_COLUMNS).astype(
        {c: "str" for c in ("persona", "stage", "touchpoint", "source", "reason")}
    )


def _touchpoint_opportunities(
    pain_points: pd.DataFrame, n_persona: Mapping[str, float]
) -> list[dict[str, Any]]:
    """Pain points with churn among their evidence, sized by their excess churn."""
    rows: list[dict[str, Any]] = []
    churn = pain_points["is_pain_point"] & pain_points["evidence"].str.contains("churn")
    for rec in pain_points[churn.fillna(False)].to_dict("records"):
        persona, stage, touchpoint = rec["persona"], str(rec["stage"]), rec["touchpoint"]
        n1, n0 = float(rec["n_customers"]), float(rec["n_comparison"])
        p1, p0 = float(rec["churn_rate"]), float(rec["churn_rate_comparison"])
        total = n_persona.get(persona, np.nan)
        reach = n1 / total if total and np.isfinite(total) else np.nan
        lift = float(rec["churn_lift_shrunk"])
        low, high = float(rec["churn_lift_shrunk_ci_low"]), float(rec["churn_lift_shrunk_ci_high"])
        effect = p1 * (1 - 1 / lift)
        rows.append(
            {
                "persona": persona,
                "stage": stage,
                "touchpoint": touchpoint,
                "source": "pain_points",
                "n_customers": n1,
                "reach": reach,
                "effect": effect,
                "effect_ci_low": p1 * (1 - 1 / low),
                "effect_ci_high": p1 * (1 - 1 / high),
                "score": reach * effect,
                "churn_rate": p1,
                "churn_rate_comparison": p0,
                "n_comparison": n0,
                "reason": (
                    f"{int(n1):,} customers ({_share(reach)} of {_who(persona)}) met "
                    f"{touchpoint} at {stage}; {_share(p1)} of them churned against "
                    f"{_share(p0)} of the {int(n0):,} others at {stage}. Adjusted for "
                    f"persona and the study's controls, their churn was {lift:.2f} times "
                    f"what customers like them had (95% interval {low:.2f} to {high:.2f}): "
                    f"about {100 * reach * effect:.1f} more churners per 100 customers go "
                    f"together with {touchpoint}. This is an association, not a proven "
                    f"cause, so fixing it is worth testing."
                ),
            }
        )
    return rows


def _stage_opportunities(
    journey_map: pd.DataFrame, emotion_churn: pd.DataFrame, min_group_size: int
) -> list[dict[str, Any]]:
    """Stages whose emotion -> churn association is a finding of the statistics step."""
    rows: list[dict[str, Any]] = []
    at = journey_map.set_index(["persona", journey_map["stage"].astype(str)])
    found = emotion_churn[emotion_churn["finding"].fillna(False).astype(bool)]
    for rec in found.to_dict("records"):
        persona, stage = str(rec["persona"]), str(rec["stage"])
        odds, low, high = (float(rec[k]) for k in ("odds_ratio", "ci_low", "ci_high"))
        n = float(rec["n_customers"])
        if (persona, stage) not in at.index:
            continue
        reach = float(at.loc[(persona, stage), "reach"])
        p = float(at.loc[(persona, stage), "churn_rate"])
        if not (n >= min_group_size and np.isfinite(reach) and np.isfinite(p) and odds < 1):
            continue

        def fewer(ratio: float, p: float = p) -> float:
            return p - p * ratio / (1 - p + p * ratio)

        unit = float(rec["unit_size"])
        effect = fewer(odds)
        rows.append(
            {
                "persona": persona,
                "stage": stage,
                "touchpoint": None,
                "source": "emotion_churn",
                "n_customers": n,
                "reach": reach,
                "effect": effect,
                "effect_ci_low": fewer(high),
                "effect_ci_high": fewer(low),
                "score": reach * effect,
                "churn_rate": p,
                "churn_rate_comparison": np.nan,
                "n_comparison": np.nan,
                "reason": (
                    f"{_share(reach)} of {_who(persona)} reach {stage}, and {_share(p)} of "
                    f"them churned. There, customers who felt {unit:g} better on the emotion "
                    f"scale had {_share(1 - odds)} lower odds of churning (odds ratio "
                    f"{odds:.2f}, 95% CI {low:.2f} to {high:.2f}, n = {int(n):,}; a finding "
                    f"after correction for many tests): about {100 * reach * effect:.1f} "
                    f"fewer churners per 100 customers would go with that. This is an "
                    f"association, not a proven cause: improving how {stage} feels is worth "
                    f"testing."
                ),
            }
        )
    return rows


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
    quoted = pain_points["is_pain_point"] & (pain_points["rank"] <= max_pain_points).fillna(False)
    for rec in pain_points[quoted.astype(bool)].to_dict("records"):
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
