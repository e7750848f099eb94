"""Emotion and churn as logistic models: one per stage and persona, and one joint model.

:func:`emotion_churn` fits ``churned ~ emotion at the stage + controls`` on the customers who
reached each stage (for everyone and per persona); :func:`joint_model` puts every stage's
emotion in one model (missing-indicator method), optionally with persona x emotion
interactions, with discrimination and calibration diagnostics.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import _modelling as m
from cjresearch.analysis.stats._common import (
    EMOTION_CHURN_COLUMNS,
    JOINT_DIAGNOSTIC_COLUMNS,
    add_q,
    check_common,
    controls_for,
    encode,
    finish,
    groups,
    join_flags,
    warn,
    wide_emotion,
)
from cjresearch.data.schema import ALL
from cjresearch.errors import CJResearchError

__all__ = ["JointModel", "emotion_churn", "joint_model"]


@dataclass(frozen=True)
class Cell:
    """One fitted per-stage model: its table row, and the fit and emotions sizing needs."""

    row: dict[str, Any]
    fit: m.LogitFit | None = None
    emotion: np.ndarray | None = None


def _logit_cell(frame: pd.DataFrame, settings: Settings) -> Cell:
    controls, unit_size, min_group_size = (
        settings.controls,
        settings.unit_size,
        settings.min_group_size,
    )
    flags: list[str] = []
    n = len(frame)
    row: dict[str, Any] = {"n_customers": n, "n_churned": int(frame["churned"].sum())}
    estimate = dict.fromkeys(("odds_ratio", "ci_low", "ci_high", "p_value"), np.nan)
    if n == 0:
        return Cell({**row, **estimate, "flags": "no_customers"})
    if n < min_group_size:
        return Cell({**row, **estimate, "flags": "small_group"})
    design, complete = controls_for(frame, controls, flags)
    frame = frame.loc[complete]
    y = frame["churned"].to_numpy(dtype=float)
    e = frame["emotion"].to_numpy(dtype=float)
    row = {"n_customers": len(frame), "n_churned": int(y.sum())}
    if len(frame) < min_group_size:
        return Cell({**row, **estimate, "flags": join_flags([*flags, "small_group"])})
    if y.min() == y.max():
        return Cell({**row, **estimate, "flags": join_flags([*flags, "no_events"])})
    if e.min() == e.max():
        return Cell({**row, **estimate, "flags": join_flags([*flags, "no_variation"])})
    x = pd.concat(
        [pd.DataFrame({"emotion_step": e / unit_size}, index=frame.index), design], axis=1
    )
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
    stage_emotion: pd.DataFrame,
    personas: pd.DataFrame | None,
    settings: Settings,
) -> list[tuple[str, str, Cell]]:
    """The per-stage model of every group (all, then each persona) and stage."""
    wide = wide_emotion(stage_emotion)
    base = customers.set_index("customer_id")
    base = base[["churned", *settings.controls]].assign(churned=base["churned"].astype(bool))
    out = []
    for label, ids in groups(customers, personas):
        group = base.loc[ids]
        for stage in settings.stages:
            emotion = (
                wide[stage].reindex(group.index)
                if stage in wide.columns
                else pd.Series(np.nan, index=group.index)
            )
            reached = group.assign(emotion=emotion)[emotion.notna().to_numpy()]
            cell = _logit_cell(reached, settings)
            out.append((label, stage, cell))
    return out


def emotion_churn(
    customers: pd.DataFrame,
    stage_emotion: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Odds of churn per step of emotion at each stage, for everyone and per persona.

    One logistic model per stage and group, ``churned ~ emotion + controls``, fitted with
    statsmodels on the customers who have an emotion at the stage (those who do not are left
    out, not imputed). Categorical controls become treatment-coded dummies (first level as
    reference).

    Parameters
    ----------
    customers
        Canonical customers: ``customer_id``, ``churned`` and the ``controls`` columns.
    stage_emotion
        :func:`cjresearch.analysis.emotion.stage_emotion` output (``customer_id, stage,
        emotion_mean``).
    personas
        ``customer_id, persona_id, persona_name`` (optional); adds one model per persona.
    settings, **options
        A :class:`~cjresearch.analysis.settings.Settings` and/or its fields as keywords:
        ``stages`` (the stages to model, in order), ``controls`` (customer columns to adjust
        for, numeric or categorical), ``unit_size`` (the emotion step the odds ratio is
        expressed per, on the [-1, 1] scale), ``correction`` (over the family of all stage x
        persona tests) and ``min_group_size`` (groups with fewer customers get no estimate,
        flag ``small_group``).

    Returns
    -------
    pandas.DataFrame
        One row per persona (``"all"`` first) and stage: ``persona, stage, n_customers,
        n_churned, unit_size, odds_ratio, ci_low, ci_high, p_value, q_value, family, flags``.
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    customers, stage_emotion, personas = encode(customers, stage_emotion, personas)
    cells = logit_cells(customers, stage_emotion, personas, settings)
    table = emotion_table(cells, settings)
    warn("emotion_churn", table)
    return table


def emotion_table(cells: list[tuple[str, str, Cell]], settings: Settings) -> pd.DataFrame:
    """The ``emotion_churn`` table of fitted cells, with its q-values."""
    rows = [
        {"persona": label, "stage": stage, **cell.row, "unit_size": float(settings.unit_size)}
        for label, stage, cell in cells
    ]
    frame = pd.DataFrame(rows)
    frame = add_q(frame, settings.correction, "logistic per stage x persona")
    return finish(frame, EMOTION_CHURN_COLUMNS)


@dataclass(frozen=True)
class JointModel:
    """All stage emotions in one logistic model.

    Attributes
    ----------
    summary
        Same columns as :data:`EMOTION_CHURN_COLUMNS`, one row per stage (persona ``"all"``)
        and, with interactions, one per persona and stage (that persona's own slope).
    diagnostics
        One row per model: ``model, n_customers, n_churned, n_parameters,
        events_per_variable, converged, auc, calibration_intercept, calibration_slope,
        hosmer_lemeshow_p, max_vif, flags`` (AUC and calibration are 5-fold cross-validated).
    formula
        The specification in words.
    """

    summary: pd.DataFrame
    diagnostics: pd.DataFrame
    formula: str

    def _repr_html_(self) -> str:
        return (
            f"<p>{html.escape(self.formula)}</p>"
            + self.summary.to_html(index=False, escape=True)
            + self.diagnostics.to_html(index=False, escape=True)
        )


def _cross_validated(y: np.ndarray, x: np.ndarray, start: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold linear predictor from 5 folds (each fit starts at the full-data fit)."""
    rng = np.random.default_rng(seed)
    folds = rng.permutation(len(y)) % 5
    lp = np.full(len(y), np.nan)
    for k in range(5):
        test = folds == k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fit = sm.Logit(y[~test], x[~test]).fit(
                    start_params=start, method="newton", maxiter=50, disp=False
                )
            except (np.linalg.LinAlgError, ValueError):
                continue
        lp[test] = x[test] @ np.asarray(fit.params)
    return lp


def joint_model(
    customers: pd.DataFrame,
    stage_emotion: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    interactions: bool = False,
    settings: Settings | None = None,
    **options: Any,
) -> JointModel:
    """One logistic model with every stage's emotion, so each is net of the others.

    Missing emotion (a stage not reached) uses the **missing-indicator method**: for each stage
    the model gets the emotion centred on its mean among those who reached the stage (0 for
    the others) plus an indicator of not having reached it. The emotion coefficient is then
    estimated from the customers who reached the stage, adjusted for the other stages and the
    controls; the indicator absorbs the churn difference of those who did not. Nobody is
    imputed as neutral, and the ``n_customers`` of a stage row is the number who reached it.
    Stages nobody reached, or with one emotion value, are left out with a flag.

    With ``interactions=True`` (needs ``personas``) a second model adds persona dummies and
    persona x emotion terms; its rows give each persona's own odds ratio per stage.
    ``settings`` and ``options`` are those of :func:`emotion_churn` (``seed`` seeds the
    cross-validation folds).

    Returns
    -------
    JointModel
        ``summary`` (columns of :data:`EMOTION_CHURN_COLUMNS`), ``diagnostics`` and
        ``formula``.
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    stages, controls, unit_size = settings.stages, settings.controls, settings.unit_size
    min_group_size, seed = settings.min_group_size, settings.seed
    if interactions and personas is None:
        msg = "interactions=True needs a personas frame (customer_id, persona_id, persona_name)"
        raise CJResearchError(msg)
    customers, stage_emotion, personas = encode(customers, stage_emotion, personas)
    wide = wide_emotion(stage_emotion)
    base = customers.set_index("customer_id")
    model_flags: list[str] = []
    design, complete = controls_for(base, controls, model_flags)
    base = base.loc[complete]
    y = base["churned"].astype(bool).to_numpy(dtype=float)
    columns: dict[str, np.ndarray] = {}
    rows: list[dict[str, Any]] = []
    used: list[str] = []
    for stage in stages:
        emotion = (
            wide[stage].reindex(base.index)
            if stage in wide.columns
            else pd.Series(np.nan, index=base.index)
        )
        reached = emotion.notna().to_numpy()
        row: dict[str, Any] = {
            "persona": ALL,
            "stage": stage,
            "n_customers": int(reached.sum()),
            "n_churned": int(y[reached].sum()),
        }
        if not reached.any():
            rows.append({**row, "flags": "no_customers"})
            continue
        values = emotion.to_numpy(dtype=float)
        if np.nanmin(values) == np.nanmax(values):
            rows.append({**row, "flags": "no_variation"})
            continue
        centred = np.where(reached, values - np.nanmean(values), 0.0) / unit_size
        columns[f"emotion_{stage}"] = centred
        if not reached.all():
            columns[f"missing_{stage}"] = (~reached).astype(float)
        used.append(stage)
        rows.append(row)
    x = pd.concat([pd.DataFrame(columns, index=base.index), design], axis=1)
    formula = (
        "churned ~ "
        + " + ".join(f"emotion_{s} (centred, per {unit_size:g}) + missing_{s}" for s in used)
        + "".join(f" + {c}" for c in controls)
        + "  [missing-indicator method; fitted on all customers with complete controls]"
    )
    diagnostics: list[dict[str, Any]] = []
    estimates: dict[tuple[str, str], tuple[float, float, float, float, list[str]]] = {}
    main = _fit_joint(y, x, "main", seed, min_group_size, diagnostics, model_flags)
    if main is not None:
        for stage in used:
            j = main.names.index(f"emotion_{stage}")
            flags = list(main.flags)
            estimates[(ALL, stage)] = (
                *m.wald(main.params[j], float(np.sqrt(main.cov[j, j]))),
                flags,
            )
    if interactions and personas is not None and used:
        rows += _interaction_rows(
            base, y, x, used, personas, seed, min_group_size, diagnostics, estimates
        )
    table_rows = []
    empty: dict[str, Any] = dict.fromkeys(("odds_ratio", "ci_low", "ci_high", "p_value"), np.nan)
    for given in rows:
        row = {**empty, **given}
        key = (row["persona"], row["stage"])
        if key in estimates:
            odds, low, high, p, flags = estimates[key]
            row = {**row, "odds_ratio": odds, "ci_low": low, "ci_high": high, "p_value": p}
            row["flags"] = join_flags([row.get("flags", ""), *flags])
        elif not row.get("flags"):
            row["flags"] = "fit_failed"
        if row["n_customers"] and row["n_customers"] < min_group_size:
            row.update(odds_ratio=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
            row["flags"] = join_flags([row["flags"], "small_group"])
        table_rows.append({**row, "unit_size": float(unit_size)})
    summary = add_q(pd.DataFrame(table_rows), settings.correction, "joint model stages x persona")
    summary = finish(summary, EMOTION_CHURN_COLUMNS)
    diag = pd.DataFrame(diagnostics).reindex(columns=list(JOINT_DIAGNOSTIC_COLUMNS))
    warn("joint model", summary)
    return JointModel(summary, diag, formula)


def _fit_joint(
    y: np.ndarray,
    x: pd.DataFrame,
    label: str,
    seed: int,
    min_group_size: int,
    diagnostics: list[dict[str, Any]],
    model_flags: list[str],
) -> m.LogitFit | None:
    flags = list(model_flags)
    n_events = min(y.sum(), len(y) - y.sum())
    record: dict[str, Any] = {
        "model": label,
        "n_customers": len(y),
        "n_churned": int(y.sum()),
        "n_parameters": x.shape[1],
        "events_per_variable": n_events / max(x.shape[1], 1),
    }
    if len(y) < min_group_size or n_events == 0 or x.shape[1] == 0:
        flags.append("small_group" if len(y) < min_group_size else "no_events")
        diagnostics.append({**record, "converged": False, "flags": join_flags(flags)})
        return None
    if record["events_per_variable"] < m.MIN_EPV:
        flags.append("low_epv")
    fit = m.fit_logit(y, x)
    if fit is None:
        diagnostics.append(
            {**record, "converged": False, "flags": join_flags([*flags, "fit_failed"])}
        )
        return None
    flags += fit.flags
    values = x.to_numpy(dtype=float)
    vifs = [m.vif(values, j) for j, n in enumerate(x.columns) if n.startswith("emotion_")]
    max_vif = max(vifs) if vifs else np.nan
    if max_vif > m.MAX_VIF:
        flags.append("high_vif")
    lp = _cross_validated(y, fit.x, fit.params, seed)
    ok = np.isfinite(lp)
    area = m.auc(y[ok], lp[ok])
    slope = intercept = hl = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            calib = sm.Logit(y[ok], sm.add_constant(lp[ok])).fit(disp=False)
            slope = float(calib.params[1])
            glm = sm.GLM(
                y[ok], np.ones((ok.sum(), 1)), family=sm.families.Binomial(), offset=lp[ok]
            ).fit()
            intercept = float(glm.params[0])
            hl = m.hosmer_lemeshow(y[ok], 1 / (1 + np.exp(-lp[ok])))
        except (np.linalg.LinAlgError, ValueError):
            pass
    if np.isfinite(area) and area < 0.6:
        flags.append("weak_discrimination")
    if (np.isfinite(slope) and not 0.8 <= slope <= 1.2) or (np.isfinite(hl) and hl < 0.05):
        flags.append("poor_calibration")
    diagnostics.append(
        {
            **record,
            "converged": fit.converged,
            "auc": area,
            "calibration_intercept": intercept,
            "calibration_slope": slope,
            "hosmer_lemeshow_p": hl,
            "max_vif": max_vif,
            "flags": join_flags(flags),
        }
    )
    # model-level problems that make every coefficient shaky travel to the stage rows
    shaky = {"separation", "quasi_separation", "not_converged", "low_epv", "missing_controls"}
    return m.LogitFit(
        fit.params, fit.cov, fit.x, fit.names, [f for f in flags if f in shaky], fit.converged
    )


def _interaction_rows(
    base: pd.DataFrame,
    y: np.ndarray,
    x: pd.DataFrame,
    used: list[str],
    personas: pd.DataFrame,
    seed: int,
    min_group_size: int,
    diagnostics: list[dict[str, Any]],
    estimates: dict[tuple[str, str], tuple[float, float, float, float, list[str]]],
) -> list[dict[str, Any]]:
    labels = groups(base.reset_index(), personas)[1:]
    if len(labels) < 2:
        return []
    reference = labels[0][0]
    member = {name: base.index.isin(ids) for name, ids in labels}
    extra: dict[str, np.ndarray] = {}
    for name, _ in labels[1:]:
        dummy = member[name].astype(float)
        extra[f"persona[{name}]"] = dummy
        for stage in used:
            extra[f"persona[{name}]:emotion_{stage}"] = dummy * x[f"emotion_{stage}"].to_numpy()
    xi = pd.concat([x, pd.DataFrame(extra, index=x.index)], axis=1)
    fit = _fit_joint(y, xi, "persona_interactions", seed, min_group_size, diagnostics, [])
    rows = []
    for name, _ in labels:
        for stage in used:
            reached = member[name]
            if f"missing_{stage}" in x.columns:
                reached = reached & (x[f"missing_{stage}"].to_numpy() == 0)
            rows.append(
                {
                    "persona": name,
                    "stage": stage,
                    "n_customers": int(reached.sum()),
                    "n_churned": int(y[reached].sum()),
                }
            )
            if fit is None:
                continue
            weights = np.zeros(len(fit.params))
            weights[fit.names.index(f"emotion_{stage}")] = 1.0
            if name != reference:
                weights[fit.names.index(f"persona[{name}]:emotion_{stage}")] = 1.0
            beta = float(weights @ fit.params)
            se = float(np.sqrt(weights @ fit.cov @ weights))
            estimates[(name, stage)] = (*m.wald(beta, se), list(fit.flags))
    return rows
