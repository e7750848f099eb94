"""The benchmarks in bench/ are not run by the tests (they take minutes to hours), but each
must at least import: a bench that no longer matches the package (bench/stats_speed.py once
imported a generator its sibling had dropped) is a README command that fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_every_benchmark_imports() -> None:
    names = sorted(p.stem for p in BENCH.glob("*.py"))
    assert len(names) >= 5
    code = "import importlib\nfor name in {names!r}:\n    importlib.import_module(name)\n"
    done = subprocess.run(
        [sys.executable, "-c", code.format(names=names)],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
