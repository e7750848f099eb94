"""Benchmark: the stage directly-follows graph, cjresearch against pm4py, on one event log.

The log is the sample study's events (about 25 per customer; ``--events`` sets the size:
1 million by default), with plain string columns, handed as the same frame to both:

- ours: :func:`cjresearch.analysis.journeys.stage_transitions` (integer codes, one stable
  sort by customer and time, ``np.bincount`` over the stage pairs);
- pm4py: ``pm4py.discover_dfg`` with ``case_id_key="customer_id"``,
  ``activity_key="stage"``, ``timestamp_key="timestamp"`` (install it with
  ``pip install -e ".[bench]"``).

Both run in this process, one after the other, ``--repeat`` times each (the best is kept);
the script prints wall and CPU time of each and the ratio, and checks that both graphs have
the same edges with the same counts (it exits 1 if they differ). Events at the same second of
one customer would leave the order of their pair to each tool's sort, so the log keeps one
event per customer and second.

    .venv/bin/python bench/dfg.py                 # 1 million events
    .venv/bin/python bench/dfg.py --events 2e5    # quicker
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from cjresearch.analysis.journeys import stage_transitions
from cjresearch.datasets.sample import STAGES, generate_sample


def event_log(n_events: int, seed: int) -> pd.DataFrame:
    """About ``n_events`` events of the sample study, as plain strings and timestamps."""
    events = generate_sample(max(n_events // 25, 1), seed=seed).events
    log = pd.DataFrame(
        {
            "customer_id": events["customer_id"].astype("str"),
            "timestamp": events["timestamp"],
            "stage": events["stage"].astype("str"),
        }
    )
    return log.drop_duplicates(["customer_id", "timestamp"]).reset_index(drop=True)


def ours(log: pd.DataFrame) -> dict[tuple[str, str], int]:
    table = stage_transitions(log, stages=STAGES)
    return {
        (str(a), str(b)): int(n)
        for a, b, n in zip(
            table["from_stage"], table["to_stage"], table["n_transitions"], strict=True
        )
    }


def pm4py_dfg(log: pd.DataFrame) -> dict[tuple[str, str], int]:
    import pm4py

    dfg, _, _ = pm4py.discover_dfg(
        log, case_id_key="customer_id", activity_key="stage", timestamp_key="timestamp"
    )
    return {(str(a), str(b)): int(n) for (a, b), n in dfg.items()}


def timed(
    function: Callable[[pd.DataFrame], Any], log: pd.DataFrame, repeat: int
) -> tuple[Any, float, float]:
    """The result and the best wall and CPU seconds of ``repeat`` runs."""
    best_wall = best_cpu = float("inf")
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(log.copy())
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return result, best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=1e6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import pm4py

    log = event_log(int(args.events), args.seed)
    print(
        f"log: {len(log):,} events of {log['customer_id'].nunique():,} customers, "
        f"{len(STAGES)} stages; pm4py {pm4py.__version__}, pandas {pd.__version__}"
    )
    print(f"load average before: {'  '.join(f'{x:.2f}' for x in os.getloadavg())}")
    mine, wall_ours, cpu_ours = timed(ours, log, args.repeat)
    theirs, wall_pm4py, cpu_pm4py = timed(pm4py_dfg, log, args.repeat)
    print(f"{'':<12} {'wall s':>8} {'CPU s':>8}")
    print(f"{'cjresearch':<12} {wall_ours:>8.2f} {cpu_ours:>8.2f}")
    print(f"{'pm4py':<12} {wall_pm4py:>8.2f} {cpu_pm4py:>8.2f}")
    print(
        f"ratio pm4py / cjresearch: {wall_pm4py / wall_ours:.2f}x wall, "
        f"{cpu_pm4py / cpu_ours:.2f}x CPU (best of {args.repeat})"
    )
    print(f"load average after: {'  '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if mine != theirs:
        differ = sorted(set(mine.items()) ^ set(theirs.items()))
        print(f"the graphs differ: {differ[:10]}")
        sys.exit(1)
    print(f"the graphs are equal: {len(mine)} edges, {sum(mine.values()):,} transitions")


if __name__ == "__main__":
    main()
