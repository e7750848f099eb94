"""Benchmark: the artifacts of generated studies from 100,000 to 10 million customers.

For each size, the sample study (about 25 events per customer) is generated once as Parquet
by ``cjresearch sample`` in a child process, then its artifacts (every heavy step of a build:
read and check the tables, emotion, journeys, personas, models, journey map, KPIs,
suppression, writing) are computed from scratch in a child process per engine, so that each
peak memory is that child's own (``os.wait4``; where a step forks, the manifest's peak with the
fork's private pages added, if higher). Per size and engine it prints wall time, CPU
time and peak RSS, then per phase the manifest's ``steps`` (wall, CPU, peak RSS so far).

Engines are the study file's ``[data] engine`` setting: ``duckdb`` (the default) and
``pandas`` (every table read whole into pandas). ``--baseline REV`` adds the code before the
change: a git worktree of ``REV`` whose ``src`` is put first on the child's ``PYTHONPATH``,
run on the same generated files in the same run (``old``); ratios are printed against it.
Where this checkout's study file does not know the ``engine`` key yet, the old path runs
without it (it is then the only path) and the new one is reported as not available. A pandas
or old run whose expected peak memory (about 0.6 GB + 9.1 GB per million customers) does not
fit in the machine's available memory is skipped, and the table says so.

The machine's load average is printed before and after (the machine is shared: prefer CPU
time and ratios from one run).

Run from the repository root:

    .venv/bin/python bench/scale.py                              # 100k and 1M
    .venv/bin/python bench/scale.py --sizes 100000,1000000,3000000,10000000
    .venv/bin/python bench/scale.py --sizes 20000 --engines pandas  # a quick look
    .venv/bin/python bench/scale.py --sizes 1000000 --baseline 3f5860c  # against the old code
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjresearch.errors import StudyFileError

BIN = Path(sys.executable).parent
#: the old path's memory, measured on the issue's machine: GB = 0.6 + 9.1 per million
_PANDAS_GB = (0.6, 9.1)


@dataclass
class Run:
    """One child process: what it did, how long, how much memory."""

    what: str
    wall_s: float = float("nan")
    cpu_s: float = float("nan")
    peak_mb: float = float("nan")
    status: str = "ok"
    steps: list[dict[str, Any]] = field(default_factory=list)
    code: str = ""  # the commit whose code the child ran


def measured(what: str, command: list[str], *, log: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``command`` as a child; its wall time, CPU time (user + system) and peak RSS."""
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    run = Run(
        what,
        wall_s=time.perf_counter() - started,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,
    )
    if child.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        run.status = f"failed (exit {child.returncode}): {tail[0][:120]}"
    return run


def engine_known() -> bool:
    """Whether this checkout's study file accepts ``[data] engine``."""
    from cjresearch.data.study import study_from_dict

    spec = {
        "study": {"name": "probe", "stages": ["a"]},
        "data": {"customers": "c.csv", "events": "e.csv", "engine": "pandas"},
    }
    try:
        study_from_dict(spec, path=Path(tempfile.gettempdir()) / "probe.toml")
    except StudyFileError as error:  # an unknown key is named; any other problem is not ours
        return "engine" not in str(error)
    return True


def study_for(folder: Path, engine: str | None) -> Path:
    """The generated study's file, with ``[data] engine`` set (None: the key left out)."""
    text = (folder / "study.toml").read_text(encoding="utf-8")
    if engine is not None:
        text = text.replace("[data]\n", f'[data]\nengine = "{engine}"\n', 1)
    path = folder / f"study-{engine or 'default'}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def available_gb() -> float:
    """The machine's available memory (``MemAvailable``), in GB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024**2
    return float("inf")


def child(study_file: str, artifacts: str) -> None:
    """In the child: compute the study's artifacts from scratch, with progress lines."""
    from cjresearch.artifacts.compute import compute_artifacts
    from cjresearch.data.study import load_study

    compute_artifacts(load_study(study_file), artifacts, force=True, progress=print)


def baseline_checkout(rev: str, work: Path) -> Path:
    """A git worktree of ``rev`` (the code before the change) under ``work``."""
    where = work / f"baseline-{rev}"
    if not where.exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-f", str(where), rev],
            check=True, capture_output=True,
        )  # fmt: skip
    return where


def bench_size(
    n: int, engines: list[str], work: Path, *, known: bool, baseline: Path | None = None
) -> list[Run]:
    folder = work / f"sample-{n}"
    runs = [
        measured(
            f"generate {n:,}",
            [str(BIN / "cjresearch"), "sample", str(folder), "--customers", str(n),
             "--format", "parquet"],
            log=work / f"generate-{n}.log",
        )
    ]  # fmt: skip
    if runs[0].status != "ok":
        return runs
    expected = _PANDAS_GB[0] + _PANDAS_GB[1] * n / 1e6
    fits = expected <= 0.9 * available_gb()
    if baseline is not None and not fits:
        runs.append(Run(f"artifacts {n:,} old", status=f"skipped: needs about {expected:.0f} GB"))
    elif baseline is not None:
        runs.append(_artifacts(n, "old", folder, work, known=False, pythonpath=baseline / "src"))
    for engine in engines:
        what = f"artifacts {n:,} {engine}"
        if engine != "pandas" and not known:
            runs.append(Run(what, status="not available: [data] engine is not in this checkout"))
            continue
        if engine == "pandas" and not fits:
            runs.append(Run(what, status=f"skipped: needs about {expected:.0f} GB"))
            continue
        runs.append(_artifacts(n, engine, folder, work, known=known))
    return runs


def _artifacts(
    n: int, engine: str, folder: Path, work: Path, *, known: bool, pythonpath: Path | None = None
) -> Run:
    """One child computing the artifacts of the study in ``folder`` on ``engine``."""
    study = study_for(folder, engine if known else None)
    artifacts = work / f"artifacts-{n}-{engine}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    code = commit_of(pythonpath or Path(__file__).resolve().parent)  # read as the child starts
    print(f"artifacts {n:,} {engine}: started, code at {code}", flush=True)
    run = measured(
        f"artifacts {n:,} {engine}",
        [sys.executable, __file__, "--child", str(study), str(artifacts)],
        log=work / f"artifacts-{n}-{engine}.log",
        env=env,
    )
    if run.status == "ok":
        state = json.loads((artifacts / "build_state.json").read_text(encoding="utf-8"))
        run.steps = state["summary"].get("steps", [])
        # the OS gives the largest process's peak; the steps' add a forked child's own pages
        sampled = [s["peak_rss_mb"] for s in run.steps if s.get("peak_rss_mb") is not None]
        run.peak_mb = max([run.peak_mb, *sampled])
    run.code = code
    return run


def commit_of(folder: Path) -> str:
    """The commit checked out where ``folder`` is (short), or "unknown" outside git."""
    found = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return found.stdout.strip() or "unknown"


def table(runs: list[Run]) -> str:
    lines = [f"{'run':<38} {'wall s':>9} {'CPU s':>9} {'peak RSS MB':>12}  status"]
    for run in runs:
        lines.append(
            f"{run.what:<38} {run.wall_s:>9.1f} {run.cpu_s:>9.1f} {run.peak_mb:>12,.0f}  "
            f"{run.status}{f' (code at {run.code})' if run.code else ''}"
        )
        for step in run.steps:
            peak = step.get("peak_rss_mb")
            lines.append(
                f"  {step['step'][:36]:<36} {step['wall_s']:>9.1f} {step['cpu_s']:>9.1f} "
                f"{'' if peak is None else format(peak, ',.0f'):>12}"
            )
    return "\n".join(lines)


def ratios(runs: list[Run]) -> list[str]:
    """Old over new, per size where both ran: wall time, CPU time and peak memory. The old
    run is the baseline checkout (``old``) where there is one, else the pandas engine."""
    by = {r.what: r for r in runs if r.status == "ok"}
    old_label = " old" if any(w.endswith(" old") for w in by) else " pandas"
    lines = []
    for what, old in by.items():
        if not what.endswith(old_label):
            continue
        for new_what, new in by.items():
            if new_what.startswith(what.removesuffix(old_label)) and new_what != what:
                lines.append(
                    f"{new_what}: {old.wall_s / new.wall_s:.2f}x faster than{old_label} (wall), "
                    f"{old.cpu_s / new.cpu_s:.2f}x less CPU, "
                    f"{old.peak_mb / new.peak_mb:.2f}x less peak memory"
                )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="customers, comma-separated")
    parser.add_argument("--engines", default="pandas,duckdb", help="comma-separated")
    parser.add_argument("--work", type=Path, help="folder for the studies (default: a temp one)")
    parser.add_argument("--baseline", help="a git revision of the code before the change")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = [e for e in args.engines.split(",") if e]  # "" runs only the baseline
    known = engine_known()
    print(f"load average before: {'  '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"cores: {os.cpu_count()}, available memory: {available_gb():.1f} GB")
    if not known:
        print("the new path is not available: this checkout's study file has no [data] engine")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="cjresearch-scale-") as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        baseline = baseline_checkout(args.baseline, work) if args.baseline else None
        for n in sizes:
            runs.extend(bench_size(n, engines, work, known=known, baseline=baseline))
            print(table(runs), flush=True)
            print(f"load average: {'  '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    print()
    print(table(runs))
    for line in ratios(runs):
        print(line)
    print(f"load average after: {'  '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
