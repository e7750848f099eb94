"""The joint model gives the same tables whatever the BLAS threads of the machine."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from cjresearch.analysis.stats import joint_model
from helpers.stats import CONTROLS, sample_personas

pytestmark = pytest.mark.slow


def test_the_joint_model_is_the_same_on_one_blas_thread_or_two(big) -> None:
    """At 20,000 customers with personas' own slopes, two OpenBLAS threads moved the last
    bits of the imputation's Gram matrices, hence donors, and gave other pooled odds ratios
    (measured before the joint model pinned its threads)."""

    def fitted(threads: int) -> pd.DataFrame:
        with threadpool_limits(limits=threads, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return joint_model(
                big.tables.customers,
                big.observations,
                personas=sample_personas(big),
                interactions=True,
                stages=list(big.study.stages),
                controls=CONTROLS,
                observation_end=big.tables.observation_end,
            ).summary

    pd.testing.assert_frame_equal(fitted(1), fitted(2), check_exact=True)
