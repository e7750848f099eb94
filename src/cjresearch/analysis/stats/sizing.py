"""Sizing: modelled churn if emotion at a stage were one step better, per persona and stage."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from cjresearch.analysis.intervals import Z95
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats._common import OPPORTUNITY_COLUMNS, check_common, encode, finish
from cjresearch.analysis.stats.logistic import Cell, emotion_table, logit_cells
from cjresearch.errors import StatisticalWarning

__all__ = ["opportunities"]


def opportunity_rows(
    cells: list[tuple[str, str, Cell]], table: pd.DataFrame, settings: Settings
) -> pd.DataFrame:
    """The ``opportunities`` table from the per-stage models and their q-values."""
    unit_size = settings.unit_size
    rows = []
    q_by_cell = {
        (p, s): q
        for p, s, q in zip(table["persona"], table["stage"], table["q_value"], strict=True)
    }
    for label, stage, cell in cells:
        fit, e = cell.fit, cell.emotion
        if fit is None or e is None or "separation" in cell.row["flags"]:
            continue
        x = fit.x
        better = x.copy()
        better[:, 1] = np.minimum(e + unit_size, 1.0) / unit_size
        p_now = 1 / (1 + np.exp(-(x @ fit.params)))
        p_better = 1 / (1 + np.exp(-(better @ fit.params)))
        g_now = ((p_now * (1 - p_now))[:, None] * x).mean(axis=0)
        g_better = ((p_better * (1 - p_better))[:, None] * better).mean(axis=0)
        se_better = float(np.sqrt(g_better @ fit.cov @ g_better))
        g_change = g_better - g_now
        se_change = float(np.sqrt(g_change @ fit.cov @ g_change))
        change = float(p_better.mean() - p_now.mean())
        n = len(e)
        rows.append(
            {
                "persona": label,
                "stage": stage,
                "n_customers": n,
                "unit_size": float(unit_size),
                "churn_rate_observed": cell.row["n_churned"] / n,
                "churn_rate_modelled": float(p_now.mean()),
                "churn_rate_if_better": float(p_better.mean()),
                "ci_low": max(0.0, float(p_better.mean()) - Z95 * se_better),
                "ci_high": min(1.0, float(p_better.mean()) + Z95 * se_better),
                "change": change,
                "change_ci_low": change - Z95 * se_change,
                "change_ci_high": change + Z95 * se_change,
                "churners_fewer": -change * n,
                "q_value": q_by_cell.get((label, stage), np.nan),
                "flags": cell.row["flags"],
            }
        )
    frame = pd.DataFrame(rows, columns=[c for c in OPPORTUNITY_COLUMNS if c != "rank"])
    frame = frame.sort_values("churners_fewer", ascending=False, kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return finish(frame, OPPORTUNITY_COLUMNS)


def opportunities(
    customers: pd.DataFrame,
    stage_emotion: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Modelled churn if emotion at a stage rose by ``unit_size``, per persona and stage.

    From each per-stage logistic model of :func:`emotion_churn`: the mean fitted churn risk of
    the customers who reached the stage, now and with their emotion there raised by one step
    (capped at +1), with delta-method 95% intervals. A what-if on an association, not a
    forecast of what an intervention would do. ``settings`` and ``options`` as for
    :func:`emotion_churn`.

    Returns
    -------
    pandas.DataFrame
        Ranked by ``churners_fewer``: ``rank, persona, stage, n_customers, unit_size,
        churn_rate_observed, churn_rate_modelled, churn_rate_if_better, ci_low, ci_high,
        change, change_ci_low, change_ci_high, churners_fewer, q_value, flags`` (rates as
        shares; ``change`` = if_better - modelled; ``churners_fewer`` = -change x n).
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    customers, stage_emotion, personas = encode(customers, stage_emotion, personas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)  # emotion_churn reports them
        cells = logit_cells(customers, stage_emotion, personas, settings)
    table = emotion_table(cells, settings)
    return opportunity_rows(cells, table, settings)
