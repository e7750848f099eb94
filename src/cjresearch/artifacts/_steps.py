"""Progress lines and measurements of the artifact steps (not API)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from cjresearch._memory import release_unused_memory

__all__ = ["Steps", "peak_rss_mb", "release_unused_memory", "rss_mb"]

try:  # not on Windows: the peak is then unknown
    import resource
except ImportError:  # pragma: no cover - Linux and macOS have it
    resource = None  # type: ignore[assignment]

#: seconds between the lines of a step still running (a large table takes minutes to read)
HEARTBEAT_SECONDS = 30.0
#: seconds between two samples of the resident memory during a step
_SAMPLE_SECONDS = 0.5


def peak_rss_mb() -> float | None:
    """The process's peak resident memory so far, in MB (None where unknown)."""
    if resource is None:  # pragma: no cover
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # kilobytes on Linux, bytes on macOS
    return peak / (1024 * 1024) if os.uname().sysname == "Darwin" else peak / 1024


def cpu_s() -> float:
    """The CPU seconds of this process (every thread) and of the children it has waited for
    (a forked joint model's)."""
    if resource is None:  # pragma: no cover
        return time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def rss_mb() -> float | None:
    """The resident memory now, in MB, of this process and of its children (None where
    ``/proc`` is not there): a child forked for the statistics
    (:mod:`cjresearch._background`) shares the pages it has not written with this process,
    so it adds the pages only it holds (its private memory)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    own = pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    return own + sum(_private_kb(pid) for pid in _descendants("self")) / 1024


def _descendants(pid: str) -> list[str]:
    """The processes forked by ``pid`` (and by those), from ``/proc``'s children lists."""
    found: list[str] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                found += children.read().split()
        except OSError:
            continue
    return found + [d for child in found for d in _descendants(child)]


def _private_kb(pid: str) -> int:
    """The kilobytes of resident memory that only ``pid`` holds (0 once it is gone)."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return total


def _mb(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f} MB"


class _Watch:
    """A thread that samples the resident memory during one step and, every
    ``heartbeat`` seconds, says that the step is still running."""

    def __init__(self, what: str, progress: Callable[[str], None] | None, heartbeat: float):
        self.what, self.progress, self.heartbeat = what, progress, heartbeat
        self.peak = rss_mb()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cjresearch-step", daemon=True)

    def __enter__(self) -> _Watch:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        now = rss_mb()
        if now is not None and (self.peak is None or now > self.peak):
            self.peak = now

    def _run(self) -> None:
        next_line = self._started + self.heartbeat
        while not self._done.wait(_SAMPLE_SECONDS):
            self._sample()
            if self.progress is not None and time.perf_counter() >= next_line:
                next_line += self.heartbeat
                self.progress(
                    f"artifacts: {self.what}: still running after "
                    f"{time.perf_counter() - self._started:.0f} s "
                    f"(peak RSS {_mb(max(peak_rss_mb() or 0.0, self.peak or 0.0) or None)})"
                )


class Steps:
    """Tells ``progress`` (when given) what each step did, how long it took, how long the
    computation has run and the peak memory so far: the artifacts of a large study take
    minutes, and a silent terminal looks hung. A step still running says so every
    ``heartbeat`` seconds.

    ``records`` holds one entry per finished step (for the manifest): ``step``, ``wall_s``,
    ``cpu_s`` (every thread's, and the children's it waited for: :func:`cpu_s`), ``rss_mb``
    (at its end),
    ``step_peak_rss_mb`` (the highest resident memory sampled during it, a forked child's
    private memory included: :func:`rss_mb`) and ``peak_rss_mb`` (the peak so far:
    :meth:`peak_mb`).
    """

    def __init__(
        self, progress: Callable[[str], None] | None, *, heartbeat: float = HEARTBEAT_SECONDS
    ) -> None:
        self.progress = progress
        self.heartbeat = heartbeat
        self.records: list[dict[str, Any]] = []
        self._started = time.perf_counter()
        self._highest: float | None = None  # sampled, children included

    def peak_mb(self) -> float | None:
        """The peak so far: the process's own (``ru_maxrss``), or the highest sample with its
        children's private memory where that is higher."""
        known = [v for v in (peak_rss_mb(), self._highest) if v is not None]
        return max(known) if known else None

    @contextlib.contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), cpu_s()
        with _Watch(what, self.progress, self.heartbeat) as watch:
            yield
        release_unused_memory()
        wall = time.perf_counter() - started
        if watch.peak is not None:
            self._highest = max(watch.peak, self._highest or 0.0)
        peak, now = self.peak_mb(), rss_mb()
        self.records.append(
            {
                "step": what,
                "wall_s": round(wall, 3),
                "cpu_s": round(cpu_s() - cpu, 3),
                "rss_mb": None if now is None else round(now, 1),
                "step_peak_rss_mb": None if watch.peak is None else round(watch.peak, 1),
                "peak_rss_mb": None if peak is None else round(peak, 1),
            }
        )
        if self.progress is not None:
            self.progress(
                f"artifacts: {what} in {wall:.1f} s "
                f"(elapsed {time.perf_counter() - self._started:.0f} s, "
                f"peak RSS {_mb(peak)})"
            )
