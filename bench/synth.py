"""Synthetic national data set with a known model, for benchmarks and recovery tests.

Real geography and real covariates, synthetic incidents:

* areas: LSOA 2021 boundaries for **England only** (33,755 areas). The 1,917 Welsh LSOAs are
  left out because IMD 2025 (the deprivation covariate) covers England only.
* covariates: IMD 2025 score (MHCLG) and Census 2021 households, tenure and accommodation
  type (ONS), the same columns as the London sample.
* incidents: for every area *i* and year *y* (default 2015-2024) a count is drawn from

      count[i, y] ~ NB2(mean = households[i] * exp(b0 + b_imd * z(IMD_score[i])
                                               + b_social * social_rent_share[i]
                                               + b_flat * flat_share[i] + g[y]),
                        var = mean + alpha * mean**2)

  (a Gamma-Poisson mixture, independent over area-years), with ``z`` the IMD score
  standardised over the selected areas (population SD) and ``g`` a linear year trend
  (``g[first year] = 0``). With ``TrueModel.area_sd > 0`` each area's mean also carries a
  persistent effect ``u[i] ~ Normal(-area_sd**2 / 2, area_sd**2)`` (the same in every
  year, drawn from its own seeded stream): the "history signal" that an area's past fires
  carry beyond its covariates. ``area_sd = 0`` (default) gives a service whose past fires
  say nothing the covariates do not. ``b0`` is chosen so that the expected total is exactly the
  requested number of incidents. Each incident is then put at a uniform random point
  inside its area (rejection sampling in the area's bounding box, on a 1 m grid, so the
  rounded coordinates written out are the ones tested) on a uniform random day of its year.

Written into the output folder: ``areas.gpkg`` (layer ``areas``, EPSG:27700),
``incidents.csv`` (``x, y`` EPSG:27700 metres, ``date``), ``imd.csv``, ``census.csv``,
``profile.toml`` (a dataset profile like ``sample_data/london.toml``, groups = local
authority), ``truth.json`` (the true coefficients) and ``truth_counts.csv`` (every
area-year's mean and drawn count).

Usage::

    python -m bench.synth --out bench/output/national --incidents 1000000 --seed 1
    python -m bench.synth --out bench/output/a1000 --areas 1000 --incidents 100000
    python -m bench.synth --out bench/output/london --region london --incidents 100000
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench import SHARED

__all__ = [
    "BIRMINGHAM",
    "REGIONS",
    "SynthConfig",
    "SynthInputs",
    "SynthPanel",
    "SynthResult",
    "TrueModel",
    "area_effects",
    "area_features",
    "draw_counts",
    "expected_counts",
    "generate",
    "load_areas",
    "load_england",
    "main",
    "panel",
    "sample_points",
    "select_areas",
    "shared_inputs",
]

BIRMINGHAM = (406_900.0, 286_900.0)
"""Default centre (British National Grid metres) for ``--areas k`` subsets."""

REGIONS = {"london": "E31000046", "merseyside": "E31000041"}
"""Named fire and rescue authority areas (FRA 2024 codes) for ``--region``."""

SOCIAL_RENT = ("tenure: Social rented: Rents from council or Local Authority",
               "tenure: Social rented: Other social rented")
FLATS = ("accommodation: In a purpose-built block of flats or tenement",
         "accommodation: Part of a converted or shared house, including bedsits",
         ("accommodation: Part of another converted building, for example, former school, "
          "church or warehouse"),
         ("accommodation: In a commercial building, for example, in an office building, "
          "hotel or over a shop"))
AREA_COLUMNS = ("lsoa21_code", "lsoa21_name", "ltla24_code", "ltla24_name", "fra24_code",
                "fra24_name")


@dataclass(frozen=True)
class TrueModel:
    """The known data-generating model (coefficients on the log scale).

    ``beta_imd`` is per standard deviation of the IMD 2025 score; the shares are 0..1.
    ``year_trend`` is added per year after ``first_year``; ``alpha`` is the NB2
    dispersion (variance = mean + alpha * mean**2); ``area_sd`` the standard deviation
    of each area's persistent log-rate effect (0 = none: history carries no signal).
    """

    beta_imd: float = 0.35
    beta_social_rent: float = 0.8
    beta_flat: float = 0.4
    year_trend: float = -0.03
    alpha: float = 0.3
    first_year: int = 2015
    last_year: int = 2024
    area_sd: float = 0.0

    @property
    def years(self) -> list[int]:
        """Every year of the synthetic study period."""
        return list(range(self.first_year, self.last_year + 1))

    def year_effects(self) -> dict[int, float]:
        """The year effect ``g[y]`` (0 in the first year)."""
        return {y: self.year_trend * (y - self.first_year) + 0.0 for y in self.years}


@dataclass(frozen=True)
class SynthConfig:
    """What to generate: how many incidents, which areas, which seed.

    ``areas`` = k keeps the k English LSOAs whose centroids are nearest ``centre`` (a
    contiguous patch); ``region`` (a :data:`REGIONS` name or an FRA 2024 code) keeps one
    fire and rescue authority; neither keeps all of England.
    """

    incidents: int = 1_000_000
    seed: int = 1
    areas: int | None = None
    region: str | None = None
    centre: tuple[float, float] = BIRMINGHAM
    model: TrueModel = field(default_factory=TrueModel)


@dataclass(frozen=True)
class SynthResult:
    """Where a generated data set went, its size, the truth and how long each step took."""

    out: Path
    profile: Path
    n_areas: int
    n_incidents: int
    truth: dict[str, Any] = field(repr=False)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SynthInputs:
    """The real geography and covariates the synthetic incidents are drawn on.

    Attributes
    ----------
    boundaries : tuple of (str, str or None)
        Files of LSOA 2021 polygons with :data:`AREA_COLUMNS` (a path or a GDAL ``zip://``
        path, and the layer or None), read and joined in order.
    imd, census : tuple of Path
        IMD 2025 tables and Census 2021 household tables (the London sample's columns).
    """

    boundaries: tuple[tuple[str, str | None], ...]
    imd: tuple[Path, ...]
    census: tuple[Path, ...]


def shared_inputs(shared: Path = SHARED) -> SynthInputs:
    """All of England, from the shared public data folder (what the benchmark reads)."""
    zipped = shared / "lsoa_boundaries" / "lsoa21_england_wales.gpkg.zip"
    return SynthInputs(
        boundaries=((f"zip://{zipped}!lsoa21_england_wales.gpkg", "lsoa21"),),
        imd=(shared / "imd" / "imd2025_lsoa21_england.csv.gz",),
        census=(shared / "census_population" / "census2021_households_lsoa21_ew.csv.gz",))


@functools.lru_cache(maxsize=4)
def load_areas(inputs: SynthInputs) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """Read the English LSOA 2021 areas of *inputs* (EPSG:27700), IMD 2025 and the Census
    2021 subset.

    Cached per process (callers must not modify the returned frames). All three are sorted
    by ``lsoa21_code`` and hold the same codes (Welsh areas are left out: IMD 2025 covers
    England only).
    """
    parts = [gpd.read_file(path, layer=layer) for path, layer in inputs.boundaries]
    areas = pd.concat([p.to_crs("EPSG:27700") for p in parts], ignore_index=True)
    areas = gpd.GeoDataFrame(areas, geometry="geometry", crs="EPSG:27700")
    areas = areas.loc[areas["lsoa21_code"].str.startswith("E"), [*AREA_COLUMNS, "geometry"]]
    areas = areas.sort_values("lsoa21_code").reset_index(drop=True)
    imd = pd.concat([pd.read_csv(p, dtype={"lsoa21_code": str}) for p in inputs.imd])
    imd = imd.sort_values("lsoa21_code").reset_index(drop=True)
    census = pd.concat([pd.read_csv(p, dtype={"lsoa21_code": str}) for p in inputs.census])
    keep = ["lsoa21_code", "total_households"] + [
        c for c in census.columns if c.startswith(("tenure: ", "accommodation: "))]
    census = census.loc[census["lsoa21_code"].str.startswith("E"), keep]
    census = census.sort_values("lsoa21_code").reset_index(drop=True)
    codes = areas["lsoa21_code"].to_numpy()
    if not (np.array_equal(codes, imd["lsoa21_code"].to_numpy())
            and np.array_equal(codes, census["lsoa21_code"].to_numpy())):
        raise ValueError("LSOA 2021 codes differ between boundaries, IMD 2025 and Census 2021 "
                         f"in {inputs}; give the three for the same areas.")
    return areas, imd, census


def load_england(shared: Path = SHARED) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """English LSOA 2021 areas (33,755), IMD 2025 and the Census 2021 subset, from the shared
    data folder (:func:`load_areas` of :func:`shared_inputs`)."""
    return load_areas(shared_inputs(shared))


def select_areas(areas: gpd.GeoDataFrame, *, k: int | None = None, region: str | None = None,
                 centre: tuple[float, float] = BIRMINGHAM) -> np.ndarray:
    """Row positions (sorted) of the areas to keep.

    Parameters
    ----------
    areas : GeoDataFrame
        English LSOAs in a metric CRS, as from :func:`load_england`.
    k : int, optional
        Keep the k areas whose centroids are nearest *centre*; ``k >= len(areas)`` keeps all.
    region : str, optional
        A :data:`REGIONS` name or an FRA 2024 code.
    centre : (float, float)
        Centre for *k*, in the CRS of *areas*.
    """
    if k is not None and region is not None:
        raise ValueError("give either k (a number of areas) or region, not both.")
    if region is not None:
        code = REGIONS.get(region.lower(), region)
        keep = np.flatnonzero(areas["fra24_code"].to_numpy() == code)
        if keep.size == 0:
            raise ValueError(f"no English LSOA has fra24_code {code!r}; use one of "
                             f"{', '.join(REGIONS)} or an FRA 2024 code such as E31000046.")
        return keep
    if k is None or k >= len(areas):
        return np.arange(len(areas))
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    c = shapely.centroid(areas.geometry.to_numpy())
    d2 = (shapely.get_x(c) - centre[0]) ** 2 + (shapely.get_y(c) - centre[1]) ** 2
    return np.sort(np.argsort(d2, kind="stable")[:k])


def area_features(imd: pd.DataFrame, census: pd.DataFrame) -> pd.DataFrame:
    """The model's covariates per area (same row order as the inputs).

    Columns: ``households``, ``imd_score``, ``imd_z`` (standardised over these rows,
    population SD), ``social_rent_share`` and ``flat_share`` (0..1, as the London profile
    defines them).
    """
    households = census["total_households"].to_numpy(dtype=float)
    score = imd["IMD_score"].to_numpy(dtype=float)
    return pd.DataFrame({
        "area_id": census["lsoa21_code"].to_numpy(),
        "households": households,
        "imd_score": score,
        "imd_z": (score - score.mean()) / score.std(),
        "social_rent_share": census[list(SOCIAL_RENT)].sum(axis=1).to_numpy() / households,
        "flat_share": census[list(FLATS)].sum(axis=1).to_numpy() / households,
    })


def area_effects(n_areas: int, model: TrueModel, seed: int) -> np.ndarray:
    """Each area's persistent log-rate effect (zeros when ``model.area_sd`` is 0).

    ``Normal(-area_sd**2 / 2, area_sd**2)``, so the effect averages 1 on the rate scale,
    drawn from a stream of its own (``default_rng([seed, 1])``): the counts' stream, and so
    every data set with ``area_sd = 0``, is what it was before the effect existed.
    """
    if model.area_sd <= 0:
        return np.zeros(n_areas)
    rng = np.random.default_rng([seed, 1])
    return rng.normal(-model.area_sd**2 / 2.0, model.area_sd, n_areas)


def expected_counts(features: pd.DataFrame, model: TrueModel, total: float,
                    effects: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Mean count per area and year, scaled so that the means sum to *total*.

    *effects* (one per area, log scale) are added to every year's linear predictor.

    Returns
    -------
    mu : ndarray, shape (areas, years)
    beta0 : float
        The intercept that gives that total.
    """
    lin = (model.beta_imd * features["imd_z"].to_numpy()
           + model.beta_social_rent * features["social_rent_share"].to_numpy()
           + model.beta_flat * features["flat_share"].to_numpy())
    if effects is not None:
        lin = lin + effects
    g = np.array(list(model.year_effects().values()))
    rel = features["households"].to_numpy()[:, None] * np.exp(lin[:, None] + g[None, :])
    beta0 = math.log(total) - math.log(float(rel.sum()))
    return rel * math.exp(beta0), beta0


def draw_counts(mu: np.ndarray, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """NB2 counts with means *mu* and dispersion *alpha*, as a Gamma-Poisson mixture."""
    if alpha <= 0:
        return rng.poisson(mu)
    return rng.poisson(mu * rng.gamma(shape=1.0 / alpha, scale=alpha, size=mu.shape))


def sample_points(geoms: np.ndarray, which: np.ndarray, rng: np.random.Generator, *,
                  grid: float = 1.0, max_rounds: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points inside ``geoms[which]`` (one point per entry of *which*).

    Rejection sampling in each polygon's bounding box, vectorised over all points still
    to place. Coordinates are snapped to a *grid* (metres) *before* the inside test, so
    every returned point lies strictly inside its polygon.
    """
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    n = which.size
    x = np.empty(n)
    y = np.empty(n)
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            return x, y
        b = bounds[which[todo]]
        px = np.round((b[:, 0] + rng.random(todo.size) * (b[:, 2] - b[:, 0])) / grid) * grid
        py = np.round((b[:, 1] + rng.random(todo.size) * (b[:, 3] - b[:, 1])) / grid) * grid
        inside = shapely.contains_xy(geoms[which[todo]], px, py)
        x[todo[inside]] = px[inside]
        y[todo[inside]] = py[inside]
        todo = todo[~inside]
    raise RuntimeError(f"{todo.size} points could not be placed after {max_rounds} rounds.")


def _random_dates(years: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniform random day within each given year, as ``datetime64[D]``."""
    jan1 = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    length = ((years + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]") - jan1)
    offset = np.floor(rng.random(years.size) * length.astype(np.int64)).astype(np.int64)
    return jan1 + offset.astype("timedelta64[D]")


def _q(text: str) -> str:
    """A TOML basic string."""
    return json.dumps(text, ensure_ascii=False)


def _profile_toml(name: str, model: TrueModel, seed: int) -> str:
    ons = ("Source: Office for National Statistics licensed under the Open Government Licence "
           "v.3.0. Contains OS data © Crown copyright and database right 2021.")
    return f"""# Synthetic dataset profile written by bench/synth.py (seed {seed}). Not real incidents.
name = {_q(name)}
service = "Synthetic national benchmark (bench/synth.py)"
contact = "Not a real service: synthetic benchmark data"
working_crs = "EPSG:27700"

[areas]
path = "areas.gpkg"
layer = "areas"
id = "lsoa21_code"
name = "lsoa21_name"
groups = {{ local_authority = "ltla24_name" }}

[areas.provenance]
publisher = "Office for National Statistics (Open Geography Portal), via humaniverse/geographr"
licence = "Open Government Licence v3.0"
attribution = {_q(ons)}
date = "2021-12"

[incidents]
path = "incidents.csv"
x = "x"
y = "y"
crs = "EPSG:27700"
date = "date"
date_format = "%Y-%m-%d"

[incidents.provenance]
publisher = "Synthetic: bench/synth.py, community fire risk atlas (seed {seed})"
licence = "MIT (synthetic data drawn from a known model; no real incidents)"
attribution = "Synthetic incidents generated for benchmarking; they describe no real fire."
date = "synthetic"

[[covariates]]
name = "imd"
path = "imd.csv"
key = "lsoa21_code"

[covariates.provenance]
publisher = "Ministry of Housing, Communities & Local Government (English Indices of Deprivation 2025), via humaniverse/IMD"
licence = "Open Government Licence v3.0"
attribution = "Contains public sector information licensed under the Open Government Licence v3.0 (MHCLG English Indices of Deprivation 2025)."
date = "2025-10"

[[covariates]]
name = "census"
path = "census.csv"
key = "lsoa21_code"

[covariates.provenance]
publisher = "Office for National Statistics (Census 2021 tables TS054, TS044), via humaniverse/demographr"
licence = "Open Government Licence v3.0"
attribution = "Source: Office for National Statistics licensed under the Open Government Licence v.3.0."
date = "2023-01"

[exposure]
column = "total_households"
label = "households"

[features.imd_score]
column = "IMD_score"
label = "Deprivation score (IMD 2025)"
unit = "score"

[features.social_rent_share]
numerator = [{", ".join(_q(c) for c in SOCIAL_RENT)}]
denominator = "total_households"
label = "Households renting from a council or housing association"
unit = "percent"

[features.flat_share]
numerator = [{", ".join(_q(c) for c in FLATS)}]
denominator = "total_households"
label = "Households living in flats"
unit = "percent"

[study]
start = {model.first_year}-01-01
end = {model.last_year}-12-31
history_years = 5

[model]
family = "auto"
history = true
seed = 12345

[evaluation]
first = {model.last_year - 3}
last = {model.last_year}
window_years = 5

[bands]
scheme = "quantiles"
k = 5
labels = ["Very low", "Low", "Medium", "High", "Very high"]
title = "Priority for a home fire safety visit"

[disclosure]
threshold = 5
mode = "internal"
"""


@dataclass(frozen=True, eq=False)
class SynthPanel:
    """A synthetic service in memory (no points, no files): what the model sees, and the truth.

    ``counts`` and ``mu`` are area x year (``area_id`` index, int year columns): the drawn
    counts and their true means, exactly those :func:`generate` writes for the same
    configuration. ``covariates`` holds ``households`` and the London profile's features
    (``imd_score``, ``social_rent_share``, ``flat_share``), as ``risk.features`` builds them;
    ``groups`` the local authority of each area.
    """

    counts: pd.DataFrame = field(repr=False)
    mu: pd.DataFrame = field(repr=False)
    covariates: pd.DataFrame = field(repr=False)
    groups: pd.Series = field(repr=False)
    beta0: float = 0.0


def panel(config: SynthConfig | None = None, *, shared: Path = SHARED,
          inputs: SynthInputs | None = None) -> SynthPanel:
    """Draw a synthetic service's counts without placing incidents (for model comparisons).

    Parameters
    ----------
    config : SynthConfig, optional
        As for :func:`generate`; the counts are the same draws.
    shared : Path
        The shared public data folder (all of England), unless *inputs* are given.
    inputs : SynthInputs, optional
        Other real areas and covariates to draw on, as for :func:`generate`.
    """
    cfg = config or SynthConfig()
    model = cfg.model
    all_areas, all_imd, all_census = load_areas(inputs or shared_inputs(shared))
    rows = select_areas(all_areas, k=cfg.areas, region=cfg.region, centre=cfg.centre)
    feats = area_features(all_imd.iloc[rows].reset_index(drop=True),
                          all_census.iloc[rows].reset_index(drop=True))
    rng = np.random.default_rng(cfg.seed)
    mu, beta0 = expected_counts(feats, model, cfg.incidents,
                                area_effects(len(feats), model, cfg.seed))
    counts = draw_counts(mu, model.alpha, rng)
    index = pd.Index(feats["area_id"].to_numpy(), name="area_id")
    covariates = feats.set_index(index)[["households", "imd_score", "social_rent_share",
                                          "flat_share"]]
    groups = pd.Series(all_areas["ltla24_name"].to_numpy()[rows], index=index,
                       name="local_authority")
    return SynthPanel(counts=pd.DataFrame(counts, index=index, columns=model.years),
                      mu=pd.DataFrame(mu, index=index, columns=model.years),
                      covariates=covariates, groups=groups, beta0=beta0)


def generate(out: str | Path, *, config: SynthConfig | None = None, shared: Path = SHARED,
             name: str | None = None, inputs: SynthInputs | None = None) -> SynthResult:
    """Generate one synthetic data set into *out* (created if needed).

    Parameters
    ----------
    out : path
        Output folder; existing files of the same names are overwritten.
    config : SynthConfig, optional
        Size, seed, area selection and the true model (defaults: 1,000,000 incidents over
        all of England, seed 1).
    shared : Path
        The shared public data folder (all of England), unless *inputs* are given.
    name : str, optional
        The profile's ``name``.
    inputs : SynthInputs, optional
        Other real areas and covariates to draw on (the tests use the London sample and a
        Merseyside subset, so they never read the shared folder).

    Returns
    -------
    SynthResult
    """
    cfg = config or SynthConfig()
    model = cfg.model
    if cfg.incidents < 1:
        raise ValueError(f"incidents must be at least 1, got {cfg.incidents}.")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    t0 = t = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal t
        now = time.perf_counter()
        seconds[step] = round(now - t, 3)
        t = now

    all_areas, all_imd, all_census = load_areas(inputs or shared_inputs(shared))
    lap("read inputs")
    rows = select_areas(all_areas, k=cfg.areas, region=cfg.region, centre=cfg.centre)
    areas = all_areas.iloc[rows].reset_index(drop=True)
    imd = all_imd.iloc[rows].reset_index(drop=True)
    census = all_census.iloc[rows].reset_index(drop=True)
    feats = area_features(imd, census)

    rng = np.random.default_rng(cfg.seed)
    mu, beta0 = expected_counts(feats, model, cfg.incidents,
                                area_effects(len(feats), model, cfg.seed))
    counts = draw_counts(mu, model.alpha, rng)
    lap("draw counts")

    years = np.array(model.years)
    flat_counts = counts.ravel()  # area-major: (area 0, year 0), (area 0, year 1), ...
    cell = np.repeat(np.arange(flat_counts.size), flat_counts)
    which = cell // years.size
    inc_year = years[cell % years.size]
    geoms = areas.geometry.to_numpy()
    x, y = sample_points(geoms, which, rng)
    lap("place points")
    dates = _random_dates(inc_year, rng)
    # Rows sorted by date, areas shuffled within a day (a real extract is in date order).
    shuffle = rng.permutation(dates.size)
    order = shuffle[np.argsort(dates[shuffle], kind="stable")]
    lap("draw dates")

    incidents = pd.DataFrame({"x": x[order].astype(np.int64), "y": y[order].astype(np.int64),
                              "date": np.datetime_as_string(dates[order], unit="D")})
    incidents.to_csv(out / "incidents.csv", index=False, lineterminator="\n")
    lap("write incidents")

    areas.to_file(out / "areas.gpkg", layer="areas", driver="GPKG", engine="pyogrio")
    imd.to_csv(out / "imd.csv", index=False, lineterminator="\n")
    census.to_csv(out / "census.csv", index=False, lineterminator="\n")
    truth_counts = pd.DataFrame({
        "area_id": np.repeat(feats["area_id"].to_numpy(), years.size),
        "year": np.tile(years, len(feats)),
        "mu": mu.ravel().round(6),
        "count": flat_counts,
    })
    truth_counts.to_csv(out / "truth_counts.csv", index=False, lineterminator="\n")
    lap("write areas and covariates")

    imd_mean = float(feats["imd_score"].mean())
    imd_sd = float(feats["imd_score"].std(ddof=0))
    truth: dict[str, Any] = {
        "description": (
            "count[area, year] ~ NB2(mean = households * exp(intercept + imd_z * z(IMD_score) "
            "+ social_rent_share * s + flat_share * f + year_effect[year]), "
            "var = mean + alpha * mean^2), independent over area-years; households = "
            "Census 2021 total_households (offset log(households)); z over these areas with "
            "population SD; shares 0..1 as in the profile's features."),
        "coefficients": {
            "intercept": beta0,
            "imd_z": model.beta_imd,
            "social_rent_share": model.beta_social_rent,
            "flat_share": model.beta_flat,
        },
        "coefficients_raw_imd_score": {
            "intercept": beta0 - model.beta_imd * imd_mean / imd_sd,
            "imd_score": model.beta_imd / imd_sd,
            "social_rent_share": model.beta_social_rent,
            "flat_share": model.beta_flat,
        },
        "year_effects": {str(k): v for k, v in model.year_effects().items()},
        "alpha": model.alpha,
        "imd_score_mean": imd_mean,
        "imd_score_sd": imd_sd,
        "years": model.years,
        "seed": cfg.seed,
        "incidents_requested": cfg.incidents,
        "incidents_generated": int(flat_counts.sum()),
        "areas": len(areas),
        "selection": {"areas": cfg.areas, "region": cfg.region, "centre": list(cfg.centre)},
        "model": asdict(model),
        "coordinates": "EPSG:27700 metres, 1 m grid, strictly inside the area's polygon",
        "geography": "England only (IMD 2025 covers England; Wales has its own index)",
        "seconds": seconds,
    }
    profile_path = out / "profile.toml"
    profile_path.write_text(
        _profile_toml(name or f"Synthetic England: {len(areas):,} LSOAs, "
                      f"{int(flat_counts.sum()):,} incidents", model, cfg.seed),
        encoding="utf-8")
    seconds["total"] = round(time.perf_counter() - t0, 3)
    (out / "truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return SynthResult(out=out, profile=profile_path, n_areas=len(areas),
                       n_incidents=int(flat_counts.sum()), truth=truth, seconds=seconds)


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m bench.synth --out DIR [--incidents N] [--areas K] ...``."""
    p = argparse.ArgumentParser(prog="python -m bench.synth",
                                description="Generate a synthetic data set with a known model.")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--incidents", type=int, default=1_000_000,
                   help="expected number of incidents (default 1,000,000)")
    p.add_argument("--areas", type=int, default=None,
                   help="keep the K LSOAs nearest --centre (default: all of England)")
    p.add_argument("--region", default=None,
                   help=f"keep one fire and rescue authority: {', '.join(REGIONS)} or an FRA code")
    p.add_argument("--centre", type=float, nargs=2, default=BIRMINGHAM, metavar=("X", "Y"),
                   help="centre for --areas, EPSG:27700 metres (default Birmingham)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--shared", type=Path, default=SHARED, help="shared public data folder")
    args = p.parse_args(argv)
    cfg = SynthConfig(incidents=args.incidents, seed=args.seed, areas=args.areas,
                      region=args.region, centre=tuple(args.centre))
    res = generate(args.out, config=cfg, shared=args.shared)
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in res.seconds.items())
    print(f"{res.n_incidents:,} incidents in {res.n_areas:,} areas -> {res.out} ({steps})")
    print(f"profile: {res.profile}")


if __name__ == "__main__":
    main()
