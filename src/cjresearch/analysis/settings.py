"""One settings value for every analysis: the study's stages, privacy, text scoring, statistics.

The analyses need the same handful of settings (the stages, the smallest publishable group,
how free text is scored, the models' controls and corrections). They travel as one frozen
:class:`Settings` value, built from the study file once (:meth:`Settings.from_study`) and
passed down unchanged, so that no function deep in a chain can be called with a default where
the study said otherwise. Researchers calling an analysis by hand may pass the value, or the
settings themselves as keywords (``emotion_churn(customers, per_stage, stages=[...])``), which
:meth:`Settings.resolve` turns into one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cjresearch.errors import ArgumentError

if TYPE_CHECKING:
    from cjresearch.data.study import Study

__all__ = ["Correction", "Design", "Settings"]

Correction = Literal["bh", "holm"]
#: How emotion is related to churn in time (see :mod:`cjresearch.analysis.stats`):
#: ``"landmark"`` (emotion expressed before the outcome window; the default) or
#: ``"whole_follow_up"`` (the 0.1 analysis: every emotion against churn at any time; biased by
#: reverse causation and unequal follow-up, kept to compare with).
Design = Literal["landmark", "whole_follow_up"]


@dataclass(frozen=True)
class Settings:
    """The settings every analysis shares.

    Attributes
    ----------
    stages
        The study's journey stages, in order.
    min_group_size
        The smallest number of customers any published figure may describe.
    cx_lexicon
        Score free text with the customer-experience lexicon on top of VADER
        (``[emotion] text_lexicon``).
    rating_scale
        The ``rating`` instrument's (min, max), or None.
    valence
        Emotion implied by a touchpoint (``[valence]``), touchpoint -> value in [-1, 1].
    controls
        Customer columns the models adjust for.
    unit_size
        The emotion step ratios are expressed per, on the [-1, 1] scale.
    correction
        Multiple-testing correction: ``"bh"`` (false discovery rate) or ``"holm"``.
    alpha
        The level below which a q-value counts as a finding.
    seed
        Seed of the models' cross-validation folds and of the multiple imputation.
    design
        ``"landmark"`` (default) or ``"whole_follow_up"`` (see :data:`Design`).
    exposure_window_days
        Emotion at a stage is what a customer expressed there within this many days of
        reaching it (the landmark design's exposure).
    lag_days
        Days between the end of the exposure window and the start of the outcome window; in
        the Cox model, an expression counts from ``lag_days`` after it was made.
    horizon_days
        The outcome window: churn within this many days after the landmark.
    lags
        The lags of the lag-sensitivity table (``emotion_churn_lag``), in days.
    imputations
        Number of multiple imputations of non-response in the joint model.
        Seed of the models' cross-validation folds.
    session_gap_minutes
        Split each customer's events into sessions at pauses longer than this many minutes
        (``[sessions] gap_minutes``), for events without a ``session_id``; None: events with
        no ``session_id`` have no sessions.
    session_goal
        The stage a session converts at (``[sessions] goal``); None: the last stage.
    step_within
        "A then B" step conversion looks this many events ahead (``[sessions] within_steps``).
    step_minutes
        ... and, when set, at most this many minutes ahead (``[sessions] within_minutes``).
    early_days
        The fixed early window of each customer's life that persona features are measured in
        (``[personas] early_days``).
    max_model_customers
        The emotion -> churn models are fitted on every customer up to this many; above it,
        on a seeded stratified sample of this many (``[statistics] max_model_customers``; see
        :func:`cjresearch.analysis.stats.analyse`).
    parallel
        Whether the joint model may run in a forked child beside the other models (two
        cores, the same tables, the child's memory held beside theirs; ``[statistics]
        parallel``).
    """

    stages: tuple[str, ...] = ()
    min_group_size: int = 10
    cx_lexicon: bool = True
    rating_scale: tuple[float, float] | None = None
    valence: Mapping[str, float] = field(default_factory=dict)
    controls: tuple[str, ...] = ()
    unit_size: float = 0.5
    correction: Correction = "bh"
    alpha: float = 0.05
    seed: int = 7
    design: Design = "landmark"
    exposure_window_days: float = 30.0
    lag_days: float = 30.0
    horizon_days: float = 180.0
    lags: tuple[float, ...] = (0.0, 7.0, 14.0, 30.0, 60.0)
    imputations: int = 10
    session_gap_minutes: float | None = None
    session_goal: str | None = None
    step_within: int = 10
    step_minutes: float | None = None
    early_days: int = 90
    max_model_customers: int = 1_000_000
    parallel: bool = True

    def __post_init__(self) -> None:
        # Sequences arrive as lists from callers and the study file: keep them immutable.
        object.__setattr__(self, "stages", tuple(str(s) for s in self.stages))
        if isinstance(self.lags, Sequence) and not isinstance(self.lags, str):
            object.__setattr__(self, "lags", tuple(self.lags))
        object.__setattr__(self, "controls", tuple(str(c) for c in self.controls))
        object.__setattr__(self, "valence", dict(self.valence))
        if self.rating_scale is not None:
            object.__setattr__(self, "rating_scale", tuple(self.rating_scale))
        _check(self)

    @classmethod
    def from_study(cls, study: Study) -> Settings:
        """The settings a study file gives."""
        return cls(
            stages=tuple(study.stages),
            min_group_size=study.reports.min_group_size,
            cx_lexicon=study.emotion.text_lexicon,
            rating_scale=study.emotion.rating_scale,
            valence=dict(study.valence),
            controls=tuple(study.statistics.controls),
            unit_size=study.statistics.unit_size,
            correction=study.statistics.correction,
            alpha=study.statistics.alpha,
            design=study.statistics.design,
            exposure_window_days=study.statistics.exposure_window_days,
            lag_days=study.statistics.lag_days,
            horizon_days=study.statistics.horizon_days,
            lags=tuple(study.statistics.lags),
            imputations=study.statistics.imputations,
            session_gap_minutes=study.sessions.gap_minutes,
            session_goal=study.sessions.goal,
            step_within=study.sessions.within_steps,
            step_minutes=study.sessions.within_minutes,
            early_days=study.personas.early_days,
            max_model_customers=study.statistics.max_model_customers,
            parallel=study.statistics.parallel,
        )

    @classmethod
    def resolve(cls, settings: Settings | None = None, /, **options: Any) -> Settings:
        """``settings`` with ``options`` changed (or new settings from ``options``).

        Raises
        ------
        ArgumentError
            An option that is not a setting, or a value out of range.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            msg = f"unknown setting(s) {unknown}; the settings are {sorted(names)}"
            raise ArgumentError(msg)
        if settings is None:
            return cls(**options)
        if not isinstance(settings, Settings):
            msg = f"settings must be a cjresearch Settings, found {type(settings).__name__}"
            raise ArgumentError(msg)
        return dataclasses.replace(settings, **options) if options else settings

    def require_stages(self) -> tuple[str, ...]:
        """The stages, which this analysis cannot do without."""
        if not self.stages:
            msg = "no stages given: pass stages=[...] (the study's [study] stages)"
            raise ArgumentError(msg)
        return self.stages

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values (for a manifest or a notebook parameter)."""
        values = dataclasses.asdict(self)
        values["stages"] = list(self.stages)
        values["controls"] = list(self.controls)
        values["rating_scale"] = None if self.rating_scale is None else list(self.rating_scale)
        values["lags"] = list(self.lags)
        return values


def _check(settings: Settings) -> None:
    problem = _problem(settings)
    if problem is not None:
        name, expected, value = problem
        msg = f"{name} must be {expected}, found {value!r}"
        raise ArgumentError(msg)
    _check_pairs(settings.rating_scale, settings.valence)


def _problem(settings: Settings) -> tuple[str, str, object] | None:
    """The first setting out of range: (name, what was expected, what was found)."""
    stages = settings.stages
    if len(set(stages)) != len(stages) or any(not s.strip() for s in stages):
        return "stages", "distinct, non-blank names", list(stages)
    size = settings.min_group_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        return "min_group_size", "a whole number of at least 1", size
    if not _number(settings.unit_size) or not 0 < settings.unit_size <= 2:
        return "unit_size", "a number in (0, 2] on the [-1, 1] scale", settings.unit_size
    if settings.correction not in ("bh", "holm"):
        return "correction", "'bh' or 'holm'", settings.correction
    if not _number(settings.alpha) or not 0 < settings.alpha < 1:
        return "alpha", "a number between 0 and 1", settings.alpha
    if not isinstance(settings.cx_lexicon, bool):
        return "cx_lexicon", "true or false", settings.cx_lexicon
    return _timing_problem(settings) or _session_problem(settings)


def _timing_problem(settings: Settings) -> tuple[str, str, object] | None:
    """The first of the time-ordering settings out of range."""
    if settings.design not in ("landmark", "whole_follow_up"):
        return "design", "'landmark' or 'whole_follow_up'", settings.design
    for name in ("exposure_window_days", "horizon_days"):
        value = getattr(settings, name)
        if not _number(value) or value <= 0:
            return name, "a number of days greater than 0", value
    if not _number(settings.lag_days) or settings.lag_days < 0:
        return "lag_days", "a number of days of at least 0", settings.lag_days
    lags = settings.lags
    if (
        not isinstance(lags, tuple)
        or not lags
        or not all(_number(v) and v >= 0 for v in lags)
        or len(set(lags)) != len(lags)
    ):
        return "lags", "a non-empty list of distinct numbers of days of at least 0", lags
    count = settings.imputations
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= 200:
        return "imputations", "a whole number from 2 to 200", count
    return None


def _session_problem(settings: Settings) -> tuple[str, str, object] | None:
    """The first session or early-window setting out of range."""
    gap = settings.session_gap_minutes
    if gap is not None and not (_number(gap) and gap > 0):
        return "session_gap_minutes", "a positive number of minutes or None", gap
    goal = settings.session_goal
    if goal is not None and settings.stages and goal not in settings.stages:
        return "session_goal", f"one of the stages {list(settings.stages)}", goal
    within = settings.step_within
    if isinstance(within, bool) or not isinstance(within, int) or within < 1:
        return "step_within", "a whole number of at least 1", within
    minutes = settings.step_minutes
    if minutes is not None and not (_number(minutes) and minutes > 0):
        return "step_minutes", "a positive number of minutes or None", minutes
    days = settings.early_days
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        return "early_days", "a whole number of days of at least 1", days
    most = settings.max_model_customers
    if isinstance(most, bool) or not isinstance(most, int) or most < 100:
        return "max_model_customers", "a whole number of at least 100", most
    if not isinstance(settings.parallel, bool):
        return "parallel", "true or false", settings.parallel
    return None


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_pairs(rating_scale: Sequence[float] | None, valence: Mapping[str, float]) -> None:
    if rating_scale is not None and (
        len(rating_scale) != 2
        or not all(_number(v) for v in rating_scale)
        or not rating_scale[0] < rating_scale[1]
    ):
        msg = f"rating_scale must be (min, max) with min < max, found {rating_scale!r}"
        raise ArgumentError(msg)
    outside = {k: v for k, v in valence.items() if not (_number(v) and -1 <= v <= 1)}
    if outside:
        msg = f"valence values must be in [-1, 1], found {outside}"
        raise ArgumentError(msg)
