"""Benchmark: the full sample build against the naive way, in the same run.

Both build the same study into fresh folders with the same notebooks and parameters:

- naive: compute the artifacts (the same library call), then for each report, one after
  another, the papermill CLI and ``jupyter nbconvert --to html --no-input`` (each a fresh
  process), as a hand-written script would;
- ours: ``cjresearch.build.build`` (artifacts, papermill's Python API in a pool of ``--jobs``
  workers each running its reports in one warm kernel started while the artifacts are
  computed, HTML export in the worker, portal, tables, atomic publish).

Then a no-op rebuild of ours (nothing changed), in process and as ``cjresearch build`` from a
shell (Python start-up and imports included). Targets (issue 6): ours at least 3x faster than
naive on 2 cores; a no-op rebuild under 3 s.

Run from the repository root:

    .venv/bin/python bench/build.py                    # the 20,000-customer sample study
    .venv/bin/python bench/build.py --customers 2000   # a quicker look
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cjresearch.artifacts.compute import compute_artifacts
from cjresearch.build import build
from cjresearch.data.study import load_study
from cjresearch.datasets.sample import write_sample
from cjresearch.reporting.execute import default_jobs
from cjresearch.reporting.specs import report_specs

BIN = Path(sys.executable).parent


def naive(study_path: Path, folder: Path) -> float:
    started = time.perf_counter()
    study = load_study(study_path)
    artifacts = compute_artifacts(study, folder / "artifacts")
    for i, spec in enumerate(report_specs(study, artifacts)):
        executed = folder / f"report-{i}.ipynb"
        subprocess.run(
            [str(BIN / "papermill"), str(spec.notebook), str(executed), "-k", "cjresearch",
             "-y", json.dumps(dict(spec.parameters)), "--no-progress-bar"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
            check=True, capture_output=True,
        )  # fmt: skip
    return time.perf_counter() - started


def ours(study_path: Path, folder: Path, jobs: int) -> tuple[float, float, float, int]:
    kwargs = {"output": folder / "out", "artifacts": folder / "artifacts", "jobs": jobs}
    started = time.perf_counter()
    first = build(load_study(study_path), progress=False, **kwargs)
    built = time.perf_counter() - started
    if first.failures:
        raise SystemExit(f"reports failed: {[(r.slug, r.error) for r in first.failures]}")
    started = time.perf_counter()
    again = build(load_study(study_path), progress=False, **kwargs)
    noop = time.perf_counter() - started
    if again.executed:
        raise SystemExit(f"the no-op rebuild ran {len(again.executed)} reports")
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "cjresearch"), "build", str(study_path), "--out", str(kwargs["output"]),
         "--artifacts", str(kwargs["artifacts"])],
        check=True, capture_output=True,
    )  # fmt: skip
    shell_noop = time.perf_counter() - started
    return built, noop, shell_noop, len(first.reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=default_jobs())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        study = write_sample(root / "study", n_customers=args.customers, seed=7)
        print(f"sample study: {args.customers:,} customers; {args.jobs} jobs")
        naive_s = naive(study, root / "naive")
        print(f"naive (papermill CLI + nbconvert, one by one): {naive_s:7.1f} s")
        built, noop, shell_noop, n = ours(study, root / "ours", args.jobs)
        print(f"ours (cjresearch build, {n} reports):         {built:7.1f} s")
        print(f"ratio naive / ours:                            {naive_s / built:7.2f}x")
        print(f"no-op rebuild, in process:                     {noop:7.2f} s")
        print(f"no-op rebuild, `cjresearch build` from a shell: {shell_noop:6.2f} s")


if __name__ == "__main__":
    main()
