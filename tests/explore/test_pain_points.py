"""The explorer's pain points are the journey map's: one definition, from the cube's counts.

Generated studies of three shapes (persona mix, one touchpoint per stage without emotion, a
clickstream with sessions; :mod:`cjresearch.datasets.generated`) go through the build's own
steps; the explorer's selection over the cube must give the journey map's pain points for
the whole period, and for a narrower window the same churn and emotion evidence as the
journey map built on that window's events alone (an independent computation from the raw
rows, not from the cube).
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.cube import Cube, load_cube
from cjresearch.analysis.disclosure import protect
from cjresearch.analysis.journey_map import JourneyMap, build_map
from cjresearch.analysis.journey_map.evidence import PAIN_POINT_COLUMNS, pain_table
from cjresearch.analysis.journey_map.windows import window_sums
from cjresearch.analysis.settings import Settings
from cjresearch.artifacts import compute
from cjresearch.data.study import study_from_dict
from cjresearch.data.tables import validate_tables
from cjresearch.datasets import generated
from cjresearch.explore.selection import Query, select
from helpers.ecom import ecom_study

SHAPES = ("confounded", "stepwise", "clickstream")


def _planted_personas(truth: dict[str, Any]) -> pd.DataFrame | None:
    if "customer_persona" not in truth:
        return None
    persona = pd.Series(truth["customer_persona"])
    keys = sorted(persona.unique())
    return pd.DataFrame(
        {
            "customer_id": persona.index,
            "persona_id": persona.map({k: i for i, k in enumerate(keys)}).to_numpy(),
            "persona_name": persona.to_numpy(),
        }
    )


@dataclasses.dataclass(frozen=True)
class Built:
    tables: Any
    felt: Any
    personas: pd.DataFrame | None
    settings: Settings
    journey: JourneyMap
    cube: Cube


@functools.cache
def _built(name: str) -> Built:
    study = getattr(generated, name)()
    parsed = study_from_dict(tomllib.loads(study.study_toml()), path="study.toml")
    tables = validate_tables(parsed, study.canonical_frames())
    settings = Settings.from_study(parsed)
    felt = compute.emotion(tables, settings, agreement=False)
    personas = _planted_personas(study.truth)
    journey = compute.journey_map(tables, felt, personas, settings)
    events, observations = tables.events, felt.observations
    cube = compute.cube(tables.customers, events, observations, personas, None, settings)
    return Built(tables, felt, personas, settings, journey, cube)


def _query(built: Built, **options: Any) -> Query:
    labels = tuple(p for p in built.cube.personas if p != "(no persona)")
    options.setdefault("min_group_size", built.settings.min_group_size)
    return Query(personas=labels, **options)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.assign(stage=frame["stage"].astype(str))
    return out.sort_values(["persona", "stage", "touchpoint"]).reset_index(drop=True)


@pytest.mark.parametrize("name", SHAPES)
def test_the_whole_period_gives_the_published_pain_points(name: str) -> None:
    built = _built(name)
    selection = select(built.cube, _query(built))
    got = selection["pain_points"]
    # published: the journey map's table through the build's disclosure pass
    published = protect(
        {"pain_points": built.journey.pain_points},
        min_group_size=built.settings.min_group_size,
        n_customers=len(built.tables.customers),
    )[0]["pain_points"]
    want = published[published["is_pain_point"].to_numpy(dtype=bool)][list(PAIN_POINT_COLUMNS)]
    assert len(want) > 0  # each shape has a planted pain point
    assert list(got.columns) == list(PAIN_POINT_COLUMNS)
    pd.testing.assert_frame_equal(
        _sorted(got), _sorted(want), check_dtype=False, check_categorical=False
    )
    assert not [note for note in selection.notes if "pain-point" in note]


def _restricted(built: Built, a: int, b: int) -> JourneyMap:
    """The journey map built from the events and observations of months a..b alone."""
    months = pd.period_range(built.cube.periods[0], periods=len(built.cube.periods), freq="M")

    def inside(frame: pd.DataFrame) -> pd.DataFrame:
        stamps = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
        at = stamps.dt.to_period("M")
        return frame[(at >= months[a]) & (at <= months[b])].reset_index(drop=True)

    observations = inside(built.felt.observations)
    per_stage = (
        observations.groupby(["customer_id", "stage"], observed=True, as_index=False)["emotion"]
        .mean()
        .rename(columns={"emotion": "emotion_mean"})
    )
    return build_map(
        inside(built.tables.events),
        built.tables.customers,
        observations,
        per_stage,
        personas=built.personas,
        settings=built.settings,
    )


CHURN_AND_EMOTION = [
    "n_customers", "n_comparison", "churn_rate", "churn_rate_comparison", "churn_lift",
    "lift_ci_low", "lift_ci_high", "churn_lift_adjusted", "churn_lift_adjusted_ci_low",
    "churn_lift_adjusted_ci_high", "churn_lift_shrunk", "n_emotion", "emotion_mean",
    "emotion_gap", "emotion_gap_ci_low", "emotion_gap_ci_high", "emotion_gap_adjusted",
    "emotion_gap_shrunk",
]  # fmt: skip


def test_a_windows_churn_and_emotion_evidence_is_that_of_its_events_alone() -> None:
    built = _built("confounded")
    a, b = 3, 8
    whole = _restricted(built, a, b).pain_points
    cube, pain = built.cube, built.cube.pain
    assert pain is not None
    labels = [p for p in cube.personas if p != "(no persona)"]
    rows = ["all", *labels]
    counts = {
        name[len("pain_") :]: array[..., a, b]
        for name, array in cube.arrays.items()
        if name.startswith("pain_")
    }
    sums = window_sums(
        counts,
        stratum_row=np.array(
            [rows.index(pain["labels"][g]) if g else -1 for g in pain["stratum_group"]]
        ),
        labels=rows,
        stages=cube.stages,
        touchpoints=[tuple(p) for p in pain["touchpoints"]],
        stage_touchpoints=np.array(pain["stage_touchpoints"]),
        min_group_size=built.settings.min_group_size,
    )
    windowed = pain_table(
        sums, min_group_size=built.settings.min_group_size, seed=built.settings.seed
    )
    assert len(windowed) > 10
    assert (windowed["n_customers"] < built.journey.pain_points["n_customers"].max()).all()
    key = ["persona", "stage", "touchpoint"]
    pd.testing.assert_frame_equal(
        _sorted(windowed)[key + CHURN_AND_EMOTION],
        _sorted(whole)[key + CHURN_AND_EMOTION],
        check_dtype=False,
        check_categorical=False,
    )


def test_a_window_too_small_for_the_rule_says_so_and_lists_nothing() -> None:
    built = _built("confounded")
    big = len(built.tables.customers)  # no comparison can have this many on both sides
    selection = select(built.cube, _query(built, min_group_size=big))
    assert selection["pain_points"].empty
    said = [note for note in selection.notes if "pain-point rule cannot judge" in note]
    assert len(said) == 1 and "widen the window" in said[0]


def test_shown_pain_points_respect_the_disclosure_rule() -> None:
    built = _built("confounded")
    m = 200  # large enough that some persona x touchpoint cells are hidden
    selection = select(built.cube, _query(built, min_group_size=m))
    pains, touchpoints = selection["pain_points"], selection["touchpoints"]
    assert len(pains) > 0
    assert touchpoints["suppressed"].any()
    assert (pains["n_customers"] >= m).all()
    assert (pains["n_comparison"].dropna() >= m).all()
    shown = touchpoints.set_index(["persona", touchpoints["stage"].astype(str), "touchpoint"])
    for row in pains.itertuples(index=False):
        assert not shown.loc[(row.persona, str(row.stage), row.touchpoint), "suppressed"]


def test_a_cube_without_the_pieces_says_rebuild_instead_of_using_another_rule() -> None:
    built = _built("confounded")
    older = dataclasses.replace(
        built.cube,
        pain=None,
        arrays={k: v for k, v in built.cube.arrays.items() if not k.startswith("pain_")},
    )
    selection = select(older, _query(built))
    assert selection["pain_points"].empty
    assert any("rebuild the study" in note for note in selection.notes)


def test_the_pieces_survive_saving_and_loading(tmp_path) -> None:
    built = _built("clickstream")
    built.cube.save(tmp_path)
    loaded = load_cube(tmp_path)
    assert loaded is not None and loaded.pain == built.cube.pain
    for name, array in built.cube.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], array)
    again = select(loaded, _query(built))["pain_points"]
    pd.testing.assert_frame_equal(again, select(built.cube, _query(built))["pain_points"])


def test_on_retentioneerings_clickstream_the_incidents_are_the_explorers_too() -> None:
    """Data nobody here wrote (helpers.ecom: fetched from the wheel, skipped with the reason
    only when the index is unreachable): the explorer's pain points over the whole period,
    with their session conversion gaps, are the journey map's."""
    tables, felt, settings = ecom_study()
    journey = compute.journey_map(tables, felt, None, settings)
    events, observations = tables.events, felt.observations
    cube = compute.cube(tables.customers, events, observations, None, None, settings)
    got = select(cube, Query(personas=(), min_group_size=settings.min_group_size))
    pains = got["pain_points"]
    assert pains["touchpoint"].head(2).tolist() == ["payment_error", "checkout_bug"]
    published = protect(
        {"pain_points": journey.pain_points},
        min_group_size=settings.min_group_size,
        n_customers=len(tables.customers),
    )[0]["pain_points"]
    want = published[published["is_pain_point"].to_numpy(dtype=bool)][list(PAIN_POINT_COLUMNS)]
    pd.testing.assert_frame_equal(
        _sorted(pains), _sorted(want), check_dtype=False, check_categorical=False
    )
