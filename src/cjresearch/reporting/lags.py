"""A stage's association at every lag between what customers said and churn, for the
stage reports: the table (``emotion_churn_lag``) and the statistics step's warning when the
association collapses as the lag grows (it came from customers saying how they felt while
already leaving)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

__all__ = ["LagSensitivity", "lag_sensitivity"]


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
        body = self.table[shown].to_html(
            index=False, escape=True, na_rep="suppressed", float_format=lambda v: f"{v:.3g}"
        )
        caption = "<p>The association at each lag (emotion_churn_lag.csv):</p>"
        return said + caption + body


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
