"""The explorer's cube: exact window figures, checked by brute force and against the tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cjresearch.analysis.cube import (
    ALL_SOURCES,
    build_cube,
    load_cube,
    window_counts,
    window_means,
    window_totals,
)

rows = st.lists(
    st.tuples(
        st.integers(0, 2),  # group
        st.integers(0, 5),  # unit
        st.integers(0, 5),  # period
        st.floats(-1, 1, allow_nan=False),
    ),
    min_size=1,
    max_size=40,
)


def _frame(data: list[tuple[int, int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(data, columns=["group", "unit", "period", "value"])


@settings(max_examples=60, deadline=None)
@given(rows)
def test_window_figures_equal_a_pass_per_window(data: list[tuple[int, int, int, float]]) -> None:
    frame = _frame(data)
    arrays = [frame[c].to_numpy() for c in ("group", "unit", "period")]
    weight = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    counts = window_counts(*arrays, n_groups=3, n_periods=6)
    weighted = window_counts(*arrays, n_groups=3, n_periods=6, unit_weight=weight)
    n, total, squares = window_means(*arrays, frame["value"].to_numpy(), n_groups=3, n_periods=6)
    rows_in = window_totals(arrays[0], arrays[2], n_groups=3, n_periods=6)
    summed = window_totals(
        arrays[0], arrays[2], n_groups=3, n_periods=6, weight=frame["value"].to_numpy()
    )
    for a in range(6):
        for b in range(6):
            inside = frame[frame["period"].between(a, b)]
            for g in range(3):
                cell = inside[inside["group"] == g]
                means = cell.groupby("unit")["value"].mean()
                assert counts[g, a, b] == pytest.approx(len(means))
                assert weighted[g, a, b] == pytest.approx(weight[means.index].sum())
                assert n[g, a, b] == pytest.approx(len(means))
                assert total[g, a, b] == pytest.approx(means.sum(), abs=1e-9)
                assert squares[g, a, b] == pytest.approx((means**2).sum(), abs=1e-9)
                assert rows_in[g, a, b] == len(cell)
                assert summed[g, a, b] == pytest.approx(cell["value"].sum(), abs=1e-9)


N = 2000


@pytest.fixture(scope="module")
def cube_and_map():
    from helpers import sample_journey_map

    return _generated_cube(), sample_journey_map(N)


def _generated_cube():
    from helpers import planted_personas, sample_pipeline

    p = sample_pipeline(N)
    return build_cube(
        customers=p.tables.customers,
        events=p.tables.events,
        observations=p.observations,
        assignments=planted_personas(p.sample.truth),
        stages=p.study.stages,
        feedback=p.tables.feedback,
    )


def _whole(array: np.ndarray) -> np.ndarray:
    """The window spanning every month."""
    return array[..., 0, -1]


def test_the_whole_period_gives_the_journey_maps_figures(cube_and_map) -> None:
    cube, the_map = cube_and_map
    table = the_map.journey_map.assign(stage=lambda f: f["stage"].astype(str))
    source = cube.sources.index(ALL_SOURCES)
    for code, persona in enumerate(cube.personas):
        reach = _whole(cube.arrays["reach"][code])
        churned = _whole(cube.arrays["reach_churned"][code])
        n = _whole(cube.arrays["emotion_n"][code, :, source])
        mean = _whole(cube.arrays["emotion_sum"][code, :, source]) / np.maximum(n, 1)
        rows = table[table["persona"] == persona].set_index("stage").loc[list(cube.stages)]
        shown = ~rows["suppressed"].to_numpy()
        np.testing.assert_allclose(reach[shown], rows["n_customers"].to_numpy()[shown])
        np.testing.assert_allclose(
            (churned / np.maximum(reach, 1))[shown], rows["churn_rate"].to_numpy()[shown]
        )
        has = shown & ~rows["emotion_suppressed"].to_numpy()
        np.testing.assert_allclose(n[has], rows["n_emotion"].to_numpy()[has])
        np.testing.assert_allclose(mean[has], rows["emotion_mean"].to_numpy()[has], atol=1e-9)
    everyone = table[table["persona"] == "all"].set_index("stage").loc[list(cube.stages)]
    np.testing.assert_allclose(
        _whole(cube.arrays["reach"]).sum(axis=0), everyone["n_customers"].to_numpy()
    )
    assert _whole(cube.arrays["active"]).sum() == cube.arrays["persona_size"].sum() == N


def test_the_whole_period_gives_the_touchpoint_table(cube_and_map) -> None:
    cube, the_map = cube_and_map
    table = the_map.touchpoints
    table = table[(table["persona"] == "all") & ~table["suppressed"]]
    source = cube.sources.index(ALL_SOURCES)
    index = {pair: i for i, pair in enumerate(cube.touchpoints)}
    checked = 0
    for row in table.itertuples():
        t = index[(str(row.stage), str(row.touchpoint))]
        assert _whole(cube.arrays["tp_reach"][:, t]).sum() == row.n_customers
        assert _whole(cube.arrays["tp_events"][:, t]).sum() == row.n_events
        checked += 1
    assert checked > 20
    # touchpoint emotion of one persona (customer means do not add across personas)
    persona = cube.personas[0]
    rows = the_map.touchpoints[
        (the_map.touchpoints["persona"] == persona) & the_map.touchpoints["emotion_mean"].notna()
    ]
    for row in rows.itertuples():
        t = index[(str(row.stage), str(row.touchpoint))]
        n = _whole(cube.arrays["tp_emotion_n"][0, t, source])
        assert n == row.n_emotion
        total = _whole(cube.arrays["tp_emotion_sum"][0, t, source])
        assert total / n == pytest.approx(row.emotion_mean)


def test_sources_split_the_observations(cube_and_map) -> None:
    from helpers import sample_pipeline

    cube, _ = cube_and_map
    observations = sample_pipeline(N).observations
    by_source = observations["source"].astype(str).value_counts()
    assert cube.sources[0] == ALL_SOURCES
    assert set(cube.sources[1:]) == set(by_source[by_source > 0].index)
    # customers with a text observation at onboarding, over the whole period
    stage = cube.stages.index("onboarding")
    text = cube.sources.index("text")
    expected = observations[
        (observations["source"] == "text") & (observations["stage"] == "onboarding")
    ]["customer_id"].nunique()
    assert _whole(cube.arrays["emotion_n"][:, stage, text]).sum() == expected


def test_verbatims_are_redacted_negative_first_and_hold_no_ids(cube_and_map, tmp_path) -> None:
    cube, _ = cube_and_map
    verbatims = cube.verbatims
    assert len(verbatims) > 0
    assert "customer_id" not in verbatims.columns
    assert not verbatims["text"].str.contains(r"\b\d{4} \d{4} \d{4} \d{4}\b").any()
    counts = verbatims.groupby(["persona", "stage", "touchpoint", "period"]).size()
    assert counts.max() <= 3
    cube.save(tmp_path)
    again = load_cube(tmp_path)
    assert again is not None and again.periods == cube.periods
    assert again.touchpoints == cube.touchpoints
    np.testing.assert_array_equal(again.arrays["emotion_sum"], cube.arrays["emotion_sum"])
    pd.testing.assert_frame_equal(again.verbatims, cube.verbatims)
    assert load_cube(tmp_path / "nothing") is None


# --- the key coding: int32 keys and one argsort give the cells np.unique gave ---------------


def test_the_cells_equal_those_of_np_unique_on_a_generated_study(cube_and_map, monkeypatch):
    from cjresearch.analysis import cube as module

    new, _ = cube_and_map
    # the coding before: int64 keys through np.unique
    monkeypatch.setattr(
        module, "_distinct", lambda key: np.unique(key.astype(np.int64), return_inverse=True)
    )
    old = _generated_cube()
    assert sorted(old.arrays) == sorted(new.arrays)
    for name, array in old.arrays.items():
        assert array.shape == new.arrays[name].shape, name
        assert np.array_equal(array, new.arrays[name]), name
    assert (old.touchpoints, old.channels) == (new.touchpoints, new.channels)


@pytest.mark.parametrize("wide", [False, True])
def test_sorted_cells_are_the_distinct_int64_keys(wide: bool) -> None:
    from cjresearch.analysis import cube as module

    rng = np.random.default_rng(3)
    # wide: more groups x units x periods than int32 holds, so the keys stay int64
    group = rng.integers(0, 50 if wide else 5, 5_000)
    unit = rng.integers(0, 3_000_000 if wide else 400, 5_000)
    period = rng.integers(0, 24, 5_000)
    n_units = int(unit.max()) + 1
    key = (group * n_units + unit) * 24 + period
    cells, inverse = np.unique(key, return_inverse=True)
    g, u, p, prev, nxt, rows = module._sorted_cells(group, unit, period, 24)
    # each part is int32 (half the memory); their key is recombined in int64
    assert {a.dtype for a in (g, u, p, prev, nxt)} == {np.dtype(np.int32)}
    g64, u64 = g.astype(np.int64), u.astype(np.int64)
    assert np.array_equal((g64 * n_units + u64) * 24 + p, cells)
    assert np.array_equal(rows, inverse)
    first = np.r_[True, (g[1:] != g[:-1]) | (u[1:] != u[:-1])]
    assert np.array_equal(prev[first], np.full(first.sum(), -1))
    assert np.array_equal(prev[~first], p[np.flatnonzero(~first) - 1])
    assert (nxt > p).all()
    # without the rows' cells: the same cells, from a sort of the keys alone
    *cells_only, none = module._sorted_cells(group, unit, period, 24, inverse=False)
    assert none is None
    for found, expected in zip(cells_only, (g, u, p, prev, nxt), strict=True):
        assert np.array_equal(found, expected)
