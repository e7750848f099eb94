"""Segmentation at scale: 1,000,000 generated customers, fixed k and auto-k.

Run:  .venv/bin/python bench/personas.py [--customers 1000000] [--k 5] [--no-auto]

The features are generated directly (the columns of the default feature set plus ``age``
and ``plan``, five planted segments), so the benchmark measures segmentation, not the
sample generator. In one process run it times:

- baseline: scikit-learn's full-batch ``KMeans`` (same starts) on the same encoded matrix,
  i.e. what a hand-written pipeline would call;
- ours, fixed k: ``cjresearch.analysis.personas.segment.segment(k=...)`` (encoder +
  MiniBatchKMeans above 100,000 customers + a bootstrap stability estimate on resamples of
  10,000), and the same without the bootstrap (``n_bootstrap=0``) to show what stability costs;
- ours, auto-k: ``segment(k="auto")`` over ``k_range`` (2, 8).

It prints wall time, peak traced memory (tracemalloc: Python and NumPy allocations) and the
process's peak resident memory, the ratio baseline / ours, and the adjusted Rand index of
each result against the planted segments. Targets (issue 3): fixed k under 60 s and 4 GB on
a 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from cjresearch.analysis.personas.encoding import FeatureEncoder
from cjresearch.analysis.personas.segment import segment

CHANNELS = ("app", "email", "phone", "social", "store", "web")


def generate(n: int, *, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Features of ``n`` customers in five planted segments, and the planted segment."""
    rng = np.random.default_rng(seed)
    mixes = np.array(
        [
            [0.70, 0.02, 0.01, 0.20, 0.01, 0.06],
            [0.02, 0.15, 0.75, 0.01, 0.05, 0.02],
            [0.06, 0.30, 0.02, 0.08, 0.01, 0.53],
            [0.10, 0.60, 0.03, 0.02, 0.05, 0.20],
            [0.02, 0.12, 0.05, 0.01, 0.75, 0.05],
        ]
    )
    ages = np.array([27, 63, 38, 46, 53])
    plans = np.array(
        [[0.5, 0.4, 0.1], [0.3, 0.6, 0.1], [0.8, 0.2, 0.0], [0.0, 0.2, 0.8], [0.2, 0.7, 0.1]]
    )
    segment_of = rng.choice(5, size=n, p=[0.3, 0.2, 0.2, 0.15, 0.15])
    n_events = 5 + rng.poisson(20, size=n)
    counts = np.stack(
        [rng.binomial(n_events, mixes[segment_of, j]) for j in range(len(CHANNELS))], axis=1
    )
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    cumulative = np.cumsum(plans[segment_of], axis=1)
    plan = np.array(["basic", "standard", "premium"])[
        np.minimum((rng.random(n)[:, None] > cumulative).sum(axis=1), 2)
    ]
    frame = pd.DataFrame(
        {
            "customer_id": pd.Categorical([f"C{i:08d}" for i in range(n)]),
            **{f"channel_share_{c}": shares[:, j] for j, c in enumerate(CHANNELS)},
            "n_touchpoints": np.minimum(n_events, 3 + rng.poisson(6, size=n)),
            "events_per_30_days": rng.gamma(4, 0.5 + 0.3 * segment_of),
            "age": np.clip(ages[segment_of] + rng.normal(0, 6, size=n), 18, 90).round(),
            "plan": pd.Categorical(plan),
        }
    )
    return frame, segment_of


def measure(label: str, action: Callable[[], Any]) -> tuple[Any, float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**30
    tracemalloc.stop()
    print(f"{label:<34} {seconds:8.1f} s   peak traced {peak:5.2f} GB")
    return result, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--no-auto", action="store_true", help="skip the auto-k run")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    features, planted = measure(
        f"generate {args.customers:,} customers", lambda: generate(args.customers)
    )[0]

    def baseline() -> np.ndarray:
        x = FeatureEncoder().fit_transform(features).to_numpy()
        return KMeans(n_clusters=args.k, n_init=4, random_state=7).fit_predict(x)

    base_labels, base_s, _ = measure(f"baseline: sklearn KMeans, k={args.k}", baseline)
    fixed, fixed_s, fixed_gb = measure(
        f"ours: segment(k={args.k})", lambda: segment(features, k=args.k, seed=7)
    )
    _, lean_s, _ = measure(
        f"ours: segment(k={args.k}, n_bootstrap=0)",
        lambda: segment(features, k=args.k, seed=7, n_bootstrap=0),
    )
    print(f"ratio baseline / ours (fixed k, with stability bootstrap): {base_s / fixed_s:.2f}x")
    print(f"ratio baseline / ours (fixed k, no bootstrap): {base_s / lean_s:.2f}x")
    print(
        f"ARI vs planted: baseline {adjusted_rand_score(planted, base_labels):.3f}, "
        f"ours {adjusted_rand_score(planted, fixed.labels):.3f}"
    )
    target = "met" if fixed_s < 60 and fixed_gb < 4 else "NOT met"
    print(f"target fixed k < 60 s and < 4 GB: {target}")
    if not args.no_auto:
        auto, _, _ = measure('ours: segment(k="auto", 2..8)', lambda: segment(features, seed=7))
        ari = adjusted_rand_score(planted, auto.labels)
        print(f"auto-k chose k={auto.k}; ARI vs planted {ari:.3f}")
        print(auto.evidence.round(3).to_string(index=False))
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"process peak resident memory: {peak_rss:.2f} GB")


if __name__ == "__main__":
    main()
