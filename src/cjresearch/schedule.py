"""Scheduled regeneration: the crontab line that rebuilds a study.

The line runs ``cjresearch build`` non-interactively: with no terminal it logs plain lines
(no progress bar) to the log file, rebuilds only what changed, and exits 0 quickly when
nothing did. Overlapping runs are prevented by the build's own lock on the output folder: a
second run exits at once with "locked by run X since T" in the log (``flock`` is not needed
and would not name the holder).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

from cjresearch.errors import CJResearchError

__all__ = ["check_cron", "crontab_line"]

_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, lowest, highest, names counted from lowest): crontab(5)'s five fields
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DAYS),
)
_ITEM = re.compile(r"^(?P<range>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>[0-9]+))?$")
_SHAPE = (
    'expected five fields (minute hour day-of-month month day-of-week), e.g. "0 6 * * *", or @daily'
)


def check_cron(expression: str) -> str:
    """A cron schedule, normalised to single spaces; CJResearchError if it is not one.

    Each field is ``*`` or a list of values and ranges (``1,15``, ``1-5``), each with an
    optional step (``*/15``, ``0-30/10``), within crontab(5)'s ranges: minute 0-59, hour
    0-23, day of month 1-31, month 1-12 or ``jan``..``dec``, day of week 0-7 (0 and 7 are
    Sunday) or ``sun``..``sat``. The macros ``@hourly``, ``@daily``, ``@weekly``,
    ``@monthly`` and ``@yearly`` are accepted too.

    >>> check_cron("0  6 * * 1-5")
    '0 6 * * 1-5'
    >>> check_cron("@daily")
    '@daily'
    >>> check_cron("61 6 * * *")
    Traceback (most recent call last):
    ...
    cjresearch.errors.CJResearchError: --cron '61 6 * * *': the minute field '61' holds 61, ...
    """
    text = " ".join(expression.split())
    if text.lower() in _MACROS:
        return text
    fields = text.split(" ")
    if len(fields) != len(_FIELDS):
        msg = f"--cron {expression!r} is not a cron schedule: {_SHAPE}"
        raise CJResearchError(msg)
    for value, field in zip(fields, _FIELDS, strict=True):
        problem = _field_problem(value, *field)
        if problem is not None:
            msg = f"--cron {expression!r}: the {field[0]} field {value!r} {problem}"
            raise CJResearchError(msg)
    return text


def _field_problem(
    value: str, name: str, low: int, high: int, names: tuple[str, ...]
) -> str | None:
    """Why one field is not valid, or None."""
    for item in value.lower().split(","):
        match = _ITEM.match(item)
        if match is None:
            return (
                f"is not a value, a range or a step (e.g. '5', '1-5', '*/15'; {low}-{high}"
                + (f" or {names[0]}..{names[-1]}" if names else "")
                + ")"
            )
        if match["step"] is not None and int(match["step"]) < 1:
            return "has a step of 0 (a step is at least 1)"
        if match["range"] == "*":
            continue
        ends = []
        for part in match["range"].split("-"):
            number = low + names.index(part) if part in names else None
            if number is None and not part.isdigit():
                known = f" or one of {', '.join(names)}" if names else ""
                return f"holds {part!r}, not a number{known}"
            number = int(part) if number is None else number
            if not low <= number <= high:
                return f"holds {number}, outside {low}-{high}"
            ends.append(number)
        if len(ends) == 2 and ends[0] > ends[1]:
            return f"has the range {ends[0]}-{ends[1]}, which runs backwards"
    return None


def _executable() -> str:
    beside = Path(sys.executable).with_name("cjresearch")
    if beside.is_file() and os.access(beside, os.X_OK):
        return os.fspath(beside)
    found = shutil.which("cjresearch")
    if found is None:
        msg = "cannot find the cjresearch command; install cjresearch in this environment"
        raise CJResearchError(msg)
    return os.fspath(Path(found).resolve())


def crontab_line(
    study: str | Path,
    *,
    cron: str = "0 6 * * *",
    log: str | Path | None = None,
    executable: str | None = None,
) -> str:
    """A crontab line that rebuilds ``study`` on schedule ``cron``, appending to a log file.

    Paths are absolute and shell-quoted; the log defaults to ``cjresearch-build.log`` beside
    the study file.

    >>> print(crontab_line("/srv/a b/study.toml", executable="/v/cjresearch"))
    0 6 * * * /v/cjresearch build '/srv/a b/study.toml' >> '/srv/a b/cjresearch-build.log' 2>&1
    """
    schedule = check_cron(cron)
    study_path = Path(study).absolute()
    log_path = (
        Path(log).absolute() if log is not None else study_path.parent / "cjresearch-build.log"
    )
    command = executable or _executable()
    quote = shlex.quote
    line = (
        f"{schedule} {quote(command)} build {quote(os.fspath(study_path))} "
        f">> {quote(os.fspath(log_path))} 2>&1"
    )
    # cron treats % as a newline unless escaped.
    return line.replace("%", "\\%")
