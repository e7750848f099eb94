"""Benchmark: the report pipeline versus the naive way, in the same run.

Naive: for each report, one after another, the papermill CLI then ``jupyter nbconvert
--to html --no-input`` (each a fresh process). Ours: :func:`cjresearch.site.publish_reports`
(papermill's Python API in a process pool of ``--jobs`` workers, HTML export in the worker,
atomic publish, portal). Then a no-op rebuild (nothing changed) of ours.

Run from the repository root:

    .venv/bin/python bench/build.py                      # 8 dummy chart reports
    .venv/bin/python bench/build.py --reports 4 --jobs 2
    .venv/bin/python bench/build.py --notebook notebooks/persona_report.ipynb \
        --parameter persona --values p1 p2 p3            # a real report notebook

The dummy notebook (tests/data/notebooks/chart.ipynb) imports pandas and altair and renders
one chart as SVG, like a report does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cjresearch.pipeline import ReportSpec
from cjresearch.portal import PortalContext
from cjresearch.runner import default_jobs
from cjresearch.site import publish_reports

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def naive(notebook: Path, parameter: str, values: list[str], folder: Path) -> float:
    started = time.perf_counter()
    for i, value in enumerate(values):
        executed = folder / f"report-{i}.ipynb"
        subprocess.run(
            [str(BIN / "papermill"), str(notebook), str(executed), "-k", "cjresearch",
             "-p", parameter, value, "--no-progress-bar"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
            check=True, capture_output=True,
        )  # fmt: skip
    return time.perf_counter() - started


def ours(
    notebook: Path, parameter: str, values: list[str], folder: Path, jobs: int
) -> tuple[float, float]:
    specs = [
        ReportSpec("persona", f"report {value}", notebook, {parameter: value}) for value in values
    ]
    portal = PortalContext("Benchmark")
    started = time.perf_counter()
    first = publish_reports(folder, specs, portal=portal, jobs=jobs, progress=False)
    built = time.perf_counter() - started
    assert all(r.status == "ok" for r in first.reports), [r.error for r in first.reports]
    started = time.perf_counter()
    again = publish_reports(folder, specs, portal=portal, jobs=jobs, progress=False)
    noop = time.perf_counter() - started
    assert again.executed == [] and again.published == []
    return built, noop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=ROOT / "tests/data/notebooks/chart.ipynb")
    parser.add_argument("--parameter", default="label")
    parser.add_argument("--values", nargs="*")
    parser.add_argument("--reports", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    args = parser.parse_args()
    values = args.values or [f"touchpoint-{i}" for i in range(args.reports)]
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "naive").mkdir()
        naive_s = naive(args.notebook, args.parameter, values, base / "naive")
        ours_s, noop_s = ours(args.notebook, args.parameter, values, base / "ours", args.jobs)
    print(f"reports: {len(values)}  notebook: {args.notebook.name}  jobs: {args.jobs}")
    print(f"naive (papermill CLI + jupyter nbconvert, sequential): {naive_s:7.2f} s")
    print(f"ours  (publish_reports, pool of {args.jobs}):               {ours_s:7.2f} s")
    print(f"ratio naive / ours: {naive_s / ours_s:.2f}x")
    print(f"no-op rebuild (nothing changed): {noop_s:.3f} s")


if __name__ == "__main__":
    main()
