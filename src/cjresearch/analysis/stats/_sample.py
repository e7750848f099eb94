"""The customers the models are fitted on: all of them, or above a configured size a seeded
stratified sample (not API; :func:`cjresearch.analysis.stats.analyse` uses it).

Strata are churn (churned or not) crossed with persona (customers without one form their
own). Every stratum is sampled at the same rate, ``max_model_customers / n`` (proportional
allocation, rounded by largest remainders so the sample has exactly that many customers,
at least one per stratum). The inverse-probability weight of a sampled customer is
``N_h / n_h`` for their stratum ``h``; with one rate for all strata these weights are equal
up to the rounding, so the sample is *self-weighting*: an unweighted fit on it (the logistic
models, the joint model, the Cox model, the Kaplan-Meier curves alike) estimates what the fit
on every customer estimates, with intervals as wide as the sample's size allows. Stratifying
on churn and persona keeps the mix of churners within every persona exactly that of the
study, which a simple random sample would only approximate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ModelSample", "model_sample"]


@dataclass(frozen=True)
class ModelSample:
    """The sampled customers (positions into the customers table, in its order), each one's
    inverse-probability weight, and the sentence that states the sampling."""

    rows: np.ndarray
    weights: np.ndarray
    note: str


def _strata(customers: pd.DataFrame, personas: pd.DataFrame | None) -> np.ndarray:
    """Each customer's stratum code: churned x persona (no persona: a stratum of its own)."""
    churned = customers["churned"].to_numpy(dtype=bool).astype(np.int64)
    if personas is None or not len(personas):
        return churned
    persona = personas.drop_duplicates("customer_id").set_index("customer_id")["persona_id"]
    code = pd.factorize(persona.reindex(customers["customer_id"].to_numpy()), use_na_sentinel=False)
    return code[0].astype(np.int64) * 2 + churned


def _quotas(sizes: np.ndarray, total: int) -> np.ndarray:
    """Proportional allocation of ``total`` over strata of ``sizes`` (largest remainders;
    ties to the earlier stratum), at least one per non-empty stratum."""
    exact = sizes * (total / sizes.sum())
    quota = np.floor(exact).astype(np.int64)
    short = total - int(quota.sum())
    if short > 0:
        order = np.lexsort((np.arange(len(sizes)), -(exact - quota)))
        quota[order[:short]] += 1
    return np.minimum(np.maximum(quota, (sizes > 0).astype(np.int64)), sizes)


def model_sample(
    customers: pd.DataFrame,
    personas: pd.DataFrame | None,
    *,
    limit: int,
    seed: int,
) -> ModelSample | None:
    """The stratified sample of at most about ``limit`` customers, or None when the study has
    no more than ``limit`` (the models then use every customer).

    Returns
    -------
    ModelSample or None
        ``rows`` (sorted positions), ``weights`` (``N_h / n_h``, one per sampled row) and
        ``note`` (a plain sentence for the reports).
    """
    n = len(customers)
    if n <= limit:
        return None
    stratum = _strata(customers, personas)
    sizes = np.bincount(stratum)
    quota = _quotas(sizes, limit)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), n]))
    order = np.lexsort((rng.random(n), stratum))  # customers in random order within strata
    start = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - start[stratum[order]]
    rows = np.flatnonzero(rank < quota[stratum])
    weights = sizes[stratum[rows]] / quota[stratum[rows]]
    note = (
        f"The emotion -> churn models were fitted on a seeded stratified sample of "
        f"{len(rows):,} of the {n:,} customers (more than [statistics] max_model_customers = "
        f"{limit:,}): every churn x persona group sampled at the same rate "
        f"({len(rows) / n:.1%}), so each sampled customer stands for about "
        f"{float(np.median(weights)):,.1f} (weights {weights.min():,.2f} to {weights.max():,.2f}; "
        "equal up to rounding, so the models are fitted unweighted on the sample). Counts in "
        "the model tables are the sample's; the personas, journey maps and KPIs use everyone."
    )
    return ModelSample(rows=rows, weights=weights, note=note)
