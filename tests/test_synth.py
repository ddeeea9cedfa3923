"""The synthetic data generator (bench/synth.py) draws from the model it says it does.

Independent truth: the coefficients recorded in truth.json are recovered by a statsmodels
negative binomial fit on counts re-aggregated from the written incident file; the count
distribution matches scipy's negative binomial; point placement matches area proportions
of a hand-made polygon.

The real geography comes from the repository, never ``../shared``: the London sample
(``sample_data/``, 4,994 areas in 33 boroughs) and Merseyside (``tests/data/merseyside/``, 923
areas in 5 local authorities), two fire and rescue authorities. The benchmark draws on all of
England from the shared folder instead (``bench.synth.shared_inputs``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import statsmodels.api as sm
from scipy import stats

from bench.synth import (
    SynthConfig,
    SynthInputs,
    TrueModel,
    draw_counts,
    expected_counts,
    generate,
    load_areas,
    sample_points,
    select_areas,
)
from firerisk.geo.profile import load_profile
from firerisk.specs import Profile

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
MERSEYSIDE = ROOT / "tests" / "data" / "merseyside"
#: London (sample) and Merseyside: two fire and rescue authorities, 38 local authorities.
INPUTS = SynthInputs(
    boundaries=((str(SAMPLE / "london_lsoa21.geojson"), None),
                (str(MERSEYSIDE / "merseyside_lsoa21.geojson"), None)),
    imd=(SAMPLE / "imd2025_london.csv", MERSEYSIDE / "imd2025_merseyside.csv"),
    census=(SAMPLE / "census2021_households_london.csv",
            MERSEYSIDE / "census2021_households_merseyside.csv"))
#: North London (British National Grid metres): its 1,000 nearest areas are one patch.
NORTH_LONDON = (531_000.0, 190_000.0)
LIVERPOOL = (335_000.0, 390_500.0)


def _sjoin_counts(out: Path, years: list[int]) -> pd.DataFrame:
    """Area x year counts by a plain geopandas point-in-polygon join of the written files."""
    areas = gpd.read_file(out / "areas.gpkg", layer="areas")
    inc = pd.read_csv(out / "incidents.csv")
    pts = gpd.GeoDataFrame({"year": pd.to_datetime(inc["date"]).dt.year},
                           geometry=gpd.points_from_xy(inc["x"], inc["y"]), crs=areas.crs)
    joined = gpd.sjoin(pts, areas[["lsoa21_code", "geometry"]], predicate="within")
    counts = joined.groupby(["lsoa21_code", "year"]).size().unstack(fill_value=0)
    return counts.reindex(index=areas["lsoa21_code"], columns=years, fill_value=0)


def _project_counts(profile: Profile, out: Path, years: list[int]) -> pd.DataFrame:
    """Counts from the project's own ingest stage when it exists, else the plain join."""
    try:
        from firerisk.geo.ingest import load_inputs
    except ImportError:
        return _sjoin_counts(out, years)
    counts = load_inputs(profile).counts
    counts.columns = [int(c) for c in counts.columns]
    return counts[years]


def _features(profile: Profile) -> pd.DataFrame:
    """The profile's features computed here from the written covariate files."""
    raw = pd.read_csv(profile.covariates[0].path, index_col=profile.covariates[0].key).join(
        pd.read_csv(profile.covariates[1].path, index_col=profile.covariates[1].key))
    out = pd.DataFrame(index=raw.index)
    out["households"] = raw[profile.exposure.column].astype(float)
    for f in profile.features:
        if f.column:
            out[f.name] = raw[f.column].astype(float)
        else:
            out[f.name] = raw[list(f.numerator)].sum(axis=1) / raw[f.denominator]
    return out


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "a1000"
    generate(out, config=SynthConfig(incidents=50_000, areas=1000, seed=7,
                                     centre=NORTH_LONDON), inputs=INPUTS)
    return out


def test_written_files_agree_with_each_other(small_set: Path) -> None:
    truth = json.loads((small_set / "truth.json").read_text())
    profile = load_profile(small_set / "profile.toml")
    years = truth["years"]
    assert years == list(range(2015, 2025))
    assert truth["areas"] == 1000
    assert [f.name for f in profile.features] == ["imd_score", "social_rent_share", "flat_share"]
    assert profile.areas.group_columns == {"local_authority": "ltla24_name"}
    areas = gpd.read_file(small_set / "areas.gpkg", layer="areas")
    assert areas.crs.to_epsg() == 27700
    assert len(areas) == 1000
    assert areas["lsoa21_code"].str.startswith("E01").all()
    assert areas["lsoa21_code"].is_unique
    # A contiguous patch: the union of the chosen areas is one polygon.
    assert shapely.union_all(areas.geometry.to_numpy()).geom_type == "Polygon"

    inc = pd.read_csv(small_set / "incidents.csv")
    assert list(inc.columns) == ["x", "y", "date"]
    dates = pd.to_datetime(inc["date"], format="%Y-%m-%d")
    assert dates.is_monotonic_increasing
    assert dates.min().year >= 2015
    assert dates.max().year <= 2024
    assert len(inc) == truth["incidents_generated"]
    # 50,000 requested; the realised total is within 5 SD of the NB2 total's spread.
    tc = pd.read_csv(small_set / "truth_counts.csv")
    sd = np.sqrt((tc["mu"] + truth["alpha"] * tc["mu"] ** 2).sum())
    assert abs(len(inc) - 50_000) < 5 * sd
    assert tc["mu"].sum() == pytest.approx(50_000, rel=1e-6)

    # Every incident lies in the area it was drawn for: a point-in-polygon join of the
    # written files gives back exactly the drawn area-year counts.
    joined = _sjoin_counts(small_set, years)
    drawn = tc.pivot(index="area_id", columns="year", values="count").loc[joined.index, years]
    assert (joined.to_numpy() == drawn.to_numpy()).all()


def test_negative_binomial_fit_recovers_true_coefficients(small_set: Path) -> None:
    truth = json.loads((small_set / "truth.json").read_text())
    profile = load_profile(small_set / "profile.toml")
    years = truth["years"]
    counts = _project_counts(profile, small_set, years)
    tc = pd.read_csv(small_set / "truth_counts.csv")
    drawn = tc.pivot(index="area_id", columns="year", values="count").loc[counts.index, years]
    assert (counts.to_numpy() == drawn.to_numpy()).all()
    feats = _features(profile).loc[counts.index]
    score = feats["imd_score"]
    feats["imd_z"] = (score - score.mean()) / score.std(ddof=0)

    long = counts.stack().rename("count").reset_index()
    long.columns = ["area_id", "year", "count"]
    long = long.join(feats, on="area_id")
    x = long[["imd_z", "social_rent_share", "flat_share"]].copy()
    for y in years[1:]:
        x[f"y{y}"] = (long["year"] == y).astype(float)
    x = sm.add_constant(x)
    fit = sm.NegativeBinomial(long["count"].to_numpy(), x.astype(float),
                              offset=np.log(long["households"].to_numpy()),
                              loglike_method="nb2").fit(disp=0, maxiter=200)
    assert fit.mle_retvals["converged"]
    true = {"const": truth["coefficients"]["intercept"],
            **{k: truth["coefficients"][k] for k in ("imd_z", "social_rent_share", "flat_share")},
            **{f"y{y}": truth["year_effects"][str(y)] for y in years[1:]},
            "alpha": truth["alpha"]}
    z = {k: (fit.params[k] - v) / fit.bse[k] for k, v in true.items()}
    assert all(abs(v) < 3.5 for v in z.values()), z
    # The fit is informative, not just wide: the IMD effect is pinned down to +-0.02.
    assert fit.bse["imd_z"] < 0.02


def test_counts_follow_the_stated_negative_binomial() -> None:
    rng = np.random.default_rng(11)
    mu, alpha = 4.0, 0.5
    draws = draw_counts(np.full(200_000, mu), alpha, rng)
    ref = stats.nbinom(1 / alpha, 1 / (1 + alpha * mu))  # NB2: var = mu + alpha mu^2
    observed = np.bincount(draws, minlength=16)[:15]
    expected = ref.pmf(np.arange(15)) * draws.size
    tail_obs = draws.size - observed.sum()
    tail_exp = draws.size - expected.sum()
    chi2 = stats.chisquare(np.append(observed, tail_obs), np.append(expected, tail_exp))
    assert chi2.pvalue > 1e-3
    assert draws.var() == pytest.approx(mu + alpha * mu**2, rel=0.05)


def test_expected_counts_scale_to_the_total_and_follow_households() -> None:
    feats = pd.DataFrame({"households": [100.0, 200.0, 100.0], "imd_z": [0.0, 0.0, 1.0],
                          "social_rent_share": [0.0, 0.0, 0.0], "flat_share": [0.0, 0.0, 0.0]})
    model = TrueModel(beta_imd=np.log(3.0), year_trend=0.0, first_year=2020, last_year=2021)
    mu, beta0 = expected_counts(feats, model, 1200.0)
    # Relative weights 100 : 200 : 300 (IMD +1 SD triples the rate), two equal years.
    assert mu.sum() == pytest.approx(1200.0)
    assert mu[:, 0] == pytest.approx([100.0, 200.0, 300.0])
    assert beta0 == pytest.approx(np.log(1.0))


def test_points_are_uniform_inside_the_polygon() -> None:
    # An L made of three 100 m squares: each square should get a third of the points.
    ell = shapely.Polygon([(0, 0), (200, 0), (200, 100), (100, 100), (100, 200), (0, 200)])
    geoms = np.array([ell])
    x, y = sample_points(geoms, np.zeros(30_000, dtype=int), np.random.default_rng(5),
                         grid=0.001)
    assert shapely.contains_xy(ell, x, y).all()
    square = np.where(x >= 100, 1, np.where(y >= 100, 2, 0))
    chi2 = stats.chisquare(np.bincount(square, minlength=3))
    assert chi2.pvalue > 1e-3


def test_same_seed_same_files_other_seed_differs(tmp_path: Path) -> None:
    cfg = SynthConfig(incidents=3_000, areas=100, seed=3, centre=LIVERPOOL)
    generate(tmp_path / "a", config=cfg, inputs=INPUTS)
    generate(tmp_path / "b", config=cfg, inputs=INPUTS)
    generate(tmp_path / "c", config=replace(cfg, seed=4), inputs=INPUTS)
    a = (tmp_path / "a" / "incidents.csv").read_bytes()
    assert a == (tmp_path / "b" / "incidents.csv").read_bytes()
    assert a != (tmp_path / "c" / "incidents.csv").read_bytes()


def test_area_selection() -> None:
    areas, imd, census = load_areas(INPUTS)
    assert len(areas) == 4_994 + 923
    assert list(imd["lsoa21_code"]) == list(areas["lsoa21_code"])
    assert list(census["lsoa21_code"]) == list(areas["lsoa21_code"])
    assert areas["ltla24_name"].nunique() == 33 + 5
    assert len(select_areas(areas)) == len(areas)
    london = select_areas(areas, region="london")
    merseyside = select_areas(areas, region="merseyside")
    assert (len(london), len(merseyside)) == (4_994, 923)
    assert (areas["fra24_code"].iloc[merseyside] == "E31000041").all()
    assert set(london).isdisjoint(merseyside)
    near = select_areas(areas, k=50, centre=LIVERPOOL)
    assert len(near) == 50
    assert (areas["ltla24_name"].iloc[near] == "Liverpool").all()
    with pytest.raises(ValueError, match="fra24_code"):
        select_areas(areas, region="E99999999")
    with pytest.raises(ValueError, match="either k"):
        select_areas(areas, k=5, region="london")
