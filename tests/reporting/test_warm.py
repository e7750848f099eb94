"""Warm kernels: reports equal to cold runs', nothing leaks between notebooks, failures isolated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from cjresearch.artifacts.compute import compute_artifacts
from cjresearch.data.study import load_study
from cjresearch.datasets.sample import write_sample
from cjresearch.reporting.execute import NotebookJob, NotebookPool, run_jobs
from cjresearch.reporting.html import Provenance, export_html
from cjresearch.reporting.specs import report_specs


def _notebook(folder: Path, name: str, *sources: str) -> Path:
    node = nbformat.v4.new_notebook()
    node.metadata["kernelspec"] = {"name": "cjresearch", "display_name": "cjresearch"}
    node.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path = folder / f"{name}.ipynb"
    nbformat.write(node, path)
    return path


# a kernel's cells are compiled as /tmp/ipykernel_<pid>/<hash>.py: differs from kernel to kernel
_KERNEL_FILE = re.compile(r"ipykernel_\d+")


def _text(path: Path) -> list[str]:
    """Every cell's outputs as text, in order (the kernel's process id left out)."""
    node = nbformat.read(path, as_version=4)
    found = []
    for cell in node.cells:
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                text = _KERNEL_FILE.sub("ipykernel_PID", output["text"].strip())
                found.append(f"{output['name']}: {text}")
            elif output["output_type"] == "error":
                found.append(f"error: {output['ename']}")
            else:
                found.append(str(output.get("data", {}).get("text/plain", "")))
    return found


def test_a_warm_kernel_forgets_the_last_notebook(tmp_path: Path) -> None:
    dirty = _notebook(
        tmp_path,
        "dirty",
        "import os, warnings\nprint('pid', os.getpid())",
        "leak = 1\nos.environ['CJ_LEAK'] = '1'\nos.chdir('/')\n"
        "warnings.warn('a caveat', UserWarning)\nwarnings.simplefilter('ignore')",
    )
    clean = _notebook(
        tmp_path,
        "clean",
        "import os, warnings\nprint('pid', os.getpid())",
        "print('leak' in dir(), os.environ.get('CJ_LEAK'), os.getcwd() == '/')",
        # the same warning from the same place: shown again, not filtered or "once"-d
        "warnings.warn('a caveat', UserWarning)",
        "get_ipython().execution_count",
    )
    failing = _notebook(tmp_path, "failing", "import os\nprint('pid', os.getpid())", "1 / 0")
    jobs = [
        NotebookJob(f"{i}-{p.stem}", p, tmp_path / "out" / f"{i}-{p.stem}.ipynb")
        for i, p in enumerate([dirty, dirty, clean, failing, clean])
    ]
    outcomes = run_jobs(jobs, max_workers=1)
    assert [o.ok for o in outcomes] == [True, True, True, False, True]
    texts = [_text(job.output_notebook) for job in jobs]
    cold = NotebookJob("cold", clean, tmp_path / "cold.ipynb")
    (fresh,) = run_jobs([cold], warm=False)
    assert fresh.ok
    expected = _text(cold.output_notebook)
    pids = [t[0] for t in texts]
    # one kernel for the notebooks that succeed, a fresh one after a failure
    assert pids[0] == pids[1] == pids[2] == pids[3] != pids[4]
    assert texts[1][1].startswith("stderr:") and "a caveat" in texts[1][1]
    for after in (texts[2], texts[4]):
        assert after[1] == "stdout: False None False"
        assert after[2].startswith("stderr:") and "UserWarning: a caveat" in after[2]
        assert after[1:] == expected[1:]  # as in a fresh kernel, execution count included
    numbers = [
        [c.execution_count for c in nbformat.read(path, as_version=4).cells]
        for path in (jobs[2].output_notebook, cold.output_notebook)
    ]
    assert numbers[0] == numbers[1] == [1, 2, 3, 4]


def test_a_kernel_without_cjresearch_runs_each_notebook_in_a_fresh_kernel(
    tmp_path: Path,
) -> None:
    from cjresearch.reporting._warm import KernelSession
    from cjresearch.reporting.execute import execute_notebook

    pid = _notebook(tmp_path, "pid", "import os\nprint(os.getpid())")
    session = KernelSession("cjresearch")
    session.prepare_code = "import cjresearch_is_not_installed_here"  # as in another env
    jobs = [NotebookJob(f"{i}", pid, tmp_path / f"{i}.ipynb") for i in range(2)]
    try:
        outcomes = [execute_notebook(job, session) for job in jobs]
    finally:
        session.close()
    assert all(o.ok for o in outcomes)
    first, second = (_text(job.output_notebook)[0] for job in jobs)
    assert first != second and session.starts == 2


def test_a_pool_started_ahead_runs_jobs_in_warm_kernels(tmp_path: Path) -> None:
    pid = _notebook(tmp_path, "pid", "import os\nprint(os.getpid())")
    jobs = [NotebookJob(f"{i}", pid, tmp_path / f"{i}.ipynb") for i in range(6)]
    with NotebookPool(2) as pool:
        outcomes = run_jobs(jobs, pool=pool)
    assert all(o.ok for o in outcomes)
    kernels = {_text(job.output_notebook)[0] for job in jobs}
    assert 1 <= len(kernels) <= 2  # six notebooks, at most one kernel per worker


_CHART_ID = re.compile(r"(view|param)_[0-9a-f]{6,}")


def _html(path: Path) -> str:
    provenance = Provenance(run_id="r", built_at="2026-01-01T00:00:00+00:00")
    page = export_html(path, title="t", provenance=provenance)
    return _KERNEL_FILE.sub("ipykernel_PID", _CHART_ID.sub(r"\1_ID", page))


@pytest.mark.slow
def test_warm_reports_are_the_same_as_cold_ones(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "study", n_customers=300, seed=5, fmt="parquet")
    study = load_study(path)
    artifacts = compute_artifacts(study, tmp_path / "artifacts")
    specs = report_specs(study, artifacts)
    chosen = [s for s in specs if s.kind == "persona"][:2]
    chosen += [s for s in specs if s.kind == "stage"][:1]
    chosen += [s for s in specs if s.kind == "analysis"]
    # stage first, then a persona, so the warm kernel has run another kind of report before
    chosen = [chosen[2], *chosen[:2], *chosen[3:]]

    def run(mode: str, warm: bool) -> list[Path]:
        jobs = [
            NotebookJob(f"{i}", s.notebook, tmp_path / mode / f"{i}.ipynb", s.parameters)
            for i, s in enumerate(chosen)
        ]
        outcomes = run_jobs(jobs, max_workers=1, warm=warm)
        assert [o.error for o in outcomes] == [None] * len(jobs)
        return [job.output_notebook for job in jobs]

    warm, cold = run("warm", True), run("cold", False)
    for hot, fresh in zip(warm, cold, strict=True):
        assert _html(hot) == _html(fresh), hot.name
        hot_nb, fresh_nb = (json.loads(p.read_text()) for p in (hot, fresh))
        assert [c.get("outputs") for c in hot_nb["cells"]] == [
            c.get("outputs") for c in fresh_nb["cells"]
        ]
        assert [c.get("execution_count") for c in hot_nb["cells"]] == [
            c.get("execution_count") for c in fresh_nb["cells"]
        ]
