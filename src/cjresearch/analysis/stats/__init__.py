"""Emotion and churn: which moments of the journey, felt how, go with customers leaving.

Everything here is associational: the tables say how churn differs between customers who
felt differently at a stage, with intervals, the number of customers behind each estimate,
multiple-testing control and flags wherever an estimate is shaky.

- :func:`emotion_churn`: a logistic model per stage (and per persona) on the customers who
  reached the stage: ``churned ~ emotion at the stage + controls``. Customers with no emotion
  at a stage are left out, never imputed as neutral.
- :func:`joint_model`: all stage emotions in one logistic model (missing-indicator method,
  see its docstring), optionally with persona x emotion interactions, with discrimination and
  calibration diagnostics.
- :func:`time_to_churn`: a Cox model per stage with the stage emotion as a time-varying
  covariate in start/stop form (a customer enters when first expressing an emotion at the
  stage; the covariate is the running mean of what was expressed so far), plus a
  proportional-hazards check; :func:`survival_curves` gives Kaplan-Meier curves by emotion
  tercile with a log-rank test.
- :func:`adjust_pvalues`, :func:`findings`, :func:`opportunities` and :func:`analyse`,
  which runs all of it once and returns an :class:`EmotionChurnResult`.

Flags (semicolon-separated in the ``flags`` columns), each also raised as a warning:

========================  ==============================================================
``no_customers``          nobody in the group reached the stage
``small_group``           fewer customers than ``min_group_size``: estimate suppressed
``no_events``             nobody (or everybody) churned: no model possible
``no_variation``          one emotion value for everyone: no model possible
``low_epv``               fewer than 10 events (the rarer outcome) per model parameter
``separation``            complete separation: the ratio is infinite, the interval useless
``quasi_separation``      quasi-complete separation or extreme fitted risks
``not_converged``         the fit did not converge
``high_vif``              emotion's variance inflation factor above 5
``dropped_control:NAME``  a control had one value in the group and was left out
``missing_controls``      customers with a missing control were left out
``fit_failed``            the fit was numerically impossible (singular design)
``ph_violated``           Cox: Schoenfeld residuals correlate with log time (p < 0.05)
``missing_churn_date``    Cox/KM: churners without a churn date were left out
``few_distinct_values``   KM: fewer than three emotion terciles could be formed
``weak_discrimination``   joint model: cross-validated AUC below 0.6
``poor_calibration``      joint model: calibration slope outside 0.8-1.2 or HL p < 0.05
========================  ==============================================================
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps

from cjresearch._checks import require_columns
from cjresearch.analysis.settings import Correction, Settings
from cjresearch.analysis.stats import _modelling as m
from cjresearch.analysis.stats._cox import fit_cox
from cjresearch.analysis.stats._survival import follow_up, kaplan_meier, log_rank, start_stop
from cjresearch.data.schema import ALL
from cjresearch.errors import (
    CJResearchError,
    ConvergenceWarning,
    ProportionalHazardsWarning,
    SeparationWarning,
    SmallSampleWarning,
    StatisticalWarning,
)

__all__ = [
    "EMOTION_CHURN_COLUMNS",
    "FINDINGS_COLUMNS",
    "TIME_TO_CHURN_COLUMNS",
    "EmotionChurnResult",
    "JointModel",
    "adjust_pvalues",
    "analyse",
    "emotion_churn",
    "findings",
    "joint_model",
    "opportunities",
    "survival_curves",
    "time_to_churn",
]

EMOTION_CHURN_COLUMNS = (
    "persona",
    "stage",
    "n_customers",
    "n_churned",
    "unit_size",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "family",
    "flags",
)
TIME_TO_CHURN_COLUMNS = (
    "persona",
    "stage",
    "n_customers",
    "n_events",
    "unit_size",
    "hazard_ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "ph_ok",
    "flags",
)
FINDINGS_COLUMNS = ("rank", "persona", "stage", "kind", "text", "q_value")
KM_COLUMNS = (
    "persona",
    "stage",
    "tercile",
    "time",
    "survival",
    "ci_low",
    "ci_high",
    "n_at_risk",
)
LOGRANK_COLUMNS = ("persona", "stage", "n_customers", "n_events", "chi2", "p_value", "flags")
OPPORTUNITY_COLUMNS = (
    "rank",
    "persona",
    "stage",
    "n_customers",
    "unit_size",
    "churn_rate_observed",
    "churn_rate_modelled",
    "churn_rate_if_better",
    "ci_low",
    "ci_high",
    "change",
    "change_ci_low",
    "change_ci_high",
    "churners_fewer",
    "q_value",
    "flags",
)
JOINT_DIAGNOSTIC_COLUMNS = (
    "model",
    "n_customers",
    "n_churned",
    "n_parameters",
    "events_per_variable",
    "converged",
    "auc",
    "calibration_intercept",
    "calibration_slope",
    "hosmer_lemeshow_p",
    "max_vif",
    "flags",
)

_WARNINGS: dict[str, type[StatisticalWarning]] = {
    "no_customers": SmallSampleWarning,
    "small_group": SmallSampleWarning,
    "no_events": SmallSampleWarning,
    "low_epv": SmallSampleWarning,
    "separation": SeparationWarning,
    "quasi_separation": SeparationWarning,
    "not_converged": ConvergenceWarning,
    "fit_failed": ConvergenceWarning,
    "ph_violated": ProportionalHazardsWarning,
}
_EXPLAIN = {
    "no_customers": "nobody reached the stage",
    "small_group": "fewer customers than min_group_size (estimate suppressed)",
    "no_events": "nobody or everybody churned (no model)",
    "no_variation": "one emotion value for everyone (no model)",
    "low_epv": "fewer than 10 events per model parameter",
    "separation": "complete separation (ratio not estimable)",
    "quasi_separation": "quasi-complete separation or extreme fitted risks",
    "not_converged": "the fit did not converge",
    "fit_failed": "the fit failed (singular design)",
    "high_vif": "emotion's variance inflation factor above 5",
    "missing_controls": "customers with a missing control were left out",
    "ph_violated": "proportional hazards look violated",
    "missing_churn_date": "churners without a churn date were left out",
    "few_distinct_values": "fewer than three emotion terciles",
    "weak_discrimination": "cross-validated AUC below 0.6",
    "poor_calibration": "poor cross-validated calibration",
}


# --------------------------------------------------------------------------- inputs


def _check_common(
    customers: pd.DataFrame, settings: Settings, personas: pd.DataFrame | None
) -> None:
    require_columns(customers, ("customer_id", "churned"), "customers")
    settings.require_stages()
    missing = [c for c in settings.controls if c not in customers.columns]
    if missing:
        msg = (
            f"control column(s) {missing} not in customers; found {list(customers.columns)}. "
            "Fix [statistics] controls in the study file."
        )
        raise CJResearchError(msg)
    if personas is not None:
        require_columns(personas, ("customer_id", "persona_name"), "personas")


def _groups(customers: pd.DataFrame, personas: pd.DataFrame | None) -> list[tuple[str, pd.Index]]:
    """(label, customer ids) for everyone and for each persona, in persona order."""
    ids = pd.Index(customers["customer_id"].to_numpy())
    out = [(ALL, ids)]
    if personas is None:
        return out
    mapping = personas.drop_duplicates("customer_id").set_index("customer_id")["persona_name"]
    mapping = mapping.reindex(ids)
    order = personas.sort_values("persona_id") if "persona_id" in personas.columns else personas
    for name in pd.unique(order["persona_name"].astype(str)):
        out.append((str(name), ids[(mapping.astype(str) == name).to_numpy()]))
    return out


def _encode(
    customers: pd.DataFrame, **frames: pd.DataFrame | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Customer ids as integer positions (string-id lookups dominate the run time otherwise);
    rows of other frames whose customer is unknown are left out."""
    ids = pd.Index(customers["customer_id"])
    if not ids.is_unique:
        msg = "customers has duplicate customer_id values; each customer must appear once"
        raise CJResearchError(msg)
    out: dict[str, Any] = {}
    for name, frame in frames.items():
        if frame is None:
            out[name] = None
            continue
        code = ids.get_indexer(frame["customer_id"])
        out[name] = frame.assign(customer_id=code).loc[code >= 0].reset_index(drop=True)
    return customers.assign(customer_id=np.arange(len(customers))), out


def _join_flags(flags: Sequence[str]) -> str:
    return ";".join(dict.fromkeys(f for f in flags if f))


def _warn(table: str, frame: pd.DataFrame, stacklevel: int = 3) -> None:
    """One warning per flag code in a table, naming the affected persona/stage cells."""
    if frame.empty or "flags" not in frame.columns:
        return
    cells: dict[str, list[str]] = {}
    for persona, stage, flags in zip(frame["persona"], frame["stage"], frame["flags"], strict=True):
        for code in filter(None, str(flags).split(";")):
            cells.setdefault(code, []).append(f"{persona}/{stage}")
    for code, where in cells.items():
        key = code.split(":")[0]
        category = _WARNINGS.get(key, StatisticalWarning)
        explain = _EXPLAIN.get(key, code)
        shown = ", ".join(where[:6]) + (f" and {len(where) - 6} more" if len(where) > 6 else "")
        msg = f"{table}: {explain} [{code}] in {len(where)} model(s): {shown}"
        warnings.warn(msg, category, stacklevel=stacklevel)


def adjust_pvalues(
    p_values: Sequence[float] | np.ndarray | pd.Series, *, method: Correction = "bh"
) -> np.ndarray:
    """Adjust a family of p-values for multiple testing.

    Parameters
    ----------
    p_values
        The family's p-values; missing values stay missing and do not count as tests.
    method
        ``"bh"`` (Benjamini-Hochberg false discovery rate q-values) or ``"holm"``
        (Holm's family-wise error rate adjustment).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order, capped at 1.

    >>> adjust_pvalues([0.01, 0.04, 0.03, float("nan")]).round(3).tolist()
    [0.03, 0.04, 0.04, nan]
    """
    if method not in ("bh", "holm"):
        msg = f"method must be 'bh' or 'holm', found {method!r}"
        raise CJResearchError(msg)
    return m.adjust(np.asarray(p_values, dtype=float), method)


def _add_q(frame: pd.DataFrame, correction: str, family: str) -> pd.DataFrame:
    frame = frame.copy()
    frame["q_value"] = m.adjust(frame["p_value"].to_numpy(dtype=float), correction)
    n_tests = int(frame["p_value"].notna().sum())
    frame["family"] = f"{family} ({n_tests} tests, {'BH' if correction == 'bh' else 'Holm'})"
    return frame


# ----------------------------------------------------------------- per-stage logistic


@dataclass(frozen=True)
class _Cell:
    row: dict[str, Any]
    fit: m.LogitFit | None = None
    emotion: np.ndarray | None = None


def _controls_for(
    frame: pd.DataFrame, controls: Sequence[str], flags: list[str]
) -> tuple[pd.DataFrame, pd.Series]:
    """Control design for a subset, dropping (and flagging) constants and missing rows."""
    complete = frame[list(controls)].notna().all(axis=1) if controls else frame.index == frame.index
    complete = pd.Series(np.asarray(complete), index=frame.index)
    if not complete.all():
        flags.append("missing_controls")
    design, dropped = m.control_design(frame.loc[complete], controls)
    flags.extend(f"dropped_control:{name}" for name in dropped)
    return design, complete


def _logit_cell(frame: pd.DataFrame, settings: Settings) -> _Cell:
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
        return _Cell({**row, **estimate, "flags": "no_customers"})
    if n < min_group_size:
        return _Cell({**row, **estimate, "flags": "small_group"})
    design, complete = _controls_for(frame, controls, flags)
    frame = frame.loc[complete]
    y = frame["churned"].to_numpy(dtype=float)
    e = frame["emotion"].to_numpy(dtype=float)
    row = {"n_customers": len(frame), "n_churned": int(y.sum())}
    if len(frame) < min_group_size:
        return _Cell({**row, **estimate, "flags": _join_flags([*flags, "small_group"])})
    if y.min() == y.max():
        return _Cell({**row, **estimate, "flags": _join_flags([*flags, "no_events"])})
    if e.min() == e.max():
        return _Cell({**row, **estimate, "flags": _join_flags([*flags, "no_variation"])})
    x = pd.concat(
        [pd.DataFrame({"emotion_step": e / unit_size}, index=frame.index), design], axis=1
    )
    events = min(y.sum(), len(y) - y.sum())
    if events / x.shape[1] < m.MIN_EPV:
        flags.append("low_epv")
    fit = m.fit_logit(y, x)
    if fit is None:
        return _Cell({**row, **estimate, "flags": _join_flags([*flags, "fit_failed"])})
    flags.extend(fit.flags)
    if m.vif(x.to_numpy(dtype=float), 0) > m.MAX_VIF:
        flags.append("high_vif")
    odds, low, high, p = m.wald(fit.params[1], float(np.sqrt(fit.cov[1, 1])))
    if "separation" in flags:
        odds, low, high, p = (np.nan,) * 4
    estimate = {"odds_ratio": odds, "ci_low": low, "ci_high": high, "p_value": p}
    return _Cell({**row, **estimate, "flags": _join_flags(flags)}, fit, e)


def _wide_emotion(stage_emotion: pd.DataFrame) -> pd.DataFrame:
    require_columns(stage_emotion, ("customer_id", "stage", "emotion_mean"), "stage_emotion")
    frame = stage_emotion.assign(stage=stage_emotion["stage"].astype(str))
    return frame.pivot_table(
        index="customer_id", columns="stage", values="emotion_mean", aggfunc="mean", observed=True
    )


def _logit_cells(
    customers: pd.DataFrame,
    stage_emotion: pd.DataFrame,
    personas: pd.DataFrame | None,
    settings: Settings,
) -> list[tuple[str, str, _Cell]]:
    wide = _wide_emotion(stage_emotion)
    base = customers.set_index("customer_id")
    base = base[["churned", *settings.controls]].assign(churned=base["churned"].astype(bool))
    out = []
    for label, ids in _groups(customers, personas):
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
        :func:`cjresearch.analysis.emotion.stage_emotion` output (``customer_id, stage, emotion_mean``).
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
    _check_common(customers, settings, personas)
    customers, other = _encode(customers, stage_emotion=stage_emotion, personas=personas)
    cells = _logit_cells(customers, other["stage_emotion"], other["personas"], settings)
    table = _emotion_table(cells, settings)
    _warn("emotion_churn", table)
    return table


def _emotion_table(cells: list[tuple[str, str, _Cell]], settings: Settings) -> pd.DataFrame:
    rows = [
        {"persona": label, "stage": stage, **cell.row, "unit_size": float(settings.unit_size)}
        for label, stage, cell in cells
    ]
    frame = pd.DataFrame(rows)
    frame = _add_q(frame, settings.correction, "logistic per stage x persona")
    return _finish(frame, EMOTION_CHURN_COLUMNS)


def _finish(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    frame = frame.reindex(columns=list(columns)).reset_index(drop=True)
    for name in ("persona", "stage", "flags", "family", "kind", "text", "tercile"):
        if name in frame.columns:
            frame[name] = frame[name].fillna("").astype("str")
    for name in ("n_customers", "n_churned", "n_events", "n_at_risk", "rank"):
        if name in frame.columns:
            frame[name] = frame[name].astype("int64")
    return frame


# ------------------------------------------------------------------------ joint model


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
    _check_common(customers, settings, personas)
    stages, controls, unit_size = settings.stages, settings.controls, settings.unit_size
    min_group_size, seed = settings.min_group_size, settings.seed
    if interactions and personas is None:
        msg = "interactions=True needs a personas frame (customer_id, persona_id, persona_name)"
        raise CJResearchError(msg)
    customers, other = _encode(customers, stage_emotion=stage_emotion, personas=personas)
    personas = other["personas"]
    wide = _wide_emotion(other["stage_emotion"])
    base = customers.set_index("customer_id")
    model_flags: list[str] = []
    design, complete = _controls_for(base, controls, model_flags)
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
            row["flags"] = _join_flags([row.get("flags", ""), *flags])
        elif not row.get("flags"):
            row["flags"] = "fit_failed"
        if row["n_customers"] and row["n_customers"] < min_group_size:
            row.update(odds_ratio=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan)
            row["flags"] = _join_flags([row["flags"], "small_group"])
        table_rows.append({**row, "unit_size": float(unit_size)})
    summary = _add_q(pd.DataFrame(table_rows), settings.correction, "joint model stages x persona")
    summary = _finish(summary, EMOTION_CHURN_COLUMNS)
    diag = pd.DataFrame(diagnostics).reindex(columns=list(JOINT_DIAGNOSTIC_COLUMNS))
    _warn("joint model", summary)
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
        diagnostics.append({**record, "converged": False, "flags": _join_flags(flags)})
        return None
    if record["events_per_variable"] < m.MIN_EPV:
        flags.append("low_epv")
    fit = m.fit_logit(y, x)
    if fit is None:
        diagnostics.append(
            {**record, "converged": False, "flags": _join_flags([*flags, "fit_failed"])}
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
            "flags": _join_flags(flags),
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
    labels = _groups(base.reset_index(), personas)[1:]
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


# ------------------------------------------------------------------------------- Cox


def _cox_cell(
    rows: pd.DataFrame, controls_frame: pd.DataFrame, settings: Settings, extra_flags: list[str]
) -> dict[str, Any]:
    controls, unit_size, min_group_size = (
        settings.controls,
        settings.unit_size,
        settings.min_group_size,
    )
    flags = list(extra_flags)
    n = int(rows["customer_id"].nunique())
    n_events = int(rows["event"].sum())
    out: dict[str, Any] = {
        "n_customers": n,
        "n_events": n_events,
        "hazard_ratio": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": np.nan,
        "ph_ok": pd.NA,
    }
    if n == 0:
        return {**out, "flags": _join_flags([*flags, "no_customers"])}
    if n < min_group_size:
        return {**out, "flags": _join_flags([*flags, "small_group"])}
    per_customer = controls_frame.loc[pd.unique(rows["customer_id"])]
    design, complete = _controls_for(per_customer, controls, flags)
    keep = rows["customer_id"].isin(complete.index[complete.to_numpy()]).to_numpy()
    rows = rows[keep]
    n_events = int(rows["event"].sum())
    out.update(n_customers=int(rows["customer_id"].nunique()), n_events=n_events)
    if n_events == 0:
        return {**out, "flags": _join_flags([*flags, "no_events"])}
    e = rows["emotion"].to_numpy(dtype=float)
    if e.min() == e.max():
        return {**out, "flags": _join_flags([*flags, "no_variation"])}
    x = np.column_stack(
        [e / unit_size, design.reindex(rows["customer_id"].to_numpy()).to_numpy(dtype=float)]
    )
    if n_events / x.shape[1] < m.MIN_EPV:
        flags.append("low_epv")
    fit = fit_cox(rows["start"].to_numpy(), rows["stop"].to_numpy(), rows["event"].to_numpy(), x)
    if not fit.converged or not np.all(np.isfinite(fit.cov)):
        flags.append("not_converged")
    beta = float(fit.params[0])
    if abs(beta) > 10:
        flags.append("quasi_separation")
    if m.vif(x, 0) > m.MAX_VIF:
        flags.append("high_vif")
    ratio, low, high, p = m.wald(beta, float(np.sqrt(fit.cov[0, 0])))
    ph_ok: object = pd.NA
    if len(fit.event_times) >= 3 and np.ptp(fit.event_times) > 0:
        residual = fit.schoenfeld[:, 0]
        if np.ptp(residual) > 0:
            _r, ph_p = sps.pearsonr(residual, np.log(fit.event_times))
            ph_ok = bool(ph_p >= 0.05)
            if not ph_ok:
                flags.append("ph_violated")
    return {
        **out,
        "hazard_ratio": ratio,
        "ci_low": low,
        "ci_high": high,
        "p_value": p,
        "ph_ok": ph_ok,
        "flags": _join_flags(flags),
    }


def _observation_end(observations: pd.DataFrame, observation_end: object) -> pd.Timestamp:
    if observation_end is None:
        return pd.Timestamp(observations["timestamp"].max()) + pd.Timedelta(seconds=1)
    end = pd.Timestamp(observation_end)
    if end.tzinfo is None:
        end = end.tz_localize("UTC")
    return end


def time_to_churn(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    settings: Settings | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Hazard of churn per step of stage emotion, with emotion as a time-varying covariate.

    Time runs from ``signup_date`` (else the customer's first emotion observation) to
    ``churn_date`` for churners and ``observation_end`` for the others, in days. For each
    stage a customer enters the risk set when first expressing an emotion there (delayed
    entry), and the covariate is the running mean of the emotions expressed at the stage so
    far, updated at each new observation (start/stop rows). So emotion counts only from the
    moment it was expressed, and a churn before it was expressed does not count at all. Cox
    model with Efron ties (a vectorised solver pinned to statsmodels ``PHReg``), baseline
    controls as covariates. The proportional-hazards check correlates the emotion's
    Schoenfeld residuals with log time (``ph_ok`` is False when p < 0.05). ``settings`` and
    ``options`` are those of :func:`emotion_churn`.

    Returns
    -------
    pandas.DataFrame
        ``persona, stage, n_customers, n_events, unit_size, hazard_ratio, ci_low, ci_high,
        p_value, q_value, ph_ok, flags``.
    """
    settings = Settings.resolve(settings, **options)
    _check_common(customers, settings, personas)
    require_columns(observations, ("customer_id", "timestamp", "stage", "emotion"), "observations")
    customers, other = _encode(customers, observations=observations, personas=personas)
    table = _cox_table(
        customers, other["observations"], other["personas"], settings, observation_end
    )
    _warn("time_to_churn", table)
    return table


def _cox_table(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    personas: pd.DataFrame | None,
    settings: Settings,
    observation_end: object,
) -> pd.DataFrame:
    require_columns(observations, ("customer_id", "timestamp", "stage", "emotion"), "observations")
    end = _observation_end(observations, observation_end)
    follow = follow_up(customers, observations, end)
    controls_frame = customers.set_index("customer_id")[list(settings.controls)]
    rows_by_stage = {stage: start_stop(observations, follow, stage) for stage in settings.stages}
    out = []
    for label, ids in _groups(customers, personas):
        excluded = follow.loc[ids, "excluded"]
        extra = ["missing_churn_date"] if (excluded == "missing_churn_date").any() else []
        for stage in settings.stages:
            rows = rows_by_stage[stage]
            rows = rows[rows["customer_id"].isin(ids)] if label != ALL else rows
            cell = _cox_cell(rows, controls_frame, settings, extra)
            unit = float(settings.unit_size)
            out.append({"persona": label, "stage": stage, "unit_size": unit, **cell})
    frame = pd.DataFrame(out)
    frame["q_value"] = m.adjust(frame["p_value"].to_numpy(dtype=float), settings.correction)
    frame = _finish(frame, TIME_TO_CHURN_COLUMNS)
    frame["ph_ok"] = frame["ph_ok"].astype("boolean")
    return frame


def survival_curves(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    stage_emotion: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    n_points: int = 60,
    settings: Settings | None = None,
    **options: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan-Meier curves of staying by emotion tercile at each stage, and log-rank tests.

    Customers who reached a stage are split into terciles of their stage emotion
    (``low``, ``middle``, ``high``); each enters at the first emotion expressed at the stage
    (delayed entry) and is followed as in :func:`time_to_churn`. Curves are evaluated on a
    grid of ``n_points`` times and cut where fewer than ``min_group_size`` remain at risk
    (``settings`` and ``options`` as for :func:`emotion_churn`).

    Returns
    -------
    tuple of pandas.DataFrame
        Curves: ``persona, stage, tercile, time, survival, ci_low, ci_high, n_at_risk``
        (time in days since signup); tests: ``persona, stage, n_customers, n_events, chi2,
        p_value, flags``.
    """
    settings = Settings.resolve(settings, **options)
    stages, min_group_size = settings.require_stages(), settings.min_group_size
    require_columns(customers, ("customer_id", "churned"), "customers")
    require_columns(observations, ("customer_id", "timestamp", "stage", "emotion"), "observations")
    end = _observation_end(observations, observation_end)
    customers, other = _encode(
        customers, observations=observations, stage_emotion=stage_emotion, personas=personas
    )
    observations, stage_emotion, personas = (
        other["observations"],
        other["stage_emotion"],
        other["personas"],
    )
    follow = follow_up(customers, observations, end)
    usable = follow[follow["excluded"] == ""]
    wide = _wide_emotion(stage_emotion)
    obs = observations[observations["emotion"].notna()]
    curves: list[pd.DataFrame] = []
    tests: list[dict[str, Any]] = []
    for stage in stages:
        at = obs[obs["stage"] == stage]
        first = at.groupby("customer_id", observed=True)["timestamp"].min()
        first = first[first.index.isin(usable.index)]
        info = usable.loc[first.index]
        entry = np.maximum(((first - info["origin"]) / pd.Timedelta(days=1)).to_numpy(float), 0)
        frame = pd.DataFrame(
            {
                "entry": entry,
                "time": info["end_days"].to_numpy(float),
                "status": info["event"].to_numpy(bool).astype(int),
                "emotion": wide[stage].reindex(first.index).to_numpy(float)
                if stage in wide.columns
                else np.nan,
            },
            index=first.index,
        )
        frame = frame[(frame["time"] > frame["entry"]) & frame["emotion"].notna()]
        for label, ids in _groups(customers, personas):
            sub = frame[frame.index.isin(ids)]
            flags: list[str] = []
            record: dict[str, Any] = {
                "persona": label,
                "stage": stage,
                "n_customers": len(sub),
                "n_events": int(sub["status"].sum()),
                "chi2": np.nan,
                "p_value": np.nan,
            }
            if (follow.loc[ids, "excluded"] == "missing_churn_date").any():
                flags.append("missing_churn_date")
            if len(sub) == 0:
                tests.append({**record, "flags": _join_flags([*flags, "no_customers"])})
                continue
            if len(sub) < min_group_size:
                tests.append({**record, "flags": _join_flags([*flags, "small_group"])})
                continue
            bins = pd.qcut(sub["emotion"], 3, duplicates="drop")
            n_bins = len(bins.cat.categories)
            names = ["low", "middle", "high"] if n_bins == 3 else [f"q{i + 1}" for i in range(3)]
            tercile = np.asarray(names, dtype=object)[bins.cat.codes.to_numpy()]
            if n_bins < 3:
                flags.append("few_distinct_values")
            grid = np.linspace(0.0, float(sub["time"].max()), n_points)
            for name in names[:n_bins]:
                part = sub[tercile == name]
                if len(part) < min_group_size:
                    flags.append("small_group")
                    continue
                curve = kaplan_meier(
                    part["time"].to_numpy(),
                    part["status"].to_numpy(),
                    part["entry"].to_numpy(),
                    grid,
                )
                curve = curve[curve["n_at_risk"] >= min_group_size]
                curves.append(curve.assign(persona=label, stage=stage, tercile=name))
            if n_bins >= 2 and sub["status"].sum() > 0:
                chi2, p = log_rank(
                    sub["time"].to_numpy(),
                    sub["status"].to_numpy(),
                    tercile,
                    sub["entry"].to_numpy(),
                )
                record.update(chi2=chi2, p_value=p)
            elif sub["status"].sum() == 0:
                flags.append("no_events")
            tests.append({**record, "flags": _join_flags(flags)})
    curve_frame = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
    curve_frame = _finish(curve_frame, KM_COLUMNS)
    test_frame = _finish(pd.DataFrame(tests), LOGRANK_COLUMNS)
    _warn("survival_curves", test_frame)
    return curve_frame, test_frame


# ------------------------------------------------------------------- opportunities


def _opportunity_rows(
    cells: list[tuple[str, str, _Cell]], table: pd.DataFrame, settings: Settings
) -> pd.DataFrame:
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
                "ci_low": max(0.0, float(p_better.mean()) - m.Z95 * se_better),
                "ci_high": min(1.0, float(p_better.mean()) + m.Z95 * se_better),
                "change": change,
                "change_ci_low": change - m.Z95 * se_change,
                "change_ci_high": change + m.Z95 * se_change,
                "churners_fewer": -change * n,
                "q_value": q_by_cell.get((label, stage), np.nan),
                "flags": cell.row["flags"],
            }
        )
    frame = pd.DataFrame(rows, columns=[c for c in OPPORTUNITY_COLUMNS if c != "rank"])
    frame = frame.sort_values("churners_fewer", ascending=False, kind="stable")
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return _finish(frame, OPPORTUNITY_COLUMNS)


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
    _check_common(customers, settings, personas)
    customers, other = _encode(customers, stage_emotion=stage_emotion, personas=personas)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticalWarning)  # emotion_churn reports them
        cells = _logit_cells(customers, other["stage_emotion"], other["personas"], settings)
    table = _emotion_table(cells, settings)
    return _opportunity_rows(cells, table, settings)


# ------------------------------------------------------------------------ findings

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
        reason = ", ".join(_EXPLAIN.get(f.split(":")[0], f) for f in flags) or "a wide interval"
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
            if not (np.isfinite(row[column]) and np.isfinite(row["q_value"])):
                continue
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
    return _finish(frame, FINDINGS_COLUMNS)


# ---------------------------------------------------------------------------- analyse


@dataclass(frozen=True)
class EmotionChurnResult:
    """Everything :func:`analyse` computes, as tidy tables (no customer ids in any of them).

    Attributes
    ----------
    emotion_churn, time_to_churn, findings
        The published tables (columns :data:`EMOTION_CHURN_COLUMNS`,
        :data:`TIME_TO_CHURN_COLUMNS`, :data:`FINDINGS_COLUMNS`).
    joint, joint_diagnostics
        :class:`JointModel` summary and diagnostics.
    km_curves, logrank
        :func:`survival_curves` output.
    opportunities
        :func:`opportunities` output.
    settings
        The parameters of the run.
    """

    emotion_churn: pd.DataFrame
    time_to_churn: pd.DataFrame
    findings: pd.DataFrame
    joint: pd.DataFrame
    joint_diagnostics: pd.DataFrame
    km_curves: pd.DataFrame
    logrank: pd.DataFrame
    opportunities: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        """The findings, ranked."""
        return self.findings

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (the artifact / CSV file stem)."""
        return {
            "emotion_churn": self.emotion_churn,
            "time_to_churn": self.time_to_churn,
            "findings": self.findings,
            "emotion_churn_joint": self.joint,
            "emotion_churn_joint_diagnostics": self.joint_diagnostics,
            "km_curves": self.km_curves,
            "logrank": self.logrank,
            "opportunities": self.opportunities,
        }

    def _repr_html_(self) -> str:
        parts = ["<h4>Findings</h4>", self.findings.to_html(index=False, escape=True)]
        parts += ["<h4>Emotion and churn (odds)</h4>"]
        parts += [self.emotion_churn.to_html(index=False, escape=True)]
        parts += ["<h4>Time to churn (hazards)</h4>"]
        parts += [self.time_to_churn.to_html(index=False, escape=True)]
        return "\n".join(parts)


def analyse(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    stage_emotion: pd.DataFrame,
    *,
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    interactions: bool = False,
    settings: Settings | None = None,
    **options: Any,
) -> EmotionChurnResult:
    """Run every emotion -> churn analysis once (what the build calls).

    Parameters are those of :func:`emotion_churn`, :func:`joint_model`,
    :func:`time_to_churn` and :func:`survival_curves` (one ``settings`` value for all of
    them); ``observations`` is
    :func:`cjresearch.analysis.emotion.emotion_observations` output and ``observation_end`` the study's
    (exclusive) end of observation (default: just after the latest observation).

    Returns
    -------
    EmotionChurnResult
        All tables; each shaky estimate is flagged in its table and warned about once.
    """
    settings = Settings.resolve(settings, **options)
    _check_common(customers, settings, personas)
    require_columns(observations, ("customer_id", "timestamp", "stage", "emotion"), "observations")
    end = _observation_end(observations, observation_end)
    customers, other = _encode(
        customers, observations=observations, stage_emotion=stage_emotion, personas=personas
    )
    observations, stage_emotion, personas = (
        other["observations"],
        other["stage_emotion"],
        other["personas"],
    )
    cells = _logit_cells(customers, stage_emotion, personas, settings)
    odds = _emotion_table(cells, settings)
    _warn("emotion_churn", odds)
    joint = joint_model(
        customers,
        stage_emotion,
        personas=personas,
        interactions=interactions and personas is not None,
        settings=settings,
    )
    hazards = _cox_table(customers, observations, personas, settings, end)
    _warn("time_to_churn", hazards)
    curves, tests = survival_curves(
        customers,
        observations,
        stage_emotion,
        personas=personas,
        observation_end=end,
        settings=settings,
    )
    opp = _opportunity_rows(cells, odds, settings)
    found = findings(odds, hazards, opp, settings=settings)
    run = {
        **settings.as_dict(),
        "interactions": interactions,
        "personas": personas is not None,
    }
    return EmotionChurnResult(
        odds, hazards, found, joint.summary, joint.diagnostics, curves, tests, opp, run
    )
