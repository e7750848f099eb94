"""Benchmark: how fast the explorer's panes follow a control change, against the naive way.

- ours: :class:`cjresearch.explore.widgets.Explorer` on a build's artifacts. For each control
  (persona, stage, emotion source, window, minimum group size, compare), 20 changes; each is
  timed from setting the control's value to every affected pane holding its new content
  (ipywidgets observers run synchronously, so that is the ``value =`` assignment). "Cold":
  the chart cache is emptied before each change, so every chart is rebuilt; "warm": a
  selection seen before (the cache is kept).
- naive: what an explorer without the cube would do on a change: cut the event log,
  observations and feedback to the window and recompute the journey map from them
  (:func:`cjresearch.analysis.journey_map.build_map`), a few times. Its charts are not drawn, so the
  naive figure is a lower bound (ours includes drawing every chart).

Both in the same run; prints the medians and the ratio. Target (issue 7): under 300 ms on
the 20,000-customer sample, under 1 s on a 1,000,000-customer study.

With ``--customers N`` other than 20,000, the study of N customers is generated, validated,
scored and assigned to the 20,000-customer build's personas (its saved model), and its cube
is built into a copy of that build's artifacts; the statistics tables the forest plot reads
stay the 20,000-customer build's (their size does not grow with customers: one row per
persona and stage).

Run from the repository root:

    .venv/bin/python bench/explorer.py                        # the 20,000-customer sample
    .venv/bin/python bench/explorer.py --customers 1000000    # plus a 1M-customer cube
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from cjresearch.analysis.cube import build_cube
from cjresearch.analysis.emotion import emotion_observations, stage_emotion
from cjresearch.analysis.journey_map import build_map
from cjresearch.analysis.journeys import customer_features
from cjresearch.analysis.personas.model import load_persona_model
from cjresearch.artifacts.compute import attribute_columns, compute_artifacts
from cjresearch.data.study import load_study
from cjresearch.data.tables import load_tables
from cjresearch.datasets.sample import write_sample
from cjresearch.explore.widgets import ALL_STAGES, Explorer

REPEATS = 20


def _changes(explorer: Explorer) -> dict[str, Callable[[int], None]]:
    names = list(explorer.persona.options)
    periods = list(explorer.window.options)
    sources = [value for _, value in explorer.source.options]
    stages = [ALL_STAGES, *explorer.stages]
    mins = [explorer.study_min, explorer.study_min * 3, explorer.study_min * 10]

    def persona(i: int) -> None:
        explorer.persona.value = (names[i % len(names)], names[(i + 2) % len(names)])

    def stage(i: int) -> None:
        explorer.stage.value = stages[(i + 1) % len(stages)]

    def source(i: int) -> None:
        explorer.source.value = sources[(i + 1) % len(sources)]

    def window(i: int) -> None:
        explorer.window.value = (periods[i % 6], periods[len(periods) - 1 - i % 4])

    def minimum(i: int) -> None:
        explorer.min_group_size.value = mins[(i + 1) % len(mins)]

    def compare(i: int) -> None:
        explorer.compare.value = i % 2 == 0

    return {
        "persona": persona,
        "stage": stage,
        "source": source,
        "window": window,
        "min group": minimum,
        "compare": compare,
    }


def time_explorer(explorer: Explorer, *, cold: bool) -> dict[str, float]:
    medians = {}
    for name, change in _changes(explorer).items():
        times = []
        for i in range(REPEATS):
            if cold:
                explorer._specs.clear()
            started = time.perf_counter()
            change(i)
            times.append(time.perf_counter() - started)
        medians[name] = statistics.median(times)
    return medians


def naive_change(folder: Path, stages: list[str], min_group: int, repeats: int) -> float:
    """Median seconds to recompute the journey map from the log for one window."""
    import pandas as pd

    customers = pd.read_parquet(folder / "customers.parquet")
    events = pd.read_parquet(folder / "events.parquet")
    observations = pd.read_parquet(folder / "emotion_observations.parquet")
    feedback = pd.read_parquet(folder / "feedback.parquet")
    personas = pd.read_parquet(folder / "assignments.parquet")
    months = events["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M")
    first, last = months.min(), months.max()
    times = []
    for i in range(repeats):
        lo = (first + i).to_timestamp().tz_localize("UTC")
        hi = (last - i).to_timestamp(how="end").tz_localize("UTC")
        started = time.perf_counter()
        inside = [f[f["timestamp"].between(lo, hi)] for f in (events, observations, feedback)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build_map(
                inside[0],
                customers,
                inside[1],
                stage_emotion(inside[1]),
                inside[2],
                stages=stages,
                personas=personas,
                min_group_size=min_group,
            )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def big_cube(root: Path, artifacts: Path, n_customers: int) -> tuple[Path, float]:
    """A copy of ``artifacts`` whose cube holds an ``n_customers`` study."""
    started = time.perf_counter()
    study = load_study(write_sample(root / "big", n_customers=n_customers, seed=11,
                                    fmt="parquet"))  # fmt: skip
    tables = load_tables(study)
    observations = emotion_observations(
        tables.events, tables.feedback, valence=study.valence,
        rating_scale=study.emotion.rating_scale, cx_lexicon=study.emotion.text_lexicon,
    )  # fmt: skip
    features = customer_features(
        tables.events, tables.customers, stages=study.stages,
        observation_end=tables.observation_end, stage_emotion=stage_emotion(observations),
        attributes=attribute_columns(tables.customers),
    )  # fmt: skip
    assignments = load_persona_model(artifacts).assign(features)
    prepared = time.perf_counter() - started
    started = time.perf_counter()
    cube = build_cube(
        customers=tables.customers, events=tables.events, observations=observations,
        assignments=assignments, stages=study.stages, feedback=tables.feedback,
    )  # fmt: skip
    cube_s = time.perf_counter() - started
    target = root / "big-artifacts"
    shutil.copytree(artifacts, target)
    cube.save(target)
    for name, frame in (  # for the naive way, which reads the log
        ("customers", tables.customers), ("events", tables.events),
        ("emotion_observations", observations), ("feedback", tables.feedback),
        ("assignments", assignments),
    ):  # fmt: skip
        frame.to_parquet(target / f"{name}.parquet")
    print(f"{n_customers:,} customers: {len(tables.events):,} events prepared in "
          f"{prepared:.0f} s; cube built in {cube_s:.1f} s")  # fmt: skip
    return target, cube_s


def report(label: str, explorer: Explorer, naive_s: float | None) -> None:
    cold = time_explorer(explorer, cold=True)
    warm = time_explorer(explorer, cold=False)
    print(f"\n{label}: median of {REPEATS} changes per control, ms (cold / warm)")
    for name in cold:
        print(f"  {name:<10} {1000 * cold[name]:7.0f} / {1000 * warm[name]:5.0f}")
    worst = max(cold.values())
    print(f"  slowest control, cold: {1000 * worst:.0f} ms")
    if naive_s is not None:
        print(f"  naive (journey map recomputed from the log): {1000 * naive_s:,.0f} ms")
        print(f"  ratio naive / ours (persona, cold): {naive_s / cold['persona']:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--naive-repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        study = load_study(write_sample(root / "study", n_customers=20_000, seed=7))
        artifacts = compute_artifacts(study, root / "artifacts").folder
        explorer = Explorer(artifacts, export_dir=root / "exports")
        min_group = explorer.study_min
        naive_s = naive_change(artifacts, list(study.stages), min_group, args.naive_repeats)
        report("20,000 customers", explorer, naive_s)
        if args.customers != 20_000:
            folder, _ = big_cube(root, artifacts, args.customers)
            naive_s = naive_change(folder, list(study.stages), min_group, args.naive_repeats)
            report(f"{args.customers:,} customers", Explorer(folder), naive_s)


if __name__ == "__main__":
    main()
