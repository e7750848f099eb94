"""The per-customer steps of a build at scale, before and after issue 17, in one process run.

Run:  .venv/bin/python bench/customer_steps.py [--customers 200000] [--dir DIR]
          (default DIR: data/raw/customer_steps_N, git-ignored)
          [--steps personas survival cube]

The study is generated with ``cjresearch sample DIR --customers N`` (unless DIR already holds
one) and read, scored and measured once, as a build does. Then each step runs twice on the
same inputs: the code before the change (the old function kept below, patched in for the
run, or the new switch off) and the code now:

- ``personas``: the persona search (``[personas]`` k, k_range and seed of the study) with
  the default threads and every candidate k fitted on all customers, against one thread and
  the candidates scored on a seeded sample of ``search_sample`` (50,000) customers;
- ``survival``: ``time_to_churn`` (start/stop rows and a Cox model per stage and persona)
  with the old risk-set tails, ``np.add.at`` deaths and label look-ups, against now;
- ``cube``: ``build_cube`` with int64 keys through ``np.unique``, against int32 keys and one
  argsort.

Per step it prints CPU time (the process's, all threads), wall time and the ratio old / new,
and checks that both give the same result (the same personas and k; the same
``time_to_churn`` table to 1e-9; the same cube arrays).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from cjresearch.analysis import cube as cube_module
from cjresearch.analysis.personas import segment as segment_module
from cjresearch.analysis.settings import Settings
from cjresearch.analysis.stats import fit_cox, stage_reach, time_to_churn
from cjresearch.analysis.stats import survival as survival_module
from cjresearch.analysis.stats.exposure import with_days
from cjresearch.artifacts import compute
from cjresearch.data.study import load_study
from cjresearch.errors import StatisticalWarning

# --- the code before the change ----------------------------------------------------------


def old_tail(self: Any, values: np.ndarray, order: np.ndarray, first: np.ndarray) -> np.ndarray:
    ordered = values[order]
    cumulative = np.concatenate(
        [np.cumsum(ordered[::-1], axis=0)[::-1], np.zeros((1, *ordered.shape[1:]))], axis=0
    )
    return cumulative[first]


def old_at_deaths(self: Any, values: np.ndarray) -> np.ndarray:
    shape = (len(self.times), *values.shape[1:])
    out = np.zeros(shape)
    np.add.at(out, self.inverse, values[self.event_rows])
    return out


def old_start_stop(
    observations: pd.DataFrame, follow: pd.DataFrame, stage: str, *, lag_days: float = 0.0
) -> pd.DataFrame:
    observations = with_days(observations, "timestamp", "day")
    obs = observations.loc[
        observations["stage"].astype("str") == stage, ["customer_id", "day", "emotion"]
    ]
    obs = obs[obs["emotion"].notna()]
    usable = follow[follow["excluded"] == ""]
    obs = obs[obs["customer_id"].isin(usable.index)]
    info = usable.loc[obs["customer_id"]]
    t = obs["day"].to_numpy(dtype=float) - info["origin_day"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "customer_id": obs["customer_id"].to_numpy(),
            "t": np.maximum(t + float(lag_days), 0.0),
            "emotion": obs["emotion"].to_numpy(dtype=float),
            "end": info["end_days"].to_numpy(dtype=float),
            "event": info["event"].to_numpy(dtype=bool),
        }
    )
    frame = frame[frame["t"] < frame["end"]]
    grouped = frame.groupby(["customer_id", "t"], sort=True, observed=True).agg(
        total=("emotion", "sum"),
        count=("emotion", "size"),
        end=("end", "first"),
        event=("event", "first"),
    )
    grouped = grouped.reset_index()
    by_customer = grouped.groupby("customer_id", sort=False, observed=True)
    running = by_customer["total"].cumsum() / by_customer["count"].cumsum()
    following = by_customer["t"].shift(-1)
    last = following.isna()
    return pd.DataFrame(
        {
            "customer_id": grouped["customer_id"].to_numpy(),
            "start": grouped["t"].to_numpy(dtype=float),
            "stop": following.fillna(grouped["end"]).to_numpy(dtype=float),
            "event": (last & grouped["event"]).to_numpy(dtype=bool),
            "emotion": running.to_numpy(dtype=float),
        }
    )


def old_cox_table(
    customers: pd.DataFrame,
    observations: pd.DataFrame,
    reach: pd.DataFrame,
    follow: pd.DataFrame,
    personas: pd.DataFrame | None,
    settings: Settings,
    *,
    lag_days: float | None = None,
) -> pd.DataFrame:
    s = survival_module
    lag = settings.lag_days if lag_days is None else float(lag_days)
    controls_frame = customers.set_index("customer_id")[list(settings.controls)]
    reach_stage = reach["stage"].astype("str").to_numpy()
    obs_stage = observations["stage"].astype("str").to_numpy()
    said = observations["emotion"].notna().to_numpy()
    out = []
    for stage in settings.stages:
        rows = s.start_stop(observations, follow, stage, lag_days=lag)
        reached = pd.Index(pd.unique(reach["customer_id"].to_numpy()[reach_stage == stage]))
        expressed = pd.Index(
            pd.unique(observations["customer_id"].to_numpy()[(obs_stage == stage) & said])
        )
        for label, ids in s.groups(customers, personas):
            mine = rows if label == s.ALL else rows[rows["customer_id"].isin(ids)]
            counts = {
                "n_reached": int(reached.isin(ids).sum()),
                "n_responded": int(expressed.isin(ids).sum()),
            }
            cell = s.cox_cell(mine, controls_frame, settings, s.follow_flags(follow, ids), counts)
            out.append({"persona": label, "stage": stage, **cell})
    frame = pd.DataFrame(out).assign(
        unit_size=float(settings.unit_size), design=s.LAGGED, lag_days=lag, finding=False
    )
    frame = s.add_q(frame, settings.correction, "Cox per stage x persona")
    frame = s.finish(frame, s.TIME_TO_CHURN_COLUMNS)
    frame["ph_ok"] = frame["ph_ok"].astype("boolean")
    return frame


def old_sorted_cells(
    group: np.ndarray, unit: np.ndarray, period: np.ndarray, n_periods: int
) -> tuple[np.ndarray, ...]:
    n_units = int(unit.max(initial=0)) + 1
    key = (group.astype(np.int64) * n_units + unit) * n_periods + period
    cells, inverse = np.unique(key, return_inverse=True)
    owner = cells // n_periods
    p = cells % n_periods
    new_owner = np.ones(len(cells), dtype=bool)
    new_owner[1:] = owner[1:] != owner[:-1]
    last_of_owner = np.ones(len(cells), dtype=bool)
    last_of_owner[:-1] = owner[1:] != owner[:-1]
    prev = np.where(new_owner, -1, np.concatenate(([-1], p[:-1])))
    nxt = np.where(last_of_owner, n_periods, np.concatenate((p[1:], [n_periods])))
    return owner // n_units, owner % n_units, p, prev, nxt, inverse


def old_window_totals(
    group: np.ndarray, period: np.ndarray, *, n_groups: int, n_periods: int
) -> np.ndarray:
    if len(group) == 0:
        return np.zeros((n_groups, n_periods, n_periods))
    cells, counts = np.unique(group.astype(np.int64) * n_periods + period, return_counts=True)
    g, p = cells // n_periods, cells % n_periods
    zero, last = np.zeros(len(p), dtype=np.int64), np.full(len(p), n_periods - 1)
    rectangles = vars(cube_module)["_rectangles"]
    return rectangles(n_groups, n_periods, g, zero, p, p, last, counts.astype(np.float64))


@contextmanager
def patched(*changes: tuple[object, str, object]):
    """Attributes replaced for the duration of a block (module or class, name, value)."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in changes]
    for owner, name, value in changes:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


# --- measuring ------------------------------------------------------------------------------


def measure(action: Callable[[], Any]) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = action()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def report(step: str, old: tuple[float, float], new: tuple[float, float], same: str) -> None:
    print(
        f"{step:<10} old cpu {old[0]:8.1f} s wall {old[1]:8.1f} s | new cpu {new[0]:8.1f} s "
        f"wall {new[1]:8.1f} s | ratio cpu {old[0] / new[0]:5.2f}x wall {old[1] / new[1]:5.2f}x"
        f" | {same}",
        flush=True,
    )


def study_inputs(folder: Path, n: int) -> dict[str, Any]:
    study_file = folder / "study.toml"
    if not study_file.is_file():
        cli = Path(sys.executable).with_name("cjresearch")
        subprocess.run([str(cli), "sample", str(folder), "--customers", str(n)], check=True)
    study = load_study(study_file)
    settings = Settings.from_study(study)
    tables = compute.load(study)
    felt = compute.emotion(tables, settings)
    features = compute.features(tables, settings, felt.per_stage)
    return {"study": study, "settings": settings, "tables": tables, "felt": felt,
            "features": features}  # fmt: skip


def personas_step(inputs: dict[str, Any]) -> pd.DataFrame:
    study, tables = inputs["study"], inputs["tables"]
    churned = tables.customers.set_index("customer_id")["churned"]

    def run(study: Any) -> Any:
        return compute.personas(study, inputs["features"], churned, study_names=False)

    # the switch off: every candidate k on all customers, default threads
    whole = study.personas.model_copy(update={"search_sample": 10**12})
    before = study.model_copy(update={"personas": whole})
    with patched((segment_module, "SEARCH_THREADS", None)):
        old, *old_t = measure(lambda: run(before))
    new, *new_t = measure(lambda: run(study))
    ari = adjusted_rand_score(old.segmentation.labels, new.segmentation.labels)
    same = f"k {old.segmentation.k} -> {new.segmentation.k}, ARI old vs new {ari:.3f}"
    report("personas", tuple(old_t), tuple(new_t), same)
    return new.assignments()


def survival_step(inputs: dict[str, Any], assignments: pd.DataFrame) -> None:
    tables, settings = inputs["tables"], inputs["settings"]
    reach = stage_reach(tables.events, tables.feedback)

    def run() -> pd.DataFrame:
        return time_to_churn(
            tables.customers,
            inputs["felt"].observations,
            reach=reach,
            personas=assignments,
            observation_end=tables.observation_end,
            settings=settings,
        )

    sums = vars(sys.modules[fit_cox.__module__])["_RiskSums"]
    with patched(
        (sums, "_tail", old_tail),
        (sums, "at_deaths", old_at_deaths),
        (survival_module, "start_stop", old_start_stop),
        (survival_module, "cox_table", old_cox_table),
    ):
        old, *old_t = measure(run)
    new, *new_t = measure(run)
    pd.testing.assert_frame_equal(old, new, check_exact=False, rtol=1e-9, atol=1e-12)
    report("survival", tuple(old_t), tuple(new_t), f"{len(new)} rows, same table")


def cube_step(inputs: dict[str, Any], assignments: pd.DataFrame) -> None:
    tables = inputs["tables"]

    def run() -> Any:
        return cube_module.build_cube(
            customers=tables.customers,
            events=tables.events,
            observations=inputs["felt"].observations,
            assignments=assignments,
            stages=inputs["study"].stages,
        )

    with patched(
        (cube_module, "_sorted_cells", old_sorted_cells),
        (cube_module, "window_totals", old_window_totals),
    ):
        old, *old_t = measure(run)
    new, *new_t = measure(run)
    same = all(np.array_equal(old.arrays[k], new.arrays[k]) for k in old.arrays)
    events = f"{len(tables.events):,} events"
    report("cube", tuple(old_t), tuple(new_t), f"{events}, same arrays: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--steps", nargs="+", default=["personas", "survival", "cube"])
    args = parser.parse_args()
    folder = args.dir or Path(f"data/raw/customer_steps_{args.customers}")
    warnings.simplefilter("ignore", StatisticalWarning)
    print(f"load average before: {os.getloadavg()}", flush=True)
    inputs, *load_t = measure(lambda: study_inputs(folder, args.customers))
    n = len(inputs["tables"].customers)
    print(f"{n:,} customers, {len(inputs['tables'].events):,} events; read, scored and "
          f"measured in {load_t[1]:.0f} s", flush=True)  # fmt: skip
    if "personas" in args.steps:
        assignments = personas_step(inputs)
    else:
        assignments = compute.personas(
            inputs["study"],
            inputs["features"],
            inputs["tables"].customers.set_index("customer_id")["churned"],
            study_names=False,
        ).assignments()
    if "survival" in args.steps:
        survival_step(inputs, assignments)
    if "cube" in args.steps:
        cube_step(inputs, assignments)
    print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
