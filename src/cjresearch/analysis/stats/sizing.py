"""Sizing: modelled churn of customers whose emotion at a stage was one step higher, per
persona and stage, as an association (what the fitted model says about customers who felt
better, not a forecast of what raising emotion would do)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from cjresearch.analysis.intervals import Z95
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats._common import OPPORTUNITY_COLUMNS, check_common, finish
from cjresearch.analysis.stats.exposure import stage_frames
from cjresearch.analysis.stats.logistic import Cell, emotion_table, logit_cells, prepare
from cjresearch.errors import StatisticalWarning

__all__ = ["opportunities"]


def opportunity_rows(
    cells: list[tuple[str, str, Cell]], table: pd.DataFrame, settings: Settings
) -> pd.DataFrame:
    """The ``opportunities`` table from the per-stage models and their table (q-values and
    ``finding``)."""
    unit_size = settings.unit_size
    rows = []
    by_cell = table.assign(persona=table["persona"].astype(str), stage=table["stage"].astype(str))
    by_cell = by_cell.set_index(["persona", "stage"])
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
        difference = -change * n
        known = (label, stage) in by_cell.index
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
                "churners_fewer": difference,
                "churners_difference": difference,
                "churners_difference_ci_low": difference - Z95 * se_change * n,
                "churners_difference_ci_high": difference + Z95 * se_change * n,
                "horizon_days": (
                    float(settings.horizon_days) if settings.design == "landmark" else np.nan
                ),
                "q_value": by_cell.loc[(label, stage), "q_value"] if known else np.nan,
                "finding": bool(by_cell.loc[(label, stage), "finding"]) if known else False,
                "flags": cell.row["flags"],
            }
        )
    frame = pd.DataFrame(rows, columns=[c for c in OPPORTUNITY_COLUMNS if c != "rank"])
    frame = frame.sort_values("churners_difference", ascending=False, kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return finish(frame, OPPORTUNITY_COLUMNS)


def opportunities(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    *,
    reach: pd.DataFrame | None = None,
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Modelled churn of customers whose emotion at a stage was ``unit_size`` higher.

    From each per-stage logistic model of :func:`~cjresearch.analysis.stats.emotion_churn`:
    the mean fitted churn risk (within the horizon after the landmark) of the customers in
    the model, at their own emotion and at their emotion ``unit_size`` higher (capped at +1),
    with delta-method 95% intervals from the model's covariance. It describes how churn
    differed with emotion in these data; it is not a forecast of what raising emotion would
    do. ``settings`` and ``options`` as for
    :func:`~cjresearch.analysis.stats.emotion_churn`.

    Returns
    -------
    pandas.DataFrame
        Ranked by ``churners_difference``: ``rank, persona, stage, n_customers, unit_size,
        churn_rate_observed, churn_rate_modelled, churn_rate_if_better, ci_low, ci_high,
        change, change_ci_low, change_ci_high, churners_fewer, q_value, flags,
        churners_difference, churners_difference_ci_low, churners_difference_ci_high,
        horizon_days, finding`` (rates as shares; ``change`` = if_better - modelled;
        ``churners_difference`` = -change x n, the modelled churners more among these
        customers at their own emotion than at one step higher, with its interval;
        ``churners_fewer`` is the same number under its 0.1 name, kept for one release;
        ``finding`` as in ``emotion_churn``).
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    customers, observations, reach, personas, follow = prepare(
        customers, observations, reach, personas, observation_end
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)  # emotion_churn reports them
        frames = stage_frames(observations, reach, follow, settings)
        cells = logit_cells(customers, frames, personas, settings)
    table = emotion_table(cells, settings)
    return opportunity_rows(cells, table, settings)
