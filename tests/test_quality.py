"""geo.quality: repeated rows, mixed date layouts and the ceiling on silent loss.

Truth is counted by hand on small arrays, and the thresholds are tested on both sides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from firerisk.geo.quality import (
    STOP_MIN_ROWS,
    date_layouts,
    describe_layouts,
    duplicate_problem,
    loss_findings,
    repeated_rows,
)
from firerisk.geo.validate import DATE_FORMAT_CANDIDATES


def test_repeats_keep_the_first_and_ignore_blanks_and_ineligible_rows() -> None:
    keys = np.array(["a", "b", "a", "", "", None, "b", "a"], dtype=object)
    eligible = np.array([True, True, True, True, True, True, False, True])
    got = repeated_rows(keys, eligible)
    assert got.tolist() == [False, False, True, False, False, False, False, True]
    hashes = np.array([7, 8, 7, 7], dtype=np.uint64)
    assert repeated_rows(hashes, np.ones(4, dtype=bool)).tolist() == [False, False, True, True]


def _dates(n: int) -> pd.Series:
    return pd.Series(pd.date_range("2020-01-01", periods=n, freq="6h"))


def test_a_few_repeats_are_a_note_many_are_a_problem() -> None:
    n = 2000
    dates = _dates(n)
    eligible = np.ones(n, dtype=bool)
    few = np.zeros(n, dtype=bool)
    few[::250] = True  # 8 repeats (0.4 %), spread over the months
    problem, note = duplicate_problem(few, eligible, dates, file="f.csv", section="[incidents]")
    assert problem is None
    assert note is not None
    assert "8 of 2,000 rows (0.4 %)" in note
    many = np.zeros(n, dtype=bool)
    many[::40] = True  # 50 repeats (2.5 %)
    problem, note = duplicate_problem(many, eligible, dates, file="f.csv",
                                      section="[incidents]", id_hint="IncidentNumber")
    assert note is None
    assert problem is not None
    assert problem.rows == tuple(int(i) + 1 for i in np.flatnonzero(many))
    assert 'id = "IncidentNumber" under [incidents]' in problem.fix
    assert 'duplicates = "keep"' in problem.fix


def test_one_month_exported_twice_is_caught_below_the_overall_share() -> None:
    # 20,000 rows over 9 years; 45 of March 2020's 186 rows repeat: 0.2 % of all rows
    n = 20_000
    dates = pd.Series(pd.date_range("2020-01-01", periods=n, freq="4h"))
    repeats = np.zeros(n, dtype=bool)
    march = np.flatnonzero(((dates.dt.year == 2020) & (dates.dt.month == 3)).to_numpy())
    repeats[march[:45]] = True
    assert repeats.sum() / n < 0.01
    problem, _ = duplicate_problem(repeats, np.ones(n, dtype=bool), dates, file="f",
                                   section="[incidents]")
    assert problem is not None
    assert "2020-03" in problem.message


def test_date_layouts_are_reported_by_year() -> None:
    text = pd.Series(["2015-01-02", "2016-03-04", "02/01/2009", "31/12/2013", "junk", None])
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    found = date_layouts(text, parsed, declared="%Y-%m-%d", candidates=DATE_FORMAT_CANDIDATES)
    assert [(f.layout, f.rows, f.first_year, f.last_year) for f in found] == [
        ("%Y-%m-%d", 2, 2015, 2016), ("%d/%m/%Y", 2, 2009, 2013), ("unreadable", 1, None, None)]
    said = describe_layouts(found)
    assert '"%d/%m/%Y" in 2009-2013 (2 rows' in said
    assert "not a date in any layout (1 rows" in said


def test_the_ceiling_on_silent_loss() -> None:
    def run(k: int, *, tolerance: float = 0.05, reason: str = "bad date") -> object:
        return loss_findings({reason: np.arange(1, k + 1)}, in_scope=1000, file="f",
                             columns={"bad date": "date"}, fixes={}, tolerance=tolerance)

    assert run(10).warnings == ()  # 1.0 %: not above 1 %
    assert run(10).problems == ()
    below = run(11)  # 1.1 %: a warning
    assert below.problems == ()
    assert len(below.warnings) == 1
    assert "11 of 1,000 rows (1.1 %)" in below.warnings[0]
    assert len(run(50).warnings) == 1  # 5.0 %: still a warning
    above = run(51)
    assert len(above.problems) == 1
    assert above.problems[0].column == "date"
    assert above.problems[0].rows == tuple(range(1, 52))
    assert "max_dropped_percent = 7" in above.problems[0].fix
    assert run(51, tolerance=0.10).problems == ()  # the profile's tolerance
    assert run(51, reason="excluded by filter").warnings == ()  # the profile's own choice
    tiny = loss_findings({"bad date": np.arange(1, STOP_MIN_ROWS)}, in_scope=20, file="f",
                         columns={}, fixes={})
    assert tiny.problems == ()  # 9 of 20 rows: too few to call a systematic loss
    assert len(tiny.warnings) == 1
