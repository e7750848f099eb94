"""The package's exceptions and warnings.

A small hierarchy, so that callers can catch what they can act on:

- :class:`CJResearchError` is the base of every error a user can cause and fix.
  The CLI turns it into a one-line message and exit code 2.
- :class:`ArgumentError` means a function was called with a bad argument (a ``ValueError``).
- :class:`StudyFileError` means the study file (TOML) is wrong.
- :class:`DataError` means an input table is wrong in a way that stops the build;
  it carries every problem found (validation is lazy) as :class:`Problem` records.
- :class:`CJResearchWarning` is the base of every warning; :class:`DataWarning`
  reports rows that were dropped (and counted), :class:`StatisticalWarning`
  flags estimates that should not be trusted at face value.
- :class:`OutputLockedError` means another build holds the output folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ArgumentError",
    "CJResearchError",
    "CJResearchWarning",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "OutputLockedError",
    "Problem",
    "ProportionalHazardsWarning",
    "SeparationWarning",
    "SmallSampleWarning",
    "StatisticalWarning",
    "StudyFileError",
]


class CJResearchError(Exception):
    """Base class of every error caused by the user's input or settings."""


class ArgumentError(CJResearchError, ValueError):
    """A function was called with an argument it cannot use (a missing column, a bad value)."""


class OutputLockedError(CJResearchError):
    """Another build holds the output folder's lock."""


class StudyFileError(CJResearchError, ValueError):
    """The study file is missing, malformed or holds a value of the wrong kind.

    ``lines`` holds one self-contained line per problem (what the CLI prints); the message
    joins them with "; ".
    """

    def __init__(self, message: str, *, lines: Sequence[str] | None = None) -> None:
        self.lines = list(lines) if lines else [message]
        super().__init__(message)


@dataclass(frozen=True)
class Problem:
    """One fatal problem in one column of one input file.

    ``rows`` holds up to five example locations as the user would look them up
    (for CSV the line number in the file, header being line 1), ``values`` the
    offending values at those rows, ``n_rows`` how many rows have the problem.
    """

    file: str
    column: str | None
    message: str
    expected: str | None = None
    rows: tuple[int, ...] = ()
    values: tuple[object, ...] = ()
    n_rows: int | None = None
    row_label: str = "line"

    def __str__(self) -> str:
        where = f"{self.file}: column '{self.column}'" if self.column else self.file
        text = f"{where}: {self.message}"
        if self.expected:
            text += f" (expected {self.expected})"
        if self.rows:
            examples = ", ".join(
                f"{self.row_label} {row}"
                + (f" ({_short(self.values[i])})" if i < len(self.values) else "")
                for i, row in enumerate(self.rows)
            )
            count = f"{self.n_rows} rows, " if self.n_rows and self.n_rows > len(self.rows) else ""
            text += f"; {count}e.g. {examples}"
        return text


def _short(value: object, limit: int = 40) -> str:
    if (
        value is None
        or (isinstance(value, float) and value != value)
        or str(value) in {"NaT", "<NA>"}
    ):
        return "blank"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class DataError(CJResearchError, ValueError):
    """One or more fatal problems in the input tables (all of them, not just the first)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        return f"{len(self.problems)} problems in the input data: " + " | ".join(self.lines)

    @property
    def lines(self) -> list[str]:
        """One self-contained line per problem (what the CLI prints)."""
        return [str(p) for p in self.problems]


class CJResearchWarning(UserWarning):
    """Base class of the package's warnings."""


class DataWarning(CJResearchWarning):
    """Rows were dropped from an input table; the count is in the build manifest."""


class StatisticalWarning(CJResearchWarning):
    """An estimate is shaky: small groups, separation, non-convergence, violated assumptions."""


class SmallSampleWarning(StatisticalWarning):
    """Too few customers or events for an estimate to be trusted (or shown)."""


class SeparationWarning(StatisticalWarning):
    """Complete or quasi-complete separation: an odds ratio is infinite or unstable."""


class ConvergenceWarning(StatisticalWarning):
    """A model's fit did not converge; its estimates are not reliable."""


class ProportionalHazardsWarning(StatisticalWarning):
    """The proportional-hazards assumption of a Cox model looks violated."""
