"""Journey maps from data: persona x stage tables, flows, pain points, opportunities.

:func:`build_map` computes the whole map once and returns a :class:`JourneyMap` with every
table. Each table describes groups of customers: one group per persona (labelled with its
``persona_name``) and the population (labelled ``"all"``, :data:`cjresearch.data.schema.ALL`).
Customers without a persona count in ``"all"`` only. Every published figure that describes
fewer than ``min_group_size`` customers is suppressed
(:func:`cjresearch.analysis.privacy.suppress`): the row keeps its labels, its figures are
missing and ``suppressed`` is True. No table holds a customer id. Columns are listed in
order; ``persona`` is text, ``stage`` an ordered Categorical over the study's stages.

Each table is documented, column by column, in the module that computes it:

- :mod:`~cjresearch.analysis.journey_map.stage_map`: ``journey_map`` (one row per persona and
  stage: reach, conversion, time at the stage, emotion with its interval, churn, top
  touchpoint and channel), ``touchpoints`` and ``channels``; :func:`build_map` and
  :class:`JourneyMap`;
- :mod:`~cjresearch.analysis.journey_map.flows`: ``funnel``, ``transitions`` (directly-follows
  at stage and touchpoint level) and ``variants`` (the most common paths);
  :func:`transitions` and :func:`funnel` on their own;
- :mod:`~cjresearch.analysis.journey_map.pain_points`: ``pain_points`` (touchpoints whose
  customers felt worse, churned more or dropped off, beyond chance), ``opportunities`` and
  ``verbatims``.

Computation is vectorised over integer codes (``numpy.bincount``, one sort check of the log);
memory grows with the events plus customers x stages, never customers x touchpoints.
"""

from __future__ import annotations

from cjresearch.analysis.journey_map.flows import TRANSITION_COLUMNS, funnel, transitions
from cjresearch.analysis.journey_map.pain_points import (
    EMOTION_CHURN_COLUMNS,
    OPPORTUNITY_COLUMNS,
    PAIN_POINT_COLUMNS,
)
from cjresearch.analysis.journey_map.stage_map import JOURNEY_MAP_COLUMNS, JourneyMap, build_map

__all__ = [
    "EMOTION_CHURN_COLUMNS",
    "JOURNEY_MAP_COLUMNS",
    "OPPORTUNITY_COLUMNS",
    "PAIN_POINT_COLUMNS",
    "TRANSITION_COLUMNS",
    "JourneyMap",
    "build_map",
    "funnel",
    "transitions",
]
