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

__all__ = ["findings"]


_SHAKY = {
    "small_group",
    "low_epv",
    "separation",
    "quasi_separation",
    "not_converged",
    "fit_failed",
    "high_vif",
    "ph_violated",
}


def _step_words(unit_size: float) -> str:
    return f"{unit_size:g} points" if unit_size != 1 else "1 point"


def _q_text(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}"


def _who(persona: str) -> str:
    return "Customers" if persona == ALL else f"Among {persona}, customers"


def _ratio_sentence(
    row: pd.Series, ratio_col: str, unit_size: float, alpha: float, kind: str
) -> tuple[str, bool]:
    ratio, low, high = row[ratio_col], row["ci_low"], row["ci_high"]
    stage, persona, q = row["stage"], row["persona"], row["q_value"]
    n = row["n_customers"]
    lower = ratio < 1
    shown = (1 / ratio, 1 / high, 1 / low) if lower else (ratio, low, high)
    direction = "lower" if lower else "higher"
    step = _step_words(unit_size)
    if kind == "odds":
        what = f"had {shown[0]:.2f} times the odds of churning"
        measure = "odds ratio"
        tail = f"n = {n:,} who reached {stage}"
    else:
        what = f"churned at {shown[0]:.2f} times the rate from then on"
        measure = "hazard ratio"
        tail = f"n = {n:,}, {int(row['n_events']):,} churned"
    ci = f"95% CI {shown[1]:.2f}-{shown[2]:.2f}"
    flags = [f for f in str(row["flags"]).split(";") if f]
    tentative = bool(set(f.split(":")[0] for f in flags) & _SHAKY) or (shown[2] / shown[1] > 4)
    if q < alpha:
        text = (
            f"{_who(persona)} whose {stage} emotion was {step} {direction} on the -1 to +1 scale "
            f"{what} ({measure}; {ci}; {_q_text(q)}; {tail})."
        )
    else:
        text = (
            f"No clear association between {stage} emotion and churn "
            f"{'overall' if persona == ALL else 'among ' + persona} ({measure} per {step} "
            f"{direction} {shown[0]:.2f}; {ci}; {_q_text(q)}; {tail})."
        )
    if tentative:
        reason = ", ".join(EXPLAIN.get(f.split(":")[0], f) for f in flags) or "a wide interval"
        text = f"Tentative ({reason}): {text}"
    return text, tentative


def findings(
    emotion_churn: pd.DataFrame,
    time_to_churn: pd.DataFrame | None = None,
    opportunities: pd.DataFrame | None = None,
    *,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Plain-language findings generated from the tables, ranked.

    Wording is associational ("customers whose ... had ... times the odds"), never causal.
    A finding is labelled *Tentative* when its row carries a flag that makes the estimate
    shaky or its interval spans more than a factor of 4. Rank: solid findings with q < alpha
    (odds, then hazards, by q), opportunities among them, tentative ones, then stages with no
    clear association. Suppressed or unestimable rows give no finding. A q-value below
    ``alpha`` (of ``settings``, or given as a keyword) counts as a finding.

    Returns
    -------
    pandas.DataFrame
        ``rank, persona, stage, kind, text, q_value``; kind is ``odds_ratio``,
        ``hazard_ratio``, ``opportunity`` or ``no_clear_association``.
    """
    alpha = Settings.resolve(settings, **options).alpha
    require_columns(emotion_churn, EMOTION_CHURN_COLUMNS, "emotion_churn")
    items: list[tuple[tuple[float, float, float], dict[str, Any]]] = []
    sources: list[tuple[pd.DataFrame, str, str]] = [(emotion_churn, "odds_ratio", "odds")]
    if time_to_churn is not None:
        require_columns(time_to_churn, TIME_TO_CHURN_COLUMNS, "time_to_churn")
        sources.append((time_to_churn, "hazard_ratio", "hazard"))
    for table, column, kind in sources:
        for _, row in table.iterrows():
            estimable = np.isfinite([row[column], row["q_value"], row["ci_high"]]).all()
            if not (estimable and row[column] > 0 and row["ci_low"] > 0):
                continue  # no ratio, or an interval reaching 0 or infinity: no sentence
            text, tentative = _ratio_sentence(row, column, float(row["unit_size"]), alpha, kind)
            significant = row["q_value"] < alpha
            tier = (0 if not tentative else 2) if significant else 3
            kind_name = column if significant else "no_clear_association"
            items.append(
                (
                    (tier, float(row["q_value"]), -abs(np.log(row[column]))),
                    {
                        "persona": row["persona"],
                        "stage": row["stage"],
                        "kind": kind_name,
                        "text": text,
                        "q_value": float(row["q_value"]),
                    },
                )
            )
    if opportunities is not None:
        for _, row in opportunities.iterrows():
            q = row["q_value"]
            if not (np.isfinite(q) and q < alpha and row["change_ci_high"] < 0):
                continue
            who = "customers" if row["persona"] == ALL else row["persona"]
            text = (
                f"If {row['stage']} emotion of {who} who reached it were "
                f"{_step_words(row['unit_size'])} higher (capped at +1), the fitted model puts "
                f"their churn rate at {row['churn_rate_if_better']:.1%} (95% CI "
                f"{row['ci_low']:.1%}-{row['ci_high']:.1%}) instead of "
                f"{row['churn_rate_modelled']:.1%}: about {row['churners_fewer']:,.0f} fewer "
                f"churners among {row['n_customers']:,} customers. A what-if on an association, "
                "not a forecast of an intervention."
            )
            flags = [f for f in str(row["flags"]).split(";") if f]
            shaky = bool(set(f.split(":")[0] for f in flags) & _SHAKY)
            if shaky:
                text = f"Tentative ({', '.join(flags)}): {text}"
            items.append(
                (
                    (1 if not shaky else 2, float(q), -float(row["churners_fewer"])),
                    {
                        "persona": row["persona"],
                        "stage": row["stage"],
                        "kind": "opportunity",
                        "text": text,
                        "q_value": float(q),
                    },
                )
            )
    items.sort(key=lambda item: item[0])
    frame = pd.DataFrame([payload for _, payload in items], columns=list(FINDINGS_COLUMNS[1:]))
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return finish(frame, FINDINGS_COLUMNS)
