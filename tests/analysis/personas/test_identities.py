from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from cjresearch.analysis.personas.identities import (
    PersonaIdentity,
    centroids_in,
    match_identities,
    stable_labels,
)
from cjresearch.analysis.personas.segment import segment
from cjresearch.errors import CJResearchError

COLUMNS = ["a", "b"]
PREVIOUS = [
    PersonaIdentity(1, "savers", (0.0, 0.0)),
    PersonaIdentity(2, "spenders", (10.0, 0.0)),
    PersonaIdentity(3, "browsers", (0.0, 10.0)),
]


def _centroids(points: list[tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(points, columns=COLUMNS, index=pd.RangeIndex(len(points), name="segment"))


def test_permutation_is_undone() -> None:
    new = _centroids([(0.2, 9.9), (0.1, -0.1), (9.8, 0.3)])
    before = new.copy()
    matching = match_identities(new, PREVIOUS, columns=COLUMNS)
    assert matching.mapping == {0: 3, 1: 1, 2: 2}
    assert matching.births == ()
    assert matching.deaths == ()
    assert matching.summary["status"].tolist() == ["kept"] * 3
    assert list(matching.summary.columns) == ["segment", "persona_id", "status", "distance"]
    assert [p.name for p in matching.identities] == ["browsers", "savers", "spenders"]
    pd.testing.assert_frame_equal(new, before)


def test_k_grows_by_one_gives_one_birth_with_next_free_id() -> None:
    new = _centroids([(10.0, 0.1), (20.0, 20.0), (0.0, 0.1), (0.1, 10.0)])
    matching = match_identities(new, PREVIOUS)
    assert matching.mapping == {0: 2, 1: 4, 2: 1, 3: 3}
    assert matching.births == (4,)
    assert matching.deaths == ()
    born = matching.summary[matching.summary["status"] == "born"]
    assert born["segment"].tolist() == [1]
    assert born["distance"].isna().all()


def test_k_shrinks_by_one_gives_one_death() -> None:
    new = _centroids([(0.0, 9.0), (0.5, 0.5)])
    matching = match_identities(new, PREVIOUS)
    assert matching.mapping == {0: 3, 1: 1}
    assert matching.births == ()
    assert matching.deaths == (2,)


def test_max_distance_turns_a_far_pair_into_birth_and_death() -> None:
    new = _centroids([(0.0, 0.0), (10.0, 0.0), (0.0, 14.0)])
    assert match_identities(new, PREVIOUS).mapping == {0: 1, 1: 2, 2: 3}
    matching = match_identities(new, PREVIOUS, max_distance=2.0)
    assert matching.mapping == {0: 1, 1: 2, 2: 4}
    assert matching.births == (4,)
    assert matching.deaths == (3,)
    assert matching.identities[2].name == "persona_4"


def test_no_previous_gives_ids_one_to_k_in_segment_order() -> None:
    new = _centroids([(5.0, 5.0), (1.0, 1.0), (3.0, 3.0)])
    matching = match_identities(new, [])
    assert matching.mapping == {0: 1, 1: 2, 2: 3}
    assert matching.births == (1, 2, 3)
    assert matching.deaths == ()


def test_changed_columns_raise_unless_reset() -> None:
    new = pd.DataFrame({"a": [0.0], "c": [1.0]})
    with pytest.raises(CJResearchError, match=r"changed feature set.*reset=True"):
        match_identities(new, PREVIOUS, columns=COLUMNS)
    matching = match_identities(new, PREVIOUS, columns=COLUMNS, reset=True)
    assert matching.mapping == {0: 1}
    assert matching.deaths == ()


def test_centroid_length_mismatch_raises() -> None:
    new = pd.DataFrame({"a": [0.0], "b": [1.0], "c": [2.0]})
    with pytest.raises(CJResearchError, match="one per encoded column"):
        match_identities(new, PREVIOUS)


def test_negative_max_distance_raises() -> None:
    with pytest.raises(CJResearchError, match="max_distance must be"):
        match_identities(_centroids([(0.0, 0.0)]), PREVIOUS, max_distance=-1.0)


def test_repeated_previous_persona_ids_raise() -> None:
    with pytest.raises(CJResearchError, match="repeats persona ids"):
        match_identities(_centroids([(0.0, 0.0)]), [PREVIOUS[0], PREVIOUS[0]])


def _blobs(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = np.array(
        [[0, 0, 0, 0], [8, 0, 0, 0], [0, 8, 0, 0], [0, 0, 8, 0], [0, 0, 0, 8]], dtype=float
    )
    blob = rng.integers(0, 5, n)
    x = centres[blob] + rng.normal(0, 1, (n, 4))
    frame = pd.DataFrame(x, columns=["f1", "f2", "f3", "f4"])
    frame.insert(0, "customer_id", [f"c{i:05d}" for i in range(n)])
    return frame


def test_rebuild_on_changed_data_keeps_every_persona_id() -> None:
    features = _blobs()
    first = segment(features, k=5, seed=7, n_bootstrap=0, n_init=3)
    first_ids, first_matching = stable_labels(first, [])

    rng = np.random.default_rng(11)
    keep = rng.random(len(features)) >= 0.05
    changed = features[keep].reset_index(drop=True)
    before = changed.copy()
    second = segment(changed, k=5, seed=12345, n_bootstrap=0, n_init=3)

    previous, columns = list(first_matching.identities), first.encoder.columns_
    centroids = centroids_in(first.encoder, changed, second.labels)
    second_ids, matching = stable_labels(second, previous, centroids=centroids, columns=columns)
    pd.testing.assert_frame_equal(changed, before)

    assert matching.births == ()
    assert matching.deaths == ()
    assert (matching.summary["status"] == "kept").all()
    assert sorted(second_ids.unique().tolist()) == [1, 2, 3, 4, 5]
    for persona in range(1, 6):
        old = set(first_ids.index[first_ids == persona])
        new = set(second_ids.index[second_ids == persona])
        assert len(old & new) / len(new) > 0.95
        assert len(old & new) / len(old & set(changed["customer_id"])) > 0.95

    # segment() orders segments by size, so the two runs may number them alike; shuffle
    # the new numbering by hand to check that the ids do not depend on it
    perm = np.array([3, 0, 4, 1, 2])
    shuffled = replace(
        second,
        labels=pd.Series(perm[second.labels.to_numpy()], index=second.labels.index),
        centroids=second.centroids.iloc[np.argsort(perm)].set_axis(
            pd.RangeIndex(5, name="segment")
        ),
    )
    shuffled_centroids = centroids_in(first.encoder, changed, shuffled.labels)
    shuffled_ids, _ = stable_labels(
        shuffled, previous, centroids=shuffled_centroids, columns=columns
    )
    pd.testing.assert_series_equal(shuffled_ids, second_ids)
