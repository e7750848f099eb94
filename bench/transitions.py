"""Benchmark: transitions and funnel per persona, cjresearch versus plain pandas groupby.

Generates an event log (default 10 million events, about 25 per customer, 7 stages,
40 touchpoints, 5 personas), then computes in the same run

- ours: ``cjresearch.analysis.journey_map``'s public ``transitions`` (stage and touchpoint
  directly-follows) and ``funnel``, per persona and for all; each prepares the integer codes
  of the log once, so the log is coded twice;
- baseline: the same tables with plain pandas (sort, ``groupby().shift``, ``groupby().agg``
  with ``nunique``, ``drop_duplicates`` and a customer x stage pivot for the funnel),

checks that both give the same counts, and prints both times, the ratio and the peak
memory of each: the rise of the process's peak resident set size during the run (Linux:
the peak is reset through ``/proc/self/clear_refs`` before each run, then read from
``VmHWM``), which counts every allocation including pandas' Arrow-backed strings that
tracemalloc does not see. ``--tracemalloc`` adds a second, traced run of each.

    .venv/bin/python bench/transitions.py               # 10 million events
    .venv/bin/python bench/transitions.py --events 1e6  # quicker
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from cjresearch.analysis.journey_map import funnel, transitions

STAGES = ["awareness", "consideration", "purchase", "onboarding", "usage", "support", "renewal"]
N_TOUCHPOINTS = 40
N_PERSONAS = 5
MIN_GROUP_SIZE = 10


def generate(n_events: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n_customers = max(n_events // 25, 1)
    counts = rng.poisson(24, n_customers) + 1
    counts = np.round(counts * n_events / counts.sum()).astype(np.int64)
    counts[-1] += n_events - counts.sum()
    counts = np.maximum(counts, 1)
    customer = np.repeat(np.arange(n_customers), counts)[:n_events]
    n = len(customer)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    position = np.arange(n) - np.repeat(starts, counts)[:n]
    length = np.repeat(counts, counts)[:n]
    # stages mostly move forward along the journey, with noise (loops and steps back)
    progress = position / np.maximum(length - 1, 1) * (len(STAGES) - 1)
    stage = np.clip(np.round(progress + rng.normal(0, 0.6, n)), 0, len(STAGES) - 1).astype(int)
    touchpoint = stage * (N_TOUCHPOINTS // len(STAGES)) + rng.integers(0, 5, n)
    touchpoint = np.minimum(touchpoint, N_TOUCHPOINTS - 1)
    signup = rng.uniform(0, 365, n_customers)
    # one event a day per customer, at a random time of day: ordered within each customer
    days = np.repeat(signup, counts)[:n] + position + rng.uniform(0, 1, n)
    ids = pd.Index([f"C{i:08d}" for i in range(n_customers)])
    touchpoints = [f"tp_{i:02d}" for i in range(N_TOUCHPOINTS)]
    events = pd.DataFrame(
        {
            "customer_id": pd.Categorical.from_codes(customer, categories=ids),
            "timestamp": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(days, unit="D"),
            "touchpoint": pd.Categorical.from_codes(touchpoint, categories=touchpoints),
            "stage": pd.Categorical.from_codes(
                stage, dtype=pd.CategoricalDtype(STAGES, ordered=True)
            ),
        }
    )
    customers = pd.DataFrame(
        {"customer_id": ids.to_numpy(), "churned": rng.random(n_customers) < 0.3}
    )
    persona = rng.integers(0, N_PERSONAS, n_customers)
    personas = pd.DataFrame(
        {
            "customer_id": ids.to_numpy(),
            "persona_id": persona,
            "persona_name": np.array([f"Persona {i}" for i in range(N_PERSONAS)])[persona],
        }
    )
    return events, customers, personas


def ours(events: pd.DataFrame, customers: pd.DataFrame, personas: pd.DataFrame) -> Any:
    options = {"stages": STAGES, "personas": personas, "min_group_size": MIN_GROUP_SIZE}
    flows = transitions(events, customers, levels=("stage", "touchpoint"), **options)
    return flows, funnel(events, customers, **options)


def baseline(events: pd.DataFrame, customers: pd.DataFrame, personas: pd.DataFrame) -> Any:
    """The straightforward pandas version of the same tables."""
    persona = personas.set_index("customer_id")["persona_name"]
    df = events.assign(
        customer_id=events["customer_id"].astype(str),
        stage=events["stage"].astype(str),
        touchpoint=events["touchpoint"].astype(str),
    )
    df["persona"] = df["customer_id"].map(persona)
    df = df.sort_values(["customer_id", "timestamp"], kind="stable")
    grouped = df.groupby("customer_id", sort=False)
    df["next_stage"] = grouped["stage"].shift(-1)
    df["next_touchpoint"] = grouped["touchpoint"].shift(-1)
    pairs = df[df["next_stage"].notna()]
    tables = []
    for level, keys in (
        ("stage", ["stage", "next_stage"]),
        ("touchpoint", ["stage", "touchpoint", "next_stage", "next_touchpoint"]),
    ):
        for by in (keys, ["persona", *keys]):
            table = (
                pairs.groupby(by)
                .agg(n_transitions=("customer_id", "size"), n_customers=("customer_id", "nunique"))
                .reset_index()
            )
            table["level"] = level
            tables.append(table)
    flows = pd.concat(tables, ignore_index=True)
    order = {s: i for i, s in enumerate(STAGES)}
    a, b = flows["stage"].map(order), flows["next_stage"].map(order)
    flows["kind"] = np.select([b > a, b < a], ["forward", "backward"], "loop")
    flows["suppressed"] = flows["n_customers"] < MIN_GROUP_SIZE
    flows.loc[flows["suppressed"], ["n_transitions", "n_customers"]] = np.nan

    reached = df[["customer_id", "persona", "stage"]].drop_duplicates()
    flags = (
        pd.crosstab(reached["customer_id"], reached["stage"]).reindex(columns=STAGES, fill_value=0)
        > 0
    )
    flags["persona"] = flags.index.map(persona)
    rows = []
    for label, group in [("all", flags), *flags.groupby("persona")]:
        for i, stage in enumerate(STAGES):
            n = int(group[stage].sum())
            both = int((group[STAGES[i - 1]] & group[stage]).sum()) if i else np.nan
            prior = int(group[STAGES[i - 1]].sum()) if i else np.nan
            rows.append(
                {"persona": label, "stage": stage, "n_customers": n, "n_from_previous": both,
                 "conversion": both / prior if i else np.nan}
            )  # fmt: skip
    return flows, pd.DataFrame(rows)


def _status(field: str) -> float:
    """A /proc/self/status memory field in MB (NaN where there is no /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """Seconds, peak RSS rise in MB (NaN if unavailable) and the result."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")  # reset VmHWM (peak RSS) to the current RSS
        before = _status("VmRSS")
    except OSError:
        before = float("nan")
    start = time.perf_counter()
    out = fn(*args)
    seconds = time.perf_counter() - start
    return seconds, _status("VmHWM") - before, out


def peak_mb(fn: Callable[..., Any], *args: Any) -> float:
    tracemalloc.start()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def check(ours_out: Any, base_out: Any) -> None:
    flows, funnel = ours_out
    base_flows, base_funnel = base_out
    mine = flows[(flows["persona"] == "all") & (flows["level"] == "stage")]
    theirs = base_flows[(base_flows["level"] == "stage") & base_flows["persona"].isna()]
    left = mine.assign(
        stage=mine["from_stage"].astype(str), next_stage=mine["to_stage"].astype(str)
    )
    joined = left[["stage", "next_stage", "n_transitions", "n_customers"]].merge(
        theirs[["stage", "next_stage", "n_transitions", "n_customers"]],
        on=["stage", "next_stage"],
        suffixes=("", "_base"),
    )
    assert len(joined) == len(mine) == len(theirs)
    assert np.allclose(joined["n_transitions"], joined["n_transitions_base"], equal_nan=True)
    assert np.allclose(joined["n_customers"], joined["n_customers_base"], equal_nan=True)
    # touchpoint level: every pair ours shows has the baseline's counts (ours also hides a
    # few extra cells, the secondary suppression across personas)
    tp = flows[(flows["persona"] == "all") & (flows["level"] == "touchpoint")]
    tp = tp[tp["n_transitions"].notna()]
    keys = ["stage", "touchpoint", "next_stage", "next_touchpoint"]
    mine_tp = pd.DataFrame(
        {
            "stage": tp["from_stage"].astype(str).to_numpy(),
            "touchpoint": tp["from_touchpoint"].astype(str).to_numpy(),
            "next_stage": tp["to_stage"].astype(str).to_numpy(),
            "next_touchpoint": tp["to_touchpoint"].astype(str).to_numpy(),
            "n_transitions": tp["n_transitions"].to_numpy(),
            "n_customers": tp["n_customers"].to_numpy(),
        }
    )
    base_tp = base_flows[(base_flows["level"] == "touchpoint") & base_flows["persona"].isna()]
    both = mine_tp.merge(base_tp[[*keys, "n_transitions", "n_customers"]], on=keys,
                         suffixes=("", "_base"))  # fmt: skip
    assert len(both) == len(mine_tp) > 0
    assert (both["n_transitions"] == both["n_transitions_base"]).all()
    assert (both["n_customers"] == both["n_customers_base"]).all()
    merged = funnel.assign(stage=funnel["stage"].astype(str)).merge(
        base_funnel, on=["persona", "stage"], suffixes=("", "_base")
    )
    assert len(merged) == len(funnel)
    assert np.allclose(merged["n_customers"], merged["n_customers_base"])
    assert np.allclose(merged["conversion"], merged["conversion_base"], equal_nan=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=float, default=10_000_000, help="number of events")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace Python allocations (slower)"
    )
    args = parser.parse_args()
    n_events = int(args.events)

    start = time.perf_counter()
    events, customers, personas = generate(n_events, args.seed)
    print(
        f"generated {len(events):,} events of {len(customers):,} customers, {len(STAGES)} "
        f"stages, {N_TOUCHPOINTS} touchpoints, {N_PERSONAS} personas "
        f"in {time.perf_counter() - start:.1f} s"
    )
    t_ours, mem_ours, out_ours = timed(ours, events, customers, personas)
    print(f"cjresearch.analysis.journey_map   {t_ours:8.2f} s   peak RSS +{mem_ours:,.0f} MB")
    t_base, mem_base, out_base = timed(baseline, events, customers, personas)
    print(f"plain pandas groupby     {t_base:8.2f} s   peak RSS +{mem_base:,.0f} MB")
    check(out_ours, out_base)
    print("results agree (stage and touchpoint transitions of all, funnel of every persona)")
    print(
        f"ratio (baseline / ours)  {t_base / t_ours:8.1f}x time, {mem_base / mem_ours:.1f}x memory"
    )
    if args.tracemalloc:
        del out_ours, out_base
        m_ours = peak_mb(ours, events, customers, personas)
        m_base = peak_mb(baseline, events, customers, personas)
        print(f"peak traced memory: ours {m_ours:,.0f} MB, baseline {m_base:,.0f} MB "
              f"(ratio {m_base / m_ours:.1f}x)")  # fmt: skip
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max resident set size of the whole run: {rss:,.0f} MB")


if __name__ == "__main__":
    main()
