"""Findings: the tables' estimates as ranked, plain-language and associational sentences."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats._common import (
    EMOTION_CHURN_COLUMNS,
    EXPLAIN,
    FINDINGS_COLUMNS,
    TIME_TO_CHURN_COLUMNS,
    finish,
)
from cjresearch.data.schema import ALL

__all__ = ["NOTE_COLUMNS", "findings"]

#: The columns of the ``notes`` that :func:`findings` ranks with the estimates.
NOTE_COLUMNS = ("persona", "stage", "kind", "text")

_SHAKY = {
    "small_group",
    "low_epv",
    "separation",
    "quasi_separation",
    "not_converged",
    "fit_failed",
    "high_vif",
    "ph_violated",
    "lag_sensitive",
}
# tiers of the ranking: solid findings, opportunities, the other solid tests, notes,
# tentative ones, the rest
_SOLID, _OPPORTUNITY, _TESTS, _NOTE, _TENTATIVE, _NULL = range(6)
#: A sentence with its sort key (tier, q-value, then the stronger first).
_Item = tuple[tuple[float, float, float], dict[str, Any]]


def _step_words(unit_size: float) -> str:
    return f"{unit_size:g} points" if unit_size != 1 else "1 point"


def _q_text(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _who(persona: str) -> str:
    return "Customers" if persona == ALL else f"Among {persona}, customers"


def _days(value: object) -> float | None:
    number = float(value) if value is not None and not pd.isna(value) else np.nan  # type: ignore[arg-type]
    return number if np.isfinite(number) else None


def _timing(row: pd.Series, kind: str) -> tuple[str, str]:
    """What the emotion was and when churn was counted, in words."""
    stage = row["stage"]
    window, lag = _days(row.get("exposure_window_days")), _days(row.get("lag_days"))
    horizon = _days(row.get("horizon_days"))
    if kind == "hazard":
        counted = "" if lag is None else f", counting each emotion from {lag:g} days after it"
        return f"{stage} emotion", f"churned at {{ratio}} times the rate from then on{counted}"
    if window is None or lag is None or horizon is None:
        return f"{stage} emotion", "had {ratio} times the odds of churning"
    return (
        f"{stage} emotion (in the {window:g} days after reaching it)",
        f"had {{ratio}} times the odds of churning in the {horizon:g} days from {lag:g} days later",
    )


def _tail(row: pd.Series, kind: str) -> str:
    n, stage = int(row["n_customers"]), row["stage"]
    reached = row.get("n_reached")
    said = row.get("n_responded")
    known = reached is not None and not pd.isna(reached)
    if kind == "hazard":
        base = f"n = {n:,}, {int(row['n_events']):,} churned"
    else:
        base = f"n = {n:,}, {int(row['n_churned']):,} churned"
    if not known:
        return f"{base}; who reached {stage}"
    return f"{base}; of {int(reached):,} who reached {stage}, {int(said):,} gave feedback there"


def _ratio_sentence(
    row: pd.Series, ratio_col: str, unit_size: float, alpha: float, kind: str
) -> tuple[str, bool]:
    ratio, low, high = row[ratio_col], row["ci_low"], row["ci_high"]
    persona, q = row["persona"], row["q_value"]
    lower = ratio < 1
    shown = (1 / ratio, 1 / high, 1 / low) if lower else (ratio, low, high)
    direction = "lower" if lower else "higher"
    step = _step_words(unit_size)
    what, then = _timing(row, kind)
    measure = "odds ratio" if kind == "odds" else "hazard ratio"
    ci = f"95% CI {shown[1]:.2f}-{shown[2]:.2f}"
    tail = _tail(row, kind)
    flags = [f for f in str(row["flags"]).split(";") if f]
    codes = {f.split(":")[0] for f in flags}
    finding = bool(row.get("finding", q < alpha))
    unconfirmed = q < alpha and not finding and not (codes & _SHAKY)
    tentative = bool(codes & _SHAKY) or (shown[2] / shown[1] > 4) or unconfirmed
    if q < alpha:
        text = (
            f"{_who(persona)} whose {what} was {step} {direction} on the -1 to +1 scale "
            f"{then.replace('{ratio}', f'{shown[0]:.2f}')} ({measure}; {ci}; {_q_text(q)}; {tail})."
        )
    else:
        text = (
            f"No clear association between {row['stage']} emotion and churn "
            f"{'overall' if persona == ALL else 'among ' + persona} ({measure} per {step} "
            f"{direction} {shown[0]:.2f}; {ci}; {_q_text(q)}; {tail})."
        )
    if tentative:
        reasons = [EXPLAIN.get(f.split(":")[0], f) for f in flags if f.split(":")[0] in _SHAKY]
        if unconfirmed:
            reasons.append("not confirmed by the joint model, net of earlier stages")
        reason = ", ".join(reasons) or "a wide interval"
        text = f"Tentative ({reason}): {text}"
    return text, tentative


def _estimates(table: pd.DataFrame, column: str, kind: str, alpha: float) -> list[_Item]:
    items: list[_Item] = []
    for _, row in table.iterrows():
        estimable = np.isfinite([row[column], row["q_value"], row["ci_high"]]).all()
        if not (estimable and row[column] > 0 and row["ci_low"] > 0):
            continue  # no ratio, or an interval reaching 0 or infinity: no sentence
        text, tentative = _ratio_sentence(row, column, float(row["unit_size"]), alpha, kind)
        significant = row["q_value"] < alpha
        tier = (_TENTATIVE if tentative else _SOLID) if significant else _NULL
        items.append(
            (
                (tier, float(row["q_value"]), -abs(np.log(row[column]))),
                {
                    "persona": row["persona"],
                    "stage": row["stage"],
                    "kind": column if significant else "no_clear_association",
                    "text": text,
                    "q_value": float(row["q_value"]),
                },
            )
        )
    return items


def _heterogeneity(table: pd.DataFrame, alpha: float) -> list[_Item]:
    if "heterogeneity_q" not in table.columns:
        return []
    rows = table[table["persona"].astype(str) == ALL].drop_duplicates("stage")
    items: list[_Item] = []
    for _, row in rows.iterrows():
        q = float(row["heterogeneity_q"])
        if not (np.isfinite(q) and q < alpha):
            continue
        text = (
            f"At {row['stage']}, how emotion goes with churn differs between personas "
            f"(likelihood-ratio test of persona x emotion; {_q_text(q)}): the personas' own "
            "estimates at this stage are reported."
        )
        payload = {"persona": ALL, "stage": row["stage"], "kind": "heterogeneity"}
        items.append(((_TESTS, q, 0.0), {**payload, "text": text, "q_value": q}))
    return items


def _logrank(table: pd.DataFrame, alpha: float) -> list[_Item]:
    items: list[_Item] = []
    for _, row in table.iterrows():
        q = float(row["q_value"])
        if not (np.isfinite(q) and q < alpha):
            continue
        who = "customers" if row["persona"] == ALL else f"{row['persona']} customers"
        text = (
            f"Over time, {who} with low, middle and high {row['stage']} emotion stayed at "
            f"different rates (log-rank test; {_q_text(q)}; n = {int(row['n_customers']):,}, "
            f"{int(row['n_events']):,} churned)."
        )
        payload = {"persona": row["persona"], "stage": row["stage"], "kind": "logrank"}
        items.append(((_TESTS, q, 0.0), {**payload, "text": text, "q_value": q}))
    return items


def _opportunities(table: pd.DataFrame, alpha: float) -> list[_Item]:
    items: list[_Item] = []
    for _, row in table.iterrows():
        q = row["q_value"]
        finding = bool(row["finding"]) if "finding" in row.index else q < alpha
        if not (np.isfinite(q) and q < alpha and finding and row["change_ci_high"] < 0):
            continue
        who = "customers" if row["persona"] == ALL else f"{row['persona']} customers"
        horizon = _days(row.get("horizon_days"))
        within = f" within {horizon:g} days" if horizon is not None else ""
        difference = row.get("churners_difference", row["churners_fewer"])
        low = row.get("churners_difference_ci_low", np.nan)
        high = row.get("churners_difference_ci_high", np.nan)
        interval = f" (95% CI {low:,.0f}-{high:,.0f})" if np.isfinite(low) else ""
        text = (
            f"{who.capitalize()} whose {row['stage']} emotion was "
            f"{_step_words(row['unit_size'])} higher (capped at +1) churned at a modelled "
            f"{row['churn_rate_if_better']:.1%}{within} (95% CI {row['ci_low']:.1%}-"
            f"{row['ci_high']:.1%}), against {row['churn_rate_modelled']:.1%} at the emotion "
            f"they expressed: {difference:,.0f} fewer churners{interval} among these "
            f"{row['n_customers']:,} customers. This describes how churn differed with "
            "emotion in these data, not what raising emotion would do."
        )
        flags = [f for f in str(row["flags"]).split(";") if f]
        shaky = bool({f.split(":")[0] for f in flags} & _SHAKY)
        if shaky:
            text = f"Tentative ({', '.join(flags)}): {text}"
        payload = {"persona": row["persona"], "stage": row["stage"], "kind": "opportunity"}
        items.append(
            (
                (_TENTATIVE if shaky else _OPPORTUNITY, float(q), -float(difference)),
                {**payload, "text": text, "q_value": float(q)},
            )
        )
    return items


def findings(
    emotion_churn: pd.DataFrame,
    time_to_churn: pd.DataFrame | None = None,
    opportunities: pd.DataFrame | None = None,
    *,
    logrank: pd.DataFrame | None = None,
    notes: pd.DataFrame | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Plain-language findings generated from the tables, ranked.

    Wording is associational ("customers whose ... had ... times the odds"), never causal.
    A sentence is labelled *Tentative* when its row carries a flag that makes the estimate
    shaky (``lag_sensitive`` among them), its interval spans more than a factor of 4, or its
    q-value is below ``alpha`` but the row is not a ``finding`` (the joint model does not
    agree). Rows without a q-value (persona rows at stages where personas do not differ, see
    :mod:`cjresearch.analysis.stats.family`) give no sentence. Rank: solid findings (odds,
    hazards, heterogeneity and log-rank tests, by q), opportunities (only from findings),
    ``notes`` (caveats: lag sensitivity, derived churn dates, no survival analysis),
    tentative ones, then stages with no clear association. A q-value below ``alpha`` (of
    ``settings``, or given as a keyword) counts as significant.

    Returns
    -------
    pandas.DataFrame
        ``rank, persona, stage, kind, text, q_value``; kind is ``odds_ratio``,
        ``hazard_ratio``, ``heterogeneity``, ``logrank``, ``opportunity``, a note's kind
        (``lag_sensitivity``, ``caveat``) or ``no_clear_association``.
    """
    alpha = Settings.resolve(settings, **options).alpha
    require_columns(emotion_churn, EMOTION_CHURN_COLUMNS[:12], "emotion_churn")
    items = _estimates(emotion_churn, "odds_ratio", "odds", alpha)
    items += _heterogeneity(emotion_churn, alpha)
    if time_to_churn is not None:
        require_columns(time_to_churn, TIME_TO_CHURN_COLUMNS[:12], "time_to_churn")
        items += _estimates(time_to_churn, "hazard_ratio", "hazard", alpha)
    if logrank is not None:
        items += _logrank(logrank, alpha)
    if opportunities is not None:
        items += _opportunities(opportunities, alpha)
    if notes is not None:
        for order, row in enumerate(notes.itertuples(index=False)):
            payload = {"persona": row.persona, "stage": row.stage, "kind": row.kind}
            items.append(
                ((_NOTE, float(order), 0.0), {**payload, "text": row.text, "q_value": np.nan})
            )
    items.sort(key=lambda item: item[0])
    frame = pd.DataFrame([payload for _, payload in items], columns=list(FINDINGS_COLUMNS[1:]))
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return finish(frame, FINDINGS_COLUMNS)
