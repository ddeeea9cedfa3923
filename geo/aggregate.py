"""Count incidents per area and year; account for every row; find partial years.

Point-in-polygon is a vectorised spatial-index query (shapely STRtree through
``areas.sindex``, predicate ``"intersects"``) in the working CRS.

**Tie rule.** A point strictly inside one area belongs to it. A point on a boundary
shared by two or more areas (or inside overlapping areas) intersects all of them; it
is counted once, for the area whose ``area_id`` sorts first (plain text order), so the
result does not depend on the order of the area file. A point on the outer edge of
the study region belongs to the one area it touches. The number of such ties is
reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from firerisk.columns import AREA_ID

__all__ = [
    "REASONS",
    "Aggregation",
    "RowAccounting",
    "YearCoverage",
    "YearSpan",
    "aggregate_incidents",
    "assign_to_areas",
    "year_coverage",
]

#: Why an incident row was not used, in the order they are reported.
REASONS = ("missing coordinates", "bad date", "outside the study period", "outside every area",
           "excluded by filter", "duplicate")
_EXAMPLES = 10


@dataclass(frozen=True)
class RowAccounting:
    """What happened to every incident row: ``rows_read == rows_used + sum(dropped)``.

    Attributes
    ----------
    rows_read : rows in the incident file (header excluded).
    rows_used : rows counted in an area and year.
    dropped : reason -> number of rows (every reason in :data:`REASONS`, zeros included).
    examples : reason -> the first few dropped row numbers (1-based data rows).
    """

    rows_read: int
    rows_used: int
    dropped: dict[str, int]
    examples: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rows_read != self.rows_used + sum(self.dropped.values()):
            raise AssertionError(
                f"row accounting does not add up: {self.rows_read} read != {self.rows_used} "
                f"used + {sum(self.dropped.values())} dropped ({self.dropped}).")
        if any(n < 0 for n in self.dropped.values()) or self.rows_used < 0:
            raise AssertionError(f"negative row count in {self}")

    @property
    def rows_dropped(self) -> int:
        """Rows read but not used."""
        return sum(self.dropped.values())

    def lines(self) -> list[str]:
        """Plain-language summary, one line per figure."""
        out = [f"{self.rows_read:,} incident rows read", f"{self.rows_used:,} used"]
        for reason, n in self.dropped.items():
            if n:
                eg = self.examples.get(reason, ())
                rows = f" (e.g. rows {', '.join(map(str, eg[:5]))})" if eg else ""
                out.append(f"{n:,} dropped: {reason}{rows}")
        return out

    def as_dict(self) -> dict[str, object]:
        """Plain types, for JSON (the ``run`` layer of the results file)."""
        return {"rows_read": self.rows_read, "rows_used": self.rows_used,
                "dropped": dict(self.dropped),
                "examples": {k: list(v) for k, v in self.examples.items()}}


@dataclass(frozen=True)
class YearSpan:
    """One calendar year of the study: the dates actually covered and whether it is whole."""

    year: int
    first: date
    last: date
    full: bool

    @property
    def days(self) -> int:
        """Number of days covered."""
        return (self.last - self.first).days + 1


@dataclass(frozen=True)
class YearCoverage:
    """Per year, the dates covered by both the study period and the data.

    A year is ``full`` only when both span 1 January to 31 December of it.
    """

    spans: tuple[YearSpan, ...]

    def __iter__(self) -> Iterator[YearSpan]:
        return iter(self.spans)

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, year: int) -> YearSpan:
        for span in self.spans:
            if span.year == year:
                return span
        raise KeyError(year)

    @property
    def years(self) -> tuple[int, ...]:
        """Every year, first to last."""
        return tuple(s.year for s in self.spans)

    @property
    def full_years(self) -> tuple[int, ...]:
        """Years covered from 1 January to 31 December."""
        return tuple(s.year for s in self.spans if s.full)

    @property
    def partial_years(self) -> tuple[int, ...]:
        """Years covered only in part (never use them as full years)."""
        return tuple(s.year for s in self.spans if not s.full)

    @property
    def first(self) -> date | None:
        """First date covered."""
        return self.spans[0].first if self.spans else None

    @property
    def last(self) -> date | None:
        """Last date covered."""
        return self.spans[-1].last if self.spans else None

    def describe(self) -> str:
        """E.g. ``"2009-01-01 to 2024-08-31; partial: 2024 (2024-01-01 to 2024-08-31)"``."""
        if not self.spans:
            return "no dates covered"
        text = f"{self.first} to {self.last}"
        partial = [f"{s.year} ({s.first} to {s.last})" for s in self.spans if not s.full]
        return text + (f"; partial: {', '.join(partial)}" if partial else "; all years full")


def year_coverage(*, study_start: date | None, study_end: date | None,
                  data_first: date | None, data_last: date | None) -> YearCoverage:
    """Intersect the study period with the data's date range, year by year.

    Parameters
    ----------
    study_start, study_end : date or None
        The profile's [study] period; an open end takes the data's.
    data_first, data_last : date or None
        The first and last readable incident dates in the file.

    Returns
    -------
    YearCoverage
        Empty when the two do not overlap or there are no dates.
    """
    if data_first is None or data_last is None:
        return YearCoverage(())
    lo = max(d for d in (study_start, data_first) if d is not None)
    hi = min(d for d in (study_end, data_last) if d is not None)
    spans = []
    for year in range(lo.year, hi.year + 1):
        first = max(lo, date(year, 1, 1))
        last = min(hi, date(year, 12, 31))
        full = first == date(year, 1, 1) and last == date(year, 12, 31)
        spans.append(YearSpan(year=year, first=first, last=last, full=full))
    return YearCoverage(tuple(spans))


def assign_to_areas(x: np.ndarray, y: np.ndarray,
                    areas: gpd.GeoDataFrame) -> tuple[np.ndarray, int]:
    """The position (0-based, in *areas*) of the area holding each point, or -1.

    Coordinates must be in the areas' CRS. Ties (a point in or on more than one area)
    go to the area whose ``area_id`` sorts first; see the module docstring.

    Returns
    -------
    positions, ties
        An int array as long as *x*, and the number of points that touched several areas.
    """
    n = len(x)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0 or areas.empty:
        return out, 0
    points = shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    pt, poly = areas.sindex.query(points, predicate="intersects")
    if len(pt) == 0:
        return out, 0
    # rank of each area by id, so the smallest id wins a tie
    id_rank = np.empty(len(areas), dtype=np.int64)
    id_rank[np.argsort(np.asarray(areas[AREA_ID], dtype=str), kind="stable")] = \
        np.arange(len(areas))
    order = np.lexsort((id_rank[poly], pt))
    pt, poly = pt[order], poly[order]
    first = np.ones(len(pt), dtype=bool)
    first[1:] = pt[1:] != pt[:-1]
    out[pt[first]] = poly[first]
    ties = int(np.count_nonzero(np.bincount(pt, minlength=n) > 1))
    return out, ties


@dataclass(frozen=True)
class Aggregation:
    """Counts per area and year (and type), with the full row accounting."""

    counts: pd.DataFrame
    counts_by_type: pd.DataFrame | None
    accounting: RowAccounting
    boundary_ties: int
    #: The 1-based rows that fell outside every area (for the ceiling on silent loss).
    outside_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64),
                                     repr=False)


def aggregate_incidents(table: pd.DataFrame, areas: gpd.GeoDataFrame, *, years: Sequence[int],
                        rows_read: int, dropped: Mapping[str, np.ndarray]) -> Aggregation:
    """Count incidents per area × year (× type) and close the row accounting.

    Parameters
    ----------
    table : DataFrame
        Incidents that passed the other checks: ``row``, ``x``, ``y`` (working CRS),
        ``year`` and optionally ``type``.
    areas : GeoDataFrame
        Areas in the working CRS with ``area_id``.
    years : sequence of int
        Columns of ``counts`` (every year of the study; zeros included).
    rows_read : int
        Rows in the incident file.
    dropped : mapping reason -> row numbers
        Rows already dropped (before the spatial join).

    Returns
    -------
    Aggregation
        ``counts`` is indexed by ``area_id`` in areas order with one int column per
        year; ``counts_by_type`` (when ``table`` has ``type``) is a long table
        ``area_id, year, type, count`` of the non-zero combinations.
    """
    years = [int(y) for y in years]
    pos, ties = assign_to_areas(table["x"].to_numpy(), table["y"].to_numpy(), areas)
    inside = pos >= 0
    rows = table["row"].to_numpy()
    all_dropped = {r: np.asarray(dropped.get(r, np.empty(0, dtype=np.int64)), dtype=np.int64)
                   for r in REASONS}
    all_dropped["outside every area"] = np.sort(np.concatenate(
        [all_dropped["outside every area"], rows[~inside]])).astype(np.int64)
    unknown = set(dropped) - set(REASONS)
    if unknown:
        raise ValueError(f"unknown drop reasons {sorted(unknown)}; use {REASONS}")

    year_of = table["year"].to_numpy()[inside]
    col = pd.Index(years).get_indexer(year_of)
    if (col < 0).any():
        raise AssertionError("an incident year lies outside the study years")
    n_areas, n_years = len(areas), len(years)
    flat = np.bincount(pos[inside] * n_years + col, minlength=n_areas * n_years)
    counts = pd.DataFrame(flat.reshape(n_areas, n_years).astype(np.int64),
                          index=pd.Index(areas[AREA_ID].to_numpy(), name=AREA_ID),
                          columns=pd.Index(years, name="year"))

    counts_by_type = None
    if "type" in table.columns:
        long = pd.DataFrame({"pos": pos[inside], "year": year_of,
                             "type": table["type"].to_numpy()[inside]})
        grouped = long.groupby(["pos", "year", "type"], sort=True).size()
        counts_by_type = grouped.reset_index(name="count")
        counts_by_type.insert(0, AREA_ID, areas[AREA_ID].to_numpy()[
            counts_by_type["pos"].to_numpy()])
        counts_by_type = counts_by_type.drop(columns="pos").astype(
            {"year": "int64", "count": "int64"}).reset_index(drop=True)

    accounting = RowAccounting(
        rows_read=int(rows_read),
        rows_used=int(inside.sum()),
        dropped={r: len(all_dropped[r]) for r in REASONS},
        examples={r: tuple(int(v) for v in all_dropped[r][:_EXAMPLES]) for r in REASONS},
    )
    return Aggregation(counts=counts, counts_by_type=counts_by_type, accounting=accounting,
                       boundary_ties=ties, outside_rows=np.sort(rows[~inside]).astype(np.int64))
