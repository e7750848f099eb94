"""The bad-input corpus: every case in ``tests/fixtures/bad`` run through ``cjresearch validate``.

Each case folder is a tiny study (``study.toml`` plus a few tables) with an ``expect.toml``::

    exit_code = 2
    stderr = ["events.csv", "timestamp", "line 3"]   # all must appear (case-sensitive)
    stdout = ["valid"]                               # optional, likewise

Fatal problems must exit 2 with one self-contained ``error:`` line per problem, each naming
its file; recoverable ones exit 0 with a ``warning:`` line. Nothing may print a traceback.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cjresearch.cli import app
from cjresearch.errors import CJResearchError
from helpers import FIXTURES

BAD = FIXTURES / "bad"
MIN_CASES = 24
EXPECT_KEYS = {"exit_code", "stderr", "stdout"}

# "error: <file>: ..." where <file> is a table or the study file (a bare name or a path).
_NAMES_A_FILE = re.compile(r"^error: .*?[\w-]\.(?:csv|parquet|pq|toml): ")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Expect:
    """What one case must produce."""

    exit_code: int
    stderr: tuple[str, ...]
    stdout: tuple[str, ...] = ()


def _case_dirs() -> list[Path]:
    return sorted(p for p in BAD.iterdir() if p.is_dir() and (p / "expect.toml").is_file())


CASES = _case_dirs()


def _expect(case: Path) -> Expect:
    raw = tomllib.loads((case / "expect.toml").read_text(encoding="utf-8"))
    unknown = set(raw) - EXPECT_KEYS
    assert not unknown, f"{case.name}/expect.toml: unknown keys {sorted(unknown)}"
    assert isinstance(raw.get("exit_code"), int), f"{case.name}/expect.toml: exit_code"
    assert raw.get("stderr"), f"{case.name}/expect.toml: stderr must list key words"
    return Expect(
        exit_code=raw["exit_code"],
        stderr=tuple(raw["stderr"]),
        stdout=tuple(raw.get("stdout", ())),
    )


def _validate(case: Path, *, debug: bool = False) -> Result:
    args = ["--debug"] if debug else []
    args += ["validate", str(case / "study.toml")]
    # Click >= 8.2 always keeps stderr apart (result.stderr); result.output interleaves both.
    return CliRunner().invoke(app, args, catch_exceptions=not debug)


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


def test_corpus_is_not_empty() -> None:
    names = [c.name for c in CASES]
    assert len(names) >= MIN_CASES, f"only {len(names)} cases in {BAD}: {names}"
    folders = sorted(p.name for p in BAD.iterdir() if p.is_dir())
    assert folders == names, "every case folder needs an expect.toml"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Path) -> None:
    expect = _expect(case)
    result = _validate(case)
    stdout, stderr = _plain(result.stdout), _plain(result.stderr)
    shown = f"--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- exception\n{result.exception!r}"

    for stream in (stdout, stderr):
        assert "Traceback" not in stream, shown
    # A crash inside the command shows up as an exception other than SystemExit.
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert result.exit_code == expect.exit_code, shown

    missing = [word for word in expect.stderr if word not in stderr]
    assert not missing, f"missing from stderr: {missing}\n{shown}"
    missing = [word for word in expect.stdout if word not in stdout]
    assert not missing, f"missing from stdout: {missing}\n{shown}"

    if expect.exit_code == 2:
        lines = [line for line in stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error: ")]
        assert errors, shown
        stray = [line for line in lines if not line.startswith(("error: ", "warning: "))]
        assert not stray, f"continuation lines (an error spans several lines): {stray}\n{shown}"
        anonymous = [line for line in errors if not _NAMES_A_FILE.match(line)]
        assert not anonymous, f"error lines that name no file: {anonymous}\n{shown}"
        assert "valid" not in stdout, shown
    else:
        assert "error:" not in stderr, shown
        assert "valid" in stdout, shown


@pytest.mark.parametrize("name", ["duplicate_customer_ids", "study_missing_required_key"])
def test_debug_reraises(name: str) -> None:
    case = BAD / name
    assert case.is_dir(), case
    with pytest.raises(CJResearchError):
        _validate(case, debug=True)
