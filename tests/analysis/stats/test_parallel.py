"""The statistics step on two cores (the joint model in a forked child) gives the tables and
warnings it gives on one, and the joint model gives the same tables whatever the BLAS threads
of the machine."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from cjresearch._background import can_fork
from cjresearch.analysis import stats
from cjresearch.analysis.stats import analyse, joint_model
from helpers.stats import CONTROLS, sample_personas

pytestmark = pytest.mark.slow


def _analysed(pipeline, monkeypatch, *, from_customers: int):
    monkeypatch.setattr(stats, "PARALLEL_MIN_CUSTOMERS", from_customers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = analyse(
            pipeline.tables.customers,
            pipeline.observations,
            stages=list(pipeline.study.stages),
            personas=sample_personas(pipeline),
            controls=CONTROLS,
            observation_end=pipeline.tables.observation_end,
            interactions=True,
        )
    return result.tables(), sorted({(w.category.__name__, str(w.message)) for w in caught})


@pytest.mark.skipif(not can_fork(), reason="the joint model forks only on Linux")
def test_the_joint_model_in_a_child_changes_no_table_and_no_warning(small, monkeypatch) -> None:
    here, said_here = _analysed(small, monkeypatch, from_customers=10**12)
    forked, said_forked = _analysed(small, monkeypatch, from_customers=0)
    assert list(here) == list(forked)
    for name, table in here.items():
        assert isinstance(table, pd.DataFrame)
        assert table.equals(forked[name]), name
    assert said_here == said_forked
    assert any("joint" in text for _, text in said_here)  # its warnings came back too


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


def test_parallel_false_keeps_the_joint_model_in_the_build(small, monkeypatch) -> None:
    asked: list[bool] = []
    real = stats.Background

    def recording(*args, parallel: bool, **kwargs):
        asked.append(parallel)
        return real(*args, parallel=parallel, **kwargs)

    monkeypatch.setattr(stats, "Background", recording)
    monkeypatch.setattr(stats, "PARALLEL_MIN_CUSTOMERS", 0)
    for parallel in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            analyse(
                small.tables.customers,
                small.observations,
                stages=list(small.study.stages),
                controls=CONTROLS,
                observation_end=small.tables.observation_end,
                imputations=2,
                parallel=parallel,
            )
    assert asked == [False, True]
