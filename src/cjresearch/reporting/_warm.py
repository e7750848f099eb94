"""Warm kernels: one started kernel per pool worker, reused for notebook after notebook.

A report costs little more than a kernel start plus the imports of pandas, altair and
statsmodels (about 3-4 s per papermill run, measured); in a build of a dozen reports that
start-up is most of the time. A :class:`KernelSession` starts its kernel once, imports the
heavy modules in it (:data:`WARM_IMPORTS`, no output), and runs successive notebooks in it
through papermill's Python API, via the papermill engine ``cjresearch-warm`` registered
here, whose nbclient client is given the running kernel instead of starting one.

Between two notebooks the kernel is put back into the state a fresh kernel would be in for
everything a notebook can see (:func:`reset_kernel_state`, run inside the kernel): the user
namespace and the execution counter (IPython's ``reset(new_session=True)``, i.e. ``%reset
-f`` plus prompt numbers from 1), the working directory, ``sys.path``, ``os.environ``, the
warnings filters and every "shown once" warnings registry (so a caveat warned about in one
report is warned about again in the next). Altair (>= 6) names charts and parameters by a
hash of their content, not by a counter, so their names do not depend on what ran before.
Imported modules stay imported: that is the point. A notebook that changes a
module's global state (a pandas option, an altair theme) would leak it into the next one;
the bundled notebooks do not, and ``tests/reporting/test_warm.py`` checks that a warm run's reports
are the same as cold runs'.

After any failure (a cell error, a timeout, a kernel that died, the notebook's deadline) the
kernel is discarded and the next notebook gets a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = [
    "ENGINE_NAME",
    "WARM_IMPORTS",
    "KernelSession",
    "prepare_kernel_state",
    "reset_kernel_state",
]

ENGINE_NAME = "cjresearch-warm"

#: Imported in a warm kernel as soon as it starts (the bundled notebooks' imports).
WARM_IMPORTS = ("pandas", "altair", "vl_convert", "cjresearch.reporting.views")

# --- inside the kernel ----------------------------------------------------------------------

_SNAPSHOT: dict[str, Any] = {}


def prepare_kernel_state(imports: tuple[str, ...] = ()) -> None:
    """Run in a fresh kernel: import ``imports`` and remember the state to come back to."""
    import importlib

    for name in imports:
        with contextlib.suppress(ImportError):  # a kernel without it imports it when asked
            importlib.import_module(name)
    _SNAPSHOT.clear()
    _SNAPSHOT.update(
        cwd=os.getcwd(),
        path=list(sys.path),
        environ=dict(os.environ),
        filters=list(warnings.filters),
    )


def reset_kernel_state(cwd: str | None = None) -> None:
    """Run in the kernel before each notebook: back to the state of a fresh kernel.

    ``cwd``: the directory the notebook runs in (default: the kernel's first one).
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.reset(new_session=True)  # %reset -f, Out/In history, execution_count = 1
    if _SNAPSHOT:
        sys.path[:] = _SNAPSHOT["path"]
        for key in set(os.environ) - set(_SNAPSHOT["environ"]):
            del os.environ[key]
        os.environ.update(_SNAPSHOT["environ"])
        warnings.filters[:] = _SNAPSHOT["filters"]  # type: ignore[index]
    # catch_warnings bumps the filters' version, which makes Python forget every
    # __warningregistry__ entry: a warning shown "once" in the last notebook shows again.
    with warnings.catch_warnings():
        pass
    os.chdir(cwd or _SNAPSHOT.get("cwd") or os.getcwd())


# --- in the worker process ------------------------------------------------------------------


class KernelSession:
    """One kernel, started on first use and reused until a failure or :meth:`close`.

    Parameters
    ----------
    kernel_name
        The Jupyter kernel.
    warm
        Reuse the kernel between notebooks (False: a fresh kernel for every notebook, the
        cold way, kept for comparison and for a single notebook).
    imports
        Modules imported as soon as the kernel starts.
    """

    #: Run in a fresh kernel (``{imports}``: the modules to import).
    prepare_code = (
        "import cjresearch.reporting._warm as _w; _w.prepare_kernel_state({imports!r}); del _w"
    )

    def __init__(
        self,
        kernel_name: str,
        *,
        warm: bool = True,
        imports: tuple[str, ...] = WARM_IMPORTS,
    ) -> None:
        self.kernel_name = kernel_name
        self.warm = warm
        self.imports = imports
        self.km: Any = None
        self.kc: Any = None
        self.starts = 0
        #: Whether the running kernel can be reset (it imports cjresearch); one that cannot
        #: runs a single notebook and is replaced, as in the cold way.
        self.resettable = False

    @property
    def pid(self) -> int | None:
        """The running kernel's process id, or None."""
        provisioner = getattr(self.km, "provisioner", None)
        return getattr(provisioner, "pid", None)

    async def start(self, *, start_timeout: float, cwd: str) -> tuple[Any, Any]:
        """The manager and client of a started, prepared kernel (starting one if needed)."""
        if self.km is not None and await self.km.is_alive():
            return self.km, self.kc
        await self.discard()
        from jupyter_client.manager import AsyncKernelManager

        # IPC transport: the kernel talks to us over local sockets, not TCP ports (no port
        # races between parallel kernels, and no "running over TCP without encryption"
        # warning on every start). No IPython history: parallel kernels would fight over
        # one history database, and a report needs none.
        self.km = AsyncKernelManager(
            kernel_name=self.kernel_name,
            transport="ipc",
            # an absolute, short socket path: the kernel and this process resolve it alike,
            # whatever their working folders, within the 107 bytes a socket path may have
            ip=os.path.join(tempfile.gettempdir(), f"cjresearch-{uuid.uuid4().hex[:12]}"),
        )
        self.starts += 1
        try:
            await self.km.start_kernel(cwd=cwd, extra_arguments=_KERNEL_ARGUMENTS)
            self.kc = self.km.client()
            self.kc.allow_stdin = False
            self.kc.start_channels()
            await self.kc.wait_for_ready(timeout=start_timeout)
            content = await self._execute(
                self.prepare_code.format(imports=tuple(self.imports)),
                timeout=start_timeout + 120.0,
                check=False,
            )
            # A kernel of another environment (no cjresearch in it) is used cold.
            self.resettable = content.get("status") == "ok"
            if not self.resettable and content.get("ename") not in _NOT_INSTALLED:
                _raise_for(content)
        except BaseException:
            await self.discard()
            raise
        return self.km, self.kc

    async def before_notebook(self, *, cwd: str, timeout: float | None) -> None:
        """Reset the kernel's state (see the module's docstring) and enter ``cwd``.

        Also before a fresh kernel's first notebook: a kernel started ahead of its work
        started in another directory.
        """
        if not self.resettable:
            return  # a fresh kernel, started in the notebook's directory
        # __import__: a name bound here would be cleared by the reset it calls
        await self._execute(
            f"__import__('cjresearch.reporting._warm', fromlist=['_']).reset_kernel_state({cwd!r})",
            timeout=timeout,
        )

    async def _execute(
        self, code: str, *, timeout: float | None, check: bool = True
    ) -> dict[str, Any]:
        """Run ``code`` silently (no output, no history); the reply's content."""
        reply = await self.kc.execute_interactive(
            code, silent=True, store_history=False, timeout=timeout
        )
        content: dict[str, Any] = reply.get("content", {})
        if check and content.get("status") != "ok":
            _raise_for(content)
        return content

    def after_notebook(self, *, ok: bool) -> None:
        """Keep a kernel that ran a notebook to the end; discard it otherwise (or if cold)."""
        if not ok or not self.warm or not self.resettable:
            self.close()

    def kill(self) -> None:
        """Stop the kernel at once, from any thread (the notebook's deadline)."""
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    async def discard(self) -> None:
        """Shut the kernel down; the next notebook starts a fresh one."""
        km, kc = self.km, self.kc
        self.km = self.kc = None
        self.resettable = False
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()
        if km is not None:
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)  # cleans its connection files up too

    def close(self) -> None:
        """:meth:`discard`, from synchronous code."""
        if self.km is None and self.kc is None:
            return
        from jupyter_core.utils import run_sync

        run_sync(self.discard)()


_NOT_INSTALLED = ("ModuleNotFoundError", "ImportError")
_KERNEL_ARGUMENTS = ["--HistoryManager.enabled=False"]


def _raise_for(content: dict[str, Any]) -> None:
    msg = f"preparing the kernel failed: {content.get('ename')}: {content.get('evalue')}"
    raise RuntimeError(msg)


def start_quietly(session: KernelSession, *, start_timeout: float = 60.0) -> None:
    """Start a session's kernel ahead of its first notebook; a failure is left to that
    notebook (which retries a kernel that fails to start)."""
    from jupyter_core.utils import run_sync

    with contextlib.suppress(Exception):
        run_sync(session.start)(start_timeout=start_timeout, cwd=os.getcwd())


def _engine() -> Any:
    """The papermill engine that runs a notebook in a :class:`KernelSession`'s kernel."""
    from jupyter_core.utils import run_sync
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class WarmClient(PapermillNotebookClient):
        session: KernelSession

        @contextlib.contextmanager
        def setup_kernel(self, **kwargs: Any) -> Iterator[None]:
            # The session's kernel and client, not a kernel of its own: nothing is shut
            # down when the notebook ends (the session decides).
            self.km, self.kc = run_sync(self.session.start)(
                start_timeout=self.startup_timeout, cwd=os.getcwd()
            )
            run_sync(self.session.before_notebook)(cwd=os.getcwd(), timeout=self.timeout)
            yield

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: float = 60,
            execution_timeout: float | None = None,
            session: KernelSession | None = None,
            save_on_error: str | None = None,
            **kwargs: Any,
        ) -> Any:
            if session is None:
                msg = "the cjresearch-warm engine needs a KernelSession (session=...)"
                raise TypeError(msg)
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = WarmClient(nb_man, **final)
            client.session = session
            try:
                return client.execute()
            except BaseException:
                # papermill saves the notebook as it stands when the engine returns
                # (notebook_complete); it saves nothing while cells run (no per-cell saves)
                if save_on_error:
                    nb_man.output_path = save_on_error
                raise

    return WarmEngine


_REGISTERED = False


def register_engine() -> None:
    """Register the ``cjresearch-warm`` papermill engine (once per process)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE_NAME, _engine())
    _REGISTERED = True
