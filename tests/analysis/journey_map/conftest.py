"""Fixtures of the journey map tests: the 3,000-customer sample and its map (cached)."""

from __future__ import annotations

import pytest

from cjresearch.analysis.journey_map import JourneyMap
from helpers import SamplePipeline, sample_journey_map, sample_pipeline

N = 3_000


@pytest.fixture(scope="module")
def pipeline() -> SamplePipeline:
    return sample_pipeline(N)


@pytest.fixture(scope="module")
def jm() -> JourneyMap:
    return sample_journey_map(N)
