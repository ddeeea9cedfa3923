"""Row-level quality checks shared by every table of events (incidents, and any later one).

Each function takes plain arrays and the names a message needs (file, column, profile
section), and returns :class:`~firerisk.errors.Problem` objects or warning sentences; none
reads a file or raises, so any input table can reuse them:

* :func:`repeated_rows` and :func:`duplicate_problem`: rows that repeat an earlier row
  (or an earlier incident number), their share, and where they cluster;
* :func:`date_layouts` and :func:`describe_layouts`: which date layouts a column mixes,
  and in which years;
* :func:`loss_findings`: the ceiling on silent loss. A drop reason that takes more than
  :data:`WARN_SHARE` of the rows in scope is a warning; more than the profile's tolerance
  (default :data:`STOP_SHARE`) stops the build, once at least :data:`STOP_MIN_ROWS` rows
  are lost to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from firerisk.errors import Problem, describe_rows

__all__ = [
    "DUPLICATE_MONTH_SHARE",
    "DUPLICATE_SHARE",
    "EXEMPT_REASONS",
    "STOP_MIN_ROWS",
    "STOP_SHARE",
    "WARN_SHARE",
    "DateLayout",
    "LossFindings",
    "date_layouts",
    "describe_layouts",
    "duplicate_problem",
    "loss_findings",
    "repeated_rows",
]

#: Above this share of the rows in scope, a drop reason is printed as a warning.
WARN_SHARE = 0.01
#: Above this share (unless the profile sets another tolerance) the build stops.
STOP_SHARE = 0.05
#: ... but only once this many rows are lost to that reason (a handful of rows in a tiny
#: file is not a systematic loss).
STOP_MIN_ROWS = 10
#: Drop reasons chosen by the profile, never a silent loss.
EXEMPT_REASONS = frozenset({"outside the study period", "excluded by filter", "duplicate"})
#: Exact repeats above this share of the rows stop the build (the London sample has 0.18 %
#: of same-day, same-100 m-square, same-type fires).
DUPLICATE_SHARE = 0.01
#: ... as do repeats making up this share of one month's rows (a month exported twice).
DUPLICATE_MONTH_SHARE = 0.2
_MONTH_MIN = 10


def repeated_rows(keys: np.ndarray | pd.Series, eligible: np.ndarray) -> np.ndarray:
    """Rows whose key repeats the key of an earlier eligible row (the first is kept).

    Parameters
    ----------
    keys : array
        One key per row: a hash of the whole row, or an incident number. Missing keys
        (NaN, None, "") never repeat.
    eligible : bool array
        Rows that take part (e.g. rows not dropped for another reason).
    """
    values = np.asarray(keys)
    if np.issubdtype(values.dtype, np.integer):  # row hashes: never blank
        series = pd.Series(values)
        blank = np.zeros(len(values), dtype=bool)
    else:
        series = pd.Series(values.astype(object))
        blank = (series.isna() | (series.astype(str).str.strip() == "")).to_numpy()
    take = np.asarray(eligible, dtype=bool) & ~blank
    out = np.zeros(len(series), dtype=bool)
    idx = np.flatnonzero(take)
    out[idx] = series.iloc[idx].duplicated(keep="first").to_numpy()
    return out


def duplicate_problem(repeats: np.ndarray, eligible: np.ndarray, dates: pd.Series, *,
                      file: str, section: str, id_hint: str | None = None
                      ) -> tuple[Problem | None, str | None]:
    """Exact repeats of earlier rows: a problem above the thresholds, else a note.

    Parameters
    ----------
    repeats, eligible : bool arrays
        From :func:`repeated_rows` over whole-row keys, and the rows that took part.
    dates : Series of datetime64
        Each row's date (for where the repeats cluster).
    file, section : names for the message (``section`` is e.g. ``"[incidents]"``).
    id_hint : str, optional
        A column that looks like an incident number, named in the fix.

    Returns
    -------
    (problem, note)
        One of them or neither.
    """
    n, k = int(np.count_nonzero(eligible)), int(np.count_nonzero(repeats))
    if not k:
        return None, None
    share = k / max(n, 1)
    month = pd.Series(dates.to_numpy()[eligible]).dt.to_period("M")
    per_month = pd.DataFrame({"month": month, "repeat": repeats[eligible]}).groupby("month")[
        "repeat"].agg(["sum", "size"])
    heavy = per_month[(per_month["sum"] >= _MONTH_MIN)
                      & (per_month["sum"] > DUPLICATE_MONTH_SHARE * per_month["size"])]
    what = (f"{k:,} of {n:,} rows ({100 * share:.1f} %) repeat an earlier row exactly (every "
            "column read is the same)")
    if share <= DUPLICATE_SHARE and heavy.empty:
        return None, (f"{file}: {what}; they are counted as separate incidents (set id in "
                      f"{section} to count each incident number once).")
    where = ""
    if not heavy.empty:
        months = [str(m) for m in heavy.index]
        span = months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"
        where = f"; in {len(months)} month(s) ({span}) more than a fifth of the rows are repeats"
    number = f'id = "{id_hint}"' if id_hint else 'id = "<incident number column>"'
    return Problem(
        file, f"{what}{where}: the extract seems to hold some incidents twice, which would "
        "count their fires twice.",
        f"export the incidents again without the repeats; or set {number} under {section} "
        f"so each incident number is counted once; or, if every row is a separate incident, "
        f'set duplicates = "keep" under {section} (duplicates = "drop" drops the exact '
        "repeats instead).", rows=tuple(int(r) + 1 for r in np.flatnonzero(repeats))), None


# --------------------------------------------------------------------------- date layouts

@dataclass(frozen=True)
class DateLayout:
    """Rows of a date column read by one layout, and the years they fall in."""

    layout: str
    rows: int
    first_year: int | None
    last_year: int | None
    example: str


def date_layouts(text: pd.Series, parsed: pd.Series, *, declared: str,
                 candidates: Sequence[str]) -> list[DateLayout]:
    """Which layouts a date column mixes: the declared one, and the first candidate that
    reads each value the declared layout cannot read ("unreadable" when none does).

    Parameters
    ----------
    text : Series of str
        The column as read.
    parsed : Series of datetime64
        The values read with the declared layout (NaT where that failed).
    declared : str
        The declared layout, as shown (e.g. ``"%Y-%m-%d"``).
    candidates : sequence of str
        strftime layouts to try on the rest.
    """
    out: list[DateLayout] = []

    def add(name: str, values: pd.Series, dates: pd.Series) -> None:
        years = dates.dt.year.dropna()
        out.append(DateLayout(name, len(values), int(years.min()) if len(years) else None,
                              int(years.max()) if len(years) else None,
                              str(values.iloc[0]) if len(values) else ""))

    good = parsed.notna()
    if good.any():
        add(declared, text[good], parsed[good])
    rest = text[~good & text.notna() & (text.astype(str).str.strip() != "")]
    for fmt in candidates:
        if rest.empty:
            break
        read = pd.to_datetime(rest.astype(str).str.strip(), format=fmt, errors="coerce")
        hit = read.notna()
        if hit.any():
            add(fmt, rest[hit], read[hit])
            rest = rest[~hit]
    if not rest.empty:
        add("unreadable", rest, pd.Series(pd.NaT, index=rest.index, dtype="datetime64[ns]"))
    return out


def describe_layouts(layouts: Sequence[DateLayout]) -> str:
    """E.g. ``"%Y-%m-%d" in 2015-2024 (58,801 rows), "%d/%m/%Y" in 2009-2014 (31,345 rows)``."""
    parts = []
    for lay in layouts:
        years = ("" if lay.first_year is None else f" in {lay.first_year}" if
                 lay.first_year == lay.last_year else f" in {lay.first_year}-{lay.last_year}")
        name = "not a date in any layout" if lay.layout == "unreadable" else f'"{lay.layout}"'
        parts.append(f"{name}{years} ({lay.rows:,} rows, e.g. {lay.example!r})")
    return ", ".join(parts)


# --------------------------------------------------------------------------- silent loss

@dataclass(frozen=True)
class LossFindings:
    """What the ceiling on silent loss found: problems that stop the build, and warnings."""

    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]


def loss_findings(lost: Mapping[str, np.ndarray], *, in_scope: int, file: str,
                  columns: Mapping[str, str | None], fixes: Mapping[str, str],
                  details: Mapping[str, str] | None = None, tolerance: float = STOP_SHARE,
                  section: str = "[incidents]") -> LossFindings:
    """Hold every drop reason (except :data:`EXEMPT_REASONS`) to the ceiling on silent loss.

    Parameters
    ----------
    lost : mapping reason -> row numbers
        The 1-based rows dropped for each reason, among the rows in scope.
    in_scope : int
        Rows that the profile meant to count (inside the study period, kept by the
        filters): the share's denominator.
    file, columns : the file and, per reason, the column to name.
    fixes : mapping reason -> the fix for that reason (the tolerance key is added).
    details : mapping reason -> more words for the message (e.g. the date layouts seen).
    tolerance : float
        The share above which the build stops (``[incidents] max_dropped_percent / 100``).
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    details = details or {}
    for reason, rows in lost.items():
        k = len(rows)
        if reason in EXEMPT_REASONS or not k or not in_scope:
            continue
        share = k / in_scope
        if share <= WARN_SHARE and share <= tolerance:
            continue
        extra = f"; {details[reason]}" if details.get(reason) else ""
        what = (f"{k:,} of {in_scope:,} rows ({100 * share:.1f} %) were dropped as '{reason}'"
                f"{extra}")
        keep = (f"set max_dropped_percent = {int(np.ceil(100 * share)) + 1} under {section} to "
                "build without them (the areas where they happened will look safer than they "
                "are)")
        if share > tolerance and k >= STOP_MIN_ROWS:
            problems.append(Problem(file, f"{what}. That many dropped rows would bias the "
                                    "list.", f"{fixes.get(reason, 'correct those rows')}; or "
                                    f"{keep}.", column=columns.get(reason),
                                    rows=tuple(int(r) for r in rows)))
        else:
            warnings.append(f"{file}: {what} ({describe_rows([int(r) for r in rows])}). Above "
                            f"{100 * tolerance:g} % the build stops.")
    return LossFindings(tuple(problems), tuple(warnings))
