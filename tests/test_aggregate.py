"""Point-in-polygon counting, the tie rule, row accounting and year coverage.

Truth is counted by hand on a 3 x 1 row of 10 m squares, and checked against an
independent geopandas ``sjoin(predicate="within")`` for points off the boundaries.
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from firerisk.geo.aggregate import (
    REASONS,
    RowAccounting,
    YearCoverage,
    aggregate_incidents,
    assign_to_areas,
    year_coverage,
)


def strip(ids: list[str]) -> gpd.GeoDataFrame:
    """Squares of 10 m side in a row, x from 0 to 10 * len(ids), ids in the given order.

    Square *k* in the file covers x in [10 k, 10 k + 10].
    """
    return gpd.GeoDataFrame({"area_id": ids},
                            geometry=[shapely.box(10 * k, 0, 10 * k + 10, 10)
                                      for k in range(len(ids))], crs="EPSG:27700")


def test_interior_points_go_to_their_square() -> None:
    areas = strip(["a", "b", "c"])
    pos, ties = assign_to_areas(np.array([5.0, 15.0, 25.0, 29.9]), np.array([5.0, 5, 5, 9.9]),
                                areas)
    assert pos.tolist() == [0, 1, 2, 2]
    assert ties == 0


def test_boundary_points_are_counted_once_for_the_smallest_id() -> None:
    # File order c, a, b: squares at x 0-10 (c), 10-20 (a), 20-30 (b).
    areas = strip(["c", "a", "b"])
    x = np.array([10.0, 20.0, 0.0, 30.0, 10.0, 40.0])
    y = np.array([5.0, 5.0, 5.0, 10.0, 10.0, 5.0])
    pos, ties = assign_to_areas(x, y, areas)
    # x=10: c|a edge -> "a" (pos 1); x=20: a|b edge -> "a"; x=0: outer edge of c only;
    # (30, 10): outer corner of b only; (10, 10): top corner shared by c and a -> "a";
    # x=40: outside every square.
    assert pos.tolist() == [1, 1, 0, 2, 1, -1]
    assert ties == 3


def test_assignment_agrees_with_geopandas_within_off_the_boundaries() -> None:
    rng = np.random.default_rng(4)
    areas = strip(["q", "w", "e", "r"])
    x = rng.uniform(-5, 45, 500)
    y = rng.uniform(-2, 12, 500)
    keep = np.abs(x / 10 - np.round(x / 10)) > 1e-6    # no point on a vertical edge
    x, y = x[keep], y[keep]
    pos, _ = assign_to_areas(x, y, areas)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:27700")
    joined = gpd.sjoin(pts, areas, predicate="within")
    expected = np.full(len(x), -1)
    expected[joined.index.to_numpy()] = joined["index_right"].to_numpy()
    assert (pos == expected).all()
    assert (pos == -1).sum() > 0
    assert (pos >= 0).sum() > 0


def _table(x: list[float], years: list[int], types: list[str] | None = None,
           rows: list[int] | None = None) -> pd.DataFrame:
    t = pd.DataFrame({"row": rows or list(range(1, len(x) + 1)), "x": x, "y": [5.0] * len(x),
                      "year": years})
    if types is not None:
        t["type"] = types
    return t


def test_counts_per_area_and_year_with_zeros() -> None:
    areas = strip(["a", "b", "c"])
    table = _table([5, 5, 15, 10, 99], [2020, 2022, 2022, 2020, 2021])
    agg = aggregate_incidents(table, areas, years=[2020, 2021, 2022], rows_read=5, dropped={})
    # a: 2020 (x=5) + 2020 (x=10, a|b edge -> a), 2022 (x=5); b: 2022; c: nothing
    assert agg.counts.to_numpy().tolist() == [[2, 0, 1], [0, 0, 1], [0, 0, 0]]
    assert list(agg.counts.index) == ["a", "b", "c"]
    assert list(agg.counts.columns) == [2020, 2021, 2022]
    assert agg.counts_by_type is None
    assert agg.accounting.dropped["outside every area"] == 1
    assert agg.accounting.examples["outside every area"] == (5,)
    assert agg.boundary_ties == 1


def test_accounting_merges_earlier_drops() -> None:
    areas = strip(["a"])
    table = _table([5, 50], [2020, 2020], types=["x", "y"], rows=[2, 5])
    dropped = {"bad date": np.array([1]), "missing coordinates": np.array([3, 4])}
    agg = aggregate_incidents(table, areas, years=[2020], rows_read=5, dropped=dropped)
    acc = agg.accounting
    assert (acc.rows_read, acc.rows_used) == (5, 1)
    assert acc.dropped == {"missing coordinates": 2, "bad date": 1, "outside the study period": 0,
                           "outside every area": 1, "excluded by filter": 0, "duplicate": 0}
    assert list(acc.dropped) == list(REASONS)
    assert agg.outside_rows.tolist() == [5]
    assert acc.examples["missing coordinates"] == (3, 4)
    assert agg.counts_by_type is not None
    assert agg.counts_by_type.to_dict("records") == [
        {"area_id": "a", "year": 2020, "type": "x", "count": 1}]


def test_accounting_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(AssertionError, match="does not add up"):
        RowAccounting(rows_read=10, rows_used=7, dropped={"bad date": 2})
    ok = RowAccounting(rows_read=10, rows_used=7, dropped={"bad date": 3})
    assert ok.rows_dropped == 3
    assert "3 dropped: bad date" in ok.lines()


def test_unknown_drop_reason_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown drop reasons"):
        aggregate_incidents(_table([5], [2020]), strip(["a"]), years=[2020], rows_read=2,
                            dropped={"lost": np.array([2])})


def test_sample_like_partial_last_year() -> None:
    cov = year_coverage(study_start=date(2009, 1, 1), study_end=date(2024, 8, 31),
                        data_first=date(2009, 1, 1), data_last=date(2024, 8, 31))
    assert cov.years == tuple(range(2009, 2025))
    assert cov.partial_years == (2024,)
    assert cov.full_years == tuple(range(2009, 2024))
    assert cov[2024].days == 244   # 1 Jan to 31 Aug 2024 (a leap year): 31+29+31+30+31+30+31+31
    assert "partial: 2024 (2024-01-01 to 2024-08-31)" in cov.describe()


def test_data_that_start_late_make_the_first_year_partial() -> None:
    cov = year_coverage(study_start=date(2015, 1, 1), study_end=date(2017, 12, 31),
                        data_first=date(2015, 3, 5), data_last=date(2018, 2, 1))
    assert cov.years == (2015, 2016, 2017)
    assert cov[2015].first == date(2015, 3, 5)
    assert not cov[2015].full
    assert cov.full_years == (2016, 2017)


def test_open_study_period_uses_the_data_range() -> None:
    cov = year_coverage(study_start=None, study_end=None,
                        data_first=date(2020, 1, 1), data_last=date(2021, 12, 31))
    assert cov.full_years == (2020, 2021)


def test_no_dates_no_years() -> None:
    cov = year_coverage(study_start=None, study_end=None, data_first=None, data_last=None)
    assert cov == YearCoverage(())
    assert cov.first is None
    assert len(cov) == 0
