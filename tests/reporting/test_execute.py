"""Notebook execution: kernel-start retries only, timeouts, a missing kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm
import pytest
from nbclient.exceptions import CellTimeoutError
from papermill.exceptions import PapermillExecutionError

from cjresearch.errors import CJResearchError
from cjresearch.reporting.execute import (
    NotebookJob,
    _is_kernel_start_failure,
    ensure_kernel,
    execute_notebook,
    run_jobs,
)
from helpers import FIXTURES

TINY = FIXTURES / "notebooks" / "tiny.ipynb"


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (RuntimeError("Kernel didn't respond in 60 seconds"), True),
        (RuntimeError("ZMQError: Address already in use (addr='tcp://127.0.0.1:5555')"), True),
        (
            PapermillExecutionError(3, 3, "source", "Kernel didn't respond", "ValueError", []),
            False,
        ),
        (CellTimeoutError("A cell timed out while it was being executed"), False),
        (ValueError("bad value"), False),
    ],
)
def test_only_kernel_start_failures_are_retried(exc: Exception, retry: bool) -> None:
    assert _is_kernel_start_failure(exc) is retry


def test_kernel_start_failure_is_retried_then_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def flaky(source: str, target: str, **kwargs: object) -> None:
        calls.append(target)
        if len(calls) == 1:
            raise RuntimeError("Kernel didn't respond in 60 seconds")
        Path(target).write_text(Path(source).read_text())

    monkeypatch.setattr(pm, "execute_notebook", flaky)
    outcome = execute_notebook(NotebookJob("k", TINY, tmp_path / "out.ipynb", retries=2))
    assert outcome.ok and outcome.attempts == 2


def test_cell_errors_are_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def failing(source: str, target: str, **kwargs: object) -> None:
        calls.append(target)
        raise PapermillExecutionError(2, 2, "x", "ValueError", "boom", [])

    monkeypatch.setattr(pm, "execute_notebook", failing)
    outcome = execute_notebook(NotebookJob("k", TINY, tmp_path / "out.ipynb", retries=5))
    assert not outcome.ok and outcome.attempts == 1 and len(calls) == 1
    assert outcome.error == "cell 2: ValueError: boom"


def test_missing_kernel_says_how_to_register_it() -> None:
    with pytest.raises(CJResearchError, match="ipykernel install --sys-prefix --name nope"):
        ensure_kernel("nope")
    ensure_kernel("cjresearch")


def test_cell_timeout_fails_the_job_without_retry(tmp_path: Path) -> None:
    node = nbformat.v4.new_notebook()
    node.metadata["kernelspec"] = {"name": "cjresearch", "display_name": "cjresearch"}
    node.cells = [nbformat.v4.new_code_cell("import time\ntime.sleep(30)")]
    slow = tmp_path / "slow.ipynb"
    nbformat.write(node, slow)
    (outcome,) = run_jobs(
        [NotebookJob("slow", slow, tmp_path / "out.ipynb", execution_timeout=1, retries=3)]
    )
    assert not outcome.ok and outcome.attempts == 1
    assert "timed out" in str(outcome.error).lower() or "timeout" in str(outcome.error).lower()


def _slow_notebook(folder: Path, cells: int) -> Path:
    node = nbformat.v4.new_notebook()
    node.metadata["kernelspec"] = {"name": "cjresearch", "display_name": "cjresearch"}
    node.cells = [nbformat.v4.new_code_cell("import time")]
    node.cells += [nbformat.v4.new_code_cell("time.sleep(1)") for _ in range(cells)]
    node.cells += [nbformat.v4.new_code_cell("print('fini' + 'shed')")]
    path = folder / "slow.ipynb"
    nbformat.write(node, path)
    return path


def test_a_notebook_past_its_deadline_is_stopped_and_fails(tmp_path: Path) -> None:
    # every cell finishes well within the cell timeout; the notebook as a whole never would
    slow = _slow_notebook(tmp_path, cells=30)
    tiny = NotebookJob("tiny", TINY, tmp_path / "tiny.ipynb")
    (late, after) = run_jobs(
        [
            NotebookJob(
                "late", slow, tmp_path / "out.ipynb", execution_timeout=20, notebook_timeout=8
            ),
            tiny,
        ],
        max_workers=1,
    )
    assert not late.ok and late.attempts == 1
    assert "notebook deadline exceeded" in str(late.error) and "8 s" in str(late.error)
    # the partial notebook is kept for debugging; it never got to the end
    assert late.output_notebook is not None
    assert "finished" not in late.output_notebook.read_text()
    # the kernel was replaced: the next notebook runs
    assert after.ok


def test_a_notebook_within_its_deadline_is_not_stopped(tmp_path: Path) -> None:
    (outcome,) = run_jobs(
        [
            NotebookJob(
                "ok", _slow_notebook(tmp_path, cells=2), tmp_path / "o.ipynb", notebook_timeout=60
            )
        ]
    )
    assert outcome.ok and "finished" in (tmp_path / "o.ipynb").read_text()


def test_a_print_flushed_in_pieces_is_one_output(tmp_path: Path) -> None:
    # under load the kernel can send one print as several stream messages; a report shows
    # one block of text per stream, as a fresh run on a quiet machine would
    node = nbformat.v4.new_notebook()
    node.metadata["kernelspec"] = {"name": "cjresearch", "display_name": "cjresearch"}
    node.cells = [
        nbformat.v4.new_code_cell(
            "import sys, time\n"
            "for piece in ('pid', ' ', '123', '\\n'):\n"
            "    sys.stdout.write(piece)\n"
            "    sys.stdout.flush()\n"
            "    time.sleep(0.3)\n"
            "print('shown', file=sys.stderr)"
        )
    ]
    pieces = tmp_path / "pieces.ipynb"
    nbformat.write(node, pieces)
    (outcome,) = run_jobs([NotebookJob("pieces", pieces, tmp_path / "out.ipynb")])
    assert outcome.ok
    (cell,) = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
    streams = [(o["name"], o["text"]) for o in cell.outputs if o["output_type"] == "stream"]
    assert streams == [("stdout", "pid 123\n"), ("stderr", "shown\n")]
