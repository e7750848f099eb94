"""Executing notebooks: papermill's Python API on the ``cjresearch`` kernel, in a process pool.

Each job executes one notebook into a staging path (papermill writes its output notebook
from the first cell on, so a failed run must never point at a published file), then exports
it to HTML (:mod:`cjresearch.export`). Jobs run in a bounded pool of processes, not threads:
papermill's ``cwd=`` changes the working directory of the whole process. A kernel that fails
to start (ports taken by a parallel kernel, "Kernel didn't respond") is retried; a failure in
a cell, a cell timeout or a kernel that dies mid-run is not.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjresearch.errors import CJResearchError

__all__ = [
    "DEFAULT_KERNEL",
    "NotebookJob",
    "NotebookOutcome",
    "check_parameter_values",
    "default_jobs",
    "ensure_kernel",
    "execute_notebook",
    "run_jobs",
]

DEFAULT_KERNEL = "cjresearch"

_KERNEL_START_MARKERS = (
    "kernel didn't respond",
    "address already in use",
    "kernel died before replying to kernel_info",
    "zmqerror",
)


def default_jobs() -> int:
    """The default size of the pool: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def check_parameter_values(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check that parameters are plain values papermill injects as literals.

    Only None, str, bool, int, finite float, list and dict (with str keys) are accepted,
    nested to any depth; anything else (a DataFrame, a Path, a tuple) would reach the
    notebook as its ``repr`` pasted into code.

    Returns
    -------
    dict
        A copy of ``parameters``.

    Raises
    ------
    CJResearchError
        A name that is not an identifier or a value of another type.

    >>> check_parameter_values({"persona": "p1", "k": 3, "ids": [1, 2]})
    {'persona': 'p1', 'k': 3, 'ids': [1, 2]}
    """

    def check(value: Any, where: str) -> None:
        if value is None or isinstance(value, str | bool | int):
            return
        if isinstance(value, float):
            if not math.isfinite(value):
                msg = f"parameter {where} is {value!r}; only finite numbers can be passed"
                raise CJResearchError(msg)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                check(item, f"{where}[{i}]")
            return
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    msg = f"parameter {where} has a key {key!r}; dict keys must be text"
                    raise CJResearchError(msg)
                check(item, f"{where}[{key!r}]")
            return
        msg = (
            f"parameter {where} is a {type(value).__name__}; notebooks take only None, str, "
            "bool, int, float, list or dict (pass a path, not a table)"
        )
        raise CJResearchError(msg)

    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier():
            msg = f"parameter name {name!r} is not a Python identifier"
            raise CJResearchError(msg)
        check(value, repr(name))
    return dict(parameters)


def ensure_kernel(kernel_name: str = DEFAULT_KERNEL) -> None:
    """Fail early, with the fix, if the Jupyter kernel is not registered."""
    from jupyter_client.kernelspec import KernelSpecManager

    if kernel_name not in KernelSpecManager().find_kernel_specs():
        msg = (
            f"the Jupyter kernel {kernel_name!r} is not registered in this environment; "
            f"register it with: python -m ipykernel install --sys-prefix --name {kernel_name}"
        )
        raise CJResearchError(msg)


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute (and, if ``html_path`` is set, export to HTML).

    ``key`` identifies the job in the outcomes; ``export`` holds the keyword arguments of
    :func:`cjresearch.export.export_html` other than the notebook (title, provenance...).
    """

    key: str
    notebook: Path
    output_notebook: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    html_path: Path | None = None
    export: Mapping[str, Any] = field(default_factory=dict)
    kernel_name: str = DEFAULT_KERNEL
    start_timeout: float = 60.0
    execution_timeout: float | None = 600.0
    retries: int = 2
    cwd: Path | None = None


@dataclass(frozen=True)
class NotebookOutcome:
    """What became of a job: ``ok``, the error (one line) and traceback, time and attempts."""

    key: str
    ok: bool
    duration_s: float
    attempts: int
    error: str | None = None
    traceback: str | None = None
    output_notebook: Path | None = None
    html_path: Path | None = None


def _is_kernel_start_failure(exc: BaseException) -> bool:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return False
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(marker in text for marker in _KERNEL_START_MARKERS)


def _one_line(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def execute_notebook(job: NotebookJob) -> NotebookOutcome:
    """Execute one job in this process: papermill, then the HTML export.

    Never raises for a failing notebook; the outcome says what failed.
    """
    import papermill as pm

    started = time.perf_counter()
    attempts = 0
    job.output_notebook.parent.mkdir(parents=True, exist_ok=True)
    while True:
        attempts += 1
        try:
            pm.execute_notebook(
                os.fspath(job.notebook),
                os.fspath(job.output_notebook),
                parameters=dict(job.parameters),
                kernel_name=job.kernel_name,
                start_timeout=job.start_timeout,
                execution_timeout=job.execution_timeout,
                progress_bar=False,
                log_output=False,
                cwd=None if job.cwd is None else os.fspath(job.cwd),
            )
            break
        except Exception as exc:
            if attempts <= job.retries and _is_kernel_start_failure(exc):
                time.sleep(0.5 * attempts)
                continue
            return NotebookOutcome(
                job.key,
                False,
                time.perf_counter() - started,
                attempts,
                _one_line(exc),
                traceback.format_exc(),
                job.output_notebook if job.output_notebook.is_file() else None,
            )
    if job.html_path is not None:
        from cjresearch.export import export_html

        try:
            html = export_html(job.output_notebook, **dict(job.export))
            job.html_path.parent.mkdir(parents=True, exist_ok=True)
            job.html_path.write_text(html, encoding="utf-8")
        except Exception as exc:
            return NotebookOutcome(
                job.key,
                False,
                time.perf_counter() - started,
                attempts,
                f"HTML export: {_one_line(exc)}",
                traceback.format_exc(),
                job.output_notebook,
            )
    return NotebookOutcome(
        job.key,
        True,
        time.perf_counter() - started,
        attempts,
        output_notebook=job.output_notebook,
        html_path=job.html_path,
    )


def run_jobs(
    jobs: Sequence[NotebookJob],
    *,
    max_workers: int | None = None,
    on_done: Callable[[NotebookOutcome], None] | None = None,
) -> list[NotebookOutcome]:
    """Execute jobs in a bounded pool of processes; outcomes in the order of ``jobs``.

    Parameters
    ----------
    jobs
        The jobs. Their parameters are checked with :func:`check_parameter_values` first.
    max_workers
        Size of the pool (default: :func:`default_jobs`). One job, or ``max_workers=1``,
        runs in this process (no pool to start).
    on_done
        Called with each outcome as it completes (for progress display).
    """
    if not jobs:
        return []
    for job in jobs:
        check_parameter_values(job.parameters)
    ensure_kernel(jobs[0].kernel_name)
    workers = min(max_workers or default_jobs(), len(jobs))
    outcomes: dict[str, NotebookOutcome] = {}
    if workers <= 1:
        for job in jobs:
            outcome = execute_notebook(job)
            outcomes[job.key] = outcome
            if on_done is not None:
                on_done(outcome)
    else:
        for outcome in _pooled(jobs, workers):
            outcomes[outcome.key] = outcome
            if on_done is not None:
                on_done(outcome)
    return [outcomes[job.key] for job in jobs]


def _pooled(jobs: Sequence[NotebookJob], workers: int) -> Iterator[NotebookOutcome]:
    # spawn: the parent may hold threads (rich's progress refresh), which fork does not copy.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        futures: dict[Future[NotebookOutcome], NotebookJob] = {
            pool.submit(execute_notebook, job): job for job in jobs
        }
        for future in as_completed(futures):
            job = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # the worker process itself died
                yield NotebookOutcome(
                    job.key, False, 0.0, 1, f"worker process failed: {_one_line(exc)}"
                )
    except BaseException:
        # Ctrl-C: do not start queued notebooks, do not wait for running ones.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
