"""A build's processes die with it: after ``kill -9`` or Ctrl-C no worker or kernel lives on.

A build starts report workers (a process pool) and a Jupyter kernel in each while its
artifacts compute. Killed with ``kill -9`` (no clean-up runs in the build), each worker
notices its parent is gone, stops its kernels and exits; interrupted with Ctrl-C (SIGINT
to the terminal's whole process group), the build stops the pool, prints one line and exits
with 130, and no worker prints a traceback of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cjresearch.datasets.sample import write_sample

CLI = Path(sys.executable).with_name("cjresearch")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("processes")]


def _state(pid: int) -> str | None:
    """A process's state letter from /proc, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")  # a zombie has exited, only not been reaped


def _tree(root: int) -> dict[int, str]:
    """Every live process under ``root``: pid -> command line."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent and _alive(pid):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                found[pid] = command.decode(errors="replace")
                todo.append(pid)
    return found


def _start_build(tmp_path: Path) -> tuple[subprocess.Popen[str], dict[int, str]]:
    """A build of a small study, once its pool's kernels are running: (process, its tree)."""
    study = write_sample(tmp_path / "study", n_customers=300, seed=5, fmt="parquet")
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")}
    build = subprocess.Popen(
        [str(CLI), "build", str(study), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # a group of its own, as a terminal's job is
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        tree = _tree(build.pid)
        kernels = [pid for pid, command in tree.items() if "ipykernel" in command]
        if len(kernels) >= 2:
            return build, tree
        if build.poll() is not None:
            break
        time.sleep(0.1)
    build.kill()
    pytest.fail(f"the build's kernels never started: {build.communicate()}")


def _gone(pids: list[int], seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if _alive(p)]


def test_kill_minus_nine_leaves_no_process_of_the_build_alive(tmp_path: Path) -> None:
    build, tree = _start_build(tmp_path)
    assert any("multiprocessing" in c or "spawn" in c for c in tree.values()), tree
    os.kill(build.pid, signal.SIGKILL)
    build.wait(timeout=30)
    assert _gone(list(tree)) == [], {p: tree[p] for p in _gone(list(tree), 0)}


def test_ctrl_c_stops_the_build_cleanly_with_one_line(tmp_path: Path) -> None:
    build, tree = _start_build(tmp_path)
    os.killpg(build.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    stdout, stderr = build.communicate(timeout=120)
    assert build.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert "KeyboardInterrupt" not in stdout + stderr
    assert stderr.strip().splitlines()[-1] == "interrupted"
    assert _gone(list(tree)) == []
