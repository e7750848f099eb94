"""A stage's association at every lag between what customers said and churn, for the
stage reports: the table (``emotion_churn_lag``) and the statistics step's warning when the
association collapses as the lag grows (it came from customers saying how they felt while
already leaving)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from cjresearch.reporting.formats import NOT_MEASURED

__all__ = ["LagSensitivity", "lag_sensitivity"]

#: The lag table's headings, in words.
_HEADINGS = {
    "model": "Model",
    "lag_days": "Lag (days)",
    "ratio": "Ratio",
    "ci_low": "95% CI from",
    "ci_high": "95% CI to",
    "p_value": "p-value",
    "n_customers": "Customers",
    "n_churned": "Churned",
}


@dataclass(frozen=True)
class LagSensitivity:
    """A stage's association at every lag of the study, and the warning if it collapses.

    Attributes
    ----------
    warning
        The plain-language warning, or "" when the association holds as the lag grows.
    table
        The stage's rows of ``emotion_churn_lag``.
    """

    warning: str
    table: pd.DataFrame

    def _repr_html_(self) -> str:
        said = (
            f'<p class="cj-warning"><strong>Warning:</strong> {html.escape(self.warning)}</p>'
            if self.warning
            else "<p>The association holds as the lag grows.</p>"
        )
        if self.table.empty:
            return said + "<p><em>No lag-sensitivity table in this build.</em></p>"
        shown = [
            c
            for c in (
                "model", "lag_days", "ratio", "ci_low", "ci_high", "p_value", "n_customers",
                "n_churned",
            )
            if c in self.table
        ]  # fmt: skip
        cells = {col: [_cell(col, v) for v in self.table[col]] for col in shown}
        body = pd.DataFrame(cells).rename(columns=_HEADINGS).to_html(index=False, escape=True)
        caption = "<p>The association at each lag (emotion_churn_lag.csv):</p>"
        return said + caption + body


def _cell(column: str, value: object) -> str:
    """A figure as the reports write them: no scientific notation, p-values from 0.001."""
    if value is None or pd.isna(value):
        return NOT_MEASURED
    if isinstance(value, str):
        return value
    number = float(value)  # type: ignore[arg-type]
    if column == "p_value":
        return "< 0.001" if number < 0.001 else f"{number:.3f}"
    if column in ("n_customers", "n_churned", "lag_days"):
        return f"{number:,.0f}"
    return f"{number:.2f}"


def lag_sensitivity(tables: Mapping[str, pd.DataFrame], stage: str) -> LagSensitivity:
    """The lag table and warning of one stage, from a report's tables (``findings`` rows of
    kind ``lag_sensitivity`` and ``emotion_churn_lag``)."""
    findings = tables.get("findings")
    warning = ""
    if findings is not None and not findings.empty:
        mine = findings[
            (findings["kind"] == "lag_sensitivity") & (findings["stage"].astype(str) == stage)
        ]
        warning = " ".join(mine["text"].astype(str))
    lags = tables.get("emotion_churn_lag")
    return LagSensitivity(warning, lags if lags is not None else pd.DataFrame())
