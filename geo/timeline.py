"""Which years the data really cover, judged from their density, not their first and last
dates.

A year is full only when the study period and the data span it *and* the data fill it:
no month without an event where the service usually has several, and no quarter far
below the service's usual level. Dates far from the rest ("strays": a 2025 date in data
that end in August 2024, a 1900 placeholder, a typing slip giving 2204) would otherwise
stretch the data's span and make a partial year look full; they are found first, from
runs of empty months, and named.

The functions take a Series of dates and the names a message needs, read no file and
raise nothing, so any table of dated events can use them.

**Rules** (see README, "How rows are accounted for"):

* *typical month*: the median count of the months that have events.
* *strays*: events in a group of months that holds fewer than half a typical month of
  events, cut off from the bulk of the data by at least ``max(2, ceil(10 / typical))``
  months without any event (so a gap that long has a Poisson chance below e^-10).
* *usual level of a month*: the median count of the 36 months around it (18 each side,
  within the data), so one missing quarter or year does not lower its own yardstick.
* *missing month*: no event where the usual level is at least 7 (a chance below 0.001).
* *quarter far below usual*: fewer than half its usual events, with a Poisson chance of so
  few below 0.001.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from firerisk.errors import Problem

__all__ = [
    "MISSING_MONTH_LEVEL",
    "Bulk",
    "find_bulk",
    "gap_problem",
    "incomplete_years",
    "poisson_lower_tail",
    "stray_problems",
]

#: A month with no event is missing when its usual level is at least this.
MISSING_MONTH_LEVEL = 7.0
_ALPHA = 0.001
_WINDOW = 18
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Bulk:
    """Where the bulk of the dates lie, and the events outside it.

    ``first`` and ``last`` are the first and last dates inside the bulk (None when there
    are no dates); ``strays`` marks the dates outside it; ``typical`` is the median count
    of the months with events.
    """

    first: date | None
    last: date | None
    strays: np.ndarray
    typical: float


def _monthly(dates: pd.Series) -> pd.Series:
    """Events per calendar month from the first to the last, zeros included."""
    months = dates.dropna().dt.to_period("M")
    if months.empty:
        return pd.Series(dtype="int64")
    counts = months.value_counts()
    index = pd.period_range(counts.index.min(), counts.index.max(), freq="M")
    return counts.reindex(index, fill_value=0).astype("int64")


def find_bulk(dates: pd.Series) -> Bulk:
    """Split the dates into the bulk and the strays (module docstring, "Rules").

    Parameters
    ----------
    dates : Series of datetime64
        One date per event (NaT is ignored and never a stray).
    """
    dates = pd.Series(dates).reset_index(drop=True)
    strays = np.zeros(len(dates), dtype=bool)
    monthly = _monthly(dates)
    if monthly.empty:
        return Bulk(None, None, strays, 0.0)
    typical = float(monthly[monthly > 0].median())
    gap = max(2, math.ceil(10 / typical))
    groups: list[tuple[int, int, int]] = []  # (first position, last position, events)
    start, empty = None, 0
    values = monthly.to_numpy()
    for i, v in enumerate(values):
        if v > 0:
            if start is None or empty >= gap:
                groups.append((i, i, int(v)))
            else:
                first, _, total = groups[-1]
                groups[-1] = (first, i, total + int(v))
            start, empty = i, 0
        else:
            empty += 1
    big = [g for g in groups if g[2] >= 0.5 * typical]
    if not big:
        return Bulk(dates.min().date(), dates.max().date(), strays, typical)
    lo = monthly.index[big[0][0]].start_time
    hi = monthly.index[big[-1][1]].end_time
    strays = (dates.notna() & ((dates < lo) | (dates > hi))).to_numpy()
    inside = dates[~strays].dropna()
    return Bulk(inside.min().date(), inside.max().date(), strays, typical)


def stray_problems(dates: pd.Series, rows: np.ndarray, bulk: Bulk, *, file: str, column: str,
                   section: str = "[study]", today: date | None = None) -> list[Problem]:
    """One problem for the strays before the bulk and one for those after it.

    Parameters
    ----------
    dates : Series of datetime64
        The dates :func:`find_bulk` was given.
    rows : int array
        The 1-based file row of each date.
    bulk : Bulk
    file, column, section : names for the message and the fix.
    today : date, optional
        Dates after it are said to be in the future (default: today).
    """
    if not bulk.strays.any() or bulk.first is None or bulk.last is None:
        return []
    today = today or date.today()
    dates = pd.Series(dates).reset_index(drop=True)
    problems = []
    for late in (False, True):
        side = bulk.strays & ((dates > pd.Timestamp(bulk.last)) if late
                              else (dates < pd.Timestamp(bulk.first))).to_numpy()
        if not side.any():
            continue
        shown = sorted({d.date() for d in dates[side]})
        eg = ", ".join(str(d) for d in shown[:3]) + (", ..." if len(shown) > 3 else "")
        future = " (some are in the future)" if late and shown[-1] > today else ""
        n = int(side.sum())
        if late:  # the end of the bulk's last month: a last day with no fire stays covered
            key = "end"
            value = (pd.Timestamp(bulk.last) + pd.offsets.MonthEnd(0)).date()
            where = f"after the rest, which end on {bulk.last}"
        else:
            key, value = "start", bulk.first.replace(day=1)
            where = f"before the rest, which start on {bulk.first}"
        problems.append(Problem(
            file, f"{n:,} date{'s lie' if n > 1 else ' lies'} far {where}, with months of no "
            f"incident in between ({eg}){future}. Counted, they would stretch the years the data "
            "seem to cover, so partial years would pass as full ones.",
            f"correct these dates, or set {key} = {value} under {section} so they are left out "
            "(they are then counted as 'outside the study period').",
            column=column, rows=tuple(int(r) for r in rows[side])))
    return problems


def poisson_lower_tail(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean), summed exactly in log space."""
    if mean <= 0:
        return 1.0
    terms = [i * math.log(mean) - mean - math.lgamma(i + 1) for i in range(int(k) + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _usual(monthly: pd.Series) -> np.ndarray:
    """Each month's usual level: the median of the months around it, itself left out."""
    values = monthly.to_numpy(dtype=float)
    out = np.empty(len(values))
    for i in range(len(values)):
        lo, hi = max(0, i - _WINDOW), min(len(values), i + _WINDOW + 1)
        around = np.concatenate([values[lo:i], values[i + 1:hi]])
        out[i] = float(np.median(around)) if around.size else values[i]
    return out


def _runs(months: list[int]) -> str:
    """Month numbers as ranges: [3, 4, 5, 9] -> "Mar-May, Sep"."""
    parts, i = [], 0
    while i < len(months):
        j = i
        while j + 1 < len(months) and months[j + 1] == months[j] + 1:
            j += 1
        a, b = months[i], months[j]
        parts.append(_MONTHS[a - 1] if a == b else f"{_MONTHS[a - 1]}-{_MONTHS[b - 1]}")
        i = j + 1
    return ", ".join(parts)


def incomplete_years(dates: pd.Series, years: Sequence[int]) -> dict[int, str]:
    """Years among *years* whose months look missing or far below usual, with why.

    Parameters
    ----------
    dates : Series of datetime64
        The dates of the events that are counted.
    years : sequence of int
        Years whose whole calendar the study period and the data's span cover.

    Returns
    -------
    dict
        year -> a short description, e.g. ``"no incident in Mar-May (usually about 470 a
        month)"``.
    """
    monthly = _monthly(dates)
    if monthly.empty:
        return {}
    usual = pd.Series(_usual(monthly), index=monthly.index)
    out: dict[int, str] = {}
    for year in years:
        index = pd.period_range(f"{year}-01", f"{year}-12", freq="M")
        got = monthly.reindex(index, fill_value=0).to_numpy(dtype=float)
        level = usual.reindex(index).fillna(float(np.median(usual))).to_numpy()
        missing = [i + 1 for i in range(12) if got[i] == 0 and level[i] >= MISSING_MONTH_LEVEL]
        low = []
        for q in range(4):
            seen, expected = got[3 * q:3 * q + 3].sum(), level[3 * q:3 * q + 3].sum()
            if seen < 0.5 * expected and poisson_lower_tail(int(seen), expected) < _ALPHA:
                low.append((q + 1, int(seen), expected))
        parts = []
        if missing:
            parts.append(f"no incident in {_runs(missing)} (usually about "
                         f"{np.median(level[[m - 1 for m in missing]]):,.0f} a month)")
        quarters = [(q, s, e) for q, s, e in low
                    if not all(m in missing for m in range(3 * q - 2, 3 * q + 1))]
        parts += [f"{_runs(list(range(3 * q - 2, 3 * q + 1)))} has {s:,} incidents where about "
                  f"{e:,.0f} are usual" for q, s, e in quarters]
        if parts:
            out[int(year)] = "; ".join(parts)
    return out


def gap_problem(incomplete: dict[int, str], *, full_years: Sequence[int], file: str,
                column: str, section: str = "[study]") -> Problem | None:
    """One problem naming every incomplete year, with the fixes that fit where they lie."""
    if not incomplete:
        return None
    years = sorted(incomplete)
    full = sorted(full_years)
    said = "; ".join(f"{y}: {why}" for y, why in incomplete.items())
    fixes = []
    before = [y for y in full if y > years[-1]]
    after = [y for y in full if y < years[0]]
    if years[-1] == full[-1] and after:
        fixes.append(f"set end = {years[0] - 1}-12-31 under {section} to model the years "
                     "before the gap")
    elif before:
        fixes.append(f"set start = {years[-1] + 1}-01-01 under {section} to model only the "
                     "years after the gap")
    listed = ", ".join(map(str, years))
    fixes.append(f"if the months really had this few incidents, set accept_incomplete = "
                 f"[{listed}] under {section}")
    return Problem(
        file, f"the incidents look incomplete in {listed}: {said}. Counted as full years, "
        "the areas where incidents are missing would look safer than they are.",
        "export the missing months again; or " + "; or ".join(fixes) + ".", column=column)
