"""Error types raised on bad input.

Every check collects all the problems it finds and raises once, so a user fixes a
file in one pass instead of one error at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "FireRiskError",
    "InputFileError",
    "Problem",
    "ProfileError",
    "ResultsFileError",
    "describe_rows",
]


def describe_rows(rows: Sequence[int], *, limit: int = 5) -> str:
    """Name the first few offending rows and how many there are in all.

    Parameters
    ----------
    rows : sequence of int
        Row numbers as a user sees them (1-based data rows, header excluded).
    limit : int
        How many row numbers to list.
    """
    rows = list(rows)
    shown = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        return f"rows {shown}, ... ({len(rows):,} rows in all)"
    return f"row {shown}" if len(rows) == 1 else f"rows {shown} ({len(rows):,} rows)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what was expected, and the fix."""

    file: str
    message: str
    fix: str
    column: str | None = None
    rows: tuple[int, ...] = field(default=())

    def __str__(self) -> str:
        where = self.file
        if self.column is not None:
            where += f", column '{self.column}'"
        if self.rows:
            where += f", {describe_rows(self.rows)}"
        return f"{where}: {self.message} Fix: {self.fix}"


class FireRiskError(ValueError):
    """Base class for the tool's input errors; carries every problem found."""

    headline = "The input has problems"

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: tuple[Problem, ...] = ()
            text = problems
        else:
            self.problems = tuple(problems)
            n = len(self.problems)
            lines = [f"{self.headline} ({n} problem{'s' if n != 1 else ''}):"]
            lines += [f"  {i}. {p}" for i, p in enumerate(self.problems, 1)]
            text = "\n".join(lines)
        super().__init__(text)


class ProfileError(FireRiskError):
    """The dataset profile (TOML) is missing keys, has wrong types or names missing files."""

    headline = "The dataset profile has problems"


class InputFileError(FireRiskError):
    """An input file (areas, incidents or covariates) failed validation."""

    headline = "The input files have problems"


class ResultsFileError(FireRiskError):
    """A results GeoPackage is missing layers or columns the tool expects."""

    headline = "The results file cannot be used"
