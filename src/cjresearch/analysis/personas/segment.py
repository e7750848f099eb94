"""Personas: segment customers on their journey features, with evidence for the number of segments.

:func:`segment` clusters customers (k-means or a Gaussian mixture) on the matrix of
:class:`~cjresearch.analysis.personas.encoding.FeatureEncoder` (the mixed feature table of
:func:`cjresearch.analysis.journeys.select_features` as numbers, every group of related
columns weighted as one variable; the encoding rule is documented there), chooses the number
of segments when asked to (see :func:`segment` for the rule), and returns a
:class:`Segmentation`. :func:`assign` gives new customers the segment of a fitted
segmentation.

Examples
--------
>>> features = pd.DataFrame({
...     "customer_id": list("abcdef"),
...     "spend": [1.0, 1.2, 0.9, 9.0, 9.5, 8.8],
...     "plan": ["basic"] * 3 + ["pro"] * 3,
... })
>>> result = segment(features, k=2, n_bootstrap=2)
>>> result.labels.tolist()
[0, 0, 0, 1, 1, 1]
>>> result.summary
   segment  n_customers  share
0        0            3    0.5
1        1            3    0.5
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture

# FeatureEncoder is imported here too: models saved before it moved unpickle through this name.
from cjresearch.analysis.personas._html import fitted_html
from cjresearch.analysis.personas.encoding import DEFAULT_FAMILIES, FeatureEncoder, check_features
from cjresearch.errors import CJResearchError, StatisticalWarning

__all__ = ["Segmentation", "assign", "segment"]


#: Above this many customers k-means is fitted as MiniBatchKMeans.
MINIBATCH_ABOVE = 100_000
#: Silhouettes are computed on a seeded sample of at most this many customers.
SILHOUETTE_SAMPLE = 5_000
#: Bootstrap resamples for the stability index hold at most this many customers (drawn with
#: replacement); every customer is then predicted and compared. Keeps auto-k affordable on
#: large studies: the stability of a partition is judged by refits on 10,000 customers.
STABILITY_SAMPLE = 10_000
#: A k whose mean bootstrap ARI reaches this is "stable" (see :func:`segment`).
STABILITY_THRESHOLD = 0.75

#: Added to every Gaussian-mixture variance. The encoded columns have variances between
#: about 0.02 and 1; without a floor a component collapses onto one value of a binary or
#: one-hot column, where the likelihood is unbounded (sklearn's default is 1e-6).
GMM_VARIANCE_FLOOR = 1e-3


Method: TypeAlias = Literal["kmeans", "gmm"]
Model: TypeAlias = KMeans | MiniBatchKMeans | GaussianMixture


@dataclass(frozen=True)
class Segmentation:
    """A segmentation of customers, with the evidence for its number of segments.

    Attributes
    ----------
    labels
        int64 Series of segments ``0 .. k-1`` named ``segment``, index ``customer_id`` in the
        order of the features. Segment 0 is the largest (ties broken by centroid).
    k, method, seed
        The number of segments, ``"kmeans"`` or ``"gmm"``, the seed.
    evidence
        One row per k tried: ``k, silhouette, bic, stability_ari, chosen`` (``bic`` is the
        Gaussian mixture's BIC for ``method="gmm"`` and NaN for k-means).
    centroids
        One row per segment (index ``segment``), the mean encoded features of its
        customers; columns are ``encoder.columns_``.
    encoder
        The fitted :class:`FeatureEncoder`.
    model
        The fitted scikit-learn estimator for the chosen k.
    label_map
        Position ``i`` holds the segment of the model's raw cluster ``i``.
    segment_stability
        Position ``s`` holds segment ``s``'s stability: the mean, over the bootstrap
        refits, of its best Jaccard similarity with a refit cluster (Hennig's
        ``clusterboot`` measure; above 0.75 stable, above 0.85 highly stable). NaN
        without bootstrap.
    notes
        Dropped columns and other decisions, as sentences.
    """

    labels: pd.Series
    k: int
    method: str
    seed: int | None
    evidence: pd.DataFrame
    centroids: pd.DataFrame
    encoder: FeatureEncoder
    model: Model
    label_map: tuple[int, ...]
    segment_stability: tuple[float, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> pd.DataFrame:
        """Columns ``segment, n_customers, share`` (one row per segment, largest first)."""
        counts = np.bincount(self.labels.to_numpy(), minlength=self.k)
        return pd.DataFrame(
            {
                "segment": np.arange(self.k, dtype=np.int64),
                "n_customers": counts.astype(np.int64),
                "share": counts / max(counts.sum(), 1),
            }
        )

    def _repr_html_(self) -> str:
        heading = (
            f"<strong>Segmentation</strong>: {self.k} segments by {self.method}, "
            f"{len(self.labels)} customers, seed {self.seed}"
        )
        return fitted_html(heading, self.summary, self.evidence, self.notes)


def _model(method: str, k: int, n: int, seed: int, n_init: int) -> Model:
    if method == "gmm":
        return GaussianMixture(
            n_components=k,
            covariance_type="diag",
            reg_covar=GMM_VARIANCE_FLOOR,
            n_init=n_init,
            random_state=seed,
        )
    if n > MINIBATCH_ABOVE:
        return MiniBatchKMeans(n_clusters=k, n_init=n_init, random_state=seed, batch_size=4096)
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed)


def _seed_from(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _evaluate(
    x: np.ndarray,
    k: int,
    *,
    method: str,
    rng: np.random.Generator,
    n_init: int,
    n_bootstrap: int,
) -> tuple[Model, np.ndarray, dict[str, float], np.ndarray]:
    n = len(x)
    model = _model(method, k, n, _seed_from(rng), n_init).fit(x)
    raw = model.predict(x).astype(np.int64)
    sample_seed = _seed_from(rng)
    if len(np.unique(raw)) >= 2:
        silhouette = float(
            silhouette_score(
                x,
                raw,
                sample_size=min(n, SILHOUETTE_SAMPLE) if n > SILHOUETTE_SAMPLE else None,
                random_state=sample_seed,
            )
        )
    else:
        silhouette = float("nan")
    bic = float(model.bic(x)) if isinstance(model, GaussianMixture) else float("nan")
    aris = []
    jaccards = []
    size = min(n, STABILITY_SAMPLE)
    for _ in range(n_bootstrap):
        rows = rng.integers(0, n, size)
        refit = _model(method, k, size, _seed_from(rng), n_init).fit(x[rows])
        predicted = refit.predict(x).astype(np.int64)
        aris.append(adjusted_rand_score(raw, predicted))
        jaccards.append(_best_jaccard(raw, predicted, k))
    stability = float(np.mean(aris)) if aris else float("nan")
    per_cluster = np.mean(jaccards, axis=0) if jaccards else np.full(k, np.nan)
    scores = {"silhouette": silhouette, "bic": bic, "stability_ari": stability}
    return model, raw, scores, per_cluster


def _best_jaccard(reference: np.ndarray, other: np.ndarray, k: int) -> np.ndarray:
    """For each reference cluster, its best Jaccard similarity with a cluster of ``other``."""
    both = np.bincount(reference * k + other, minlength=k * k).reshape(k, k).astype(float)
    union = both.sum(axis=1)[:, None] + both.sum(axis=0)[None, :] - both
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmax(np.where(union > 0, both / union, 0.0), axis=1)


def _choose(evidence: pd.DataFrame) -> tuple[int, str | None]:
    stable = evidence[evidence["stability_ari"] >= STABILITY_THRESHOLD]
    if not stable.empty and stable["silhouette"].notna().any():
        return int(stable.loc[stable["silhouette"].idxmax(), "k"]), None
    if evidence["stability_ari"].notna().any():
        best = evidence.loc[evidence["stability_ari"].idxmax()]
        note = (
            f"no k in {evidence['k'].tolist()} reached a bootstrap stability (mean ARI) of "
            f"{STABILITY_THRESHOLD}; chose the most stable, k={int(best['k'])} "
            f"(ARI {best['stability_ari']:.2f}): treat the segments as tentative"
        )
        return int(best["k"]), note
    best = evidence.loc[evidence["silhouette"].fillna(-np.inf).idxmax()]
    return int(best["k"]), "no bootstrap was run (n_bootstrap=0); chose the best silhouette"


def _canonical(raw: np.ndarray, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A map raw cluster -> segment (largest first, ties by centroid) and the centroids."""
    counts = np.bincount(raw, minlength=k)
    centres = np.zeros((k, x.shape[1]))
    for cluster in range(k):
        if counts[cluster]:
            centres[cluster] = x[raw == cluster].mean(axis=0)
    # lexsort sorts by its last key first: size descending, then centroid coordinates
    keys = [centres[:, j] for j in reversed(range(x.shape[1]))]
    order = np.lexsort([*keys, -counts])
    mapping = np.empty(k, dtype=np.int64)
    mapping[order] = np.arange(k)
    return mapping, centres[order]


def segment(
    features: pd.DataFrame,
    *,
    k: int | Literal["auto"] = "auto",
    k_range: tuple[int, int] = (2, 8),
    method: Method = "kmeans",
    seed: int | None = 7,
    n_bootstrap: int = 10,
    n_init: int = 4,
    families: Sequence[str] = DEFAULT_FAMILIES,
) -> Segmentation:
    """Segment customers on their features, choosing the number of segments if asked.

    Parameters
    ----------
    features
        ``customer_id`` (unique) plus the feature columns, e.g. from
        :func:`cjresearch.analysis.journeys.select_features`. Not modified.
    k
        The number of segments, or ``"auto"`` to choose it from ``k_range``.
    k_range
        ``(low, high)``, inclusive, the numbers of segments tried when ``k="auto"``.
    method
        ``"kmeans"`` (k-means with ``n_init`` starts; MiniBatchKMeans above 100,000
        customers) or ``"gmm"`` (a Gaussian mixture with diagonal covariances and a
        variance floor ``GMM_VARIANCE_FLOOR``; diagonal because the encoded columns are
        many and partly redundant, so full covariances would be near-singular).
    seed
        Seeds every random step (``numpy.random.default_rng(seed)``); the same seed gives
        the same labels.
    n_bootstrap
        Bootstrap resamples per k for the stability index; each one refits the model on a
        resample of the customers (drawn with replacement, at most ``STABILITY_SAMPLE``
        of them), predicts every customer and compares with the reference labels by the
        adjusted Rand index (ARI).
    n_init
        Starts per fit (k-means and Gaussian mixture alike).
    families
        Column-name prefixes that form one block in the :class:`FeatureEncoder`.

    Returns
    -------
    Segmentation
        ``labels``, ``k``, ``evidence`` (columns ``k, silhouette, bic, stability_ari,
        chosen``), ``centroids``, ``encoder``, ``notes`` and ``summary`` (columns
        ``segment, n_customers, share``).

    Notes
    -----
    Choice of k (``k="auto"``): a segmentation is only useful if it is reproducible, so
    first keep the k whose mean bootstrap ARI is at least 0.75 (``STABILITY_THRESHOLD``;
    Hennig's rule of thumb for ``clusterboot`` calls clusters with a bootstrap similarity
    above 0.75 stable); among those, take the k with the highest silhouette (the best
    separated stable solution). If no k is stable, the most stable k is taken and a
    :class:`~cjresearch.errors.StatisticalWarning` says so. The silhouette is computed on
    a seeded sample of at most 5,000 customers.

    The silhouette favours few segments when segments overlap, and k-means on many binary
    and one-hot columns (``reached_*``, missing indicators) splits along them first: the
    default features (:data:`cjresearch.analysis.journeys.DEFAULT_FEATURES`) avoid both. On the
    20,000-customer sample with the default features plus ``age`` and ``plan``, k=5 is
    chosen (silhouette 0.37 against 0.36 at k=4; bootstrap ARI 1.0) and agrees with the
    five planted personas at ARI 0.99 (``tests/analysis/personas/test_segment.py``).

    Raises
    ------
    CJResearchError
        No feature columns, repeated customer ids, fewer customers than ``k`` or than the
        low end of ``k_range``, every feature constant, or invalid settings.

    Warns
    -----
    StatisticalWarning
        ``k_range`` reaches beyond the number of customers (it is cut), or no k is stable.
    """
    features = check_features(features)
    if method not in ("kmeans", "gmm"):
        msg = f'method must be "kmeans" or "gmm", found {method!r}'
        raise CJResearchError(msg)
    if n_bootstrap < 0 or n_init < 1:
        msg = f"n_bootstrap must be >= 0 and n_init >= 1, found {n_bootstrap} and {n_init}"
        raise CJResearchError(msg)
    ids = pd.Index(features["customer_id"])
    if ids.hasnans or not ids.is_unique:
        repeated = ids[ids.duplicated()].unique()[:5].tolist()
        msg = f"features needs one row per customer_id, without blanks; repeated: {repeated}"
        raise CJResearchError(msg)
    candidates = _candidates(k, k_range, len(features))
    encoder = FeatureEncoder(families=families).fit(features)
    x = encoder.transform(features).to_numpy()
    notes = list(encoder.notes_)
    rng = np.random.default_rng(seed)
    rows = []
    fitted: dict[int, tuple[Model, np.ndarray, np.ndarray]] = {}
    for candidate in candidates:
        model, raw, scores, per_cluster = _evaluate(
            x, candidate, method=method, rng=rng, n_init=n_init, n_bootstrap=n_bootstrap
        )
        fitted[candidate] = (model, raw, per_cluster)
        rows.append({"k": candidate, **scores})
    evidence = pd.DataFrame(rows)
    if k == "auto":
        chosen, note = _choose(evidence)
        if note:
            notes.append(note)
            warnings.warn(note, StatisticalWarning, stacklevel=2)
    else:
        chosen = int(k)
    evidence["k"] = evidence["k"].astype(np.int64)
    evidence["chosen"] = evidence["k"] == chosen
    if method == "kmeans":
        notes.append("bic is NaN for k-means (no likelihood); use method='gmm' for a BIC")

    model, raw, per_cluster = fitted[chosen]
    n_found = len(np.unique(raw))
    if n_found < chosen:
        note = f"the model uses only {n_found} of its {chosen} segments (empty segments)"
        notes.append(note)
        warnings.warn(note, StatisticalWarning, stacklevel=2)
    mapping, centres = _canonical(raw, x, chosen)
    labels = pd.Series(mapping[raw], index=ids, name="segment", dtype=np.int64)
    centroids = pd.DataFrame(
        centres, columns=encoder.columns_, index=pd.RangeIndex(chosen, name="segment")
    )
    stability = np.empty(chosen)
    stability[mapping] = per_cluster
    return Segmentation(
        labels=labels,
        k=chosen,
        segment_stability=tuple(float(v) for v in stability),
        method=method,
        seed=seed,
        evidence=evidence,
        centroids=centroids,
        encoder=encoder,
        model=model,
        label_map=tuple(int(m) for m in mapping),
        notes=tuple(notes),
    )


def _candidates(k: int | Literal["auto"], k_range: tuple[int, int], n: int) -> list[int]:
    """The numbers of segments to try on ``n`` customers (checked)."""
    if k != "auto":
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            msg = f'k must be "auto" or a whole number >= 1, found {k!r}'
            raise CJResearchError(msg)
        if n < k:
            msg = f"{n} customers are too few for k={k} segments; lower k"
            raise CJResearchError(msg)
        return [int(k)]
    low, high = k_range
    if not 2 <= low <= high:
        msg = f"k_range must be (low, high) with 2 <= low <= high, found {k_range}"
        raise CJResearchError(msg)
    if n <= low:
        msg = (
            f"{n} customers are too few to try {low} segments (the low end of k_range "
            f"{k_range}); lower k_range or segment more customers"
        )
        raise CJResearchError(msg)
    if high >= n:
        warnings.warn(
            f"k_range {k_range} reaches {high} segments but there are only {n} "
            f"customers; trying k up to {n - 1}",
            StatisticalWarning,
            stacklevel=3,
        )
        high = n - 1
    return list(range(low, high + 1))


def assign(features: pd.DataFrame, segmentation: Segmentation) -> pd.Series:
    """The segment of each customer in ``features`` under a fitted segmentation.

    Parameters
    ----------
    features
        ``customer_id`` plus every feature column the segmentation was fitted on (others
        are ignored). Not modified.
    segmentation
        The result of :func:`segment`.

    Returns
    -------
    pandas.Series
        int64 segments named ``segment``, index ``customer_id`` in the order of ``features``.

    Raises
    ------
    CJResearchError
        ``features`` lacks ``customer_id`` or a feature column (the message names them).
    """
    if not isinstance(features, pd.DataFrame) or "customer_id" not in features.columns:
        found = list(features.columns) if isinstance(features, pd.DataFrame) else features
        msg = f"features must be a DataFrame with a 'customer_id' column; found {found!r}"
        raise CJResearchError(msg)
    x = segmentation.encoder.transform(features).to_numpy()
    raw = segmentation.model.predict(x).astype(np.int64)
    mapping = np.asarray(segmentation.label_map, dtype=np.int64)
    return pd.Series(
        mapping[raw], index=pd.Index(features["customer_id"]), name="segment", dtype=np.int64
    )
