"""Executing notebooks: papermill's Python API on the ``cjresearch`` kernel, in a process pool.

Each job executes one notebook into a staging path (papermill writes its output notebook
from the first cell on, so a failed run must never point at a published file), then turns
it into a page with the HTML export (:mod:`cjresearch.reporting.html`). Jobs run in a
bounded pool of processes, not threads: papermill's ``cwd=`` changes the working directory
of the whole process. :class:`ExecutionOptions` holds the settings a caller passes down.

**Warm kernels.** Each pool worker keeps one started kernel with the heavy modules imported
and runs its successive notebooks in it, the kernel's state reset in between
(:mod:`cjresearch.reporting._warm`); a kernel that failed in any way is replaced by a fresh one.
``warm=False`` starts a fresh kernel for every notebook.

**Failures.** A kernel that fails to start (ports taken by a parallel kernel, "Kernel didn't
respond") is retried; a failure in a cell, a cell timeout, a kernel that dies mid-run or a
notebook past its deadline is not. Every notebook has a whole-notebook deadline
(``notebook_timeout``) besides the per-cell ``execution_timeout``: a kernel that hangs after
the last cell (a known papermill bug) or a notebook whose cells each finish in time but never
all do is stopped (its kernel killed) when the deadline passes, and fails with the deadline
named in its error.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cjresearch._files import write_text
from cjresearch.errors import CJResearchError
from cjresearch.reporting.notebooks import check_parameter_values

if TYPE_CHECKING:
    from cjresearch.reporting._warm import KernelSession

__all__ = [
    "DEFAULT_KERNEL",
    "DEFAULT_NOTEBOOK_TIMEOUT",
    "ExecutionOptions",
    "NotebookJob",
    "NotebookOutcome",
    "NotebookPool",
    "default_jobs",
    "ensure_kernel",
    "execute_notebook",
    "run_jobs",
]

DEFAULT_KERNEL = "cjresearch"
#: The default whole-notebook deadline, in seconds (a report takes seconds).
DEFAULT_NOTEBOOK_TIMEOUT = 1800.0

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
class ExecutionOptions:
    """How report notebooks are executed: one value passed down instead of eight arguments.

    Parameters
    ----------
    kernel_name
        The Jupyter kernel (registered by ``make setup``).
    start_timeout
        Seconds allowed for a kernel to start.
    execution_timeout
        Seconds allowed for each cell (None: no limit).
    notebook_timeout
        Seconds allowed for a whole notebook, kernel start and retries included (None: no
        deadline); a notebook past it fails and its kernel is stopped.
    retries
        Retries of a kernel that fails to start (never of a failing cell).
    jobs
        Size of the process pool (default: :func:`default_jobs`).
    warm
        Each worker runs its notebooks one after another in one warm kernel (False: a fresh
        kernel per notebook).
    pool
        A :class:`NotebookPool` started earlier (its kernels warming up while the caller did
        other work), used instead of ``jobs`` and ``warm`` and left open.
    """

    kernel_name: str = DEFAULT_KERNEL
    start_timeout: float = 60.0
    execution_timeout: float | None = 600.0
    notebook_timeout: float | None = DEFAULT_NOTEBOOK_TIMEOUT
    retries: int = 2
    jobs: int | None = None
    warm: bool = True
    pool: NotebookPool | None = None


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute (and, if ``html_path`` is set, turn into an HTML page).

    ``key`` identifies the job in the outcomes; ``html_options`` holds the keyword arguments
    of the HTML export, :func:`cjresearch.reporting.html.export_html`, other than the
    notebook (title, parameters, provenance...).
    ``start_timeout`` bounds a kernel's start, ``execution_timeout`` each cell and
    ``notebook_timeout`` the whole notebook, kernel start and retries included (None: no
    deadline); all in seconds.
    """

    key: str
    notebook: Path
    output_notebook: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    html_path: Path | None = None
    html_options: Mapping[str, Any] = field(default_factory=dict)
    kernel_name: str = DEFAULT_KERNEL
    start_timeout: float = 60.0
    execution_timeout: float | None = 600.0
    retries: int = 2
    cwd: Path | None = None
    notebook_timeout: float | None = DEFAULT_NOTEBOOK_TIMEOUT


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


class _Deadline:
    """Calls ``stop`` once ``seconds`` have passed, from a timer thread, unless cancelled."""

    def __init__(self, seconds: float | None, stop: Callable[[], None]) -> None:
        self.passed = False
        self._stop = stop
        self._timer = None if seconds is None else threading.Timer(seconds, self._fire)
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        self.passed = True
        self._stop()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


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


def execute_notebook(job: NotebookJob, session: KernelSession | None = None) -> NotebookOutcome:
    """Execute one job in this process: papermill, then the HTML export.

    ``session``: the kernel to run in (kept warm for the next job if this one succeeds);
    None starts a fresh kernel for this job alone. Never raises for a failing notebook; the
    outcome says what failed.
    """
    import papermill as pm

    from cjresearch.reporting._warm import ENGINE_NAME, KernelSession, register_engine

    register_engine()
    own = session is None
    kernel = KernelSession(job.kernel_name, warm=False) if session is None else session
    started = time.perf_counter()
    attempts = 0
    job.output_notebook.parent.mkdir(parents=True, exist_ok=True)
    deadline = _Deadline(job.notebook_timeout, kernel.kill)
    try:
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
                    engine_name=ENGINE_NAME,
                    session=kernel,
                    # one save at the end (or on a failure, for debugging), not two per cell
                    request_save_on_cell_execute=False,
                    # a print flushed in pieces under load is one output, not several
                    coalesce_streams=True,
                    save_on_error=os.fspath(job.output_notebook),
                )
                if deadline.passed:
                    msg = "the kernel was stopped"
                    raise TimeoutError(msg)
                kernel.after_notebook(ok=True)
                break
            except Exception as exc:
                kernel.after_notebook(ok=False)
                if deadline.passed:
                    error = (
                        f"notebook deadline exceeded: not finished after "
                        f"{job.notebook_timeout:g} s, the kernel was stopped"
                    )
                elif attempts <= job.retries and _is_kernel_start_failure(exc):
                    time.sleep(0.5 * attempts)
                    continue
                else:
                    error = _one_line(exc)
                kept = job.output_notebook if job.output_notebook.is_file() else None
                return _failed(job, started, attempts, error, kept)
    finally:
        deadline.cancel()
        if own:
            kernel.close()
    if job.html_path is not None:
        from cjresearch.reporting.html import export_html

        try:
            write_text(job.html_path, export_html(job.output_notebook, **dict(job.html_options)))
        except Exception as exc:
            error = f"HTML export: {_one_line(exc)}"
            return _failed(job, started, attempts, error, job.output_notebook)
    return NotebookOutcome(
        job.key,
        True,
        time.perf_counter() - started,
        attempts,
        output_notebook=job.output_notebook,
        html_path=job.html_path,
    )


def _failed(
    job: NotebookJob, started: float, attempts: int, error: str, notebook: Path | None
) -> NotebookOutcome:
    """A failed job's outcome, with the traceback of the exception being handled."""
    return NotebookOutcome(
        job.key,
        False,
        time.perf_counter() - started,
        attempts,
        error,
        traceback.format_exc(),
        notebook,
    )


def run_jobs(
    jobs: Sequence[NotebookJob],
    *,
    max_workers: int | None = None,
    on_done: Callable[[NotebookOutcome], None] | None = None,
    warm: bool = True,
    pool: NotebookPool | None = None,
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
    warm
        Each worker runs its jobs one after another in one warm kernel (see the module's
        docstring); False: a fresh kernel per job.
    pool
        A pool started earlier (its kernels warming up while the caller did other work),
        used instead of ``max_workers``/``warm`` and left open.
    """
    if not jobs:
        return []
    for job in jobs:
        check_parameter_values(job.parameters)
    ensure_kernel(jobs[0].kernel_name)
    workers = min(max_workers or default_jobs(), len(jobs))
    outcomes: dict[str, NotebookOutcome] = {}

    def done(outcome: NotebookOutcome) -> None:
        outcomes[outcome.key] = outcome
        if on_done is not None:
            on_done(outcome)

    if pool is not None:
        for outcome in pool.run(jobs):
            done(outcome)
    elif workers <= 1:
        from cjresearch.reporting._warm import KernelSession

        session = KernelSession(jobs[0].kernel_name, warm=warm)
        try:
            for job in jobs:
                done(execute_notebook(job, _session_for(session, job)))
        finally:
            session.close()
    else:
        with NotebookPool(workers, kernel_name=jobs[0].kernel_name, warm=warm) as own:
            for outcome in own.run(jobs):
                done(outcome)
    return [outcomes[job.key] for job in jobs]


def _session_for(session: KernelSession, job: NotebookJob) -> KernelSession:
    """The session, switched to the job's kernel if it runs another one."""
    if session.kernel_name != job.kernel_name:
        session.close()
        session.kernel_name = job.kernel_name
    return session


class NotebookPool:
    """A bounded pool of worker processes, each with its own warm kernel.

    The workers start, and start their kernels, as soon as the pool is made, so a caller
    can make it before other work (the build computes its artifacts meanwhile) and hand it
    to :func:`run_jobs`. A context manager: leaving it shuts the workers and their kernels
    down (at once, without running queued notebooks, if leaving on an exception).

    Parameters
    ----------
    workers
        Number of worker processes.
    kernel_name
        The kernel the workers start.
    warm
        Keep each worker's kernel between notebooks (False: a fresh kernel per notebook).
    """

    def __init__(self, workers: int, *, kernel_name: str = DEFAULT_KERNEL, warm: bool = True):
        ensure_kernel(kernel_name)
        self.workers = max(1, workers)
        # spawn: the parent may hold threads (rich's progress refresh), which fork does not
        # copy.
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(kernel_name, warm),
        )
        # the executor starts a worker per submitted task, up to the bound: start them all
        for _ in range(self.workers):
            self._executor.submit(int)

    def run(self, jobs: Sequence[NotebookJob]) -> Iterator[NotebookOutcome]:
        """Outcomes of ``jobs``, as they complete."""
        futures: dict[Future[NotebookOutcome], NotebookJob] = {
            self._executor.submit(_execute_in_worker, job): job for job in jobs
        }
        try:
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
            self.close(wait=False)
            raise

    def close(self, *, wait: bool = True) -> None:
        """Shut the workers (and their kernels) down."""
        self._executor.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> NotebookPool:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(wait=exc_type is None)


# A pool worker's kernel, kept between the jobs the worker runs and shut down when the
# worker process exits (multiprocessing runs its finalizers, not atexit's, in a child).
_WORKER_SESSION: KernelSession | None = None


def _init_worker(kernel_name: str, warm: bool) -> None:
    global _WORKER_SESSION
    from multiprocessing.util import Finalize

    from cjresearch.reporting._warm import KernelSession, start_quietly

    # Ctrl-C reaches every process of the terminal's group: the build stops the pool, its
    # workers must not each print a KeyboardInterrupt of their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_watch_parent, args=(os.getppid(),), name="cjresearch-watchdog", daemon=True
    ).start()
    _WORKER_SESSION = KernelSession(kernel_name, warm=warm)
    Finalize(_WORKER_SESSION, _WORKER_SESSION.close, exitpriority=10)
    if warm:
        # a kernel that fails to start now is started (and retried) by the first job
        start_quietly(_WORKER_SESSION)


#: Seconds between a worker's looks at whether its build is still alive.
WATCHDOG_INTERVAL = 0.5


def _watch_parent(parent: int, interval: float = WATCHDOG_INTERVAL) -> None:
    """Die with the build: a worker whose parent is gone (``kill -9`` of the build, which
    runs no clean-up) stops its kernels and exits instead of living on, reparented."""
    while os.getppid() == parent:
        time.sleep(interval)
    for pid in _descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    os._exit(1)


def _descendants(pid: int) -> list[int]:
    """The processes started under ``pid`` (its kernels, theirs), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _execute_in_worker(job: NotebookJob) -> NotebookOutcome:
    session = _WORKER_SESSION
    if session is None:  # pragma: no cover - the initializer runs first
        return execute_notebook(job)
    return execute_notebook(job, _session_for(session, job))
