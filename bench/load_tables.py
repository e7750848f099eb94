"""Benchmark: ``load_tables`` (read, validate, drop, order the study's tables) per engine.

Runs ``cjresearch.data.tables.load_tables`` on one study with ``[data] engine = "pandas"``
(the reference path) and ``"duckdb"`` (the default), each in a fresh child process started
in turn by this run, checks that both give the same tables (row counts, drop counts and
the events' order), and prints per engine the wall time, the CPU time (user + system of
the child, every thread included: DuckDB is multi-threaded), the peak resident set size of
the child and its rise over the child's resident set after imports, then the ratios
pandas / duckdb. The load average of the machine is printed before and after.

    .venv/bin/cjresearch sample /tmp/s200k --customers 200000 --format parquet
    .venv/bin/python bench/load_tables.py /tmp/s200k
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ENGINES = ("pandas", "duckdb")


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(study_dir: str, engine: str) -> None:
    """Load the tables once on one engine; print a JSON line of the measurements."""
    import hashlib

    from cjresearch.data.study import load_study
    from cjresearch.data.tables import load_tables

    study = load_study(study_dir)
    study = study.model_copy(update={"data": study.data.model_copy(update={"engine": engine})})
    base = _rss_mb()
    start_wall, start_cpu = time.perf_counter(), os.times()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = load_tables(study)
    end_cpu, end_wall = os.times(), time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ids = tables.events["customer_id"].to_numpy(dtype=str)
    order = hashlib.sha256("\n".join(ids[:: max(len(ids) // 100_000, 1)]).encode()).hexdigest()
    result = {
        "engine": engine,
        "wall_s": end_wall - start_wall,
        "cpu_s": (end_cpu.user - start_cpu.user) + (end_cpu.system - start_cpu.system),
        "peak_mb": peak,
        "rise_mb": peak - base,
        "events": len(tables.events),
        "customers": len(tables.customers),
        "drops": [[d.table, d.reason, d.n_rows] for d in tables.drops],
        "order": order,
    }
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", help="a study folder (e.g. from `cjresearch sample`)")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.study, args.child)
        return
    print(f"load average before: {os.getloadavg()}")
    results = {}
    for engine in ENGINES:
        out = subprocess.run(
            [sys.executable, __file__, args.study, "--child", engine],
            check=True,
            capture_output=True,
            text=True,
        )
        results[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"load average after: {os.getloadavg()}")
    pandas, duckdb = results["pandas"], results["duckdb"]
    for key in ("events", "customers", "drops", "order"):
        if pandas[key] != duckdb[key]:
            msg = f"the engines disagree on {key}: {pandas[key]} != {duckdb[key]}"
            raise SystemExit(msg)
    print(
        f"{Path(args.study).name}: {duckdb['customers']:,} customers, {duckdb['events']:,} events"
    )
    print(f"{'engine':<8} {'wall s':>8} {'CPU s':>8} {'peak MB':>9} {'rise MB':>9}")
    for engine in ENGINES:
        r = results[engine]
        print(
            f"{engine:<8} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} "
            f"{r['peak_mb']:9.0f} {r['rise_mb']:9.0f}"
        )
    print(
        f"ratio pandas/duckdb: wall {pandas['wall_s'] / duckdb['wall_s']:.2f}x, "
        f"CPU {pandas['cpu_s'] / duckdb['cpu_s']:.2f}x, "
        f"peak {pandas['peak_mb'] / duckdb['peak_mb']:.2f}x"
    )


if __name__ == "__main__":
    main()
