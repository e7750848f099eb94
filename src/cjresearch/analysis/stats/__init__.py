"""Emotion and churn: which moments of the journey, felt how, go with customers leaving.

Everything here is associational: the tables say how churn differs between customers who
felt differently at a stage, with intervals, the number of customers behind each estimate,
multiple-testing control and flags wherever an estimate is shaky.

**Exposure precedes outcome** (:mod:`~cjresearch.analysis.stats.exposure`). A customer reached
a stage at their first event or feedback there (:func:`stage_reach`). By default (the
landmark design), their emotion at the stage is what they expressed there within
``exposure_window_days`` of reaching it, and it is related only to churn within
``horizon_days`` after the landmark, ``lag_days`` after that window, among customers still
with us at the landmark and observed for the whole horizon. Customers complaining on their way
out, and customers who reached a stage late and had less time to churn, therefore make no
association. The Cox model counts an emotion from ``lag_days`` after it was expressed.

- :func:`emotion_churn`: a landmark logistic model per stage (and per persona):
  ``churned within the horizon ~ emotion in the window + controls``, on respondents; and,
  per stage, a persona x emotion heterogeneity test.
- :func:`joint_model`: per stage, the emotion net of the earlier stages' emotion, with
  non-response among reachers multiply imputed (outcome in the imputation model, Rubin's
  rules) and a delta-adjustment sensitivity analysis for informative non-response
  (:mod:`~cjresearch.analysis.stats.joint`).
- :func:`time_to_churn`: a Cox model per stage with the lagged running mean of the stage's
  emotion as a time-varying covariate, plus a proportional-hazards check;
  :func:`survival_curves`: Kaplan-Meier curves by emotion tercile from the landmark with a
  log-rank test.
- :func:`lag_sensitivity` (:mod:`~cjresearch.analysis.stats.lags`): the stage estimates at
  lags 0, 7, 14, 30, 60 days, and a warning where they collapse as the lag grows.
- :func:`opportunities` (modelled churn of customers whose emotion was one step higher),
  :func:`findings` (the tables as ranked sentences), :func:`adjust_pvalues` and
  :func:`analyse`, which runs all of it once, declares **one family** of tests for everything
  published as a finding (stage first, then personas only where they differ:
  :mod:`~cjresearch.analysis.stats.family`) and returns an :class:`EmotionChurnResult`.

Flags (semicolon-separated in the ``flags`` columns), each also raised as a warning:

========================  ==============================================================
``no_customers``          nobody in the group reached the stage
``no_feedback``           customers reached the stage but nobody gave feedback there
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
``missing_churn_date``    churners with neither a churn date nor any activity were left out
``churn_date_derived``    some churners were dated by their last event (an approximation)
``lag_sensitive``         the estimate at the study's lag halves by the largest lag
``few_distinct_values``   KM: fewer than three emotion terciles could be formed
``test_undefined``        log-rank: the test's variance is singular (no p-value)
``weak_discrimination``   joint model: cross-validated AUC below 0.6
``poor_calibration``      joint model: calibration slope outside 0.8-1.2 or HL p < 0.05
========================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from cjresearch._background import Background
from cjresearch._memory import release_unused_memory
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats._common import (
    EMOTION_CHURN_COLUMNS,
    FINDINGS_COLUMNS,
    JOINT_DIAGNOSTIC_COLUMNS,
    KM_COLUMNS,
    LAG_COLUMNS,
    LOGRANK_COLUMNS,
    NONRESPONSE_COLUMNS,
    OPPORTUNITY_COLUMNS,
    TIME_TO_CHURN_COLUMNS,
    adjust_pvalues,
    check_common,
    end_of_observation,
    join_flags,
    warn,
)
from cjresearch.analysis.stats._cox import CoxFit, fit_cox
from cjresearch.analysis.stats._impute import impute
from cjresearch.analysis.stats._sample import ModelSample, model_sample
from cjresearch.analysis.stats.exposure import REACH_COLUMNS, follow_up, stage_frames, stage_reach
from cjresearch.analysis.stats.family import declare_family
from cjresearch.analysis.stats.findings import NOTE_COLUMNS, findings
from cjresearch.analysis.stats.joint import BLAS_THREADS, JointModel, joint_model, joint_tables
from cjresearch.analysis.stats.lags import lag_sensitive_stages, lag_sensitivity, lag_warnings
from cjresearch.analysis.stats.logistic import (
    emotion_churn,
    emotion_table,
    heterogeneity,
    logit_cells,
    prepare,
)
from cjresearch.analysis.stats.sizing import opportunities, opportunity_rows
from cjresearch.analysis.stats.survival import cox_table, km_tables, survival_curves, time_to_churn
from cjresearch.data.schema import ALL

__all__ = [
    "EMOTION_CHURN_COLUMNS",
    "FINDINGS_COLUMNS",
    "JOINT_DIAGNOSTIC_COLUMNS",
    "KM_COLUMNS",
    "LAG_COLUMNS",
    "LOGRANK_COLUMNS",
    "NONRESPONSE_COLUMNS",
    "OPPORTUNITY_COLUMNS",
    "REACH_COLUMNS",
    "TIME_TO_CHURN_COLUMNS",
    "CoxFit",
    "EmotionChurnResult",
    "JointModel",
    "adjust_pvalues",
    "analyse",
    "emotion_churn",
    "findings",
    "fit_cox",
    "follow_up",
    "impute",
    "joint_model",
    "lag_sensitivity",
    "lag_warnings",
    "opportunities",
    "stage_reach",
    "survival_curves",
    "time_to_churn",
]


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


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
        Kaplan-Meier curves and log-rank tests (:func:`survival_curves`).
    opportunities
        :func:`opportunities` output.
    settings
        The parameters of the run.
    lags
        The lag-sensitivity table (:data:`LAG_COLUMNS`).
    nonresponse
        The joint model's delta-adjustment sensitivity analysis (:data:`NONRESPONSE_COLUMNS`).
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
    lags: pd.DataFrame = field(default_factory=lambda: _empty(LAG_COLUMNS))
    nonresponse: pd.DataFrame = field(default_factory=lambda: _empty(NONRESPONSE_COLUMNS))

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
            "emotion_churn_lag": self.lags,
            "emotion_churn_nonresponse": self.nonresponse,
        }

    def _repr_html_(self) -> str:
        parts = ["<h4>Findings</h4>", self.findings.to_html(index=False, escape=True)]
        parts += ["<h4>Emotion and churn (odds)</h4>"]
        parts += [self.emotion_churn.to_html(index=False, escape=True)]
        parts += ["<h4>Time to churn (hazards)</h4>"]
        parts += [self.time_to_churn.to_html(index=False, escape=True)]
        return "\n".join(parts)


def _notes(follow: pd.DataFrame, lag_text: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The caveats every report must carry: lag sensitivity per stage, derived churn dates,
    no survival analysis, the whole-follow-up design."""
    rows = [
        {"persona": ALL, "stage": r.stage, "kind": "lag_sensitivity", "text": r.text}
        for r in lag_text.itertuples(index=False)
    ]
    churners = int(follow["churned"].sum())
    derived, dated = int(follow["derived"].sum()), int(follow["event"].sum())
    if derived:
        rows.append(
            {
                "persona": ALL,
                "stage": "",
                "kind": "caveat",
                "text": (
                    f"{derived:,} of the {churners:,} churners had no churn date; they are dated "
                    "by their last event or feedback, an approximation (they left at or after "
                    "it), so their times to churn are somewhat short."
                ),
            }
        )
    if churners and not dated:
        rows.append(
            {
                "persona": ALL,
                "stage": "",
                "kind": "caveat",
                "text": (
                    f"No survival analysis was possible: none of the {churners:,} churners has a "
                    "churn date within the observation or an event to date their leaving by. "
                    "Without dates the odds ratios cannot be ordered in time either, so they "
                    "are no evidence on their own."
                ),
            }
        )
    if settings.design == "whole_follow_up":
        rows.append(
            {
                "persona": ALL,
                "stage": "",
                "kind": "caveat",
                "text": (
                    "These models relate every emotion expressed at a stage to churn at any "
                    "time (the whole-follow-up design): what customers say while leaving counts, "
                    "and customers who reached a stage late had less time to churn. Prefer the "
                    "default landmark design."
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(NOTE_COLUMNS))


#: From this many customers (in the models) on, the joint model runs in a forked child beside
#: the other models (below it a fork costs more than it saves; see :func:`analyse`).
PARALLEL_MIN_CUSTOMERS = 5_000


def analyse(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    stage_emotion: pd.DataFrame | None = None,
    *,
    reach: pd.DataFrame | None = None,
    personas: pd.DataFrame | None = None,
    observation_end: object = None,
    interactions: bool = False,
    settings: Settings | None = None,
    **options: Any,
) -> EmotionChurnResult:
    """Run every emotion -> churn analysis once (what the build calls).

    Parameters are those of :func:`emotion_churn`, :func:`joint_model`,
    :func:`time_to_churn` and :func:`survival_curves` (one ``settings`` value for all of
    them); ``observations`` is :func:`cjresearch.analysis.emotion.emotion_observations` output,
    ``reach`` :func:`stage_reach` of the events and feedback (default: from the
    observations) and ``observation_end`` the study's (exclusive) end of observation
    (default: just after the latest observation). ``stage_emotion`` is accepted for 0.1
    calls and not used: every model computes its exposure from the observations.

    The q-values of the stage tests of every table (and of the heterogeneity tests) form one
    family; persona rows are tested only where personas differ; ``finding`` marks what
    survives the correction and the joint model (:mod:`cjresearch.analysis.stats.family`).

    Up to ``settings.max_model_customers`` customers (``[statistics] max_model_customers``,
    default 1,000,000) every model is fitted on all of them. Above it, on a seeded sample of
    that many, stratified by churn and persona with one sampling rate for every stratum (a
    self-weighting sample: the inverse-probability weights are equal up to rounding, so the
    fits are unweighted; see :mod:`cjresearch.analysis.stats._sample`), and a caveat among
    the findings says so.

    Every model runs on one BLAS thread (see :mod:`cjresearch.analysis.stats.joint`). From
    :data:`PARALLEL_MIN_CUSTOMERS` customers on, on Linux and unless ``settings.parallel`` is
    False (``[statistics] parallel = false``), the joint model (two thirds of the
    time: its multiple imputation) runs in a forked child while the other models run here,
    so the step uses two cores (:mod:`cjresearch._background`); the tables are the same
    either way (``tests/analysis/stats/test_parallel.py``).

    Returns
    -------
    EmotionChurnResult
        All tables; each shaky estimate is flagged in its table and warned about once.
    """
    del stage_emotion  # the exposure comes from the observations, in time
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    sampled = model_sample(
        customers, personas, limit=settings.max_model_customers, seed=settings.seed
    )
    if sampled is not None:
        # the end of observation is everyone's, not the sample's
        observation_end = end_of_observation(observations, observation_end)
        customers, observations, reach, personas = _sampled(
            sampled, customers, observations, reach, personas
        )
    customers, observations, reach, personas, follow = prepare(
        customers, observations, reach, personas, observation_end
    )
    frames = stage_frames(observations, reach, follow, settings)
    joint_of = partial(joint_tables, interactions=interactions and personas is not None)
    with (
        threadpool_limits(limits=BLAS_THREADS, user_api="blas"),
        Background(
            joint_of,
            customers,
            frames,
            personas,
            settings,
            what="the joint model",
            parallel=settings.parallel and len(customers) >= PARALLEL_MIN_CUSTOMERS,
        ) as joint_job,
    ):
        # each model's freed arrays are given back before the next (a forked joint model
        # holds its own memory beside them meanwhile)
        cells = logit_cells(customers, frames, personas, settings)
        odds = emotion_table(cells, settings, heterogeneity(customers, frames, personas, settings))
        release_unused_memory()
        hazards = cox_table(customers, observations, reach, follow, personas, settings)
        release_unused_memory()
        curves, logrank = km_tables(customers, frames, follow, personas, settings)
        release_unused_memory()
        lags = lag_sensitivity(customers, observations, reach, follow, settings)
        release_unused_memory()
        joint = joint_job.result()
    sensitive = lag_sensitive_stages(lags, alpha=settings.alpha)
    if settings.design != "landmark":  # the lag table's logit is the landmark one
        sensitive["landmark logit"] = set()
    odds, hazards, logrank = declare_family(
        odds, hazards, logrank, joint.summary, settings, lag_sensitive=sensitive
    )
    summary = _same_findings(joint.summary, odds)
    if sampled is not None:  # every model row says so (the pages show the flags in words)
        odds, hazards, logrank = (_flag_sample(t) for t in (odds, hazards, logrank))
    warn("emotion_churn", odds)
    warn("time_to_churn", hazards)
    warn("survival_curves", logrank)
    opp = opportunity_rows(cells, odds, settings)
    notes = _notes(
        follow, lag_warnings(lags, alpha=settings.alpha, unit_size=settings.unit_size), settings
    )
    if sampled is not None:
        sample_note = {"persona": ALL, "stage": "", "kind": "caveat", "text": sampled.note}
        notes = pd.concat([pd.DataFrame([sample_note]), notes], ignore_index=True)
    found = findings(odds, hazards, opp, logrank=logrank, notes=notes, settings=settings)
    run = {**settings.as_dict(), "interactions": interactions, "personas": personas is not None}
    return EmotionChurnResult(
        odds,
        hazards,
        found,
        summary,
        joint.diagnostics,
        curves,
        logrank,
        opp,
        run,
        lags=lags,
        nonresponse=joint.nonresponse,
    )


def _sampled(
    sampled: ModelSample,
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    reach: pd.DataFrame | None,
    personas: pd.DataFrame | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """The models' inputs restricted to the sampled customers."""
    customers = customers.iloc[sampled.rows]
    ids = pd.Index(customers["customer_id"])

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[ids.get_indexer(frame["customer_id"]) >= 0]

    return (
        customers,
        keep(observations),
        None if reach is None else keep(reach),
        None if personas is None else keep(personas),
    )


def _flag_sample(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the flag ``fitted_on_sample`` on every row."""
    flags = [join_flags([*str(f).split(";"), "fitted_on_sample"]) for f in table["flags"]]
    return table.assign(flags=flags)


def _same_findings(joint: pd.DataFrame, odds: pd.DataFrame) -> pd.DataFrame:
    """The joint summary with ``finding`` as in ``emotion_churn`` (one answer to "is this
    stage a finding?" in both tables)."""
    key = odds.assign(persona=odds["persona"].astype(str), stage=odds["stage"].astype(str))
    found = key.set_index(["persona", "stage"])["finding"]
    pairs = list(zip(joint["persona"].astype(str), joint["stage"].astype(str), strict=True))
    return joint.assign(finding=[bool(found.get(p, False)) for p in pairs])
