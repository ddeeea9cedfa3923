"""geo.plausible: households and features far outside the other areas, wrong scales, inf.

Truth: the London sample's real figures (none may be refused), the same figures with one
value changed by hand, and the robust z computed here from its definition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firerisk.geo.plausible import (
    OUTLIER_Z,
    Source,
    figure_problems,
    robust_outliers,
    zero_exposure_problem,
)
from firerisk.specs import ExposureSpec, FeatureSpec

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
EXPOSURE = ExposureSpec(column="total_households")
IMD = FeatureSpec(name="imd_score", label="Deprivation", column="IMD_score", unit="score")


@pytest.fixture(scope="module")
def london() -> pd.DataFrame:
    census = pd.read_csv(SAMPLE / "census2021_households_london.csv").set_index("lsoa21_code")
    imd = pd.read_csv(SAMPLE / "imd2025_london.csv").set_index("lsoa21_code")
    return census.join(imd[["IMD_score"]])


def _sources(frame: pd.DataFrame) -> dict[str, Source]:
    rows = pd.Series(np.arange(1, len(frame) + 1), index=frame.index)
    return {c: Source("table.csv", rows) for c in frame.columns}


def test_the_london_figures_are_all_plausible(london: pd.DataFrame) -> None:
    flats = FeatureSpec(name="flats", label="Flats", numerator=(
        "accommodation: In a purpose-built block of flats or tenement",),
        denominator="total_households", unit="percent")
    assert figure_problems(london, exposure=EXPOSURE, features=[IMD, flats],
                           sources=_sources(london)) == []


def test_robust_z_is_the_median_absolute_deviation_on_the_log_scale() -> None:
    rng = np.random.default_rng(1)
    values = pd.Series(np.exp(rng.normal(6.5, 0.2, 500)))
    logs = np.log(values)
    scale = 1.4826 * float(np.median(np.abs(logs - logs.median())))
    just_in = float(np.exp(logs.median() + (OUTLIER_Z - 0.1) * scale))
    out = float(np.exp(logs.median() + max(OUTLIER_Z + 0.5, np.log(11) / scale) * scale))
    flagged = robust_outliers(pd.concat([values, pd.Series([just_in, out])], ignore_index=True))
    assert flagged.tolist()[-2:] == [False, True]
    assert not flagged[:-2].any()


def test_households_of_1e9_are_refused_with_rows_and_a_range_fix(london: pd.DataFrame) -> None:
    frame = london.copy()
    frame.iloc[10, frame.columns.get_loc("total_households")] = 1e9
    problems = figure_problems(frame, exposure=EXPOSURE, features=[IMD],
                               sources=_sources(frame))
    assert len(problems) == 1
    (p,) = problems
    assert (p.file, p.column, p.rows) == ("table.csv", "total_households", (11,))
    assert "1,000,000,000" in p.message
    assert "range = [0, 1000000000] under [exposure]" in p.fix
    # a household count ten times too small is a slip too; a plausible range accepts both
    frame.iloc[20, frame.columns.get_loc("total_households")] = 20
    assert figure_problems(frame, exposure=EXPOSURE, features=[IMD],
                           sources=_sources(frame))[0].rows == (11, 21)
    ranged = ExposureSpec(column="total_households", range=(0, 2e9))
    assert figure_problems(frame, exposure=ranged, features=[IMD],
                           sources=_sources(frame)) == []


def test_inf_is_refused_before_anything_else(london: pd.DataFrame) -> None:
    frame = london.copy()
    frame.iloc[3, frame.columns.get_loc("IMD_score")] = np.inf
    (p,) = figure_problems(frame, exposure=EXPOSURE, features=[IMD], sources=_sources(frame))
    assert (p.column, p.rows) == ("IMD_score", (4,))
    assert "not finite" in p.message


def test_a_percent_column_on_0_100_is_named_and_scale_reads_it(london: pd.DataFrame) -> None:
    frame = london.copy()
    frame["flats_pct"] = 100 * frame[
        "accommodation: In a purpose-built block of flats or tenement"] / frame[
        "total_households"]
    spec = FeatureSpec(name="flats", label="Flats", column="flats_pct", unit="percent")
    (p,) = figure_problems(frame, exposure=EXPOSURE, features=[spec], sources=_sources(frame))
    assert p.column == "flats_pct"
    assert "0-100 scale" in p.message
    assert "set scale = 100 under [features.flats]" in p.fix
    assert len(p.rows) == int((frame["flats_pct"] > 1).sum())
    scaled = FeatureSpec(name="flats", label="Flats", column="flats_pct", unit="percent",
                         scale=100.0)
    assert figure_problems(frame, exposure=EXPOSURE, features=[scaled],
                           sources=_sources(frame)) == []
    frame.iloc[0, frame.columns.get_loc("flats_pct")] = 130.0  # over 100 % once scaled
    (p,) = figure_problems(frame, exposure=EXPOSURE, features=[scaled],
                           sources=_sources(frame))
    assert p.rows == (1,)


def test_a_share_of_unrelated_columns_is_refused(london: pd.DataFrame) -> None:
    spec = FeatureSpec(name="wrong", label="Wrong", numerator=("total_households",),
                       denominator="accommodation: Detached", unit="percent")
    frame = london[london["accommodation: Detached"] > 0]
    problems = figure_problems(frame, exposure=EXPOSURE, features=[spec],
                               sources=_sources(frame))
    assert len(problems) == 1
    assert "more than 125 %" in problems[0].message


def test_zero_households_where_fires_happened() -> None:
    hh = pd.Series([0.0, 0.0, 500.0], index=["a", "b", "c"])
    fires = pd.Series([3, 0, 7], index=["a", "b", "c"])
    p = zero_exposure_problem(hh, fires, spec=EXPOSURE,
                              source=Source("c.csv", pd.Series([1, 2, 3], index=hh.index)))
    assert p is not None
    assert p.rows == (1,)  # area b has no households and no fires: nothing to say
    assert zero_exposure_problem(hh, fires * 0, spec=EXPOSURE, source=None) is None
