"""Error types raised on bad input.

Every check collects all the problems it finds and raises once, so a user fixes a
file in one pass instead of one error at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "BandSchemeError",
    "DisclosureError",
    "FeatureError",
    "FireRiskError",
    "InputFileError",
    "ModelInputError",
    "PersonalDataError",
    "Problem",
    "ProfileError",
    "ReportRequestError",
    "ResultsFileError",
    "UnsafeFileError",
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


class FeatureError(FireRiskError):
    """Model features cannot be built: a covariate column is missing or not numeric."""

    headline = "The model features cannot be built"


class ModelInputError(FireRiskError):
    """The count model was given inputs it cannot use (for example, years it must not see)."""

    headline = "The model inputs have problems"


class BandSchemeError(FireRiskError):
    """An unknown or unusable banding scheme was asked for."""

    headline = "The priority bands cannot be made"


class ReportRequestError(FireRiskError):
    """A PDF report asked for a group, column or selection the results do not hold."""

    headline = "The report cannot be made"


class PersonalDataError(FireRiskError):
    """An input holds, or looks like it holds, information about identifiable people."""

    headline = "The input seems to contain personal data, so it was not read"


class UnsafeFileError(FireRiskError):
    """A file was refused: wrong real type, too large, or a hostile archive."""

    headline = "The file was refused"


class DisclosureError(FireRiskError):
    """Counts or disclosure settings that cannot be protected for publication."""

    headline = "The counts cannot be prepared for publication"
