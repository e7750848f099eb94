"""The bad-input corpus: every case in ``tests/fixtures/bad`` run through ``cjresearch validate``.

Each case folder is a tiny study (``study.toml`` plus a few tables) with an ``expect.toml``::

    exit_code = 2
    stderr = ["events.csv", "timestamp", "line 3"]   # all must appear (case-sensitive)
    stdout = ["valid"]                               # optional, likewise
    stdout_absent = ["rows: "]                       # optional: none may appear
    stderr_absent = ["warning"]                      # optional, likewise

``stderr`` is required for a case that fails (exit code 2). Words are looked for in the output
as printed and with every run of spaces collapsed to one, so that a row of the ``validate``
table reads ``events │ 4 │ 4 │ 0``.

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
MIN_CASES = 70
EXPECT_KEYS = {"exit_code", "stderr", "stdout", "stdout_absent", "stderr_absent"}

# "error: <file>: ..." where <file> is a table or the study file (a bare name or a path).
_NAMES_A_FILE = re.compile(r"^error: .*?[\w-]\.(?:csv|csv\.gz|parquet|pq|toml): ")
_SPACES = re.compile(r" +")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Expect:
    """What one case must produce."""

    exit_code: int
    stderr: tuple[str, ...]
    stdout: tuple[str, ...] = ()
    stdout_absent: tuple[str, ...] = ()
    stderr_absent: tuple[str, ...] = ()


def _case_dirs() -> list[Path]:
    return sorted(p for p in BAD.iterdir() if p.is_dir() and (p / "expect.toml").is_file())


CASES = _case_dirs()


def _expect(case: Path) -> Expect:
    raw = tomllib.loads((case / "expect.toml").read_text(encoding="utf-8"))
    unknown = set(raw) - EXPECT_KEYS
    assert not unknown, f"{case.name}/expect.toml: unknown keys {sorted(unknown)}"
    assert isinstance(raw.get("exit_code"), int), f"{case.name}/expect.toml: exit_code"
    if raw["exit_code"] != 0:
        assert raw.get("stderr"), f"{case.name}/expect.toml: stderr must list key words"
    assert raw.get("stderr") or raw.get("stdout"), f"{case.name}/expect.toml: nothing expected"
    return Expect(
        exit_code=raw["exit_code"],
        stderr=tuple(raw.get("stderr", ())),
        stdout=tuple(raw.get("stdout", ())),
        stdout_absent=tuple(raw.get("stdout_absent", ())),
        stderr_absent=tuple(raw.get("stderr_absent", ())),
    )


def _validate(case: Path, *, debug: bool = False) -> Result:
    args = ["--debug"] if debug else []
    args += ["validate", str(case / "study.toml")]
    # Click >= 8.2 always keeps stderr apart (result.stderr); result.output interleaves both.
    return CliRunner().invoke(app, args, catch_exceptions=not debug)


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


def _missing(words: tuple[str, ...], text: str) -> list[str]:
    collapsed = _SPACES.sub(" ", text)
    return [word for word in words if word not in text and word not in collapsed]


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

    missing = _missing(expect.stderr, stderr)
    assert not missing, f"missing from stderr: {missing}\n{shown}"
    missing = _missing(expect.stdout, stdout)
    assert not missing, f"missing from stdout: {missing}\n{shown}"
    present = [word for word in expect.stdout_absent if word in stdout]
    assert not present, f"unexpected in stdout: {present}\n{shown}"
    present = [word for word in expect.stderr_absent if word in stderr]
    assert not present, f"unexpected in stderr: {present}\n{shown}"

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
