"""Benchmark: one completed data set of the joint model's multiple imputation.

``cjresearch.analysis.stats._impute.impute`` against the draw it replaced, kept here as the
baseline: that one copied the resampled rows for every column update (``x[boot]``, then a
fresh ``column_stack`` of the matrix without the column), sorted the resample's fitted
values with every copy, and looked up each missing row's donors in input order. Ours holds
the bootstrap sample as counts (a weighted fit, no row copied), imputes in place, and looks
the donors up in sorted order. Both run in this process on the same matrix and seed (rows
of a stage model: the outcome, two emotions with 40% and 50% missing, one observed, six
three-valued controls), alternately, best of ``--repeats``; the CPU time of each, the ratio,
and the share of imputed cells that are the same in both (the random draws are the same
ones; only the order of tied fitted values differs, so on continuous data it is 1.0) are
printed, with the load average.

    .venv/bin/python bench/impute.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from cjresearch.analysis.stats import impute

# the settings of the draw, as in cjresearch.analysis.stats._impute
CYCLES, DONORS, RIDGE = 10, 5, 1e-5


def baseline_impute(
    data: np.ndarray, missing: np.ndarray, applicable: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The imputation before the change (same draws, same model, rows copied)."""
    out = np.array(data, dtype=float, copy=True)
    targets = [j for j in range(out.shape[1]) if missing[:, j].any()]
    for j in targets:
        observed = out[applicable[:, j] & ~missing[:, j], j]
        out[missing[:, j], j] = rng.choice(observed, int(missing[:, j].sum()))
    for _ in range(CYCLES):
        for j in targets:
            fit_rows = applicable[:, j] & ~missing[:, j]
            x = np.column_stack([np.ones(len(out)), np.delete(out, j, axis=1)])
            out[missing[:, j], j] = _baseline_draw(
                x[fit_rows], out[fit_rows, j], x[missing[:, j]], rng
            )
    return out


def _baseline_draw(
    x: np.ndarray, y: np.ndarray, x_missing: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    boot = rng.integers(0, len(y), len(y))
    x, y = x[boot], y[boot]
    varies = np.ptp(x, axis=0) > 0
    varies[0] = True
    x, x_missing = x[:, varies], x_missing[:, varies]
    gram = x.T @ x
    gram += RIDGE * np.diag(np.maximum(np.diag(gram), 1.0))
    beta = np.linalg.solve(gram, x.T @ y)
    fitted, wanted = x @ beta, x_missing @ beta
    order = np.argsort(fitted, kind="stable")
    ranked = fitted[order]
    n, k = len(fitted), min(DONORS, len(fitted))
    at = np.searchsorted(ranked, wanted)
    first = np.clip(at - k, 0, max(n - 2 * k, 0))
    window = np.minimum(first[:, None] + np.arange(2 * k)[None, :], n - 1)
    radius = np.sort(np.abs(ranked[window] - wanted[:, None]), axis=1)[:, k - 1]
    slack = radius * (1 + 1e-9) + 1e-12
    low = np.searchsorted(ranked, wanted - slack, side="left")
    high = np.searchsorted(ranked, wanted + slack, side="right")
    pick = low + np.floor(rng.random(len(wanted)) * np.maximum(high - low, 1)).astype(int)
    return y[order[np.clip(pick, 0, n - 1)]]


def stage_matrix(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stage model's matrix with its missing and applicable cells."""
    rng = np.random.default_rng(seed)
    churned = (rng.random(rows) < 0.3).astype(float)
    first = rng.normal(size=rows) + churned
    second = rng.normal(size=rows) + 0.5 * first
    data = np.column_stack(
        [churned, first, second, rng.normal(size=rows), rng.integers(0, 3, (rows, 6))]
    ).astype(float)
    missing = np.zeros(data.shape, dtype=bool)
    missing[:, 1] = rng.random(rows) < 0.4
    missing[:, 2] = rng.random(rows) < 0.5
    applicable = np.ones(data.shape, dtype=bool)
    applicable[:, 2] = rng.random(rows) < 0.8  # the second stage reached by 80%
    data[missing] = np.nan
    return data, missing, applicable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    data, missing, applicable = stage_matrix(args.rows, seed=5)
    best = {"baseline": float("inf"), "cjresearch": float("inf")}
    completed = {}
    for _ in range(args.repeats):
        for name, run in (("baseline", baseline_impute), ("cjresearch", impute)):
            started = time.process_time()
            completed[name] = run(data, missing, applicable, np.random.default_rng(1))
            best[name] = min(best[name], time.process_time() - started)
    same = float(np.mean(completed["baseline"][missing] == completed["cjresearch"][missing]))
    print(f"rows {args.rows:,}, {int(missing.sum()):,} cells imputed, {CYCLES} cycles")
    for name, seconds in best.items():
        print(f"  {name:<11} {seconds:8.2f} s CPU (best of {args.repeats})")
    print(f"  ratio baseline / cjresearch: {best['baseline'] / best['cjresearch']:.2f}x")
    print(f"  imputed cells the same in both: {same:.4f}")
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
