"""One call run in a forked child while the caller goes on, and helper threads for numpy work
that lets go of the GIL (not API).

The statistics step is a handful of independent model families, each single-threaded numpy
(sorts, searches, gathers) for most of its time, on a machine whose other cores wait. The
largest family (the joint model's multiple imputation, two thirds of the step) can run in a
child forked from the build: the child sees the inputs as they are, without a copy or a
pickle (fork shares the pages until one side writes), and only its result (a few small
tables) comes back through a pipe. A child's own memory (the pages only it holds) is
counted in the build's measurements (:func:`cjresearch.artifacts._steps.rss_mb`).

Where a fork cannot be had (not Linux; a daemonic process, which may not have children) or
is not worth it (``parallel=False``), the call runs where it is, at once: the result is the
same either way, the call having nothing to share with what runs beside it but its inputs
(the caller's tests pin this).

What the child warns is recorded there and warned again, unchanged, when the result is
collected; an exception raised there is raised again in the caller. The child ignores
Ctrl-C (the terminal sends it to both): the caller, interrupted, stops the child on its way
out, so one line, not two tracebacks, reports the interruption.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

from cjresearch.errors import CJResearchError

__all__ = ["Background", "can_fork", "helper_thread", "in_halves", "submit"]

T = TypeVar("T")


def can_fork() -> bool:
    """Whether this process can fork a child for :class:`Background` (Linux, not daemonic)."""
    return (
        sys.platform.startswith("linux")
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


def _child(writer: Connection, call: Callable[..., Any], args: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # the filters are the parent's, as inherited: what passes them is recorded
        with warnings.catch_warnings(record=True) as caught:
            outcome: tuple[str, Any] = ("ok", call(*args))
    except BaseException as exc:
        outcome = ("error", exc)
    said = [(w.message, w.category, w.filename, w.lineno) for w in caught]
    try:
        writer.send((*outcome, said))
    except Exception as exc:  # a value or an error pickle cannot carry: said in words
        failed = CJResearchError(f"the result could not be sent back ({type(exc).__name__}: {exc})")
        writer.send(("error", failed, said))
    writer.close()


class Background(Generic[T]):
    """``call(*args)`` run in a forked child (see the module), collected by :meth:`result`;
    ``what`` names it in the error raised if the child dies without a result.

    Use it as a context manager: leaving the block stops a child whose result was not
    collected (an error or Ctrl-C in the caller)::

        with Background(fit, x, y, what="the fit") as job:
            other = something_else()
            fitted = job.result()
    """

    def __init__(
        self, call: Callable[..., T], *args: Any, what: str, parallel: bool = True
    ) -> None:
        self._call, self._args, self._what = call, args, what
        self._process: Any = None
        self._reader: Connection | None = None
        self.forked = parallel and can_fork()
        """Whether the call runs in a child (False: :meth:`result` runs it here)."""
        if self.forked:
            context = multiprocessing.get_context("fork")
            self._reader, writer = context.Pipe(duplex=False)
            self._process = context.Process(
                target=_child, args=(writer, call, args), name="cjresearch-background"
            )
            with warnings.catch_warnings():
                # Python 3.12+ warns of fork in a process with threads; the child calls
                # nothing that the idle threads of DuckDB, Arrow or the step watch hold
                warnings.filterwarnings("ignore", "This process .* fork", DeprecationWarning)
                self._process.start()
            writer.close()

    def result(self) -> T:
        """The call's value (waiting for the child), its warnings warned again here; once."""
        if not self.forked:
            return self._call(*self._args)
        if self._process is None or self._reader is None:
            msg = f"{self._what}: the result was collected already"
            raise RuntimeError(msg)
        try:
            status, value, said = self._reader.recv()
        except EOFError:
            self._process.join()
            code = self._process.exitcode
            msg = (
                f"{self._what} (run in a child process) stopped without a result (exit code "
                f"{code}; -9 is the system running out of memory)"
            )
            raise CJResearchError(msg) from None
        finally:
            self._reader.close()
            self._reader = None
        self._process.join()
        self._process = None
        for message, category, filename, lineno in said:
            warnings.warn_explicit(message, category, filename, lineno)
        if status == "error":
            raise value
        return value

    def __enter__(self) -> Background[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:  # not collected: the caller failed or was stopped
            self._process.terminate()
            self._process.join()
            self._process = None
            if self._reader is not None:
                self._reader.close()


_HELPERS: dict[tuple[int, str], ThreadPoolExecutor] = {}


def helper_thread(name: str) -> ThreadPoolExecutor:
    """This process's helper thread called ``name`` (one each: a forked child makes its
    own, threads do not survive a fork). Numpy lets go of the GIL in its sorts, searches,
    gathers and products, so two such calls run on two cores, each giving the floats it
    gives alone."""
    key = (os.getpid(), name)
    if key not in _HELPERS:
        _HELPERS[key] = ThreadPoolExecutor(1, thread_name_prefix=f"cjresearch-{name}")
    return _HELPERS[key]


def submit(
    helper: ThreadPoolExecutor | None, call: Callable[..., T], *args: Any, **kw: Any
) -> Future[T]:
    """``call`` run by ``helper`` (its future), or at once where there is none (a done one)."""
    if helper is not None:
        return helper.submit(call, *args, **kw)
    done: Future[T] = Future()
    done.set_result(call(*args, **kw))
    return done


def in_halves(helper: ThreadPoolExecutor | None, calls: Sequence[Callable[[], T]]) -> list[T]:
    """Every call's value, in order: the first half run by ``helper`` while this thread
    runs the rest (all here without a helper)."""
    half = len(calls) // 2 if helper is not None else 0
    first = submit(helper, lambda: [call() for call in calls[:half]])
    rest = [call() for call in calls[half:]]
    return [*first.result(), *rest]
