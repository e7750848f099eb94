"""Emotion and churn as logistic models, one per stage and persona, and the persona x emotion
heterogeneity test of each stage.

:func:`emotion_churn` fits, in the landmark design (:mod:`cjresearch.analysis.stats.exposure`),
``churned within the horizon after the landmark ~ emotion in the exposure window +
controls`` on the customers who reached the stage, gave feedback there within
the window, were still customers at the landmark and were observed for the whole horizon (for
everyone and per persona). :func:`heterogeneity` tests, per stage, whether the association
differs between personas (likelihood-ratio test of persona x emotion terms): a
persona-specific finding needs it to reject. The joint model is in
:mod:`cjresearch.analysis.stats.joint`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from cjresearch._checks import require_columns
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import _modelling as m
from cjresearch.analysis.stats._common import (
    EMOTION_CHURN_COLUMNS,
    add_q,
    check_common,
    controls_for,
    encode,
    end_of_observation,
    finish,
    groups,
    join_flags,
    warn,
)
from cjresearch.analysis.stats.exposure import follow_up, stage_frames, stage_reach, with_days
from cjresearch.errors import CJResearchError

__all__ = ["HETEROGENEITY_COLUMNS", "emotion_churn", "heterogeneity"]

#: The columns of :func:`heterogeneity`.
HETEROGENEITY_COLUMNS = ("stage", "n_customers", "n_personas", "chi2", "df", "p_value")


@dataclass(frozen=True)
class Cell:
    """One fitted per-stage model: its table row, and the fit and emotions sizing needs."""

    row: dict[str, Any]
    fit: m.LogitFit | None = None
    emotion: np.ndarray | None = None


def model_frame(
    frame: pd.DataFrame, base: pd.DataFrame, *, include_silent: bool = False
) -> pd.DataFrame:
    """The customers of one stage's frame that a model compares (with their controls):
    respondents (and, with ``include_silent``, non-respondents too) still customers at the
    landmark and observed for the whole horizon."""
    use = frame["at_risk"] & frame["full_horizon"]
    if not include_silent:
        use &= frame["responded"]
    chosen = frame[use.to_numpy()]
    out = base.loc[chosen.index].assign(
        churned=chosen["churned"].to_numpy(dtype=bool),
        emotion=chosen["emotion"].to_numpy(dtype=float),
        responded=chosen["responded"].to_numpy(dtype=bool),
        reached_day=chosen["reached_day"].to_numpy(dtype=float),
    )
    return out


def design_matrix(
    frame: pd.DataFrame, settings: Settings, flags: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows with complete controls and their design: ``emotion_step``, then the controls
    (constant ones dropped and flagged)."""
    design, complete = controls_for(frame, settings.controls, flags)
    frame = frame.loc[complete]
    step = frame["emotion"].to_numpy(dtype=float) / settings.unit_size
    x = pd.concat([pd.DataFrame({"emotion_step": step}, index=frame.index), design], axis=1)
    return frame, x


def logit_cell(frame: pd.DataFrame, settings: Settings, counts: dict[str, int]) -> Cell:
    flags: list[str] = []
    n = len(frame)
    row: dict[str, Any] = {**counts, "n_customers": n, "n_churned": int(frame["churned"].sum())}
    estimate = dict.fromkeys(("odds_ratio", "ci_low", "ci_high", "p_value"), np.nan)
    if counts["n_reached"] == 0:
        return Cell({**row, **estimate, "flags": "no_customers"})
    if counts["n_responded"] == 0:
        return Cell({**row, **estimate, "flags": "no_feedback"})
    if n < settings.min_group_size:
        return Cell({**row, **estimate, "flags": "small_group"})
    frame, x = design_matrix(frame, settings, flags)
    y = frame["churned"].to_numpy(dtype=float)
    e = frame["emotion"].to_numpy(dtype=float)
    row.update(n_customers=len(frame), n_churned=int(y.sum()))
    if len(frame) < settings.min_group_size:
        return Cell({**row, **estimate, "flags": join_flags([*flags, "small_group"])})
    if y.min() == y.max():
        return Cell({**row, **estimate, "flags": join_flags([*flags, "no_events"])})
    if e.min() == e.max():
        return Cell({**row, **estimate, "flags": join_flags([*flags, "no_variation"])})
    events = min(y.sum(), len(y) - y.sum())
    if events / x.shape[1] < m.MIN_EPV:
        flags.append("low_epv")
    fit = m.fit_logit(y, x)
    if fit is None:
        return Cell({**row, **estimate, "flags": join_flags([*flags, "fit_failed"])})
    flags.extend(fit.flags)
    if m.vif(x.to_numpy(dtype=float), 0) > m.MAX_VIF:
        flags.append("high_vif")
    odds, low, high, p = m.wald(fit.params[1], float(np.sqrt(fit.cov[1, 1])))
    if "separation" in flags:
        odds, low, high, p = (np.nan,) * 4
    estimate = {"odds_ratio": odds, "ci_low": low, "ci_high": high, "p_value": p}
    return Cell({**row, **estimate, "flags": join_flags(flags)}, fit, e)


def logit_cells(
    customers: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    personas: pd.DataFrame | None,
    settings: Settings,
) -> list[tuple[str, str, Cell]]:
    """The per-stage model of every group (all, then each persona) and stage."""
    base = customers.set_index("customer_id")[list(settings.controls)]
    out = []
    for label, ids in groups(customers, personas):
        for stage in settings.stages:
            frame = frames[stage]
            frame = frame[frame.index.isin(ids)]
            counts = {
                "n_reached": len(frame),
                "n_responded": int(frame["responded"].sum()),
            }
            cell = logit_cell(model_frame(frame, base), settings, counts)
            out.append((label, stage, cell))
    return out


def heterogeneity(
    customers: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    personas: pd.DataFrame | None,
    settings: Settings,
) -> pd.DataFrame:
    """Per stage, the likelihood-ratio test of persona x emotion terms in the all-customers
    model (persona dummies in both models), on the personas with at least
    ``min_group_size`` customers in the model and churners and stayers among them.

    Returns
    -------
    pandas.DataFrame
        ``stage, n_customers, n_personas, chi2, df, p_value`` (NaN where fewer than two
        personas qualify or a fit fails); empty without personas.
    """
    if personas is None:
        return pd.DataFrame(columns=list(HETEROGENEITY_COLUMNS))
    base = customers.set_index("customer_id")[list(settings.controls)]
    labels = groups(customers, personas)[1:]
    rows = []
    for stage in settings.stages:
        frame = model_frame(frames[stage], base)
        frame, x = design_matrix(frame, settings, [])
        y = frame["churned"].to_numpy(dtype=float)
        member = {name: frame.index.isin(ids) for name, ids in labels}
        kept = [
            name
            for name, inside in member.items()
            if inside.sum() >= settings.min_group_size and 0 < y[inside].sum() < inside.sum()
        ]
        row: dict[str, Any] = {"stage": stage, "n_personas": len(kept)}
        rows.append(row)
        keep = np.any([member[name] for name in kept], axis=0) if kept else np.zeros(len(y), bool)
        row["n_customers"] = int(keep.sum())
        if len(kept) < 2:
            continue
        x, y = x[keep], y[keep]
        dummies = {f"persona[{n}]": member[n][keep].astype(float) for n in kept[1:]}
        x0 = pd.concat([x, pd.DataFrame(dummies, index=x.index)], axis=1)
        slopes = {f"{k}:emotion": v * x["emotion_step"].to_numpy() for k, v in dummies.items()}
        x1 = pd.concat([x0, pd.DataFrame(slopes, index=x.index)], axis=1)
        null, alternative = m.fit_logit(y, x0), m.fit_logit(y, x1)
        if (
            null is None
            or alternative is None
            or not (null.converged and alternative.converged)
            or "separation" in [*null.flags, *alternative.flags]
        ):
            continue
        chi2 = max(2 * (alternative.loglik - null.loglik), 0.0)
        df = len(kept) - 1
        row.update(chi2=chi2, df=df, p_value=float(sps.chi2.sf(chi2, df)))
    frame = pd.DataFrame(rows).reindex(columns=list(HETEROGENEITY_COLUMNS))
    return frame.astype({"n_customers": "int64", "n_personas": "int64"})


def emotion_table(
    cells: list[tuple[str, str, Cell]],
    settings: Settings,
    tests: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ``emotion_churn`` table of fitted cells, with q-values over its own tests (the
    build's one family replaces them, see :mod:`cjresearch.analysis.stats.family`) and the
    heterogeneity test of each stage."""
    landmark = settings.design == "landmark"
    timing = {
        "design": settings.design,
        "exposure_window_days": float(settings.exposure_window_days) if landmark else np.nan,
        "lag_days": float(settings.lag_days) if landmark else np.nan,
        "horizon_days": float(settings.horizon_days) if landmark else np.nan,
    }
    rows = [
        {
            "persona": label,
            "stage": stage,
            **cell.row,
            "unit_size": float(settings.unit_size),
            **timing,
        }
        for label, stage, cell in cells
    ]
    frame = add_q(pd.DataFrame(rows), settings.correction, "logistic per stage x persona")
    if tests is not None and not tests.empty:
        p = tests.set_index("stage")["p_value"]
        frame["heterogeneity_p"] = frame["stage"].map(p).astype(float)
        q = pd.Series(m.adjust(p.to_numpy(dtype=float), settings.correction), index=p.index)
        frame["heterogeneity_q"] = frame["stage"].map(q).astype(float)
    frame["finding"] = False
    return finish(frame, EMOTION_CHURN_COLUMNS)


def prepare(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    reach: pd.DataFrame | None,
    personas: pd.DataFrame | None,
    observation_end: object,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """Inputs checked and encoded for the models: customers, observations, reach (from the
    observations when not given), personas and follow-up."""
    if "emotion_mean" in observations.columns and "timestamp" not in observations.columns:
        msg = (
            "the models take emotion observations with timestamps "
            "(cjresearch.emotion_observations), not stage_emotion: emotion counts as exposure "
            "only when it was expressed before the outcome it is related to"
        )
        raise CJResearchError(msg)
    require_columns(observations, ("customer_id", "timestamp", "stage", "emotion"), "observations")
    end = end_of_observation(observations, observation_end)
    if reach is None:
        reach = stage_reach(observations)
    require_columns(reach, ("customer_id", "stage", "first_at", "last_at"), "reach")
    customers, observations, reach, personas = encode(customers, observations, reach, personas)
    observations = with_days(observations, "timestamp", "day")
    reach = with_days(reach, "first_at", "first_day")
    return customers, observations, reach, personas, follow_up(customers, reach, end)


def emotion_churn(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    *,
    reach: pd.DataFrame | None = None,
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Odds of churn per step of emotion at each stage, for everyone and per persona.

    One logistic model per stage and group, fitted with statsmodels. In the landmark design
    (the default): ``churned within horizon_days after the landmark ~ emotion expressed
    within exposure_window_days of reaching the stage + controls``, on the customers who
    reached the stage, gave feedback there within the window, were still customers
    ``lag_days`` after it (the landmark) and were observed for the whole horizon (see
    :mod:`cjresearch.analysis.stats.exposure`). Non-respondents are left out here (never
    imputed as neutral); the joint model imputes them. Categorical controls become
    treatment-coded dummies (first level as reference).

    Parameters
    ----------
    customers
        Canonical customers: ``customer_id``, ``churned``, ``signup_date`` and
        ``churn_date`` (optional: without them follow-up starts at the first activity and
        churners are dated by their last one) and the ``controls`` columns.
    observations
        :func:`cjresearch.analysis.emotion.emotion_observations` output (``customer_id,
        timestamp, stage, emotion``).
    reach
        :func:`~cjresearch.analysis.stats.exposure.stage_reach` of the events and feedback
        (default: from the observations, which cannot tell non-response from not reaching).
    personas
        ``customer_id, persona_id, persona_name`` (optional); adds one model per persona.
    observation_end
        The (exclusive) end of observation (default: just after the latest observation).
    settings, **options
        A :class:`~cjresearch.analysis.settings.Settings` and/or its fields as keywords:
        ``stages``, ``controls``, ``unit_size`` (the emotion step of the odds ratio, on the
        [-1, 1] scale), ``correction`` (over this table's stage x persona tests),
        ``min_group_size``, ``design``, ``exposure_window_days``, ``lag_days``,
        ``horizon_days``.

    Returns
    -------
    pandas.DataFrame
        One row per persona (``"all"`` first) and stage: ``persona, stage, n_customers``
        (in the model), ``n_churned`` (churned within the horizon), ``unit_size,
        odds_ratio, ci_low, ci_high, p_value, q_value, family, flags, design, n_reached``
        (reached the stage, from events), ``n_responded`` (gave feedback there within the
        window), ``exposure_window_days, lag_days, horizon_days, heterogeneity_p,
        heterogeneity_q`` (the stage's persona x emotion test; NaN without personas) and
        ``finding`` (False here: set by :func:`~cjresearch.analysis.stats.analyse`).
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    customers, observations, reach, personas, follow = prepare(
        customers, observations, reach, personas, observation_end
    )
    frames = stage_frames(observations, reach, follow, settings)
    cells = logit_cells(customers, frames, personas, settings)
    table = emotion_table(cells, settings, heterogeneity(customers, frames, personas, settings))
    warn("emotion_churn", table)
    return table
