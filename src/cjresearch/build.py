"""The build: a study in, artifacts, reports, tables, a portal and a manifest out.

:func:`build` is the product's main job. Under the output folder's lock it

1. computes the artifacts (:func:`cjresearch.artifacts.compute.compute_artifacts`): validated
   canonical tables, emotion tables, journey features, personas, the statistics, the journey
   map and the publishable tables, once per change of the inputs (an unchanged study and
   unchanged files reuse them);
2. fans out one report per persona and per stage, plus the analysis notebooks
   (:func:`cjresearch.reporting.specs.report_specs`), through papermill
   (:func:`cjresearch.reporting.reports.publish_reports`), rebuilding only the reports whose
   fingerprint changed;
3. publishes the reports, the portal, ``tables/*.csv``, ``alerts.json`` and
   ``manifest.json`` (:mod:`cjresearch.artifacts.manifest`) in one atomic step: an
   interrupted or failed build leaves the published folder as it was (a failing report
   keeps its previous version, marked stale);
4. hands the alerts of a measurement this output has not published before to the study's
   ``[alerts] command`` (its failure is logged, never fails the build).

Alerts are raised once per measurement: a build that measures (its artifacts were
computed) publishes its alerts and returns them as new; a rebuild that reuses the artifacts
(nothing changed) keeps ``alerts.json`` as it is and returns none
(:attr:`BuildResult.alerts`), so that a scheduled build tells the owners once, not every
day the data stay the same.

Artifacts hold customer ids and are never published; everything under the output folder is
free of them (``tests/test_build.py`` checks).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjresearch._files import utc_now
from cjresearch.artifacts import manifest as manifests
from cjresearch.artifacts.catalog import Artifacts
from cjresearch.artifacts.compute import artifacts_current, compute_artifacts
from cjresearch.data.study import Study
from cjresearch.reporting.reports import ReportResult, ReportTally

# The report machinery (papermill, nbconvert) is imported where it is used: a caller that
# only computes artifacts, and a no-op rebuild from cron, need none of it.

__all__ = ["BuildResult", "build", "run_alert_command"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildResult(ReportTally):
    """What a build did (``failures``: reports that failed, their previous version still
    published, marked stale; ``executed``: reports whose notebook ran in this build;
    ``alerts``: the alerts of a measurement this output had not published before, each a
    dict as in ``alerts.json``; ``alert_command``: what the ``[alerts] command`` did, or
    None when it did not run)."""

    run_id: str
    output: Path
    artifacts: Artifacts
    manifest: dict[str, Any]
    reports: list[ReportResult] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_command: str | None = None

    @property
    def manifest_path(self) -> Path:
        return self.output / "manifest.json"


def build(
    study: Study,
    *,
    output: str | Path | None = None,
    artifacts: str | Path | None = None,
    jobs: int | None = None,
    force: bool = False,
    wait: bool = False,
    progress: bool | None = None,
    reports: bool = True,
    pdf: bool = False,
) -> BuildResult:
    """Build a study: artifacts, reports, portal, tables and manifest.

    Parameters
    ----------
    study
        The validated study file.
    output
        Folder for published files (default: the study's ``[reports] output``).
    artifacts
        Folder for artifacts, which hold customer ids (default: ``[reports] artifacts``).
    jobs
        Reports run in parallel (default: the number of cores).
    force
        Recompute the artifacts and rebuild every report, changed or not.
    wait
        Wait for a build that holds the output folder instead of failing at once.
    progress
        A progress bar (default: when the output is a terminal; plain lines otherwise).
    reports
        Run the report notebooks (False: artifacts, tables and manifest only).
    pdf
        Also print every published page to PDF beside it with Chromium
        (:func:`cjresearch.reporting.pdf.print_pdfs`); checked before anything is computed.

    Returns
    -------
    BuildResult
        The artifacts, the manifest and every report's state (see ``failures``).

    Raises
    ------
    DataError
        The study's tables have fatal problems. Nothing is written in that case.
    OutputLockedError
        Another build holds the output folder.
    CJResearchError
        With ``pdf``, no Chromium to print with (nothing is built then).
    """
    from cjresearch.reporting.execute import ExecutionOptions
    from cjresearch.reporting.html import Provenance
    from cjresearch.reporting.publish import (
        PublishTransaction,
        check_output_folder,
        lock_output,
        new_run_id,
    )
    from cjresearch.reporting.reports import publish_reports
    from cjresearch.reporting.specs import portal_context, report_specs

    chromium = None
    if pdf:
        from cjresearch.reporting.pdf import find_chromium

        chromium = find_chromium()  # before any work: a clear message, nothing half done
    started = utc_now()
    run_id = new_run_id()
    folder = Path(artifacts) if artifacts is not None else study.artifacts_dir
    output = check_output_folder(
        output if output is not None else study.output_dir,
        inputs=[study.path, *(study.data_path(t) for t in ("customers", "events", "feedback"))],
        artifacts=folder,
    )
    with (
        lock_output(output, run_id=run_id, wait=wait),
        _early_pool(study, folder, jobs, force=force, reports=reports) as pool,
    ):
        published_measurement = _published_measurement(output)
        computed = compute_artifacts(study, folder, force=force, run_id=run_id, progress=_log_line)
        specs = report_specs(study, computed) if reports else []
        manifest = manifests.start_manifest(run_id, started, study, computed)

        def stage_tables(tx: Any, results: list[Any]) -> None:
            nonlocal manifest
            for name in computed.table_names:
                tx.write_text(f"tables/{name}.csv", computed.table(name).to_csv(index=False))
            tx.write_text("alerts.json", json.dumps(computed.alerts(), indent=2) + "\n")
            manifest = manifests.finish_manifest(manifest, results)
            tx.write_text("manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")

        outcome = publish_reports(
            output,
            specs,
            portal=portal_context(study, computed, run_id),
            provenance=Provenance(
                study=study.name,
                data_hashes={i["file"]: i["sha256"] for i in computed.summary["inputs"].values()},
                versions=manifest["versions"],
                run_id=run_id,
            ),
            execution=ExecutionOptions(
                jobs=jobs, notebook_timeout=study.reports.notebook_timeout, pool=pool
            ),
            force=force,
            failed_dir=folder / "failed",
            # the study's name is on every page: a renamed study rebuilds them
            fingerprint_extra={"study": study.name},
            before_commit=stage_tables,
            progress=progress,
            lock=False,
            customer_ids=computed.customer_ids(),
        )
        new = computed.measurement is not None and computed.measurement != published_measurement
        if new and not outcome.published:
            # measured again, yet no report changed (the history grew, say): the tables,
            # the alerts and the manifest are still this measurement's to publish
            with PublishTransaction(output, run_id) as tx:
                stage_tables(tx, list(outcome.reports))
                tx.commit()
        if chromium is not None:
            from cjresearch.reporting.pdf import print_pdfs

            print_pdfs(output, chromium=chromium)
    if not new and not outcome.published and (output / "manifest.json").is_file():
        # nothing changed: the published manifest is still the truth
        manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    alerts = computed.alerts() if new else []
    command = None
    if alerts and study.alerts.command:
        command = run_alert_command(
            study.alerts.command,
            output / "alerts.json",
            cwd=study.folder,
            timeout=study.alerts.timeout_seconds,
        )
    return BuildResult(run_id, output, computed, manifest, list(outcome.reports), alerts, command)


def _log_line(text: str) -> None:
    """A progress line on standard error, stamped like the reports' lines."""
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} {text}", file=sys.stderr, flush=True)


def _published_measurement(output: Path) -> str | None:
    """The measurement the output folder's manifest publishes (None: none, or a manifest
    from before the history)."""
    try:
        manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = manifest.get("journey_management") if isinstance(manifest, dict) else None
    return found.get("measurement") if isinstance(found, dict) else None


def run_alert_command(command: str, alerts_file: Path, *, cwd: Path, timeout: float = 60.0) -> str:
    """Run the study's ``[alerts] command`` with the published ``alerts.json`` on its
    standard input (the hook for mail or chat).

    The command runs through the shell (pipes work, as in a crontab line) in the study's
    folder. It gets the published file and nothing else: the alerts' text never becomes
    part of the command line. Its failure (an exit code other than 0, a time-out, a command
    that cannot start) is logged and returned, never raised: a build does not fail because
    a mail server is down.

    Returns
    -------
    str
        What happened, in a line (``"ok"``, or why it failed).
    """
    try:
        with alerts_file.open("rb") as stdin:
            done = subprocess.run(
                command,
                shell=True,
                stdin=stdin,
                capture_output=True,
                cwd=cwd,
                timeout=timeout,
                check=False,
            )
    except subprocess.TimeoutExpired:
        outcome = f"the alerts command did not finish within {timeout:g} s and was stopped"
    except OSError as exc:
        outcome = f"the alerts command could not run: {exc}"
    else:
        if done.returncode == 0:
            return "ok"
        said = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        outcome = f"the alerts command exited with code {done.returncode}" + (
            f": {said[-1][:200]}" if said else ""
        )
    _log.warning("%s (command: %s)", outcome, command)
    return outcome


def _early_pool(
    study: Study, folder: Path, jobs: int | None, *, force: bool, reports: bool
) -> contextlib.AbstractContextManager[Any]:
    """The report workers, started now when the artifacts are to be computed: their kernels
    start and import while the artifacts are computed, instead of after. None (nothing to
    start) when the artifacts are current: a build that changes nothing starts no kernel."""
    from cjresearch.reporting.execute import NotebookPool, default_jobs

    workers = jobs or default_jobs()
    if not reports or workers <= 1 or (not force and artifacts_current(study, folder)):
        return contextlib.nullcontext()
    return NotebookPool(workers)
