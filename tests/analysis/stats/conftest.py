"""Fixtures of the statistics tests: the sample study at two sizes (cached per process)."""

from __future__ import annotations

import pytest

from helpers import SamplePipeline, sample_pipeline


@pytest.fixture(scope="module")
def big() -> SamplePipeline:
    return sample_pipeline(20_000)


@pytest.fixture(scope="module")
def small() -> SamplePipeline:
    return sample_pipeline(3_000)
