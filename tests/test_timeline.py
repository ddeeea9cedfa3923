"""geo.timeline: which years the data fill, strays, missing months and quarters.

Truth: dates drawn here from known monthly Poisson rates (so a gap is known to be one),
hand-placed strays, and scipy's Poisson distribution for the tail probability.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.stats import poisson

from firerisk.geo.timeline import (
    find_bulk,
    gap_problem,
    incomplete_years,
    poisson_lower_tail,
    stray_problems,
)


def monthly_dates(rate: float, start: str = "2010-01", end: str = "2019-12", *, seed: int = 0,
                  skip: tuple[str, ...] = ()) -> pd.Series:
    """Dates with a Poisson(rate) count per month, uniformly spread inside each month."""
    rng = np.random.default_rng(seed)
    out = []
    for month in pd.period_range(start, end, freq="M"):
        if str(month) in skip:
            continue
        days = rng.integers(0, month.days_in_month, rng.poisson(rate))
        out += list(month.start_time + pd.to_timedelta(days, unit="D"))
    return pd.Series(pd.to_datetime(out)).sort_values(ignore_index=True)


@pytest.mark.parametrize(("k", "mean"), [(0, 7.0), (3, 10.5), (12, 30.0), (374, 1314.0),
                                         (90, 100.0), (0, 0.5)])
def test_poisson_tail_matches_scipy(k: int, mean: float) -> None:
    assert poisson_lower_tail(k, mean) == pytest.approx(poisson.cdf(k, mean), rel=1e-9)


def test_clean_data_have_no_stray_and_no_gap() -> None:
    for rate, seed in ((400, 1), (30, 2), (8, 3)):
        dates = monthly_dates(rate, seed=seed)
        bulk = find_bulk(dates)
        assert not bulk.strays.any()
        assert (bulk.first, bulk.last) == (dates.min().date(), dates.max().date())
        assert incomplete_years(dates, range(2010, 2020)) == {}


def test_a_small_service_is_not_flagged_for_its_quiet_months() -> None:
    # 1.5 fires a month: runs of empty months happen by chance and say nothing
    for seed in range(5):
        dates = monthly_dates(1.5, seed=seed)
        assert not find_bulk(dates).strays.any()
        assert incomplete_years(dates, range(2010, 2020)) == {}


def test_strays_are_found_after_and_before_the_bulk_and_named() -> None:
    dates = monthly_dates(40, end="2019-08", seed=4)
    extra = pd.to_datetime(["2020-02-03", "2204-03-04", "1900-01-01"])
    allv = pd.concat([dates, pd.Series(extra)], ignore_index=True)
    bulk = find_bulk(allv)
    assert bulk.strays.sum() == 3
    assert set(np.flatnonzero(bulk.strays)) == {len(dates), len(dates) + 1, len(dates) + 2}
    assert bulk.last == dates.max().date()
    problems = stray_problems(allv, np.arange(1, len(allv) + 1), bulk, file="f.csv",
                              column="date", today=date(2026, 1, 1))
    late, early = (p for p in sorted(problems, key=lambda p: "before" in p.message))
    assert late.rows == (len(dates) + 1, len(dates) + 2)
    assert "2020-02-03" in late.message
    assert "in the future" in late.message
    assert "set end = 2019-08-31 under [study]" in late.fix
    assert early.rows == (len(dates) + 3,)
    assert "set start = 2010-01-01 under [study]" in early.fix


def test_a_date_just_after_the_end_is_no_stray() -> None:
    # the data run to December; one incident on 2 January is the next year's first day
    dates = monthly_dates(40, end="2019-12", seed=5)
    allv = pd.concat([dates, pd.Series(pd.to_datetime(["2020-01-02"]))], ignore_index=True)
    assert not find_bulk(allv).strays.any()


def test_a_missing_year_and_a_missing_quarter_are_named() -> None:
    dates = monthly_dates(60, seed=6, skip=(*(f"2014-{m:02d}" for m in range(1, 13)),
                                            "2017-04", "2017-05", "2017-06"))
    assert not find_bulk(dates).strays.any()  # a whole year gap splits two big blocks
    gaps = incomplete_years(dates, range(2010, 2020))
    assert set(gaps) == {2014, 2017}
    assert "no incident in Jan-Dec" in gaps[2014]
    assert "no incident in Apr-Jun" in gaps[2017]
    problem = gap_problem(gaps, full_years=range(2010, 2020), file="f.csv", column="date")
    assert problem is not None
    assert "accept_incomplete = [2014, 2017]" in problem.fix
    assert "set start = 2018-01-01 under [study]" in problem.fix


def test_a_quarter_far_below_usual_is_named_but_a_normal_dip_is_not() -> None:
    rng = np.random.default_rng(7)
    dates = monthly_dates(100, seed=8)
    q = dates.dt.to_period("Q").astype(str)
    thinned = dates[~((q == "2015Q3") & (rng.random(len(dates)) < 0.7))]
    gaps = incomplete_years(thinned.reset_index(drop=True), range(2010, 2020))
    assert list(gaps) == [2015]
    assert "Jul-Sep has" in gaps[2015]
    dip = dates[~((q == "2016Q1") & (rng.random(len(dates)) < 0.25))]  # 25 % fewer: a dip
    assert incomplete_years(dip.reset_index(drop=True), range(2010, 2020)) == {}


def test_a_last_year_cut_short_points_at_study_end() -> None:
    dates = monthly_dates(60, seed=9, skip=("2019-10", "2019-11", "2019-12"))
    gaps = incomplete_years(dates, range(2010, 2020))
    assert list(gaps) == [2019]
    problem = gap_problem(gaps, full_years=range(2010, 2020), file="f.csv", column="date")
    assert problem is not None
    assert "set end = 2018-12-31 under [study]" in problem.fix
