"""Building model features from covariate tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firerisk.errors import FeatureError, FireRiskError
from firerisk.geo.profile import load_profile
from firerisk.risk.features import build_features
from firerisk.specs import ExposureSpec, FeatureSpec

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

EXPOSURE = ExposureSpec(column="hh_total", label="households")
FEATURES = (
    FeatureSpec(name="imd", label="Deprivation score", column="score", unit="score"),
    FeatureSpec(name="social", label="Social renting", numerator=("council", "ha"),
                denominator="hh_total", unit="percent"),
)


def _raw() -> pd.DataFrame:
    return pd.DataFrame(
        {"score": [10.0, 35.5, 20.0], "council": [10, 40, 0], "ha": [15, 20, 0],
         "hh_total": [100, 200, 0], "other": ["x", "y", "z"]},
        index=pd.Index(["A", "B", "C"], name="area_id"))


def test_copies_columns_and_computes_shares() -> None:
    out = build_features(_raw(), features=FEATURES, exposure=EXPOSURE)
    assert list(out.columns) == ["households", "imd", "social"]
    assert out.index.tolist() == ["A", "B", "C"]
    assert out["households"].tolist() == [100, 200, 0]
    assert out["imd"].tolist() == [10.0, 35.5, 20.0]
    # (10 + 15) / 100 = 0.25; (40 + 20) / 200 = 0.30; 0 / 0 -> unknown
    assert out.loc["A", "social"] == pytest.approx(0.25)
    assert out.loc["B", "social"] == pytest.approx(0.30)
    assert np.isnan(out.loc["C", "social"])
    notes = out.attrs["notes"]
    assert len(notes) == 1
    assert "Social renting" in notes[0]
    assert "C" in notes[0]


def test_every_missing_column_is_named_in_one_error() -> None:
    raw = _raw().drop(columns=["score", "ha"])
    with pytest.raises(FeatureError) as info:
        build_features(raw, features=FEATURES, exposure=EXPOSURE)
    err = info.value
    assert isinstance(err, FireRiskError)
    assert isinstance(err, ValueError)
    assert {p.column for p in err.problems} == {"score", "ha"}
    text = str(err)
    assert "feature 'imd'" in text
    assert "feature 'social'" in text
    assert "2 problems" in text


def test_non_numeric_values_and_bad_households_are_reported_with_rows() -> None:
    raw = _raw()
    raw["score"] = ["10", "n/a", "20"]
    raw.loc["A", "hh_total"] = -5
    with pytest.raises(FeatureError) as info:
        build_features(raw, features=FEATURES, exposure=EXPOSURE)
    text = str(info.value)
    assert "row 2" in text
    assert "areas B" in text
    assert "row 1" in text
    assert "negative" in text


def test_shares_above_one_are_capped_and_noted() -> None:
    raw = _raw()
    raw.loc["A", "council"] = 90  # 90 + 15 > 100 households (perturbed census counts)
    out = build_features(raw, features=FEATURES, exposure=EXPOSURE)
    assert out.loc["A", "social"] == 1.0
    assert any("capped at 100%" in n for n in out.attrs["notes"])


def test_london_sample_service_share_equals_the_ratio_of_totals() -> None:
    profile = load_profile(SAMPLE / "london.toml")
    imd = pd.read_csv(SAMPLE / "imd2025_london.csv").set_index("lsoa21_code")
    census = pd.read_csv(SAMPLE / "census2021_households_london.csv").set_index("lsoa21_code")
    raw = imd.join(census, how="inner")
    out = build_features(raw, features=profile.features, exposure=profile.exposure)
    assert list(out.columns) == ["households", "imd_score", "social_rent_share", "flat_share"]
    assert out["households"].sum() == census["total_households"].sum()
    social_cols = profile.features[1].numerator
    by_totals = census[list(social_cols)].to_numpy().sum() / census["total_households"].sum()
    weighted = np.average(out["social_rent_share"], weights=out["households"])
    assert weighted == pytest.approx(by_totals, rel=1e-9)
    assert out["flat_share"].between(0, 1).all()


def test_features_that_cannot_tell_areas_apart_are_refused() -> None:
    raw = _raw()
    raw["score"] = np.nan                      # an empty column: no value anywhere
    raw["council"], raw["ha"] = [5, 10, 0], [0, 0, 0]   # 5% and 5%; C has no households
    with pytest.raises(FeatureError) as info:
        build_features(raw, features=FEATURES, exposure=EXPOSURE)
    by_column = {p.column: p for p in info.value.problems}
    assert set(by_column) == {"score", "hh_total"}
    assert "no value in any area" in by_column["score"].message
    assert "is 0.05 in every area" in by_column["hh_total"].message
    assert "remove the feature" in by_column["hh_total"].fix
    # a single value cannot vary either; two different values are enough
    raw["score"] = [np.nan, np.nan, 3.0]
    with pytest.raises(FeatureError, match="is 3 in every area"):
        build_features(raw, features=FEATURES, exposure=EXPOSURE)
    raw["score"] = [np.nan, 2.0, 3.0]
    raw["council"] = [5, 11, 0]
    assert build_features(raw, features=FEATURES, exposure=EXPOSURE)["imd"].notna().sum() == 2
