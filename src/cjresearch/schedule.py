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

_FIELD = re.compile(r"^[A-Za-z0-9*/,\-]+$")
_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def check_cron(expression: str) -> str:
    """A cron schedule, normalised to single spaces; CJResearchError if it is not one.

    >>> check_cron("0  6 * * 1-5")
    '0 6 * * 1-5'
    >>> check_cron("@daily")
    '@daily'
    """
    text = " ".join(expression.split())
    if text in _MACROS:
        return text
    fields = text.split(" ")
    if len(fields) != 5 or not all(_FIELD.match(f) for f in fields):
        msg = (
            f"--cron {expression!r} is not a cron schedule: expected five fields "
            '(minute hour day-of-month month day-of-week), e.g. "0 6 * * *", or @daily'
        )
        raise CJResearchError(msg)
    return text


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
