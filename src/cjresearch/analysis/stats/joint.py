"""The joint model: each stage's emotion net of what the customer felt before, with
non-response imputed, and a sensitivity analysis for informative non-response.

In the landmark design (the default) there is one model per stage ``s``, on everyone who
reached ``s`` (respondents *and* non-respondents), was still a customer at its landmark and
was observed for the whole horizon::

    churned within the horizon ~ emotion at s (exposure window)
                                 + emotion at each earlier stage reached before s
                                 + not-reached indicator of each earlier stage
                                 + controls

Only stages before ``s`` in the study's order, reached before ``s``, enter: their emotion was
expressed before the exposure window of ``s`` ended, so it can confound the association at
``s``, while what came later cannot (adjusting for it would adjust for a consequence). Emotion
is centred on its mean among the respondents of its stage. A stage not reached is a state (0
plus the indicator), not missing data; a stage reached without feedback is missing data,
**multiply imputed** by chained equations whose models include the outcome, the controls, the
reach indicators and every other stage's emotion (with ``interactions``, also each persona and
persona x outcome, so that the imputations keep the personas' own slopes the model estimates;
``imputations`` completed data sets, proper draws by the approximate Bayesian bootstrap,
:mod:`cjresearch.analysis.stats._impute`), and the estimates are pooled by **Rubin's rules**
(t intervals with Barnard-Rubin degrees of freedom).

Imputation assumes that non-response is *at random* given what the model knows. The
``nonresponse`` table shows what happens if it is not: the imputed emotions at ``s`` are
shifted by ``delta`` (``-0.5 .. +0.5`` on the [-1, 1] scale; negative: the silent felt worse
than similar respondents) and the model refitted (delta adjustment, a pattern-mixture
sensitivity analysis). A conclusion that holds across the deltas does not rest on the
missing-at-random assumption.

``design="whole_follow_up"`` keeps the 0.1 model: one logistic model of churn at any time on
every stage's mean emotion at any time, with the missing-indicator method for customers
without emotion at a stage (non-respondents lumped with those who never reached it).

The models run on one BLAS thread (:data:`BLAS_THREADS`), so that a seed gives the same tables
on every machine: OpenBLAS splits the Gram matrix of a wide design (25 columns: the
imputation model with personas) among its threads in a way that moves its last bits, and
predictive mean matching turns last bits into other donors. Measured at 100,000 customers,
two of the seven stages' pooled odds ratios differed in the third digit between one thread
and two; one thread was also faster there (43.5 s against 47.5 s wall for the statistics, and
half the CPU), the threads' share of these small products being mostly waiting.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from cjresearch._background import helper_thread, in_halves
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import _modelling as m
from cjresearch.analysis.stats._common import (
    EMOTION_CHURN_COLUMNS,
    JOINT_DIAGNOSTIC_COLUMNS,
    NONRESPONSE_COLUMNS,
    add_q,
    check_common,
    controls_for,
    finish,
    groups,
    join_flags,
    warn,
)
from cjresearch.analysis.stats._impute import impute, pooled_wald, rubin
from cjresearch.analysis.stats.exposure import stage_frames
from cjresearch.analysis.stats.logistic import design_matrix, model_frame, prepare
from cjresearch.data.schema import ALL
from cjresearch.errors import CJResearchError

__all__ = ["NONRESPONSE_DELTAS", "JointModel", "joint_model"]

#: BLAS threads of the joint model's fits and imputations (see the module).
BLAS_THREADS = 1
#: From this many customers in a stage's model on, its refits run in two threads (numpy
#: lets go of the GIL in the products), the donor search too (``_impute.THREAD_VALUES``)
THREAD_ROWS = 20_000

#: Shifts of the imputed emotions of non-respondents in the sensitivity analysis (besides 0).
NONRESPONSE_DELTAS = (-0.5, -0.25, 0.25, 0.5)

_SHAKY = {"separation", "quasi_separation", "not_converged", "low_epv", "missing_controls"}


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


@dataclass(frozen=True)
class JointModel:
    """Every stage's emotion net of the others.

    Attributes
    ----------
    summary
        Same columns as :data:`EMOTION_CHURN_COLUMNS`, one row per stage (persona ``"all"``)
        and, with interactions, one per persona and stage (that persona's own slope).
    diagnostics
        One row per fitted model: ``model, n_customers, n_churned, n_parameters,
        events_per_variable, converged, auc, calibration_intercept, calibration_slope,
        hosmer_lemeshow_p, max_vif, flags, imputations`` (AUC and calibration are 5-fold
        cross-validated, on the first completed data set).
    formula
        The specification in words.
    nonresponse
        The delta-adjustment sensitivity analysis: ``persona, stage, delta, n_reached``
        (in the model), ``n_responded, n_imputed, odds_ratio, ci_low, ci_high, p_value,
        flags`` (empty in the whole-follow-up design, which imputes nothing).
    """

    summary: pd.DataFrame
    diagnostics: pd.DataFrame
    formula: str
    nonresponse: pd.DataFrame = field(default_factory=lambda: _empty(NONRESPONSE_COLUMNS))

    def _repr_html_(self) -> str:
        return (
            f"<p>{html.escape(self.formula)}</p>"
            + self.summary.to_html(index=False, escape=True)
            + self.diagnostics.to_html(index=False, escape=True)
            + self.nonresponse.to_html(index=False, escape=True)
        )


def joint_model(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    *,
    reach: pd.DataFrame | None = None,
    personas: pd.DataFrame | None = None,
    interactions: bool = False,
    observation_end: object = None,
    settings: Settings | None = None,
    **options: Any,
) -> JointModel:
    """Each stage's emotion net of the emotion expressed before it, with non-response imputed
    (see the module).

    Parameters are those of :func:`~cjresearch.analysis.stats.emotion_churn` (``seed`` seeds
    the imputations and the cross-validation folds, ``imputations`` sets their number). With
    ``interactions=True`` (needs ``personas``) each stage's model adds persona dummies and
    persona x emotion terms; its rows give each persona's own odds ratio.

    Returns
    -------
    JointModel
        ``summary`` (columns of :data:`EMOTION_CHURN_COLUMNS`), ``diagnostics``, ``formula``
        and ``nonresponse``.
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    if interactions and personas is None:
        msg = "interactions=True needs a personas frame (customer_id, persona_id, persona_name)"
        raise CJResearchError(msg)
    customers, observations, reach, personas, follow = prepare(
        customers, observations, reach, personas, observation_end
    )
    frames = stage_frames(observations, reach, follow, settings)
    return joint_tables(customers, frames, personas, settings, interactions=interactions)


def joint_tables(
    customers: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    personas: pd.DataFrame | None,
    settings: Settings,
    *,
    interactions: bool,
) -> JointModel:
    """The joint model of encoded inputs and the stages' frames (what :func:`joint_model` and
    :func:`~cjresearch.analysis.stats.analyse` call), on :data:`BLAS_THREADS` threads."""
    labels = groups(customers, personas)[1:] if interactions and personas is not None else []
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        if settings.design == "whole_follow_up":
            return _whole_follow_up(customers, frames, labels, settings)
        base = customers.set_index("customer_id")[list(settings.controls)]
        return _landmark_tables(base, frames, labels, settings)


def _landmark_tables(
    base: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    labels: list[tuple[str, pd.Index]],
    settings: Settings,
) -> JointModel:
    """The landmark design's joint model: one model per stage (see the module)."""
    rng = np.random.default_rng(settings.seed)
    rows: list[dict[str, Any]] = []
    sensitivity: list[dict[str, Any]] = []
    diagnostics: list[dict[str, Any]] = []
    for k in range(len(settings.stages)):
        made, deltas = _landmark_stage(k, frames, base, settings, labels, rng, diagnostics)
        rows += made
        sensitivity += deltas
    stages = " + ".join(f"emotion_{s}" for s in settings.stages[:3])
    formula = (
        f"per stage s: churned within {settings.horizon_days:g} days after the landmark ~ "
        f"emotion_s + earlier stages' emotion (e.g. {stages}; centred, per "
        f"{settings.unit_size:g}) + their not-reached indicators"
        + "".join(f" + {c}" for c in settings.controls)
        + f"  [landmark {settings.exposure_window_days:g} + {settings.lag_days:g} days after "
        f"reaching s; non-response imputed ({settings.imputations} chained-equation "
        "imputations with the outcome), pooled by Rubin's rules]"
    )
    return _joint(rows, diagnostics, formula, settings, sensitivity)


def _joint(
    rows: list[dict[str, Any]],
    diagnostics: list[dict[str, Any]],
    formula: str,
    settings: Settings,
    sensitivity: list[dict[str, Any]] | None = None,
) -> JointModel:
    landmark = settings.design == "landmark"
    table = pd.DataFrame(rows).assign(
        unit_size=float(settings.unit_size),
        design=settings.design,
        exposure_window_days=float(settings.exposure_window_days) if landmark else np.nan,
        lag_days=float(settings.lag_days) if landmark else np.nan,
        horizon_days=float(settings.horizon_days) if landmark else np.nan,
        finding=False,
    )
    for name in ("odds_ratio", "ci_low", "ci_high", "p_value"):
        if name not in table.columns:
            table[name] = np.nan
    small = (table["n_customers"] > 0) & (table["n_customers"] < settings.min_group_size)
    table.loc[small, ["odds_ratio", "ci_low", "ci_high", "p_value"]] = np.nan
    table.loc[small, "flags"] = [join_flags([f, "small_group"]) for f in table.loc[small, "flags"]]
    summary = add_q(table, settings.correction, "joint model stages x persona")
    summary = finish(summary, EMOTION_CHURN_COLUMNS)
    diag = pd.DataFrame(diagnostics).reindex(columns=list(JOINT_DIAGNOSTIC_COLUMNS))
    diag["imputations"] = diag["imputations"].fillna(1).astype("int64")
    nonresponse = finish(pd.DataFrame(sensitivity or []), NONRESPONSE_COLUMNS)
    warn("joint model", summary)
    return JointModel(summary, diag, formula, nonresponse)


def _stage_columns(
    k: int, frames: dict[str, pd.DataFrame], pop: pd.DataFrame, settings: Settings
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """Values (centred emotion per step, NaN where missing; indicators), missing and
    applicable masks of the emotion columns of stage ``k``'s model, and the earlier stages
    left out because too few customers gave feedback there to impute the others from (fewer
    than 10 per column of the model: measured, imputations from fewer swing from one
    completed data set to the next and make the pooled estimate meaningless)."""
    unit = settings.unit_size
    stage = settings.stages[k]
    responded = pop["responded"].to_numpy(dtype=bool)
    emotion = pop["emotion"].to_numpy(dtype=float)
    everyone = np.ones(len(pop), dtype=bool)
    values = {f"emotion_{stage}": (emotion - emotion[responded].mean()) / unit}
    missing = {f"emotion_{stage}": ~responded}
    applicable = {f"emotion_{stage}": everyone}
    reached_day = pop["reached_day"].to_numpy(dtype=float)
    # columns of the model if every earlier stage enters: 2 per stage, controls, time, intercept
    n_columns = 2 * (k + 1) + len(settings.controls) + 2
    left_out: list[str] = []
    for earlier in settings.stages[:k]:
        other = frames[earlier].reindex(pop.index)
        before = (other["reached_day"].to_numpy(dtype=float) <= reached_day) & other[
            "reached_day"
        ].notna().to_numpy()
        said = before & other["responded"].fillna(False).to_numpy(dtype=bool)
        felt = other["emotion"].to_numpy(dtype=float)
        if said.sum() < 2 or np.ptp(felt[said]) == 0:
            continue
        if said.sum() < 10 * n_columns:
            left_out.append(earlier)
            continue
        name = f"emotion_{earlier}"
        values[name] = np.where(before, (felt - felt[said].mean()) / unit, 0.0)
        missing[name] = before & ~said
        applicable[name] = before
        if not before.all():
            values[f"not_reached_{earlier}"] = (~before).astype(float)
            missing[f"not_reached_{earlier}"] = ~everyone
            applicable[f"not_reached_{earlier}"] = everyone
    return values, missing, applicable, left_out


def _problem(
    frame: pd.DataFrame, pop: pd.DataFrame, y: np.ndarray, settings: Settings
) -> str | None:
    """Why stage k's joint model cannot be fitted, or None."""
    responded = pop["responded"].to_numpy(dtype=bool)
    if len(frame) == 0:
        return "no_customers"
    if not frame["responded"].any():
        return "no_feedback"
    if len(pop) < settings.min_group_size or responded.sum() < 2:
        return "small_group"
    if y.min() == y.max():
        return "no_events"
    if np.ptp(pop["emotion"].to_numpy(dtype=float)[responded]) == 0:
        return "no_variation"
    return None


def _landmark_stage(
    k: int,
    frames: dict[str, pd.DataFrame],
    base: pd.DataFrame,
    settings: Settings,
    labels: list[tuple[str, pd.Index]],
    rng: np.random.Generator,
    diagnostics: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows (all, and each persona with interactions) and the delta rows of stage k."""
    stage = settings.stages[k]
    frame = frames[stage]
    flags: list[str] = []
    pop, controls = design_matrix(model_frame(frame, base, include_silent=True), settings, flags)
    y = pop["churned"].to_numpy(dtype=float)
    responded = pop["responded"].to_numpy(dtype=bool)
    row: dict[str, Any] = {
        "persona": ALL,
        "stage": stage,
        "n_customers": len(pop),
        "n_churned": int(y.sum()),
        "n_reached": len(frame),
        "n_responded": int(frame["responded"].sum()),
    }
    problem = _problem(frame, pop, y, settings)
    if problem is not None:
        return [{**row, "flags": join_flags([*flags, problem])}], []
    values, missing, applicable, left_out = _stage_columns(k, frames, pop, settings)
    flags += [f"not_adjusted_for:{s}" for s in left_out]
    if (~responded).sum() > responded.sum():
        flags.append("mostly_imputed")
    others = controls.drop(columns="emotion_step")
    names = [*values, *others.columns]
    # the frame holds its own copy: the columns it is made of go (a stage's model holds
    # several n x p arrays through its imputations, beside the other models' own)
    x = pd.DataFrame(
        np.column_stack([*values.values(), others.to_numpy(dtype=float)]),
        columns=names,
        index=pop.index,
    )
    miss = np.column_stack([*missing.values(), np.zeros(others.shape, dtype=bool)])
    appl = np.column_stack([*applicable.values(), np.ones(others.shape, dtype=bool)])
    del values, missing, applicable
    member = {name: pop.index.isin(ids) for name, ids in labels}
    reached_by = {name: frame.index.isin(ids) for name, ids in labels}
    target = f"emotion_{stage}"
    estimates, first_flags = _imputed_estimates(
        y, x, miss, appl, target, member, settings, rng, diagnostics, flags
    )
    if estimates is None:
        return [{**row, "flags": join_flags([*flags, "fit_failed"])}], []
    stage_level = [f for f in flags if f.startswith(("mostly_", "not_adjusted"))]
    row["flags"] = join_flags([*first_flags, *stage_level])
    complete_df = len(y) - len(names) - 1
    rows = [_pooled(row, estimates[(ALL, 0.0)], complete_df)]
    for name, inside in member.items():
        if (name, 0.0) in estimates:
            persona_row = {
                **row,
                "persona": name,
                "n_customers": int(inside.sum()),
                "n_churned": int(y[inside].sum()),
                "n_reached": int(reached_by[name].sum()),
                "n_responded": int(frame["responded"].to_numpy()[reached_by[name]].sum()),
            }
            rows.append(_pooled(persona_row, estimates[(name, 0.0)], complete_df))
    sensitivity = [
        {
            **_pooled(
                {"persona": ALL, "stage": stage, "flags": row.get("flags", "")},
                estimates[(ALL, delta)],
                complete_df,
            ),
            "delta": delta,
            "n_reached": len(pop),
            "n_responded": int(responded.sum()),
            "n_imputed": int((~responded).sum()),
        }
        for delta in sorted({d for _, d in estimates if (ALL, d) in estimates})
    ]
    return rows, sensitivity


def _imputed_estimates(
    y: np.ndarray,
    x: pd.DataFrame,
    miss: np.ndarray,
    appl: np.ndarray,
    target: str,
    member: dict[str, np.ndarray],
    settings: Settings,
    rng: np.random.Generator,
    diagnostics: list[dict[str, Any]],
    flags: list[str],
) -> tuple[dict[tuple[str, float], list[tuple[float, float]]] | None, list[str]]:
    """The stage model fitted on every completed data set (and, with non-respondents at the
    target stage, with their imputations shifted by each delta): the target's log odds ratio
    and its variance by (persona, delta), and the first fit's flags; None if a fit fails.
    The first fit is the one whose diagnostics are recorded."""
    j = list(x.columns).index(target)
    shift = miss[:, j]
    # the outcome, and with personas' own slopes their dummies and dummy x outcome, so that
    # the imputations carry the persona differences the analysis model estimates (congenial)
    dummies = [member[name].astype(float) for name in list(member)[1:]] if len(member) >= 2 else []
    known = np.column_stack([y, *dummies, *(d * y for d in dummies)])
    with_y = np.column_stack([known, x.to_numpy(dtype=float)])
    keep_y = np.zeros(known.shape, dtype=bool)
    estimates: dict[tuple[str, float], list[tuple[float, float]]] = {}
    first_flags: list[str] = []
    starts: dict[str, np.ndarray | None] = {}  # a model's first estimates start its later fits
    label = f"landmark {target.removeprefix('emotion_')}"
    deltas = (0.0, *NONRESPONSE_DELTAS) if shift.any() else (0.0,)
    helper = helper_thread("joint") if len(y) >= THREAD_ROWS else None
    for i in range(settings.imputations if miss.any() else 1):
        completed = x
        if miss.any():
            completed = pd.DataFrame(  # a copy: the imputation's own array goes at once
                impute(with_y, np.hstack([keep_y, miss]), np.hstack([~keep_y, appl]), rng)[
                    :, known.shape[1] :
                ],
                columns=x.columns,
                index=x.index,
            )
        if i == 0:  # the first fit, diagnosed (in this thread alone: it records warnings)
            fit = _fit_joint(y, completed, label, settings, diagnostics, flags)
            if fit is None:
                return None, []
            first_flags = list(fit.flags)
            starts[label] = fit.params
            first_fit = (fit.params, fit.cov)
        # every other fit of this completed data set (a delta each), started at the first
        # fit: no random draw, so half of them in a second thread (the same floats)
        values = completed.to_numpy(dtype=float)
        refits = iter(
            in_halves(
                helper,
                [
                    partial(_shifted_refit, y, values, j, shift, delta, settings, starts.get(label))
                    for delta in deltas
                    if i or delta
                ],
            )
        )
        for delta in deltas:
            if i == 0 and delta == 0.0:
                params, cov = first_fit
            elif (refit := next(refits)) is None:
                return None, []
            else:
                params, cov = refit
            estimates.setdefault((ALL, delta), []).append(
                (float(params[j + 1]), float(cov[j + 1, j + 1]))
            )
            if delta == 0.0 and len(member) >= 2:
                _interactions(
                    y, completed, target, member, settings, estimates, diagnostics, starts
                )
    return estimates, first_flags


def _shifted_refit(
    y: np.ndarray,
    values: np.ndarray,
    j: int,
    rows: np.ndarray,
    delta: float,
    settings: Settings,
    start: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The stage model refitted on ``values`` with ``delta`` (on the emotion scale) added to
    column ``j`` at ``rows`` (the imputed emotions at the target stage): the design
    ``refit_logit`` makes of the shifted frame (``add_constant``'s own column stack, so the
    same memory order and the same floats), shifted in place instead of a shifted copy of
    the frame."""
    design = np.column_stack([np.ones(len(values)), values])
    if delta:
        design[rows, j + 1] += delta / settings.unit_size
    return m.refit_design(y, design, start)


def _pooled(
    row: dict[str, Any], draws: list[tuple[float, float]], complete_df: float
) -> dict[str, Any]:
    beta, se, df = rubin(
        np.array([d[0] for d in draws]), np.array([d[1] for d in draws]), complete_df
    )
    odds, low, high, p = pooled_wald(beta, se, df)
    return {**row, "odds_ratio": odds, "ci_low": low, "ci_high": high, "p_value": p}


def _interactions(
    y: np.ndarray,
    x: pd.DataFrame,
    target: str,
    member: dict[str, np.ndarray],
    settings: Settings,
    estimates: dict[tuple[str, float], list[tuple[float, float]]],
    diagnostics: list[dict[str, Any]],
    starts: dict[str, np.ndarray | None],
) -> None:
    """Each persona's own slope of the target stage from a model with persona dummies and
    persona x emotion terms (added to ``estimates``). The first fit of the model (none in
    ``starts`` yet) records its diagnostics and its estimates start the later fits."""
    names = list(member)
    extra: dict[str, np.ndarray] = {}
    for name in names[1:]:
        dummy = member[name].astype(float)
        extra[f"persona[{name}]"] = dummy
        extra[f"persona[{name}]:{target}"] = dummy * x[target].to_numpy()
    xi = pd.concat([x, pd.DataFrame(extra, index=x.index)], axis=1)
    label = f"persona_interactions {target.removeprefix('emotion_')}"
    if label not in starts:
        fit = _fit_joint(y, xi, label, settings, diagnostics, [])
        starts[label] = None if fit is None else fit.params
        found = None if fit is None else (fit.params, fit.cov)
    else:
        found = m.refit_logit(y, xi, starts[label])
    if found is None:
        return
    params, cov = found
    columns = list(xi.columns)
    for name in names:
        weights = np.zeros(len(params))
        weights[1 + columns.index(target)] = 1.0  # after the intercept
        if name != names[0]:
            weights[1 + columns.index(f"persona[{name}]:{target}")] = 1.0
        estimates.setdefault((name, 0.0), []).append(
            (float(weights @ params), float(weights @ cov @ weights))
        )


def _whole_follow_up(
    customers: pd.DataFrame,
    frames: dict[str, pd.DataFrame],
    labels: list[tuple[str, pd.Index]],
    settings: Settings,
) -> JointModel:
    """The 0.1 joint model: every stage's mean emotion at any time (missing-indicator method,
    non-respondents lumped with those who never reached a stage) against churn at any time."""
    stages, unit_size = settings.stages, settings.unit_size
    base = customers.set_index("customer_id")
    model_flags: list[str] = []
    design, complete = controls_for(base, settings.controls, model_flags)
    base = base.loc[complete]
    y = base["churned"].astype(bool).to_numpy(dtype=float)
    columns: dict[str, np.ndarray] = {}
    rows: list[dict[str, Any]] = []
    used: list[str] = []
    for stage in stages:
        frame = frames[stage].reindex(base.index)
        values = frame["emotion"].to_numpy(dtype=float)
        reached = np.isfinite(values)
        row: dict[str, Any] = {
            "persona": ALL,
            "stage": stage,
            "n_customers": int(reached.sum()),
            "n_churned": int(y[reached].sum()),
            "n_reached": int(frame["reached_day"].notna().sum()),
            "n_responded": int(reached.sum()),
        }
        rows.append(row)
        if not reached.any() or np.nanmin(values) == np.nanmax(values):
            row["flags"] = "no_customers" if not reached.any() else "no_variation"
            continue
        columns[f"emotion_{stage}"] = (
            np.where(reached, values - np.nanmean(values), 0.0) / unit_size
        )
        if not reached.all():
            columns[f"missing_{stage}"] = (~reached).astype(float)
        used.append(stage)
    x = pd.concat([pd.DataFrame(columns, index=base.index), design], axis=1)
    formula = (
        "churned ~ "
        + " + ".join(f"emotion_{s} (centred, per {unit_size:g}) + missing_{s}" for s in used)
        + "".join(f" + {c}" for c in settings.controls)
        + "  [whole follow-up, missing-indicator method; fitted on all customers with complete"
        " controls]"
    )
    diagnostics: list[dict[str, Any]] = []
    main = _fit_joint(y, x, "main", settings, diagnostics, model_flags)
    for row in rows:
        stage = row["stage"]
        if stage not in used:
            continue
        if main is None:
            row["flags"] = "fit_failed"
            continue
        j = main.names.index(f"emotion_{stage}")
        odds, low, high, p = m.wald(main.params[j], float(np.sqrt(main.cov[j, j])))
        row.update(odds_ratio=odds, ci_low=low, ci_high=high, p_value=p)
        row["flags"] = join_flags(main.flags)
    if labels and used:
        rows += _whole_interaction_rows(base, y, x, used, labels, settings, diagnostics)
    return _joint(rows, diagnostics, formula, settings)


def _whole_interaction_rows(
    base: pd.DataFrame,
    y: np.ndarray,
    x: pd.DataFrame,
    used: list[str],
    labels: list[tuple[str, pd.Index]],
    settings: Settings,
    diagnostics: list[dict[str, Any]],
) -> list[dict[str, Any]]:
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
    fit = _fit_joint(y, xi, "persona_interactions", settings, diagnostics, [])
    rows = []
    for name, _ in labels:
        for stage in used:
            reached = member[name]
            if f"missing_{stage}" in x.columns:
                reached = reached & (x[f"missing_{stage}"].to_numpy() == 0)
            row: dict[str, Any] = {
                "persona": name,
                "stage": stage,
                "n_customers": int(reached.sum()),
                "n_churned": int(y[reached].sum()),
                "n_reached": int(reached.sum()),
                "n_responded": int(reached.sum()),
                "flags": "fit_failed" if fit is None else join_flags(fit.flags),
            }
            if fit is not None:
                weights = np.zeros(len(fit.params))
                weights[fit.names.index(f"emotion_{stage}")] = 1.0
                if name != reference:
                    weights[fit.names.index(f"persona[{name}]:emotion_{stage}")] = 1.0
                beta = float(weights @ fit.params)
                se = float(np.sqrt(weights @ fit.cov @ weights))
                odds, low, high, p = m.wald(beta, se)
                row.update(odds_ratio=odds, ci_low=low, ci_high=high, p_value=p)
            rows.append(row)
    return rows


def _cross_validated(y: np.ndarray, x: np.ndarray, start: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold linear predictor from 5 folds (each fit starts at the full-data fit; the
    steps of statsmodels' Newton, without its checks: see ``_modelling.refit_logit``)."""
    rng = np.random.default_rng(seed)
    folds = rng.permutation(len(y)) % 5
    lp = np.full(len(y), np.nan)
    for k in range(5):
        test = folds == k
        try:
            params, _ = m.newton_logit(y[~test], x[~test], start, max_steps=50)
        except (np.linalg.LinAlgError, ValueError):
            continue
        lp[test] = x[test] @ params
    return lp


def _fit_joint(
    y: np.ndarray,
    x: pd.DataFrame,
    label: str,
    settings: Settings,
    diagnostics: list[dict[str, Any]],
    model_flags: list[str],
) -> m.LogitFit | None:
    """Fit one joint model and record its diagnostics; the returned fit's flags are the
    model-level problems that make every coefficient shaky."""
    flags = list(model_flags)
    n_events = min(y.sum(), len(y) - y.sum())
    record: dict[str, Any] = {
        "model": label,
        "n_customers": len(y),
        "n_churned": int(y.sum()),
        "n_parameters": x.shape[1],
        "events_per_variable": n_events / max(x.shape[1], 1),
        "imputations": settings.imputations if settings.design == "landmark" else 1,
    }
    if len(y) < settings.min_group_size or n_events == 0 or x.shape[1] == 0:
        flags.append("small_group" if len(y) < settings.min_group_size else "no_events")
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
    lp = _cross_validated(y, fit.x, fit.params, settings.seed)
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
    return m.LogitFit(
        fit.params,
        fit.cov,
        fit.x,
        fit.names,
        [f for f in flags if f in _SHAKY],
        fit.converged,
        fit.loglik,
    )
