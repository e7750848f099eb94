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
from scipy import stats
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

# FeatureEncoder is imported here too: models saved before it moved unpickle through this name.
from cjresearch.analysis.personas._html import fitted_html
from cjresearch.analysis.personas.encoding import DEFAULT_FAMILIES, FeatureEncoder, check_features
from cjresearch.errors import CJResearchError, StatisticalWarning

__all__ = [
    "EVIDENCE_COLUMNS",
    "ONE_PERSONA",
    "Segmentation",
    "assign",
    "one_population",
    "one_population_test",
    "segment",
]


#: Above this many customers k-means is fitted as MiniBatchKMeans.
MINIBATCH_ABOVE = 100_000
#: Silhouettes are computed on a seeded sample of at most this many customers.
SILHOUETTE_SAMPLE = 5_000
#: Bootstrap resamples for the stability index hold at most this many customers (drawn with
#: replacement); every customer is then predicted and compared. Keeps auto-k affordable on
#: large studies: the stability of a partition is judged by refits on 10,000 customers.
STABILITY_SAMPLE = 10_000
#: Above this many customers the candidate k are fitted and scored on a seeded sample of this
#: many (the study's ``[personas] search_sample``); the chosen k is then fitted on everyone.
SEARCH_SAMPLE = 50_000
#: Threads of the BLAS / OpenMP pools during the search. Its kernels are small (a few
#: thousand rows by a dozen columns, many times over): with the default threads on a busy
#: 2-core machine a 20,000-customer auto-k took 29.8 s of CPU against 5.6 s on one thread.
SEARCH_THREADS = 1
#: A k whose mean bootstrap ARI reaches this is "stable" (see :func:`segment`).
STABILITY_THRESHOLD = 0.75
#: ... and each of whose segments keeps at least this mean bootstrap Jaccard similarity
#: (Hennig: below 0.6 a cluster's membership is "highly doubtful").
MIN_SEGMENT_STABILITY = 0.6
#: Draws of the one-population null behind ``null_p_value`` (a Monte Carlo test at 0.05
#: needs 19: the observed statistic must be below every draw).
NULL_DRAWS = 19
#: The level at which a clustering must beat one population for personas to exist.
NULL_ALPHA = 0.05
#: The name of the one persona when no persona structure is found.
ONE_PERSONA = "All customers"

#: Added to every Gaussian-mixture variance. The encoded columns have variances between
#: about 0.02 and 1; without a floor a component collapses onto one value of a binary or
#: one-hot column, where the likelihood is unbounded (sklearn's default is 1e-6).
GMM_VARIANCE_FLOOR = 1e-3


#: The columns of the evidence for k (``persona_k_evidence.csv``).
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "k",
    "silhouette",
    "bic",
    "stability_ari",
    "chosen",
    "min_segment_stability",
    "within_ss_ratio",
    "null_p_value",
)

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
        One row per k tried: ``k, silhouette, bic, stability_ari, chosen,
        min_segment_stability, within_ss_ratio, null_p_value`` (``bic`` is the Gaussian
        mixture's BIC for ``method="gmm"`` and NaN for k-means; the last two only for the k
        tested against one population; with ``k="auto"`` a row for ``k = 1``).
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


def _model(
    method: str, k: int, n: int, seed: int, n_init: int, start: Model | None = None
) -> Model:
    """A model of ``k`` segments for ``n`` customers; with ``start`` (a fitted model of the
    same k), one run started from its centres, so raw cluster ``i`` stays cluster ``i``."""
    if method == "gmm":
        means = {} if start is None else {"means_init": start.means_, "n_init": 1}
        return GaussianMixture(
            n_components=k,
            covariance_type="diag",
            reg_covar=GMM_VARIANCE_FLOOR,
            n_init=n_init,
            random_state=seed,
            **means,
        )
    init = {} if start is None else {"init": start.cluster_centers_, "n_init": 1}
    options = {"n_init": n_init, **init}
    if n > MINIBATCH_ABOVE:
        return MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, **options)
    return KMeans(n_clusters=k, random_state=seed, **options)


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
    """The stable k with the best silhouette, or 1 (with a note) when no k is stable."""
    if evidence["stability_ari"].isna().all():
        best = evidence.loc[evidence["silhouette"].fillna(-np.inf).idxmax()]
        return int(best["k"]), "no bootstrap was run (n_bootstrap=0); chose the best silhouette"
    stable = evidence[
        (evidence["stability_ari"] >= STABILITY_THRESHOLD)
        & (evidence["min_segment_stability"] >= MIN_SEGMENT_STABILITY)
    ]
    if not stable.empty and stable["silhouette"].notna().any():
        return int(stable.loc[stable["silhouette"].idxmax(), "k"]), None
    best = evidence.loc[evidence["stability_ari"].idxmax()]
    note = (
        f"no persona structure found: no k in {evidence['k'].tolist()} is stable (a mean "
        f"bootstrap ARI of at least {STABILITY_THRESHOLD} and every segment's Jaccard "
        f"stability at least {MIN_SEGMENT_STABILITY}; the most stable, k={int(best['k'])}, "
        f"has ARI {best['stability_ari']:.2f} and a segment at "
        f"{best['min_segment_stability']:.2f}), so all customers are one persona"
    )
    return 1, note


def _within_ratio(x: np.ndarray, labels: np.ndarray) -> float:
    """Within-cluster sum of squares over the total: how much a partition explains."""
    total = float(((x - x.mean(axis=0)) ** 2).sum())
    if total <= 0:
        return 1.0
    within = 0.0
    for cluster in np.unique(labels):
        part = x[labels == cluster]
        within += float(((part - part.mean(axis=0)) ** 2).sum())
    return within / total


def one_population(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A draw of one population like ``x``: a single Gaussian copula with ``x``'s rank
    correlations and each column's own distribution (the empirical marginals, so counts stay
    counts and binary columns binary), with no mixture of groups in it."""
    n, d = x.shape
    ranks = np.argsort(np.argsort(x, axis=0, kind="stable"), axis=0, kind="stable")
    scores = stats.norm.ppf((ranks + 0.5) / n)
    corr = np.atleast_2d(np.corrcoef(scores, rowvar=False))
    corr = np.where(np.isfinite(corr), corr, np.eye(d))
    z = rng.multivariate_normal(np.zeros(d), corr, size=n, method="svd")
    position = np.clip((stats.norm.cdf(z) * n).astype(np.int64), 0, n - 1)
    ordered = np.sort(x, axis=0)
    return np.take_along_axis(ordered, position, axis=0)


def one_population_test(
    x: np.ndarray, k: int, *, method: str, rng: np.random.Generator, n_init: int
) -> tuple[float, float]:
    """Does a k-segment partition of ``x`` explain more than it would of one population?

    The statistic is the partition's within-cluster sum of squares over the total (lower:
    more structure). The null is one population with the data's own marginal distributions
    and rank correlations (:func:`one_population`; the parametric bootstrap of SigClust, Liu,
    Hayes, Nobel and Marron 2008, JASA 103:1281, with a Gaussian copula in place of their
    Gaussian so that counts, shares and binary columns are not mistaken for clusters), drawn
    :data:`NULL_DRAWS` times at the data's size and partitioned the same way. Returns
    ``(statistic, p)`` with ``p = (1 + draws at or below the statistic) / (1 + draws)``.
    """
    if len(x) > SILHOUETTE_SAMPLE:
        x = x[rng.choice(len(x), SILHOUETTE_SAMPLE, replace=False)]
    observed = _within_ratio(x, _model(method, k, len(x), _seed_from(rng), n_init).fit_predict(x))
    below = 0
    for _ in range(NULL_DRAWS):
        draw = one_population(x, rng)
        labels = _model(method, k, len(draw), _seed_from(rng), n_init).fit_predict(draw)
        below += _within_ratio(draw, labels) <= observed
    return observed, (1 + below) / (1 + NULL_DRAWS)


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
    min_size: int = 1,
    search_sample: int = SEARCH_SAMPLE,
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
    min_size
        Segments with fewer customers are merged into the segment with the nearest centroid
        (the study's ``min_group_size``: a persona that small could not be published).
    search_sample
        Above this many customers, every candidate k is fitted and scored (silhouette,
        bootstrap stability, the one-population test) on a seeded sample of this many
        customers, and the chosen k is then fitted on all of them, started from the
        sample's centres (``[personas] search_sample``; default :data:`SEARCH_SAMPLE`).

    Returns
    -------
    Segmentation
        ``labels``, ``k``, ``evidence`` (columns :data:`EVIDENCE_COLUMNS`), ``centroids``,
        ``encoder``, ``notes`` and ``summary`` (columns ``segment, n_customers, share``).

    Notes
    -----
    Choice of k (``k="auto"``), where one segment is a possible answer:

    1. a segmentation is only useful if it is reproducible, so keep the k whose mean
       bootstrap ARI is at least 0.75 (``STABILITY_THRESHOLD``; Hennig's rule of thumb for
       ``clusterboot`` calls clusters with a bootstrap similarity above 0.75 stable) *and*
       each of whose segments keeps a mean Jaccard similarity of at least 0.6
       (``MIN_SEGMENT_STABILITY``); among those, take the k with the highest silhouette
       (the best separated stable solution). When no k is stable: one segment;
    2. a stable partition is not yet evidence of personas: k-means splits even one
       homogeneous population reproducibly. So the chosen k is tested against one
       population (:func:`one_population_test`, a parametric bootstrap against one
       population with the data's marginal distributions and rank correlations); unless it
       explains clearly more of the variance than it would there (p <= 0.05), one segment:
       "no persona structure found".

    Either way a :class:`~cjresearch.errors.StatisticalWarning` and a note say why, and the
    evidence has a row for k = 1. Then (any k) segments smaller than ``min_size`` are
    merged into their nearest neighbour, so none is ever kept. The silhouette and the test
    use a seeded sample of at most 5,000 customers.

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
    if search_sample < 100:
        msg = f"search_sample must be at least 100 customers, found {search_sample}"
        raise CJResearchError(msg)
    candidates = _candidates(k, k_range, len(features))
    encoder = FeatureEncoder(families=families).fit(features)
    x = encoder.transform(features).to_numpy()
    notes = list(encoder.notes_)
    with threadpool_limits(limits=SEARCH_THREADS):
        chosen, evidence, fitted = _search(
            x,
            k,
            candidates,
            method=method,
            seed=seed,
            n_init=n_init,
            n_bootstrap=n_bootstrap,
            search_sample=search_sample,
            notes=notes,
        )
    model, raw, per_cluster = fitted[chosen]
    return _finish(
        ids, x, chosen, model, raw, per_cluster, encoder, evidence, method, seed, min_size, notes
    )


def _search(
    x: np.ndarray,
    k: int | Literal["auto"],
    candidates: list[int],
    *,
    method: str,
    seed: int | None,
    n_init: int,
    n_bootstrap: int,
    search_sample: int,
    notes: list[str],
) -> tuple[int, pd.DataFrame, dict[int, tuple[Model, np.ndarray, np.ndarray]]]:
    """The chosen k, the evidence and the fitted candidates (model, raw labels of every
    customer, per-cluster stability) of :func:`segment`."""
    rng = np.random.default_rng(seed)
    searched = x
    if len(x) > search_sample:
        sample_rng = np.random.default_rng(np.random.SeedSequence([seed or 0, len(x)]))
        searched = x[np.sort(sample_rng.choice(len(x), search_sample, replace=False))]
        notes.append(
            f"the number of segments was searched on a seeded sample of {search_sample:,} of "
            f"the {len(x):,} customers ([personas] search_sample), then the chosen k was "
            "fitted on all of them"
        )
    rows = []
    fitted: dict[int, tuple[Model, np.ndarray, np.ndarray]] = {}
    for candidate in candidates:
        model, raw, scores, per_cluster = _evaluate(
            searched, candidate, method=method, rng=rng, n_init=n_init, n_bootstrap=n_bootstrap
        )
        fitted[candidate] = (model, raw, per_cluster)
        rows.append({"k": candidate, **scores, "min_segment_stability": _min(per_cluster)})
    evidence = pd.DataFrame(rows)
    evidence["within_ss_ratio"] = np.nan
    evidence["null_p_value"] = np.nan
    if k == "auto":
        chosen, note = _choose(evidence)
        if chosen > 1:
            ratio, p = one_population_test(searched, chosen, method=method, rng=rng, n_init=n_init)
            evidence.loc[evidence["k"] == chosen, ["within_ss_ratio", "null_p_value"]] = (ratio, p)
            if p > NULL_ALPHA:
                note = (
                    f"no persona structure found: the best stable segmentation (k={chosen}) "
                    f"separates the customers no better than one population with their "
                    f"distributions and correlations would (within-segment share of variance "
                    f"{ratio:.2f}, p = {p:.2f} against {NULL_DRAWS} draws), so all customers "
                    "are one persona"
                )
                chosen = 1
        if note:
            notes.append(note)
            warnings.warn(note, StatisticalWarning, stacklevel=3)
        one = {**dict.fromkeys(EVIDENCE_COLUMNS, np.nan), "k": 1, "within_ss_ratio": 1.0}
        evidence = pd.concat([pd.DataFrame([one]), evidence], ignore_index=True)
    else:
        chosen = int(k)
    evidence["k"] = evidence["k"].astype(np.int64)
    evidence["chosen"] = evidence["k"] == chosen
    evidence = evidence[list(EVIDENCE_COLUMNS)]
    if method == "kmeans":
        notes.append("bic is NaN for k-means (no likelihood); use method='gmm' for a BIC")
    if chosen == 1 and chosen not in fitted:
        one_fit = _model(method, 1, len(x), seed or 0, 1).fit(x)
        fitted[1] = (one_fit, np.zeros(len(x), int), np.ones(1))
    elif searched is not x:
        start, _, per_cluster = fitted[chosen]
        model = _model(method, chosen, len(x), seed or 0, 1, start=start).fit(x)
        fitted[chosen] = (model, model.predict(x).astype(np.int64), per_cluster)
    return chosen, evidence, fitted


def _finish(
    ids: pd.Index,
    x: np.ndarray,
    chosen: int,
    model: Model,
    raw: np.ndarray,
    per_cluster: np.ndarray,
    encoder: FeatureEncoder,
    evidence: pd.DataFrame,
    method: str,
    seed: int | None,
    min_size: int,
    notes: list[str],
) -> Segmentation:
    """The :class:`Segmentation` of the chosen model: canonical order, small segments merged."""
    n_found = len(np.unique(raw))
    if n_found < chosen:
        note = f"the model uses only {n_found} of its {chosen} segments (empty segments)"
        notes.append(note)
        warnings.warn(note, StatisticalWarning, stacklevel=3)
    mapping, centres = _canonical(raw, x, chosen)
    stability = np.empty(chosen)
    stability[mapping] = per_cluster
    mapping, centres, stability, merged = _merge_small(mapping, raw, x, stability, min_size)
    if merged:
        notes.append(merged)
        warnings.warn(merged, StatisticalWarning, stacklevel=3)
    segments = len(centres)
    labels = pd.Series(mapping[raw], index=ids, name="segment", dtype=np.int64)
    centroids = pd.DataFrame(
        centres, columns=encoder.columns_, index=pd.RangeIndex(segments, name="segment")
    )
    return Segmentation(
        labels=labels,
        k=segments,
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


def _min(values: np.ndarray) -> float:
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.min()) if len(finite) else float("nan")


def _merge_small(
    mapping: np.ndarray, raw: np.ndarray, x: np.ndarray, stability: np.ndarray, min_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """Segments smaller than ``min_size`` merged, the smallest first, into the segment with
    the nearest centroid; segments renumbered largest first. Returns the new raw-cluster ->
    segment map, the centroids, each segment's stability (a merged segment's: the
    size-weighted mean of its parts') and a note (None when nothing was merged)."""
    mapping = mapping.copy()
    labels = mapping[raw]
    weights = np.bincount(labels, minlength=len(stability)).astype(np.float64)
    stability = stability.astype(np.float64) * weights
    merged = []
    while True:
        present = np.flatnonzero(np.bincount(mapping[raw], minlength=len(mapping)))
        sizes = np.bincount(mapping[raw], minlength=len(mapping))
        small = [s for s in present if sizes[s] < min_size]
        if not small or len(present) < 2:
            break
        victim = min(small, key=lambda s: (sizes[s], s))
        centres = {s: x[mapping[raw] == s].mean(axis=0) for s in present}
        target = min(
            (s for s in present if s != victim),
            key=lambda s: (float(((centres[s] - centres[victim]) ** 2).sum()), s),
        )
        merged.append((int(sizes[victim]), int(victim), int(target)))
        mapping[mapping == victim] = target
        stability[target] += stability[victim]
        weights[target] += weights[victim]
    present = np.flatnonzero(np.bincount(mapping[raw], minlength=len(mapping)))
    sizes = np.bincount(mapping[raw], minlength=len(mapping))[present]
    order = present[np.lexsort((present, -sizes))]
    renumber = np.full(len(mapping), -1, dtype=np.int64)
    renumber[order] = np.arange(len(order))
    new_mapping = renumber[mapping]
    labels = new_mapping[raw]
    centres_out = np.stack([x[labels == s].mean(axis=0) for s in range(len(order))])
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = stability[order] / weights[order]
    if not merged:
        return new_mapping, centres_out, kept, None
    parts = ", ".join(f"{n} customers into their nearest segment" for n, _, _ in merged)
    note = (
        f"segments smaller than min_group_size ({min_size}) are merged, never published on "
        f"their own: {parts}; {len(order)} segments remain"
    )
    return new_mapping, centres_out, kept, note


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
