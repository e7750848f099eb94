"""Identities: keep persona ids and names stable when segmentation is re-run.

k-means numbers its segments arbitrarily, so a rebuild on slightly changed data would
shuffle persona ids and names. :func:`match_identities` matches the new segments to the
previous run's saved :class:`PersonaIdentity` records by an optimal one-to-one assignment
(``scipy.optimize.linear_sum_assignment``) on Euclidean distances between centroids in
the *previous* run's encoded space (see :func:`centroids_in`). Matched segments keep their
persona's id; unmatched new segments are *born* with the next free ids; unmatched previous
personas *die*. The identities travel between runs inside the saved persona model
(:class:`cjresearch.analysis.personas.model.PersonaModel`), which also knows its features, so
that a changed feature space is detected rather than silently mis-matched.

Examples
--------
>>> previous = [
...     PersonaIdentity(1, "savers", (0.0, 0.0)),
...     PersonaIdentity(2, "spenders", (5.0, 5.0)),
... ]
>>> new = pd.DataFrame({"a": [5.1, 0.1], "b": [4.9, -0.1]})
>>> match_identities(new, previous).mapping
{0: 2, 1: 1}
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from cjresearch.analysis.personas.encoding import FeatureEncoder
from cjresearch.analysis.personas.segment import Segmentation
from cjresearch.errors import CJResearchError

__all__ = [
    "Matching",
    "PersonaIdentity",
    "centroids_in",
    "match_identities",
    "stable_labels",
]


@dataclass(frozen=True)
class PersonaIdentity:
    """A persona's lasting id and name, and its centroid in the encoded feature space."""

    persona_id: int
    name: str
    centroid: tuple[float, ...]


@dataclass(frozen=True)
class Matching:
    """New segments matched to previous personas.

    Attributes
    ----------
    mapping
        New segment label -> persona id (every new segment appears).
    births
        Persona ids created for unmatched new segments, ascending.
    deaths
        Previous persona ids with no new segment, ascending.
    summary
        One row per new segment: ``segment, persona_id, status, distance`` (``status`` is
        ``"kept"`` or ``"born"``; ``distance`` is the Euclidean distance to the matched
        previous centroid, NaN for a birth).
    identities
        The identities of the new run, one per new segment in segment order: kept
        personas keep their name, born ones are named ``"persona_<id>"``; centroids are
        the new centroids. The next run matches against these.
    """

    mapping: dict[int, int]
    births: tuple[int, ...]
    deaths: tuple[int, ...]
    summary: pd.DataFrame
    identities: tuple[PersonaIdentity, ...]

    def _repr_html_(self) -> str:
        deaths = ", ".join(str(d) for d in self.deaths) or "none"
        return (
            f"<div><strong>Matching</strong>: {len(self.mapping)} segments, "
            f"{len(self.births)} born, {len(self.deaths)} died ({html.escape(deaths)})"
            f"{self.summary.to_html(index=False)}</div>"
        )


def _check_identities(
    identities: Sequence[PersonaIdentity], columns: Sequence[str], *, source: str
) -> None:
    ids = [p.persona_id for p in identities]
    if len(set(ids)) != len(ids):
        msg = f"{source} repeats persona ids: {sorted(ids)}; each persona needs its own id"
        raise CJResearchError(msg)
    bad = [p.persona_id for p in identities if len(p.centroid) != len(columns)]
    if bad:
        msg = (
            f"{source}: the centroids of personas {bad} do not have {len(columns)} values, "
            "one per encoded column"
        )
        raise CJResearchError(msg)


def centroids_in(
    encoder: FeatureEncoder, features: pd.DataFrame, labels: pd.Series
) -> pd.DataFrame:
    """Mean of each segment in the encoded space of ``encoder`` (e.g. the previous run's).

    Parameters
    ----------
    encoder
        A fitted :class:`~cjresearch.analysis.personas.encoding.FeatureEncoder`.
    features
        ``customer_id`` plus the encoder's feature columns. Not modified.
    labels
        Segments indexed by ``customer_id`` (e.g. ``Segmentation.labels``); every
        customer in ``features`` must have one.

    Returns
    -------
    pandas.DataFrame
        One row per segment (index ``segment``, ascending), one column per encoded column
        (``encoder.columns_``).

    Raises
    ------
    CJResearchError
        A customer in ``features`` has no label.
    """
    if not isinstance(features, pd.DataFrame) or "customer_id" not in features.columns:
        msg = "features must be a DataFrame with a 'customer_id' column"
        raise CJResearchError(msg)
    encoded = encoder.transform(features)
    segments = labels.reindex(pd.Index(features["customer_id"]))
    if segments.isna().any():
        missing = segments.index[segments.isna()][:5].tolist()
        msg = f"customers in features have no label, e.g. {missing}; pass labels for all"
        raise CJResearchError(msg)
    x = encoded.to_numpy(dtype=np.float64)
    groups = segments.to_numpy().astype(np.int64)
    order = np.unique(groups)
    means = np.vstack([x[groups == g].mean(axis=0) for g in order])
    return pd.DataFrame(means, columns=list(encoded.columns), index=pd.Index(order, name="segment"))


def match_identities(
    new_centroids: pd.DataFrame,
    previous: Sequence[PersonaIdentity],
    *,
    max_distance: float | None = None,
    columns: Sequence[str] | None = None,
    reset: bool = False,
) -> Matching:
    """Match new segments to previous personas by an optimal one-to-one assignment.

    Parameters
    ----------
    new_centroids
        One row per new segment (the index holds the segment labels), in the same encoded
        space as the previous centroids (see :func:`centroids_in`). Not modified.
    previous
        The previous run's identities (e.g. ``PersonaModel.identities`` of the previous
        build's model); may be empty.
    max_distance
        If given, an assigned pair farther apart than this is not matched: the new segment
        is born and the previous persona dies.
    columns
        The encoded column names of ``previous`` (its encoder's ``columns_``); if given
        they must equal ``new_centroids.columns``.
    reset
        Ignore ``previous``: every segment is born, with ids 1..k in segment order (after
        a deliberate change of the feature set).

    Returns
    -------
    Matching
        ``mapping``, ``births``, ``deaths``, ``identities`` and ``summary`` (columns
        ``segment, persona_id, status, distance``).

    Raises
    ------
    CJResearchError
        The feature space changed (``columns`` differ or centroid lengths differ) and
        ``reset`` is False, or ``max_distance`` is negative.
    """
    if not isinstance(new_centroids, pd.DataFrame):
        msg = f"new_centroids must be a DataFrame, found {type(new_centroids).__name__}"
        raise CJResearchError(msg)
    if max_distance is not None and not max_distance >= 0:
        msg = f"max_distance must be >= 0 or None, found {max_distance!r}"
        raise CJResearchError(msg)
    previous = [] if reset else list(previous)
    new_columns = [str(c) for c in new_centroids.columns]
    if not reset and columns is not None and list(columns) != new_columns:
        msg = (
            "identities cannot be matched across a changed feature set: the previous "
            f"encoded columns {list(columns)} differ from the new {new_columns}. Persona "
            "ids will be reassigned only if you pass reset=True"
        )
        raise CJResearchError(msg)
    _check_identities(previous, new_columns, source="previous identities")

    segments = [int(s) for s in new_centroids.index]
    x = new_centroids.to_numpy(dtype=np.float64)
    mapping: dict[int, int] = {}
    distances: dict[int, float] = {}
    if previous:
        y = np.array([p.centroid for p in previous], dtype=np.float64)
        cost = np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=2))
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            d = float(cost[r, c])
            if max_distance is None or d <= max_distance:
                mapping[segments[r]] = previous[c].persona_id
                distances[segments[r]] = d
    kept_ids = set(mapping.values())
    next_id = max((p.persona_id for p in previous), default=0) + 1
    births = []
    for s in segments:
        if s not in mapping:
            mapping[s] = next_id
            births.append(next_id)
            next_id += 1
    deaths = tuple(sorted(p.persona_id for p in previous if p.persona_id not in kept_ids))
    names = {p.persona_id: p.name for p in previous}
    identities = tuple(
        PersonaIdentity(
            persona_id=mapping[s],
            name=names[mapping[s]] if s in distances else f"persona_{mapping[s]}",
            centroid=tuple(float(v) for v in x[i]),
        )
        for i, s in enumerate(segments)
    )
    summary = pd.DataFrame(
        {
            "segment": np.array(segments, dtype=np.int64),
            "persona_id": np.array([mapping[s] for s in segments], dtype=np.int64),
            "status": ["kept" if s in distances else "born" for s in segments],
            "distance": np.array([distances.get(s, np.nan) for s in segments], dtype=np.float64),
        }
    )
    return Matching(
        mapping=dict(sorted(mapping.items())),
        births=tuple(births),
        deaths=deaths,
        summary=summary,
        identities=identities,
    )


def stable_labels(
    segmentation: Segmentation,
    previous: Sequence[PersonaIdentity],
    *,
    max_distance: float | None = None,
    centroids: pd.DataFrame | None = None,
    columns: Sequence[str] | None = None,
    reset: bool = False,
) -> tuple[pd.Series, Matching]:
    """The segmentation's labels as persona ids that persist across runs.

    Parameters
    ----------
    segmentation
        The new run's result of :func:`cjresearch.analysis.personas.segment.segment`.
    previous
        The previous run's identities; may be empty.
    max_distance, columns, reset
        As in :func:`match_identities`.
    centroids
        The new segments' centroids in the previous run's encoded space (from
        :func:`centroids_in` with the previous encoder). Defaults to
        ``segmentation.centroids``, which is only right when both runs share an encoder.

    Returns
    -------
    tuple
        ``(persona_ids, matching)``: int64 persona ids named ``persona_id``, indexed by
        ``customer_id`` like ``segmentation.labels``, and the :class:`Matching`.
    """
    new_centroids = segmentation.centroids if centroids is None else centroids
    matching = match_identities(
        new_centroids, previous, max_distance=max_distance, columns=columns, reset=reset
    )
    ids = segmentation.labels.map(matching.mapping).astype(np.int64).rename("persona_id")
    return ids, matching
