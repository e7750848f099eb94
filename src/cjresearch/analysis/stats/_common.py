"""What every statistics table shares (not API): input checks, groups, id encoding, flags and
their warnings, q-values, and the published column tuples.

The flag codes are documented in :mod:`cjresearch.analysis.stats`; :func:`warn` raises each
once per table, with the cells it affects.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cjresearch._checks import require_columns
from cjresearch.analysis._codes import codes
from cjresearch.analysis.settings import Correction, Settings
from cjresearch.analysis.stats import _modelling as m
from cjresearch.data.schema import ALL
from cjresearch.errors import (
    CJResearchError,
    ConvergenceWarning,
    ProportionalHazardsWarning,
    SeparationWarning,
    SmallSampleWarning,
    StatisticalWarning,
)

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
    "design",
    "n_reached",
    "n_responded",
    "exposure_window_days",
    "lag_days",
    "horizon_days",
    "heterogeneity_p",
    "heterogeneity_q",
    "finding",
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
    "design",
    "n_reached",
    "n_responded",
    "lag_days",
    "finding",
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


LOGRANK_COLUMNS = (
    "persona",
    "stage",
    "n_customers",
    "n_events",
    "chi2",
    "p_value",
    "flags",
    "q_value",
    "design",
    "lag_days",
)


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
    "churners_difference",
    "churners_difference_ci_low",
    "churners_difference_ci_high",
    "horizon_days",
    "finding",
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
    "imputations",
)


LAG_COLUMNS = (
    "stage",
    "model",
    "lag_days",
    "n_customers",
    "n_churned",
    "ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "study_lag",
    "flags",
)


NONRESPONSE_COLUMNS = (
    "persona",
    "stage",
    "delta",
    "n_reached",
    "n_responded",
    "n_imputed",
    "odds_ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "flags",
)


WARNINGS: dict[str, type[StatisticalWarning]] = {
    "no_customers": SmallSampleWarning,
    "small_group": SmallSampleWarning,
    "no_events": SmallSampleWarning,
    "low_epv": SmallSampleWarning,
    "separation": SeparationWarning,
    "quasi_separation": SeparationWarning,
    "not_converged": ConvergenceWarning,
    "fit_failed": ConvergenceWarning,
    "ph_violated": ProportionalHazardsWarning,
    "no_feedback": SmallSampleWarning,
}


EXPLAIN = {
    "no_customers": "nobody reached the stage",
    "no_feedback": "customers reached the stage but nobody gave feedback there",
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
    "missing_churn_date": "churners with neither a churn date nor an event to date it by were "
    "left out",
    "churn_date_derived": "some churn dates were taken from the churner's last event (an "
    "approximation: they left at or after it)",
    "mostly_imputed": "joint model: more than half of the stage's emotions are imputed",
    "not_adjusted_for": "joint model: an earlier stage with too little feedback was not "
    "adjusted for",
    "lag_sensitive": "the association shrinks by more than half when the lag grows (reverse "
    "causation?)",
    "few_distinct_values": "fewer than three emotion terciles",
    "test_undefined": "the log-rank test is not defined here (singular variance)",
    "weak_discrimination": "cross-validated AUC below 0.6",
    "poor_calibration": "poor cross-validated calibration",
    "fitted_on_sample": "fitted on a seeded stratified sample of the customers (the study has "
    "more than [statistics] max_model_customers)",
}


def check_common(
    customers: pd.DataFrame, settings: Settings, personas: pd.DataFrame | None
) -> None:
    """The columns and settings every model needs, checked at the boundary."""
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


def groups(customers: pd.DataFrame, personas: pd.DataFrame | None) -> list[tuple[str, pd.Index]]:
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


def encode(customers: pd.DataFrame, *frames: pd.DataFrame | None) -> list[Any]:
    """Customer ids as integer positions (string-id lookups dominate the run time otherwise):
    ``customers`` and then each frame, in order; rows of the frames whose customer is unknown
    are left out, and a frame that is None stays None."""
    ids = pd.Index(customers["customer_id"])
    if not ids.is_unique:
        msg = "customers has duplicate customer_id values; each customer must appear once"
        raise CJResearchError(msg)
    out: list[Any] = [customers.assign(customer_id=np.arange(len(customers)))]
    for frame in frames:
        if frame is None:
            out.append(None)
            continue
        code = codes(frame["customer_id"], ids)  # a categorical's categories looked up once
        out.append(frame.assign(customer_id=code).loc[code >= 0].reset_index(drop=True))
    return out


def join_flags(flags: Sequence[str]) -> str:
    """Flag codes as one ``;``-separated text, each once, in order."""
    return ";".join(dict.fromkeys(f for f in flags if f))


def warn(table: str, frame: pd.DataFrame, stacklevel: int = 3) -> None:
    """One warning per flag code in a table, naming the affected persona/stage cells."""
    if frame.empty or "flags" not in frame.columns:
        return
    cells: dict[str, list[str]] = {}
    for persona, stage, flags in zip(frame["persona"], frame["stage"], frame["flags"], strict=True):
        for code in filter(None, str(flags).split(";")):
            cells.setdefault(code, []).append(f"{persona}/{stage}")
    for code, where in cells.items():
        key = code.split(":")[0]
        category = WARNINGS.get(key, StatisticalWarning)
        explain = EXPLAIN.get(key, code)
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


def add_q(frame: pd.DataFrame, correction: str, family: str) -> pd.DataFrame:
    """The family's q-values (``correction`` over its p-values) and its name."""
    frame = frame.copy()
    frame["q_value"] = m.adjust(frame["p_value"].to_numpy(dtype=float), correction)
    n_tests = int(frame["p_value"].notna().sum())
    frame["family"] = f"{family} ({n_tests} tests, {'BH' if correction == 'bh' else 'Holm'})"
    return frame


def controls_for(
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


def wide_emotion(stage_emotion: pd.DataFrame) -> pd.DataFrame:
    """Stage emotion as one row per customer and one column per stage."""
    require_columns(stage_emotion, ("customer_id", "stage", "emotion_mean"), "stage_emotion")
    frame = stage_emotion.assign(stage=stage_emotion["stage"].astype(str))
    return frame.pivot_table(
        index="customer_id", columns="stage", values="emotion_mean", aggfunc="mean", observed=True
    )


def finish(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """A table in its published columns and types (text, whole counts)."""
    frame = frame.reindex(columns=list(columns)).reset_index(drop=True)
    for name in ("persona", "stage", "flags", "family", "kind", "text", "tercile", "design"):
        if name in frame.columns:
            frame[name] = frame[name].fillna("").astype("str")
    if "model" in frame.columns and frame["model"].dtype == object:
        frame["model"] = frame["model"].fillna("").astype("str")
    counts = ("n_customers", "n_churned", "n_events", "n_at_risk", "rank")
    for name in (*counts, "n_reached", "n_responded", "n_imputed", "imputations"):
        if name in frame.columns:
            frame[name] = frame[name].fillna(0).astype("int64")
    for name in ("finding", "study_lag"):
        if name in frame.columns:
            frame[name] = frame[name].fillna(False).astype(bool)
    return frame


def end_of_observation(observations: pd.DataFrame, observation_end: object) -> pd.Timestamp:
    """The (exclusive) end of observation: as given (naive taken as UTC), else just after the
    last observation."""
    if observation_end is None:
        return pd.Timestamp(observations["timestamp"].max()) + pd.Timedelta(seconds=1)
    end = pd.Timestamp(observation_end)
    if end.tzinfo is None:
        end = end.tz_localize("UTC")
    return end
