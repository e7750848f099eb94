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
- :func:`opportunities` (the modelled churn if emotion were one step better),
  :func:`findings` (the tables as ranked sentences), :func:`adjust_pvalues` and
  :func:`analyse`, which runs all of it once and returns an :class:`EmotionChurnResult`.

The models live in :mod:`~cjresearch.analysis.stats.logistic`,
:mod:`~cjresearch.analysis.stats.survival`, :mod:`~cjresearch.analysis.stats.sizing` and
:mod:`~cjresearch.analysis.stats.findings`; this package re-exports them.

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
``test_undefined``        log-rank: the test's variance is singular (no p-value)
``weak_discrimination``   joint model: cross-validated AUC below 0.6
``poor_calibration``      joint model: calibration slope outside 0.8-1.2 or HL p < 0.05
========================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats._common import (
    EMOTION_CHURN_COLUMNS,
    FINDINGS_COLUMNS,
    JOINT_DIAGNOSTIC_COLUMNS,
    KM_COLUMNS,
    LOGRANK_COLUMNS,
    OPPORTUNITY_COLUMNS,
    TIME_TO_CHURN_COLUMNS,
    adjust_pvalues,
    check_common,
    encode,
    end_of_observation,
    warn,
)
from cjresearch.analysis.stats._cox import CoxFit, fit_cox
from cjresearch.analysis.stats.findings import findings
from cjresearch.analysis.stats.logistic import (
    JointModel,
    emotion_churn,
    emotion_table,
    joint_model,
    logit_cells,
)
from cjresearch.analysis.stats.sizing import opportunities, opportunity_rows
from cjresearch.analysis.stats.survival import cox_table, survival_curves, time_to_churn

__all__ = [
    "EMOTION_CHURN_COLUMNS",
    "FINDINGS_COLUMNS",
    "JOINT_DIAGNOSTIC_COLUMNS",
    "KM_COLUMNS",
    "LOGRANK_COLUMNS",
    "OPPORTUNITY_COLUMNS",
    "TIME_TO_CHURN_COLUMNS",
    "CoxFit",
    "EmotionChurnResult",
    "JointModel",
    "adjust_pvalues",
    "analyse",
    "emotion_churn",
    "findings",
    "fit_cox",
    "joint_model",
    "opportunities",
    "survival_curves",
    "time_to_churn",
]


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
    them); ``observations`` is :func:`cjresearch.analysis.emotion.emotion_observations` output
    and ``observation_end`` the study's (exclusive) end of observation (default: just after the
    latest observation).

    Returns
    -------
    EmotionChurnResult
        All tables; each shaky estimate is flagged in its table and warned about once.
    """
    settings = Settings.resolve(settings, **options)
    check_common(customers, settings, personas)
    require_columns(observations, ("customer_id", "timestamp", "stage", "emotion"), "observations")
    end = end_of_observation(observations, observation_end)
    customers, observations, stage_emotion, personas = encode(
        customers, observations, stage_emotion, personas
    )
    cells = logit_cells(customers, stage_emotion, personas, settings)
    odds = emotion_table(cells, settings)
    warn("emotion_churn", odds)
    joint = joint_model(
        customers,
        stage_emotion,
        personas=personas,
        interactions=interactions and personas is not None,
        settings=settings,
    )
    hazards = cox_table(customers, observations, personas, settings, end)
    warn("time_to_churn", hazards)
    curves, tests = survival_curves(
        customers,
        observations,
        stage_emotion,
        personas=personas,
        observation_end=end,
        settings=settings,
    )
    opp = opportunity_rows(cells, odds, settings)
    found = findings(odds, hazards, opp, settings=settings)
    run = {
        **settings.as_dict(),
        "interactions": interactions,
        "personas": personas is not None,
    }
    return EmotionChurnResult(
        odds, hazards, found, joint.summary, joint.diagnostics, curves, tests, opp, run
    )
