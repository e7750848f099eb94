"""The artifact steps say what they did, for how long and with how much memory, and a long
step is never silent; the manifest keeps the measurements."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cjresearch import _memory
from cjresearch._background import Background, can_fork
from cjresearch.artifacts import _steps
from cjresearch.artifacts._steps import Steps, peak_rss_mb, rss_mb
from cjresearch.artifacts.compute import compute_artifacts
from cjresearch.data.study import load_study
from cjresearch.datasets.sample import write_sample


def test_a_step_line_tells_time_elapsed_and_peak_memory() -> None:
    lines: list[str] = []
    steps = Steps(lines.append)
    with steps("read the tables"):
        pass
    assert len(lines) == 1
    assert re.fullmatch(
        r"artifacts: read the tables in \d+\.\d s \(elapsed \d+ s, peak RSS [\d,]+ MB\)",
        lines[0],
    )
    (record,) = steps.records
    assert record["step"] == "read the tables"
    assert set(record) == {"step", "wall_s", "cpu_s", "rss_mb", "step_peak_rss_mb", "peak_rss_mb"}
    assert record["wall_s"] >= 0 and record["cpu_s"] >= 0


def test_memory_held_during_a_step_shows_in_its_record() -> None:
    steps = Steps(None)
    before = rss_mb()
    assert before is not None
    with steps("held 200 MB"):
        block = np.ones(200 * 1024 * 1024 // 8)  # touched: resident, not just reserved
        assert block.sum() > 0
    (record,) = steps.records
    assert record["step_peak_rss_mb"] >= before + 150
    # the peak recorded is the kernel's own or a higher sample (rounded to 0.1 MB)
    assert record["peak_rss_mb"] >= record["step_peak_rss_mb"] - 0.1
    peak = peak_rss_mb()
    assert peak is not None and record["peak_rss_mb"] >= peak - 0.1


def test_a_long_step_says_it_is_still_running() -> None:
    lines: list[str] = []
    heard = threading.Event()

    def progress(line: str) -> None:
        lines.append(line)
        if "still running" in line:
            heard.set()

    steps = Steps(progress, heartbeat=0.01)
    with steps("read a large table"):
        # the step ends only once the heartbeat has spoken (no clock in the assertion)
        assert heard.wait(60)
    assert re.fullmatch(
        r"artifacts: read a large table: still running after \d+ s \(peak RSS [\d,]+ MB\)",
        lines[0],
    )
    assert lines[-1].startswith("artifacts: read a large table in ")


def test_without_progress_a_step_is_quiet_but_measured(capsys) -> None:
    steps = Steps(None, heartbeat=0.0)
    with steps("quiet"):
        pass
    assert capsys.readouterr() == ("", "")
    assert [r["step"] for r in steps.records] == ["quiet"]


def test_the_manifest_records_every_step(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "study", n_customers=150, seed=3, fmt="parquet")
    lines: list[str] = []
    artifacts = compute_artifacts(load_study(path), tmp_path / "artifacts", progress=lines.append)
    steps = artifacts.summary["steps"]
    assert [s["step"] for s in steps] == [
        re.match(r"artifacts: (.*) in ", line).group(1)  # type: ignore[union-attr]
        for line in lines
        if "still running" not in line
    ]
    assert steps[0]["step"] == "read and checked the tables"
    assert all(s["wall_s"] >= 0 and s["peak_rss_mb"] > 0 for s in steps)
    # reused artifacts keep the measurements of the computation that made them
    again = compute_artifacts(load_study(path), tmp_path / "artifacts")
    assert again.reused and again.summary["steps"] == steps


_HOLES = """
import numpy as np
from cjresearch.artifacts._steps import release_unused_memory, rss_mb
blocks, pins = [], []
for _ in range(1600):  # 160 MB
    blocks.append(np.ones(100_000 // 8))
    pins.append(np.ones(200))
del blocks
held = rss_mb()
release_unused_memory()
print(held, rss_mb(), len(pins))
"""


@pytest.mark.skipif(_memory._LIBC is None, reason="glibc's malloc_trim: not this C library")
def test_a_step_gives_back_the_arrays_malloc_kept() -> None:
    # arrays under glibc's mmap threshold come from its heap; with a small live block after
    # each, freeing them leaves holes the heap keeps resident until it is trimmed. In a
    # fresh interpreter: a long-lived one (a test worker) has holes of its own to fill first
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _HOLES], capture_output=True, text=True, check=True, timeout=120
    )
    held, after, pins = done.stdout.split()
    # untrimmed, nothing comes back (measured: 0.0 MB); trimmed, 90-150 MB of the 160
    assert float(held) - float(after) > 50, done.stdout
    assert int(pins) == 1600


@pytest.mark.skipif(not can_fork(), reason="forks only on Linux")
def test_a_forked_childs_own_memory_counts_in_the_steps_memory(tmp_path: Path) -> None:
    ready, done = tmp_path / "ready", tmp_path / "done"

    def hold() -> None:  # 200 MB written in the child: pages only it holds
        block = np.ones(200 * 1024 * 1024 // 8)
        ready.write_text(str(block.sum()), encoding="ascii")
        while not done.exists():
            time.sleep(0.01)

    before = rss_mb()
    assert before is not None
    steps = Steps(None)
    with steps("fitted beside a child"), Background(hold, what="the hold") as job:
        for _ in range(1000):
            if ready.exists():
                break
            time.sleep(0.01)
        during = rss_mb()
        time.sleep(2 * _steps._SAMPLE_SECONDS)  # the step's watch samples it too
        done.write_text("1", encoding="ascii")
        job.result()
    assert during is not None and during >= before + 150
    (record,) = steps.records
    assert record["step_peak_rss_mb"] >= before + 150
    assert record["peak_rss_mb"] >= record["step_peak_rss_mb"] - 1  # the children's included
    assert record["rss_mb"] < during - 150  # gone with the child


def _burn() -> None:
    started = time.process_time()
    while time.process_time() - started < 0.5:
        pass


@pytest.mark.skipif(not can_fork(), reason="forks only on Linux")
def test_a_step_counts_the_cpu_of_a_forked_child() -> None:
    steps = Steps(None)
    with steps("beside a child"), Background(_burn, what="the burn") as job:
        job.result()  # waits without using the CPU: the seconds are the child's
    (record,) = steps.records
    assert record["cpu_s"] >= 0.45
