"""Speed of cjresearch.analysis.stats: the Cox solver against statsmodels PHReg, analyse() by size.

Usage: ``python bench/stats_speed.py [--rows 30000] [--sizes 20000 200000 1000000]``

1. The same start/stop data (continuous times, so few ties) fitted by statsmodels ``PHReg``
   (Efron, entry nudged to the (start, stop] convention) and by the package's own solver
   (``cjresearch.analysis.stats.fit_cox``); prints both times, the ratio and
   the largest coefficient difference.
2. ``analyse`` on a generated scenario study
   (:func:`cjresearch.datasets.scenarios.generate_scenario`: three stages, two random
   personas, a planted landmark effect with 40% non-response, so the joint model imputes)
   at each size.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from statsmodels.duration.hazard_regression import PHReg

from cjresearch.analysis.emotion import emotion_observations
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import analyse, fit_cox, stage_reach
from cjresearch.datasets.scenarios import SCENARIO_STAGES, Scenario, generate_scenario
from cjresearch.errors import StatisticalWarning

SCENARIO = Scenario("landmark-effect", mechanism="landmark", onboarding_log_odds=-1.0, response=0.6)


def cox_versus_phreg(rows: int) -> None:
    rng = np.random.default_rng(2)
    entry = rng.uniform(0, 50, rows)
    x = rng.normal(size=(rows, 4))
    stop = entry + rng.exponential(300 * np.exp(-0.3 * x[:, 0]))
    status = (rng.random(rows) < 0.4).astype(int)
    started = time.perf_counter()
    reference = PHReg(stop, x, status=status, entry=np.nextafter(entry, np.inf), ties="efron").fit()
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    ours = fit_cox(entry, stop, status, x)
    elapsed = time.perf_counter() - started
    gap = np.max(np.abs(ours.params - reference.params))
    print(
        f"Cox, {rows:,} start/stop rows, {int(status.sum()):,} events: PHReg {baseline:.2f} s, "
        f"fit_cox {elapsed:.2f} s, ratio {baseline / elapsed:.1f}x, max |coef diff| {gap:.1e}"
    )


def analyse_by_size(sizes: list[int]) -> None:
    warnings.simplefilter("ignore", StatisticalWarning)
    settings = Settings(stages=SCENARIO_STAGES, controls=("plan",))
    for n in sizes:
        study = generate_scenario(n, SCENARIO, seed=n)
        observations = emotion_observations(study.events, None)
        started = time.perf_counter()
        result = analyse(
            study.customers,
            observations,
            reach=stage_reach(study.events),
            personas=study.personas,
            observation_end=study.observation_end,
            settings=settings,
        )
        elapsed = time.perf_counter() - started
        print(
            f"analyse, {n:,} customers, {len(observations):,} observations, "
            f"{len(SCENARIO_STAGES)} stages x 3 groups: {elapsed:.1f} s "
            f"({len(result.findings)} findings)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    args = parser.parse_args()
    cox_versus_phreg(args.rows)
    analyse_by_size(args.sizes)


if __name__ == "__main__":
    main()
