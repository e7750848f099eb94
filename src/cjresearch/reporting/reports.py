"""Reports: plan, run and publish the reports whose inputs changed.

A report is a notebook plus parameters (:class:`ReportSpec`). Its fingerprint hashes the
notebook's source (cells, not outputs), the parameters, the SHA-256 of every file it reads,
the cjresearch version and anything else the caller adds; a report is executed only when its
fingerprint differs from that of its published version (or ``force``). Executed reports are
turned into HTML pages inside a :class:`~cjresearch.reporting.publish.PublishTransaction`; a
report whose notebook fails keeps its published version, is marked ``stale`` with the error,
and its failed notebook is kept in ``failed_dir`` for debugging.

The state of every published report (fingerprint, status, time, error) lives in
``<output>/.cjresearch/state.json`` and is published in the same transaction as the HTML.

:func:`publish_reports` is what ``build`` and ``cjresearch run`` call: under the output
folder's lock it rolls back any publish a killed build left half-done, runs the changed
reports (:func:`run_reports`), stages the portal and whatever else the caller adds (tables,
manifest), and publishes everything at once. A failing report does not stop the publish; the
caller decides the exit code from :attr:`PublishOutcome.failures`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from cjresearch._files import atomic_path, file_sha256, utc_stamp
from cjresearch._version import __version__
from cjresearch.analysis.privacy import id_tokens, redact_text
from cjresearch.errors import CJResearchError
from cjresearch.reporting.execute import ExecutionOptions, NotebookJob, NotebookOutcome, run_jobs
from cjresearch.reporting.html import Provenance
from cjresearch.reporting.notebooks import (
    ARTIFACTS_PARAMETER,
    STUDY_PARAMETER,
    check_parameter_values,
    coerce_parameters,
    find_notebook,
    notebook_parameters,
)
from cjresearch.reporting.portal import PortalContext, load_portal_context, stage_portal
from cjresearch.reporting.publish import (
    STATE_DIR,
    PublishTransaction,
    assign_slugs,
    lock_output,
    new_run_id,
    recover,
    slugify,
)

__all__ = [
    "KIND_FOLDERS",
    "STATE_FILE",
    "PublishOutcome",
    "ReportResult",
    "ReportSpec",
    "ReportTally",
    "Status",
    "load_state",
    "notebook_fingerprint",
    "plan_reports",
    "publish_reports",
    "report_fingerprint",
    "run_notebook",
    "run_reports",
]

#: Where each kind of report is published, relative to the output folder.
KIND_FOLDERS = {"persona": "personas", "stage": "stages", "owner": "owners", "analysis": "analysis"}
STATE_FILE = f"{STATE_DIR}/state.json"

Status = Literal["ok", "stale", "failed", "skipped-unchanged"]


@dataclass(frozen=True)
class ReportSpec:
    """One report to publish.

    Parameters
    ----------
    kind
        ``persona``, ``stage``, ``owner`` or ``analysis`` (the folder, see ``KIND_FOLDERS``).
    name
        The report's name as data has it (a persona name, a stage); shown escaped, and
        turned into the file name by :func:`~cjresearch.reporting.publish.assign_slugs`.
    notebook
        The parameterised notebook.
    parameters
        Values injected by papermill (None/str/bool/int/float/list/dict only).
    inputs
        Files the notebook reads (artifacts); their SHA-256 enter the fingerprint and the
        provenance footer.
    title
        Page title (default: ``name``).
    slug
        File name without ``.html`` (default: derived from ``name``, unique within the kind).
    shows
        What the page shows that no input file holds (the study file's owners, say), as
        JSON-able values: it enters the fingerprint (left out of it when empty).
    """

    kind: str
    name: str
    notebook: Path
    parameters: Mapping[str, Any] = field(default_factory=dict)
    inputs: Sequence[Path] = ()
    title: str | None = None
    slug: str | None = None
    shows: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportResult:
    """A report's state after a run (one entry of the manifest and of the portal).

    ``status``: ``ok`` (built now), ``skipped-unchanged`` (fingerprint unchanged, published
    version kept), ``stale`` (failed; the previous good version stays published) or
    ``failed`` (failed and there is no previous version). ``path`` is relative to the
    output folder; ``built_at`` is when the published version was built; ``error`` is the
    last failure (None if the last attempt succeeded).
    """

    slug: str
    kind: str
    name: str
    title: str
    path: str
    status: Status
    fingerprint: str
    built_at: str | None
    duration_s: float | None
    error: str | None = None
    failed_notebook: str | None = None
    attempts: int = 0

    def manifest_entry(self) -> dict[str, Any]:
        """The entry as written to manifest.json."""
        return asdict(self)


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def notebook_fingerprint(notebook: str | Path) -> str:
    """SHA-256 of a notebook's cells (type, source, tags), ignoring outputs and metadata.

    Running a notebook by hand and saving it does not change its fingerprint; editing a
    cell does.
    """
    path = Path(notebook)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as exc:
        msg = f"cannot read the notebook {path}: {exc}"
        raise CJResearchError(msg) from exc
    canonical = [
        {
            "type": cell.get("cell_type"),
            "source": "".join(cell.get("source", "")),
            "tags": sorted(cell.get("metadata", {}).get("tags", [])),
        }
        for cell in cells
    ]
    return _sha256_bytes(json.dumps(canonical, sort_keys=True).encode())


def report_fingerprint(spec: ReportSpec, *, extra: Mapping[str, Any] | None = None) -> str:
    """The fingerprint of a report: notebook, parameters, inputs' SHA-256, version, extra."""
    missing = [str(p) for p in spec.inputs if not Path(p).is_file()]
    if missing:
        msg = f"report {spec.name!r} reads files that do not exist: {missing}"
        raise CJResearchError(msg)
    payload = {
        "notebook": notebook_fingerprint(spec.notebook),
        "parameters": spec.parameters,
        "inputs": sorted((Path(p).name, file_sha256(Path(p))) for p in spec.inputs),
        "cjresearch": __version__,
        "extra": extra or {},
        **({"shows": dict(spec.shows)} if spec.shows else {}),
    }
    return _sha256_bytes(json.dumps(payload, sort_keys=True, default=str).encode())


def plan_reports(specs: Sequence[ReportSpec]) -> list[ReportSpec]:
    """The specs with checked kinds and parameters and a unique slug each (per kind)."""
    planned: list[ReportSpec] = []
    by_kind: dict[str, list[ReportSpec]] = {}
    for spec in specs:
        if spec.kind not in KIND_FOLDERS:
            msg = (
                f"report {spec.name!r} has kind {spec.kind!r}; expected one of {list(KIND_FOLDERS)}"
            )
            raise CJResearchError(msg)
        check_parameter_values(spec.parameters)
        by_kind.setdefault(spec.kind, []).append(spec)
    for kind, group in by_kind.items():
        explicit = {slugify(s.slug) for s in group if s.slug is not None}
        derived = assign_slugs(
            s.name for s in group if s.slug is None
        )  # distinct names -> distinct slugs
        used = set(explicit)
        names_seen: set[str] = set()
        for spec in group:
            if spec.slug is not None:
                slug = slugify(spec.slug)
            else:
                if spec.name in names_seen:
                    msg = f"two {kind} reports are both named {spec.name!r}"
                    raise CJResearchError(msg)
                names_seen.add(spec.name)
                slug, base, i = derived[spec.name], derived[spec.name], 1
                while slug in explicit:
                    i += 1
                    slug = f"{base}-{i}"
                used.add(slug)
            planned.append(
                ReportSpec(
                    kind=spec.kind,
                    name=spec.name,
                    notebook=Path(spec.notebook),
                    parameters=dict(spec.parameters),
                    inputs=tuple(Path(p) for p in spec.inputs),
                    title=spec.title or spec.name,
                    slug=slug,
                    shows=dict(spec.shows),
                )
            )
    keys = [_key(s) for s in planned]
    if len(set(keys)) != len(keys):
        msg = f"two reports would be published under the same file name: {sorted(keys)}"
        raise CJResearchError(msg)
    return planned


def load_state(output: str | Path) -> dict[str, dict[str, Any]]:
    """The published reports' state (``<output>/.cjresearch/state.json``), by ``kind/slug``."""
    path = Path(output) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError:
        return {}  # an unreadable state means: rebuild everything
    reports = data.get("reports", {}) if isinstance(data, dict) else {}
    return reports if isinstance(reports, dict) else {}


def _relpath(spec: ReportSpec) -> str:
    return f"{KIND_FOLDERS[spec.kind]}/{spec.slug}.html"


class _Progress:
    """A rich progress bar on a terminal, plain log lines otherwise (cron, CI)."""

    def __init__(self, total: int, enabled: bool | None, stream: TextIO | None) -> None:
        self.stream = stream or sys.stderr
        self.fancy = self.stream.isatty() if enabled is None else enabled
        self.total = total
        self.done = 0
        self._bar: Any = None
        if self.fancy and total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._bar = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("Reports", total=total)

    def log(self, text: str) -> None:
        if self._bar is not None:
            from rich.markup import escape

            self._bar.console.print(escape(text))
        else:
            stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            print(f"{stamp} {text}", file=self.stream, flush=True)

    def advance(self, text: str) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.advance(self._task)
        self.log(f"[{self.done}/{self.total}] {text}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def run_reports(
    specs: Sequence[ReportSpec],
    *,
    transaction: PublishTransaction,
    provenance: Provenance | None = None,
    execution: ExecutionOptions | None = None,
    force: bool = False,
    failed_dir: str | Path | None = None,
    replace_kinds: Collection[str] = ("persona", "stage"),
    fingerprint_extra: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    stream: TextIO | None = None,
    on_done: Callable[[ReportResult], None] | None = None,
    customer_ids: Iterable[object] = (),
) -> list[ReportResult]:
    """Rebuild the reports whose fingerprint changed and stage them for publishing.

    Three steps: plan (which reports to run, from their fingerprints and the previous
    state), run (execute their notebooks into the transaction) and record (every report's
    result, the new state, the removals).

    Parameters
    ----------
    specs
        The reports of this build.
    transaction
        Where the HTML and the state are staged; the caller commits it (after adding the
        portal, tables, manifest). Its output folder holds the previous state.
    provenance
        What every report's footer shows (study, data hashes, versions); each report's own
        inputs are added to its data hashes. The run id is the transaction's; ``built_at``
        defaults to now.
    execution
        Kernel, timeouts, retries, pool (:class:`~cjresearch.reporting.execute.ExecutionOptions`;
        default: its defaults).
    force
        Rebuild every report, changed or not.
    failed_dir
        Where failed notebooks are kept (default ``<output>/.cjresearch/failed``); give the
        artifacts folder when notebooks may show customer-level data.
    replace_kinds
        Kinds for which ``specs`` is the complete list: a published report of such a kind
        that is not in ``specs`` (a persona that no longer exists) is removed. Reports of
        other kinds (``analysis``, added by ``cjresearch run``) are kept.
    fingerprint_extra
        Anything else the reports depend on (e.g. the study's report settings).
    progress
        True: a rich progress bar; False: plain log lines; None: a bar only on a terminal.
    stream
        Where progress goes (default: standard error).
    on_done
        Called with each report's result as it completes.
    customer_ids
        The study's customer ids: a failed report's error is published (portal, manifest)
        with them and other personal data redacted.

    Returns
    -------
    list of ReportResult
        Every report the output folder will hold after the commit: this run's specs in
        order, then the kept reports of other kinds.
    """
    output = transaction.output
    given = provenance or Provenance()
    # One provenance for the whole run: the transaction's run id, one build time.
    provenance = Provenance(
        study=given.study,
        data_hashes=dict(given.data_hashes),
        versions=dict(given.versions),
        run_id=transaction.run_id,
        built_at=given.built_at or utc_stamp(),
    )
    plan = _plan(specs, output, force=force, fingerprint_extra=fingerprint_extra)
    bar = _Progress(len(plan.todo), progress, stream)
    if not plan.todo:
        bar.log(f"{len(plan.reports)} reports unchanged; nothing to do")
    ran = _run(
        plan.todo,
        transaction,
        provenance=provenance,
        execution=execution or ExecutionOptions(),
        failed_root=Path(failed_dir) if failed_dir is not None else output / STATE_DIR / "failed",
        bar=bar,
        on_done=on_done,
        ids=id_tokens(customer_ids),
    )
    return _record(plan, {**plan.kept, **ran}, transaction, replace_kinds=replace_kinds)


# --- plan: which reports to run -------------------------------------------------------------


@dataclass(frozen=True)
class _Planned:
    """One report of this run: its checked spec, fingerprint and previous state."""

    spec: ReportSpec
    fingerprint: str
    before: Mapping[str, Any]
    #: a previous version is published (its page exists and the state has its fingerprint)
    published: bool

    @property
    def key(self) -> str:
        return _key(self.spec)


@dataclass(frozen=True)
class _Plan:
    """Every report of this run in order, those to run, and the results of the others."""

    reports: list[_Planned]
    todo: list[_Planned]
    kept: dict[str, ReportResult]
    previous: dict[str, dict[str, Any]]


def _key(spec: ReportSpec) -> str:
    return f"{spec.kind}/{spec.slug}"


def _result(
    spec: ReportSpec,
    status: Status,
    *,
    fingerprint: str,
    built_at: str | None,
    duration_s: float | None = None,
    error: str | None = None,
    failed_notebook: str | None = None,
    attempts: int = 0,
) -> ReportResult:
    """A planned spec's result."""
    return ReportResult(
        slug=str(spec.slug),
        kind=spec.kind,
        name=spec.name,
        title=str(spec.title),
        path=_relpath(spec),
        status=status,
        fingerprint=fingerprint,
        built_at=built_at,
        duration_s=duration_s,
        error=error,
        failed_notebook=failed_notebook,
        attempts=attempts,
    )


def _plan(
    specs: Sequence[ReportSpec],
    output: Path,
    *,
    force: bool,
    fingerprint_extra: Mapping[str, Any] | None,
) -> _Plan:
    """Run a report when its fingerprint changed since the published version (or ``force``);
    not when it is unchanged, nor when it failed on exactly these inputs last time (it stays
    stale, or failed, with that error)."""
    planned = plan_reports(specs)
    previous = load_state(output)
    reports = [_planned(spec, output, previous, fingerprint_extra) for spec in planned]
    todo: list[_Planned] = []
    kept: dict[str, ReportResult] = {}
    for item in reports:
        before = item.before
        unchanged = item.published and before.get("fingerprint") == item.fingerprint
        failed_same = bool(
            before.get("attempted_fingerprint") == item.fingerprint and before.get("error")
        )
        if force or not (unchanged or failed_same):
            todo.append(item)
            continue
        kept[item.key] = _result(
            item.spec,
            ("stale" if item.published else "failed") if failed_same else "skipped-unchanged",
            fingerprint=str(before.get("fingerprint") or ""),
            built_at=before.get("built_at"),
            error=before.get("error") if failed_same else None,
            failed_notebook=before.get("failed_notebook") if failed_same else None,
        )
    return _Plan(reports, todo, kept, previous)


def _planned(
    spec: ReportSpec,
    output: Path,
    previous: Mapping[str, Mapping[str, Any]],
    fingerprint_extra: Mapping[str, Any] | None,
) -> _Planned:
    before = previous.get(_key(spec), {})
    published = (output / _relpath(spec)).is_file() and bool(before.get("fingerprint"))
    return _Planned(spec, report_fingerprint(spec, extra=fingerprint_extra), before, published)


# --- run: execute the notebooks -------------------------------------------------------------


def _run(
    todo: Sequence[_Planned],
    transaction: PublishTransaction,
    *,
    provenance: Provenance,
    execution: ExecutionOptions,
    failed_root: Path,
    bar: _Progress,
    on_done: Callable[[ReportResult], None] | None,
    ids: frozenset[str],
) -> dict[str, ReportResult]:
    """Execute the planned reports into the transaction; their results by key."""
    by_key = {item.key: item for item in todo}
    results: dict[str, ReportResult] = {}

    def finished(outcome: NotebookOutcome) -> None:
        if outcome.error is not None:
            # the error may quote the data (a customer id, an e-mail): it is published
            outcome = dataclasses.replace(
                outcome, error=redact_text(outcome.error, customer_ids=ids)
            )
        result = _ran(
            by_key[outcome.key],
            outcome,
            transaction,
            built_at=provenance.built_at,
            failed_root=failed_root,
        )
        results[outcome.key] = result
        took = f" in {outcome.duration_s:.1f} s" if outcome.duration_s else ""
        detail = "" if outcome.ok else f": {outcome.error}"
        bar.advance(f"{result.kind} {result.name!r}: {result.status}{took}{detail}")
        if on_done is not None:
            on_done(result)

    jobs = [_job(item, transaction, provenance, execution) for item in todo]
    started = time.perf_counter()
    try:
        run_jobs(
            jobs,
            max_workers=execution.jobs,
            on_done=finished,
            warm=execution.warm,
            pool=execution.pool,
        )
    finally:
        bar.close()
    if todo:
        bar.log(f"{len(todo)} reports run in {time.perf_counter() - started:.1f} s")
    return results


def _job(
    item: _Planned,
    transaction: PublishTransaction,
    provenance: Provenance,
    execution: ExecutionOptions,
) -> NotebookJob:
    """The notebook job of a report: executed in staging, its page staged for publishing."""
    spec = item.spec
    own = {Path(p).name: file_sha256(Path(p)) for p in spec.inputs}
    return NotebookJob(
        key=item.key,
        notebook=Path(spec.notebook),
        output_notebook=transaction.root / "executed" / f"{spec.kind}-{spec.slug}.ipynb",
        parameters=dict(spec.parameters),
        html_path=transaction.path(_relpath(spec)),
        html_options={
            "title": spec.title,
            "parameters": dict(spec.parameters),
            "provenance": dataclasses.replace(
                provenance, data_hashes={**provenance.data_hashes, **own}
            ),
            "portal_href": "../index.html",
        },
        kernel_name=execution.kernel_name,
        start_timeout=execution.start_timeout,
        execution_timeout=execution.execution_timeout,
        retries=execution.retries,
        notebook_timeout=execution.notebook_timeout,
    )


def _ran(
    item: _Planned,
    outcome: NotebookOutcome,
    transaction: PublishTransaction,
    *,
    built_at: str | None,
    failed_root: Path,
) -> ReportResult:
    """A report's result once its notebook ran: ok, or failed (stale if a version is shown)."""
    spec, before = item.spec, item.before
    duration = round(outcome.duration_s, 3)
    if outcome.ok:
        return _result(
            spec,
            "ok",
            fingerprint=item.fingerprint,
            built_at=built_at,
            duration_s=duration,
            attempts=outcome.attempts,
        )
    kept = None
    if outcome.output_notebook is not None and outcome.output_notebook.is_file():
        kept_path = failed_root / f"{spec.kind}-{spec.slug}.ipynb"
        with atomic_path(kept_path) as partial:
            shutil.copyfile(outcome.output_notebook, partial)
        kept = os.fspath(kept_path)
    # Never publish a half-made page of a failed report.
    (transaction.files / _relpath(spec)).unlink(missing_ok=True)
    return _result(
        spec,
        "stale" if item.published else "failed",
        fingerprint=str(before.get("fingerprint") or "") if item.published else "",
        built_at=before.get("built_at") if item.published else None,
        duration_s=duration,
        error=outcome.error,
        failed_notebook=kept,
        attempts=outcome.attempts,
    )


# --- record: results, the new state, removals -----------------------------------------------


def _record(
    plan: _Plan,
    results: Mapping[str, ReportResult],
    transaction: PublishTransaction,
    *,
    replace_kinds: Collection[str],
) -> list[ReportResult]:
    """Every report the folder holds after the commit; stages the state and the removals.

    A published report of a kind in ``replace_kinds`` that this run does not have is
    removed; one of another kind is kept as it was.
    """
    ordered = [results[item.key] for item in plan.reports]
    current = {item.key for item in plan.reports}
    kept_others = []
    for key, entry in sorted(plan.previous.items()):
        if key in current:
            continue
        if entry.get("kind") in replace_kinds:
            transaction.remove(entry.get("path", ""))
            continue
        kept_others.append(_result_from_state(entry))
    everything = ordered + kept_others
    fingerprints = {item.key: item.fingerprint for item in plan.reports}
    state = {
        "reports": {
            f"{r.kind}/{r.slug}": {
                **r.manifest_entry(),
                "attempted_fingerprint": fingerprints.get(f"{r.kind}/{r.slug}", r.fingerprint)
                if r.error
                else r.fingerprint,
            }
            for r in everything
        }
    }
    transaction.write_text(STATE_FILE, json.dumps(state, indent=1, sort_keys=True) + "\n")
    return everything


def _result_from_state(entry: Mapping[str, Any]) -> ReportResult:
    fields = {f for f in ReportResult.__dataclass_fields__}
    values = {k: v for k, v in entry.items() if k in fields}
    if values.get("status") == "ok":
        values["status"] = "skipped-unchanged"
    values["duration_s"] = None
    return ReportResult(**values)


# --------------------------------------------------------------------------- publishing


class ReportTally:
    """The failed and executed reports of a run (of a publish, or of a whole build)."""

    reports: list[ReportResult]

    @property
    def failures(self) -> list[ReportResult]:
        """Reports whose notebook failed in this run or an earlier one (stale or failed)."""
        return [r for r in self.reports if r.status in ("stale", "failed")]

    @property
    def executed(self) -> list[ReportResult]:
        """Reports whose notebook ran in this run."""
        return [r for r in self.reports if r.duration_s is not None]


@dataclass(frozen=True)
class PublishOutcome(ReportTally):
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

    def manifest_entries(self) -> list[dict[str, Any]]:
        """Per-report entries for manifest.json."""
        return [r.manifest_entry() for r in self.reports]


def publish_reports(
    output: str | Path,
    specs: Sequence[ReportSpec],
    *,
    portal: PortalContext | None = None,
    provenance: Provenance | None = None,
    execution: ExecutionOptions | None = None,
    force: bool = False,
    failed_dir: str | Path | None = None,
    replace_kinds: Collection[str] = ("persona", "stage"),
    fingerprint_extra: Mapping[str, Any] | None = None,
    before_commit: Callable[[PublishTransaction, list[ReportResult]], None] | None = None,
    progress: bool | None = None,
    stream: TextIO | None = None,
    lock: bool = True,
    wait: bool = False,
    wait_timeout: float | None = None,
    customer_ids: Iterable[object] = (),
) -> PublishOutcome:
    """Run reports and publish them, with the portal, atomically.

    Parameters
    ----------
    output
        The published folder.
    specs
        The reports (see :class:`ReportSpec`).
    portal
        The portal's study summary and findings; None keeps the last published context (as
        ``cjresearch run`` does) and writes no portal if there was none.
    provenance
        What every page's footer shows (:class:`~cjresearch.reporting.html.Provenance`); its
        ``run_id`` is this publish's (default: :func:`~cjresearch.reporting.publish.new_run_id`).
    execution
        How the notebooks run (:class:`~cjresearch.reporting.execute.ExecutionOptions`).
    force, failed_dir, replace_kinds, fingerprint_extra, progress, stream, customer_ids
        Passed to :func:`run_reports`.
    lock
        Take the output folder's lock (False: the caller holds it, as ``build`` does for
        the whole build, artifacts included).
    before_commit
        Called with the transaction and the reports' results just before the commit, to
        stage more files (``tables/*.csv``, ``manifest.json`` with the per-report entries).
        When no report ran, none was added or removed and the portal exists, nothing is
        published at all (not even the portal or ``before_commit``'s files): a no-op run
        leaves the folder byte for byte as it was.
    wait, wait_timeout
        Wait for a running build's lock instead of failing with "locked by run X since T".

    Raises
    ------
    OutputLockedError
        Another build holds the folder (and ``wait`` is false).
    """
    started = time.perf_counter()
    output = Path(output)
    provenance = provenance or Provenance()
    run_id = provenance.run_id or new_run_id()
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
                provenance=provenance,
                execution=execution,
                force=force,
                failed_dir=failed_dir,
                replace_kinds=replace_kinds,
                fingerprint_extra=fingerprint_extra,
                progress=progress,
                stream=stream,
                customer_ids=customer_ids,
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


def run_notebook(
    notebook: str | Path,
    *,
    output: str | Path,
    parameters: Mapping[str, Any] | Sequence[tuple[str, str]] = (),
    study_file: str | Path | None = None,
    artifacts: str | Path | None = None,
    name: str | None = None,
    provenance: Provenance | None = None,
    execution: ExecutionOptions | None = None,
    wait: bool = False,
    failed_dir: str | Path | None = None,
    progress: bool | None = None,
    customer_ids: Iterable[object] = (),
) -> PublishOutcome:
    """Execute a parameterised notebook and publish it as ``<output>/analysis/<slug>.html``.

    The same guarantees as a build: executed in staging, published atomically under the
    output folder's lock, kept stale (with its failed notebook) on failure, listed in the
    portal (re-rendered from its last context, if there is one). Always executed, even if
    unchanged.

    Parameters
    ----------
    notebook
        A path or a bundled notebook's name.
    output
        The study's output folder.
    parameters
        Values (checked by :func:`~cjresearch.reporting.notebooks.coerce_parameters`).
    study_file, artifacts
        Fill the notebook's ``study_file`` / ``artifacts_dir`` parameters when it declares
        them and they are not given; the artifacts' Parquet files are hashed into the
        footer.
    name
        The page's name (default: the notebook's file name without ``.ipynb``).
    provenance
        The footer's study name and versions (:class:`~cjresearch.reporting.html.Provenance`).
    execution
        How the notebook runs (:class:`~cjresearch.reporting.execute.ExecutionOptions`; one
        job, whatever its ``jobs``).
    wait, failed_dir, progress, customer_ids
        As for :func:`publish_reports`.
    """
    path = find_notebook(notebook)
    values = coerce_parameters(path, parameters)
    declared = {p.name for p in notebook_parameters(path)}
    if study_file is not None and STUDY_PARAMETER in declared:
        values.setdefault(STUDY_PARAMETER, os.fspath(Path(study_file).resolve()))
    if artifacts is not None and ARTIFACTS_PARAMETER in declared:
        values.setdefault(ARTIFACTS_PARAMETER, os.fspath(Path(artifacts).resolve()))
    inputs = sorted(Path(artifacts).glob("*.parquet")) if artifacts is not None else []
    spec = ReportSpec(
        kind="analysis",
        name=name or path.stem,
        notebook=path,
        parameters=values,
        inputs=inputs,
    )
    return publish_reports(
        output,
        [spec],
        provenance=provenance,
        execution=dataclasses.replace(execution or ExecutionOptions(), jobs=1),
        force=True,
        failed_dir=failed_dir,
        replace_kinds=(),
        progress=progress,
        wait=wait,
        customer_ids=customer_ids,
    )
