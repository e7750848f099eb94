"""The command-line interface: a thin layer over the package.

Every user error (a bad study file, bad data) prints one line per problem and exits with
code 2; ``--debug`` shows the traceback instead. Warnings (dropped rows) are printed too.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cjresearch._version import __version__
from cjresearch.errors import CJResearchError, CJResearchWarning, DataError, StudyFileError

__all__ = ["app", "in_words", "main"]

#: Where ``cjresearch build`` with no argument finds (or generates) the bundled sample study;
#: its study file publishes into the repository's ``reports/`` and keeps its artifacts in
#: ``data/processed/sample/``, whichever command uses it (build, run, explore, schedule).
SAMPLE_STUDY = Path("data/sample/study.toml")
#: The bundled sample study's [reports] folders, relative to its study file: the output is the
#: project's reports/ whichever command builds it (build, run, explore, schedule).
SAMPLE_OUTPUT, SAMPLE_ARTIFACTS = "../../reports", "../processed/sample"

app = typer.Typer(
    name="cjresearch",
    help="Customer journey research: personas, emotion-to-churn statistics, journey maps, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
_state = {"debug": False}

T = TypeVar("T")


def _flag(name: str, *, help: str, **options: Any) -> Any:
    """A true/false option given as a plain flag (``--force``): typer's help would otherwise
    show it with a ``<bool>`` value, as if it took one."""
    return typer.Option(name, help=help, metavar="", **options)


def _version(value: bool) -> None:
    if value:
        out.print(f"cjresearch {__version__}")
        raise typer.Exit


@app.callback()
def _main(
    version: Annotated[
        bool,
        _flag("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, _flag("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    """cjresearch: from customers, touchpoint events and feedback to personas and reports."""
    _state["debug"] = debug


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn user errors into one-line messages and exit code 2; print warnings plainly."""
    error: CJResearchError | None = None
    interrupted = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CJResearchWarning)
        try:
            yield
        except CJResearchError as exc:
            error = exc
        except OSError as exc:
            if _state["debug"] or exc.errno not in _OS_WORDS:
                raise
            error = CJResearchError(os_error_line(exc))
        except KeyboardInterrupt:
            interrupted = True
    # Printed once the capture is over: showing a warning inside it would record it again
    # (and a loop over the growing list would never end).
    _print_warnings(list(caught))
    if interrupted:
        err.print("interrupted")
        raise typer.Exit(130)
    if error is not None:
        if _state["debug"]:
            raise error
        lines = error.lines if isinstance(error, DataError | StudyFileError) else [str(error)]
        for line in lines:
            err.print(f"[bold red]error:[/] {escape(line)}", soft_wrap=True)
        raise typer.Exit(2)


#: What the file system said, in words, with what to do about it.
_OS_WORDS = {
    errno.ENOSPC: "no space left on the device; free some space and run again",
    errno.EDQUOT: "the disk quota is used up; free some space and run again",
    errno.EROFS: "the file system is read-only; choose a folder you can write to",
    errno.EACCES: "permission denied; choose a folder you can write to (or fix its permissions)",
    errno.EPERM: "operation not permitted; choose a folder you can write to",
    errno.ENAMETOOLONG: "a file name is too long for the file system",
}


def os_error_line(exc: OSError) -> str:
    """One line for an error of the file system, naming the folder it happened in.

    >>> os_error_line(OSError(28, "No space left on device", "/data/reports/index.html"))
    '/data/reports: no space left on the device; free some space and run again'
    """
    words = _OS_WORDS.get(exc.errno or 0, exc.strerror or str(exc))
    if exc.filename is None:
        return f"the file system refused: {words}"
    where = Path(os.fsdecode(exc.filename))
    folder = where if where.is_dir() else where.parent
    return f"{folder}: {words}"


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        if issubclass(warning.category, CJResearchWarning):
            text = in_words(str(warning.message))
            err.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


#: The statistics tables' names as a reader would say them.
_TABLE_WORDS = {
    "emotion_churn": "emotion and churn (logistic models)",
    "time_to_churn": "time to churn (Cox models)",
    "survival_curves": "survival curves by emotion",
    "joint model": "all stage emotions in one model",
}
# "<table>: <explanation> [<code>] in <n> model(s): <persona>/<stage>, ..."
_MODEL_WARNING = re.compile(
    r"^(?P<table>[\w ]+): (?P<explain>.+?) \[(?P<code>[^\]\s]+)\] in (?P<n>\d+) model\(s\): "
    r"(?P<cells>.+?)(?: and (?P<more>\d+) more)?$"
)


def in_words(message: str) -> str:
    """A statistics warning in words: its internal code dropped (the manifest keeps it), the
    table named as a reader would say it, the models grouped by persona.

    >>> in_words("time_to_churn: the fit did not converge [not_converged] in 1 model(s): all/usage")
    'time to churn (Cox models): the fit did not converge in 1 model: all customers at usage'
    """
    match = _MODEL_WARNING.match(message)
    if match is None:
        return message
    stages: dict[str, list[str]] = {}
    pending: list[str] = []
    # persona names may hold ", ": a cell ends at the chunk that holds the "/stage"
    for chunk in match["cells"].split(", "):
        pending.append(chunk)
        if "/" in chunk:
            persona, _, stage = ", ".join(pending).rpartition("/")
            stages.setdefault(persona, []).append(stage)
            pending = []
    if pending or not stages:
        return message
    n = int(match["n"])
    groups = "; ".join(
        f"{'all customers' if persona == 'all' else persona} at {_and(where)}"
        for persona, where in stages.items()
    )
    more = f", and {match['more']} more" if match["more"] else ""
    table = _TABLE_WORDS.get(match["table"], match["table"])
    return f"{table}: {match['explain']} in {n} model{'s' if n != 1 else ''}: {groups}{more}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _run(action: Callable[[], T]) -> T:
    with _user_errors():
        result = action()
    return result


@app.command()
def sample(
    directory: Annotated[Path, typer.Argument(help="Folder to write the sample study into.")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same files.")] = 7,
    fmt: Annotated[
        str, typer.Option("--format", help="File format of the tables: csv or parquet.")
    ] = "csv",
) -> None:
    """Generate the synthetic sample study (with its planted truth in truth.json)."""
    from cjresearch.datasets.sample import write_sample

    if fmt not in ("csv", "parquet"):
        err.print(f"[bold red]error:[/] --format must be csv or parquet, found {fmt!r}")
        raise typer.Exit(2)
    chosen: Literal["csv", "parquet"] = "csv" if fmt == "csv" else "parquet"
    # the bundled sample's folder keeps the study file's [reports] folders (see SAMPLE_OUTPUT)
    bundled = directory.resolve() == SAMPLE_STUDY.parent.resolve()
    folders: dict[str, Any] = (
        {"output": SAMPLE_OUTPUT, "artifacts": SAMPLE_ARTIFACTS} if bundled else {}
    )
    with err.status(f"Generating {customers:,} customers (seed {seed})...") as status:

        def written(done: int, total: int) -> None:
            status.update(f"Generating {total:,} customers (seed {seed})... {done:,} written")

        path = _run(
            lambda: write_sample(
                directory, n_customers=customers, seed=seed, fmt=chosen, progress=written, **folders
            )
        )
    out.print(escape(f"Sample study written: {path}"))


@app.command()
def validate(
    study: Annotated[Path, typer.Argument(help="The study file (TOML).")],
) -> None:
    """Validate a study's file and tables; print rows kept and dropped per table."""
    from cjresearch.data.study import load_study
    from cjresearch.data.tables import load_tables

    tables = _run(lambda: load_tables(load_study(study)))
    table = Table(title=escape(f"{study}: valid"))
    for column in ("table", "rows read", "rows kept", "rows dropped"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for row in tables.summary().itertuples(index=False):
        table.add_row(
            row.table, f"{row.rows_read:,}", f"{row.rows_kept:,}", f"{row.rows_dropped:,}"
        )
    out.print(table)
    for drop in tables.drops:
        out.print(escape(f"  dropped {drop.n_rows:,} {drop.table} rows: {drop.reason}"))


@app.command()
def build(
    study: Annotated[
        Path | None,
        typer.Argument(help="The study file (TOML). Default: the bundled sample study."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Folder for published reports.")
    ] = None,
    artifacts: Annotated[
        Path | None, typer.Option("--artifacts", help="Folder for artifacts (hold customer ids).")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option("--jobs", min=1, help="Reports run in parallel (default: cores).")
    ] = None,
    force: Annotated[
        bool, _flag("--force", help="Recompute artifacts and rebuild every report.")
    ] = False,
    wait: Annotated[
        bool, _flag("--wait", help="Wait for a running build of the same output.")
    ] = False,
    fail_on_alert: Annotated[
        bool,
        _flag(
            "--fail-on-alert",
            help="Exit with code 3 when the build raised an alert (for cron and CI).",
        ),
    ] = False,
    pdf: Annotated[
        bool, _flag("--pdf", help="Also print every page to PDF beside it (needs Chromium).")
    ] = False,
) -> None:
    """Build a study: validate, compute artifacts, run the reports, publish (the main job).

    Exit codes: 0 done; 1 a report failed (its previous version kept); 2 bad input; 3 with
    --fail-on-alert, the build raised an alert (a KPI newly missed or a figure that worsened
    beyond chance; see alerts.json).
    """
    from cjresearch.build import build as run_build
    from cjresearch.data.study import load_study

    if study is None:
        study = _ensure_sample()
    result = _run(
        lambda: run_build(
            load_study(study),
            output=output,
            artifacts=artifacts,
            jobs=jobs,
            force=force,
            wait=wait,
            pdf=pdf,
        )
    )
    summary = result.artifacts.summary
    counts = summary["counts"]
    dropped = sum(d["n_rows"] for d in summary["dropped_rows"])
    ran = len(result.executed)
    out.print(
        f"Built [bold]{escape(result.manifest['study']['name'])}[/] (run {result.run_id}): "
        f"{counts['customers']:,} customers, {counts['events']:,} events, "
        f"{dropped:,} rows dropped; {ran} of {len(result.reports)} reports rebuilt"
        + (" (artifacts unchanged)" if result.artifacts.reused else "")
        + ".",
        soft_wrap=True,
    )
    out.print(escape(f"Portal:    {result.output / 'index.html'}"))
    if pdf:
        out.print(escape(f"PDFs:      beside every page (e.g. {result.output / 'index.pdf'})"))
    out.print(escape(f"Manifest:  {result.manifest_path}"))
    out.print(escape(f"Artifacts: {result.artifacts.folder} (hold customer ids; never publish)"))
    _print_alerts(result)
    if result.failures:
        for report in result.failures:
            err.print(
                f"[bold red]failed:[/] {escape(report.kind)} report {escape(report.name)!s}: "
                f"{escape(str(report.error))} (previous version kept, marked stale)",
                soft_wrap=True,
            )
        raise typer.Exit(1)
    if fail_on_alert and result.alerts:
        raise typer.Exit(3)


def _print_alerts(result: Any) -> None:
    """The build's alerts, one line each, after its summary."""
    alerts_file = result.output / "alerts.json"
    if result.alerts:
        n = len(result.alerts)
        out.print(escape(f"Alerts:    {n} (see {alerts_file})"))
        for alert in result.alerts:
            out.print(f"[bold yellow]alert:[/] {escape(str(alert['message']))}", soft_wrap=True)
    elif result.artifacts.reused:
        out.print("Alerts:    none new (nothing was measured: the inputs did not change)")
    else:
        out.print("Alerts:    none")
    if result.alert_command not in (None, "ok"):
        err.print(f"[yellow]warning:[/] {escape(result.alert_command)}", soft_wrap=True)


@app.command()
def assign(
    study: Annotated[
        Path, typer.Argument(help="The study file (TOML) whose build saved the personas.")
    ],
    events: Annotated[Path, typer.Argument(help="The new customers' events (CSV or Parquet).")],
    customers: Annotated[
        Path | None,
        typer.Option("--customers", help="Customers file with the attributes the personas use."),
    ] = None,
    to: Annotated[
        Path | None,
        typer.Option("--out", help="CSV to write (default: <events>_personas.csv beside it)."),
    ] = None,
    artifacts: Annotated[
        Path | None,
        typer.Option("--artifacts", help="The build's artifacts folder (default: the study's)."),
    ] = None,
) -> None:
    """Assign new customers to the personas of the study's last build."""
    from cjresearch.analysis.personas.model import load_persona_model
    from cjresearch.artifacts.compute import assign_new_customers
    from cjresearch.data.study import load_study

    def run() -> pd.DataFrame:
        loaded = load_study(study)
        model = load_persona_model(artifacts or loaded.artifacts_dir)
        return assign_new_customers(loaded, events, customers=customers, model=model)

    assigned = _run(run)
    target = to or events.with_name(f"{events.stem}_personas.csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    assigned.to_csv(target, index=False)
    counts = assigned.groupby(["persona_id", "persona_name"], observed=True).size()
    table = Table(title=escape(f"{len(assigned):,} customers assigned"))
    for column in ("persona", "name", "customers"):
        table.add_column(column, justify="right" if column == "customers" else "left")
    for (pid, name), n in counts.items():
        table.add_row(str(pid), escape(str(name)), f"{n:,}")
    out.print(table)
    out.print(escape(f"Written: {target} (holds customer ids; do not publish)"))


_RUN_HELP = """Run a parameterised notebook and publish it as <output>/analysis/<name>.html.

NOTEBOOK is a path or the name of a bundled notebook (see `cjresearch notebooks`); STUDY
is the study file (default: the bundled sample study, if generated). Give parameters as
-p NAME VALUE (repeatable); they are checked against the notebook's parameters cell.
"""


@app.command(context_settings={"ignore_unknown_options": True}, help=_RUN_HELP)
def run(
    notebook: Annotated[str, typer.Argument(help="A notebook file or a bundled notebook's name.")],
    rest: Annotated[
        list[str] | None,
        typer.Argument(help="[STUDY] [-p NAME VALUE]...", show_default=False),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: the study's).")
    ] = None,
    artifacts: Annotated[
        Path | None, typer.Option("--artifacts", help="Artifacts folder (default: the study's).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Page name (default: the notebook's name).")
    ] = None,
    wait: Annotated[
        bool, _flag("--wait", help="Wait for a running build instead of failing.")
    ] = False,
) -> None:
    from cjresearch.artifacts.manifest import package_versions
    from cjresearch.data.study import load_study
    from cjresearch.reporting.html import Provenance
    from cjresearch.reporting.reports import run_notebook

    study_path, pairs = _run_arguments(rest or [])
    if study_path is None and SAMPLE_STUDY.is_file():
        study_path = SAMPLE_STUDY
    study = _run(lambda: load_study(study_path)) if study_path is not None else None
    if study is not None:
        output = output or study.output_dir
        artifacts = artifacts or study.artifacts_dir
    outcome = _run(
        lambda: run_notebook(
            notebook,
            output=output or Path("reports"),
            parameters=pairs,
            study_file=study_path,
            artifacts=artifacts if artifacts is not None and artifacts.is_dir() else None,
            name=name,
            provenance=Provenance(
                study=study.name if study is not None else None, versions=package_versions()
            ),
            wait=wait,
            # A failed notebook may show customer-level data: keep it with the artifacts.
            failed_dir=artifacts / "failed" if artifacts is not None else None,
            customer_ids=_customer_ids(artifacts),
        )
    )
    report = outcome.reports[0]
    if report.status in ("stale", "failed"):
        err.print(f"[bold red]error:[/] {escape(report.name)}: {escape(str(report.error))}")
        if report.failed_notebook:
            err.print(escape(f"failed notebook kept: {report.failed_notebook}"))
        raise typer.Exit(1)
    out.print(escape(f"Published {outcome.output / report.path}"))


def _customer_ids(artifacts: Path | None) -> list[str]:
    """The ids to redact from a published error: those of the artifacts, when built."""
    from cjresearch.artifacts.catalog import load_artifacts

    found = load_artifacts(artifacts) if artifacts is not None and artifacts.is_dir() else None
    return found.customer_ids() if found is not None else []


def _run_arguments(rest: list[str]) -> tuple[Path | None, list[tuple[str, str]]]:
    """Split `run`'s trailing arguments into the study file and -p NAME VALUE pairs."""
    study: Path | None = None
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(rest):
        token = rest[i]
        if token in ("-p", "--parameter"):
            if i + 2 >= len(rest):
                err.print(f"[bold red]error:[/] {token} needs a NAME and a VALUE")
                raise typer.Exit(2)
            pairs.append((rest[i + 1], rest[i + 2]))
            i += 3
        elif study is None and not token.startswith("-"):
            study = Path(token)
            i += 1
        else:
            err.print(f"[bold red]error:[/] unexpected argument {escape(token)!r}")
            raise typer.Exit(2)
    return study, pairs


@app.command()
def notebooks() -> None:
    """List the bundled notebooks with their parameters, types and defaults."""
    from cjresearch.reporting.notebooks import bundled_notebooks, notebook_parameters, notebooks_dir

    found = bundled_notebooks()
    if not found:
        out.print("No bundled notebooks found (set CJRESEARCH_NOTEBOOKS to their folder).")
        return
    table = Table(title=escape(f"Notebooks in {notebooks_dir()}"))
    for column in ("notebook", "parameter", "type", "default"):
        table.add_column(column)
    for path in found:
        with _user_errors():
            parameters = notebook_parameters(path)
        if not parameters:
            table.add_row(escape(path.stem), "-", "", "")
        for i, p in enumerate(parameters):
            table.add_row(
                escape(path.stem) if i == 0 else "", p.name, p.type_name, escape(p.default)
            )
    out.print(table)


@app.command()
def schedule(
    study: Annotated[Path, typer.Argument(help="The study file (TOML).")],
    cron: Annotated[
        str, typer.Option("--cron", help='When, as a cron expression, e.g. "0 6 * * *".')
    ] = "0 6 * * *",
    log: Annotated[
        Path | None,
        typer.Option("--log", help="Log file (default: cjresearch-build.log beside the study)."),
    ] = None,
) -> None:
    """Print a crontab line that rebuilds a study on a schedule (add it with `crontab -e`)."""
    from cjresearch.data.study import load_study
    from cjresearch.schedule import crontab_line

    _run(lambda: load_study(study))
    line = _run(lambda: crontab_line(study, cron=cron, log=log))
    out.print(escape(line), soft_wrap=True)


@app.command()
def explore(
    study: Annotated[
        Path | None,
        typer.Argument(help="The study file (TOML). Default: the bundled sample study."),
    ] = None,
    dashboard: Annotated[
        bool,
        _flag("--dashboard", help="Serve the explorer alone as a Voila dashboard."),
    ] = False,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port to serve on (default: a free one)."),
    ] = None,
    no_browser: Annotated[bool, _flag("--no-browser", help="Do not open a web browser.")] = False,
    artifacts: Annotated[
        Path | None, typer.Option("--artifacts", help="Artifacts folder (default: the study's).")
    ] = None,
) -> None:
    """Explore a study live: the explorer notebook in JupyterLab, or as a Voila dashboard.

    Computes missing or outdated artifacts; writes the explorer into <artifacts>/explore/.

    --dashboard serves it with Voila on 127.0.0.1 only. Ctrl-C stops the server.
    """
    from cjresearch.artifacts.compute import compute_artifacts
    from cjresearch.data.study import load_study
    from cjresearch.explore import server as ex

    _run(lambda: ex.check_installed(dashboard=dashboard))
    if study is None:
        study = _ensure_sample()
    loaded = _run(lambda: load_study(study))
    # absolute: the servers run in the notebook's folder, not in this one
    folder = (artifacts or loaded.artifacts_dir).resolve()
    chosen = _run(lambda: ex.choose_port(port)) if dashboard or port is not None else None
    with err.status("Computing the study's artifacts (reused if unchanged)..."):
        _run(lambda: compute_artifacts(loaded, folder))
    notebook = _run(lambda: ex.prepare_notebook(study, folder))
    if dashboard and chosen is not None:
        url = ex.dashboard_url(chosen)
        out.print(
            escape(f"Explorer dashboard: {url}  (this machine only; Ctrl-C stops it)"),
            soft_wrap=True,
        )
        code = ex.launch(
            ex.dashboard_command(notebook, port=chosen),
            cwd=notebook.parent,
            env=ex.dashboard_environment(notebook),
            open_url=None if no_browser else url,
        )
    else:
        out.print(escape(f"Explorer in JupyterLab: {notebook}  (Ctrl-C stops it)"), soft_wrap=True)
        code = ex.launch(
            ex.lab_command(notebook, port=chosen, browser=not no_browser), cwd=notebook.parent
        )
    if code != 0:
        err.print(f"[bold red]error:[/] the server stopped with exit code {code}")
        raise typer.Exit(1)


def _ensure_sample() -> Path:
    """The bundled sample study, generated (deterministically) on first use."""
    from cjresearch.data.study import load_study
    from cjresearch.datasets.sample import write_sample

    if SAMPLE_STUDY.is_file():
        study = _run(lambda: load_study(SAMPLE_STUDY))
        if all(
            path is not None and path.is_file()
            for path in (study.data_path(t) for t in ("customers", "events", "feedback"))
        ):
            return SAMPLE_STUDY
    with err.status("Generating the sample study (first run only)..."):
        return write_sample(SAMPLE_STUDY.parent, output=SAMPLE_OUTPUT, artifacts=SAMPLE_ARTIFACTS)


def main() -> None:
    """Entry point of the ``cjresearch`` command."""
    app(prog_name="cjresearch")


if __name__ == "__main__":  # pragma: no cover
    main()
