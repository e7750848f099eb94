"""One publish of the output folder, start to end: lock, recover, run reports, portal, commit.

:func:`publish_reports` is what ``build`` and ``cjresearch run`` call. Under the output
folder's lock it rolls back any publish a killed build left half-done, runs the reports
whose fingerprint changed (:func:`~cjresearch.reporting.reports.run_reports`), stages the portal and
whatever else the caller adds (tables, manifest), and publishes everything at once. A
failing report keeps its previous version (marked stale) and does not stop the publish; the
caller decides the exit code from :attr:`PublishOutcome.failures`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cjresearch.reporting.portal import PortalContext, load_portal_context, stage_portal
from cjresearch.reporting.publish import PublishTransaction, lock_output, recover
from cjresearch.reporting.reports import ReportResult, ReportSpec, load_state, run_reports

__all__ = ["PublishOutcome", "new_run_id", "publish_reports"]


def new_run_id() -> str:
    """A run id: UTC time and a random suffix, e.g. ``20260630T060000Z-1a2b3c4d``."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class PublishOutcome:
    """What a publish did.

    ``reports``: every report in the folder after the publish (this run's first);
    ``published``: relative paths written; ``rolled_back``: run ids of earlier, interrupted
    publishes that were undone first; ``duration_s``: wall time.
    """

    run_id: str
    output: Path
    reports: list[ReportResult]
    published: list[str]
    rolled_back: list[str]
    duration_s: float

    @property
    def failures(self) -> list[ReportResult]:
        """Reports whose notebook failed in this run or an earlier one (stale or failed)."""
        return [r for r in self.reports if r.status in ("stale", "failed")]

    @property
    def executed(self) -> list[ReportResult]:
        """Reports whose notebook ran in this publish."""
        return [r for r in self.reports if r.duration_s is not None]

    def manifest_entries(self) -> list[dict[str, Any]]:
        """Per-report entries for manifest.json."""
        return [r.manifest_entry() for r in self.reports]


def publish_reports(
    output: str | Path,
    specs: Sequence[ReportSpec],
    *,
    portal: PortalContext | None = None,
    run_id: str | None = None,
    wait: bool = False,
    wait_timeout: float | None = None,
    study: str | None = None,
    data_hashes: Mapping[str, str] | None = None,
    versions: Mapping[str, str] | None = None,
    jobs: int | None = None,
    force: bool = False,
    failed_dir: str | Path | None = None,
    replace_kinds: Collection[str] = ("persona", "stage"),
    before_commit: Callable[[PublishTransaction, list[ReportResult]], None] | None = None,
    progress: bool | None = None,
    stream: TextIO | None = None,
    lock: bool = True,
    **execution: Any,
) -> PublishOutcome:
    """Run reports and publish them, with the portal, atomically.

    Parameters
    ----------
    output
        The published folder.
    specs
        The reports (see :class:`~cjresearch.reporting.reports.ReportSpec`).
    portal
        The portal's study summary and findings; None keeps the last published context (as
        ``cjresearch run`` does) and writes no portal if there was none.
    run_id
        Default: :func:`new_run_id`.
    wait, wait_timeout
        Wait for a running build's lock instead of failing with "locked by run X since T".
    study, data_hashes, versions, jobs, force, failed_dir, replace_kinds, progress, stream
        Passed to :func:`~cjresearch.reporting.reports.run_reports`.
    lock
        Take the output folder's lock (False: the caller holds it, as ``build`` does for
        the whole build, artifacts included).
    before_commit
        Called with the transaction and the reports' results just before the commit, to
        stage more files (``tables/*.csv``, ``manifest.json`` with the per-report entries).
        When no report ran, none was added or removed and the portal exists, nothing is
        published at all (not even the portal or ``before_commit``'s files): a no-op run
        leaves the folder byte for byte as it was.
    **execution
        ``kernel_name``, ``start_timeout``, ``execution_timeout``, ``notebook_timeout``,
        ``retries``, ``fingerprint_extra``, ``pool`` for
        :func:`~cjresearch.reporting.reports.run_reports`.

    Raises
    ------
    OutputLockedError
        Another build holds the folder (and ``wait`` is false).
    """
    started = time.perf_counter()
    output = Path(output)
    run_id = run_id or new_run_id()
    held = (
        lock_output(output, run_id=run_id, wait=wait, timeout=wait_timeout)
        if lock
        else contextlib.nullcontext()
    )
    with held:
        rolled_back = recover(output)
        with PublishTransaction(output, run_id) as tx:
            reports = run_reports(
                specs,
                transaction=tx,
                study=study,
                data_hashes=data_hashes,
                versions=versions,
                jobs=jobs,
                force=force,
                failed_dir=failed_dir,
                replace_kinds=replace_kinds,
                progress=progress,
                stream=stream,
                **execution,
            )
            # Nothing ran and nothing moved: leave the folder (portal, manifest) untouched.
            nothing_new = (
                not force
                and (portal is None or (output / "index.html").is_file())
                and not any(r.duration_s is not None for r in reports)
                and not rolled_back
                and _same_state(output, reports)
            )
            if nothing_new:
                tx.discard()
                published: list[str] = []
            else:
                context = portal or load_portal_context(output)
                if context is not None:
                    stage_portal(tx, context, reports)
                if before_commit is not None:
                    before_commit(tx, reports)
                published = tx.commit()
    return PublishOutcome(
        run_id, output, reports, published, rolled_back, time.perf_counter() - started
    )


def _same_state(output: Path, reports: Sequence[ReportResult]) -> bool:
    before = load_state(output)
    return set(before) == {f"{r.kind}/{r.slug}" for r in reports}
