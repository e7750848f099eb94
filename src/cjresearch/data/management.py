"""The company's side of a journey in the study file: owners, expectations, KPI targets, alerts.

The sections :class:`~cjresearch.data.study.Study` reads beside the customer's side::

    [stages.onboarding]                 # the stage list itself stays in [study] stages
    owner = "Onboarding team"
    expectations = ["Set up in one sitting", "Know who to call"]
    questions = ["Why do app users skip the tutorial?"]
    tools = ["Setup wizard", "Welcome e-mail"]

    [touchpoints.setup_failed]
    owner = "Platform team"

    [[kpis]]
    name = "Onboarding CSAT"
    stage = "onboarding"                # optional: touchpoint = "...", persona = "..."
    metric = "csat"
    target = ">= 0.80"
    owner = "Onboarding team"           # default: the touchpoint's owner, then the stage's

    [alerts]
    command = "mail -s 'cjresearch alerts' cx@example.com"

Stages are checked against ``[study] stages`` here; touchpoints need the data and are checked
by the data layer (:func:`cjresearch.data.consistency.management_problems`). Owner strings
and texts are data: every page escapes them.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from cjresearch.data.names import MAX_NAME_LENGTH

__all__ = [
    "KPI_METRICS",
    "MAX_TEXT_LENGTH",
    "METRIC_RANGES",
    "AlertSettings",
    "KpiSettings",
    "StageSettings",
    "TouchpointSettings",
    "parse_target",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: The metrics a ``[[kpis]]`` entry may measure (see :mod:`cjresearch.analysis.kpis`).
KPI_METRICS: tuple[str, ...] = (
    "csat",
    "nps",
    "ces",
    "emotion",
    "conversion",
    "churn_rate",
    "reach",
)
#: The scale of each metric: the range its values and targets lie in.
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "csat": (0.0, 1.0),
    "nps": (-100.0, 100.0),
    "ces": (1.0, 7.0),
    "emotion": (-1.0, 1.0),
    "conversion": (0.0, 1.0),
    "churn_rate": (0.0, 1.0),
    "reach": (0.0, 1.0),
}
#: The longest owner, expectation, question or tool text.
MAX_TEXT_LENGTH = 500
_COMPARISONS = {">=": ">=", "\u2265": ">=", "<=": "<=", "\u2264": "<=", ">": ">", "<": "<"}
_TARGET = re.compile(r"^\s*(>=|<=|\u2265|\u2264|>|<)\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(%?)\s*$")


def parse_target(target: str, *, metric: str | None = None) -> tuple[str, float]:
    """A KPI target such as ``">= 0.80"`` as ``(comparison, threshold)``.

    The comparison is ``>=``, ``>``, ``<=`` or ``<`` (``≥`` and ``≤`` are read as ``>=`` and
    ``<=``); a share metric (csat, conversion, churn_rate, reach) may give its threshold as a
    percentage (``">= 80%"`` is 0.80). With ``metric``, the threshold must lie on the metric's
    scale (:data:`METRIC_RANGES`).

    >>> parse_target(">= 0.80"), parse_target("< 3.5"), parse_target("≥ 80%", metric="csat")
    (('>=', 0.8), ('<', 3.5), ('>=', 0.8))

    Raises
    ------
    ValueError
        The text is not a comparison and a number, or the number is off the metric's scale.
    """
    match = _TARGET.match(str(target))
    if match is None:
        msg = f'a target such as ">= 0.80" (one of >=, >, <=, < and a number), found {target!r}'
        raise ValueError(msg)
    comparison = _COMPARISONS[match[1]]
    threshold = float(match[2])
    if match[3]:
        if metric is not None and METRIC_RANGES[metric] != (0.0, 1.0):
            msg = f"a {metric} target as a number, not a percentage, found {target!r}"
            raise ValueError(msg)
        threshold /= 100
    if metric is not None:
        low, high = METRIC_RANGES[metric]
        if not low <= threshold <= high or not math.isfinite(threshold):
            msg = (
                f"a {metric} target between {low:g} and {high:g} (the metric's scale), "
                f"found {target!r}"
            )
            raise ValueError(msg)
    return comparison, threshold


def _texts(items: list[str], what: str) -> list[str]:
    blank = [i for i, item in enumerate(items, 1) if not item.strip()]
    if blank:
        msg = f"the {what} {blank} are blank"
        raise ValueError(msg)
    long = [i for i, item in enumerate(items, 1) if len(item) > MAX_TEXT_LENGTH]
    if long:
        msg = f"{what} of at most {MAX_TEXT_LENGTH} characters; {long} are longer"
        raise ValueError(msg)
    return items


def _owner(owner: str | None) -> str | None:
    if owner is None:
        return None
    if not owner.strip():
        msg = "an owner's name, found blank text"
        raise ValueError(msg)
    if len(owner) > MAX_NAME_LENGTH:
        msg = f"an owner's name of at most {MAX_NAME_LENGTH} characters, found {len(owner)}"
        raise ValueError(msg)
    return owner


class StageSettings(_Section):
    """``[stages.<stage>]``: the company's side of a stage (the stage list stays in
    ``[study] stages``): who owns it, what customers expect there, the open questions
    (knowledge gaps) and the tools and processes behind it."""

    owner: str | None = None
    expectations: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)

    @field_validator("owner")
    @classmethod
    def _owner_name(cls, owner: str | None) -> str | None:
        return _owner(owner)

    @field_validator("expectations", "questions", "tools")
    @classmethod
    def _items(cls, items: list[str], info: ValidationInfo) -> list[str]:
        return _texts(items, str(info.field_name))


class TouchpointSettings(StageSettings):
    """``[touchpoints.<touchpoint>]``: the company's side of a touchpoint (the same keys as
    a stage's). The touchpoint must occur in the data; the data layer checks it."""


class KpiSettings(_Section):
    """One ``[[kpis]]`` entry: a KPI measured at a stage (optionally one touchpoint and one
    persona) against a target.

    ``metric`` is one of :data:`KPI_METRICS`; ``target`` a comparison and a number on the
    metric's scale (:func:`parse_target`); ``persona`` a persona id (as in
    ``tables/personas.csv``) or name; ``owner`` defaults to the touchpoint's owner, then the
    stage's.
    """

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    # metric before stage: the stage check reads it (conversion needs a next stage)
    metric: Literal["csat", "nps", "ces", "emotion", "conversion", "churn_rate", "reach"]
    stage: str
    target: str
    touchpoint: str | None = Field(default=None, min_length=1)
    persona: str | None = Field(default=None, min_length=1)
    owner: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str, info: ValidationInfo) -> str:
        if not name.strip():
            msg = "a KPI name, found blank text"
            raise ValueError(msg)
        if name in (info.context or {}).get("repeated_kpis", ()):
            msg = f"each KPI name once; {name!r} names more than one [[kpis]] entry"
            raise ValueError(msg)
        return name

    @field_validator("persona", mode="before")
    @classmethod
    def _persona_id(cls, persona: object) -> object:
        # a persona id may be written as a number
        if isinstance(persona, int) and not isinstance(persona, bool):
            return str(persona)
        return persona

    @field_validator("owner")
    @classmethod
    def _owner_name(cls, owner: str | None) -> str | None:
        return _owner(owner)

    @field_validator("stage")
    @classmethod
    def _known_stage(cls, stage: str, info: ValidationInfo) -> str:
        stages = (info.context or {}).get("stages")
        if stages is not None and stage not in stages:
            msg = f"a stage of [study] stages {list(stages)}, found {stage!r}"
            raise ValueError(msg)
        if stages and stage == stages[-1] and info.data.get("metric") == "conversion":
            msg = (
                f"a stage with a next one (conversion is the share that reaches the next "
                f"stage); {stage!r} is the last stage"
            )
            raise ValueError(msg)
        return stage

    @field_validator("target")
    @classmethod
    def _target_syntax(cls, target: str) -> str:
        parse_target(target)
        return target

    @model_validator(mode="after")
    def _target_on_scale(self) -> KpiSettings:
        parse_target(self.target, metric=self.metric)
        return self

    @property
    def comparison(self) -> str:
        """The target's comparison: ``>=``, ``>``, ``<=`` or ``<``."""
        return parse_target(self.target)[0]

    @property
    def threshold(self) -> float:
        """The target's number (a percentage as a share)."""
        return parse_target(self.target, metric=self.metric)[1]


class AlertSettings(_Section):
    """``[alerts]``: a command run after a build that raised alerts, with the alerts JSON
    (the published ``alerts.json``) on its standard input: the hook for mail or chat. Its
    failure is logged and never fails the build."""

    command: str | None = Field(default=None, min_length=1)
    timeout_seconds: float = Field(default=60.0, gt=0)
