"""Working CRS choice, reprojection round trips and CRS problems."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from firerisk.geo.crs import (
    BNG,
    WGS84,
    choose_working_crs,
    guess_crs,
    in_great_britain,
    resolve_crs,
    to_wgs84,
    to_working,
    transform_xy,
)


def _box_areas(lon: float, lat: float) -> gpd.GeoDataFrame:
    """Two small squares (about 1 km) near a longitude/latitude."""
    return gpd.GeoDataFrame({"area_id": ["a", "b"]},
                            geometry=[shapely.box(lon, lat, lon + 0.01, lat + 0.01),
                                      shapely.box(lon + 0.01, lat, lon + 0.02, lat + 0.01)],
                            crs=WGS84)


def test_round_trip_bng_to_wgs84_and_back_within_a_metre() -> None:
    # Inside the OSGB36 -> WGS 84 Helmert's area of use (GB onshore and nearshore); far
    # offshore pyproj falls back to a "ballpark" transform one way and is ~130 m out.
    rng = np.random.default_rng(1)
    x = rng.uniform(200_000, 550_000, 200)
    y = rng.uniform(50_000, 1_000_000, 200)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=BNG)
    there = to_wgs84(pts)
    assert there.crs.to_epsg() == 4326
    assert there.geometry.x.between(-11, 4).all()
    assert there.geometry.y.between(49, 62).all()
    back = to_working(there, BNG)
    err = np.hypot(back.geometry.x.to_numpy() - x, back.geometry.y.to_numpy() - y)
    assert err.max() < 1.0


def test_transform_xy_matches_geopandas() -> None:
    x = np.array([530_000.0, 400_000.0])
    y = np.array([180_000.0, 300_000.0])
    lon, lat = transform_xy(x, y, source=BNG, target=WGS84)
    ref = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=BNG).to_crs(WGS84)
    assert lon == pytest.approx(ref.x.to_numpy(), abs=1e-9)
    assert lat == pytest.approx(ref.y.to_numpy(), abs=1e-9)
    # central London is near 0.13 W, 51.5 N
    assert lon[0] == pytest.approx(-0.13, abs=0.02)
    assert lat[0] == pytest.approx(51.5, abs=0.02)


def test_to_working_is_a_no_op_in_the_same_crs() -> None:
    areas = _box_areas(-0.1, 51.5).to_crs(BNG)
    assert to_working(areas, "EPSG:27700") is areas


def test_great_britain_gets_british_national_grid() -> None:
    assert choose_working_crs(_box_areas(-0.1, 51.5)) == BNG            # London
    assert choose_working_crs(_box_areas(-3.0, 53.4)) == BNG            # Merseyside
    assert choose_working_crs(_box_areas(-4.25, 55.86).to_crs(3857)) == BNG   # Glasgow


@pytest.mark.parametrize(("lon", "lat"), [(4.83, 45.76), (-5.93, 54.6), (151.2, -33.87)])
def test_elsewhere_gets_the_utm_zone(lon: float, lat: float) -> None:
    """Lyon, Belfast (Northern Ireland is not GB) and Sydney: zone = floor((lon+180)/6)+1."""
    zone = math.floor((lon + 180) / 6) + 1
    epsg = (32600 if lat >= 0 else 32700) + zone
    assert choose_working_crs(_box_areas(lon, lat)) == f"EPSG:{epsg}"


def test_profile_working_crs_wins_and_must_be_metric() -> None:
    assert choose_working_crs(_box_areas(-0.1, 51.5), preferred="EPSG:32630") == "EPSG:32630"
    assert choose_working_crs(_box_areas(-0.1, 51.5), preferred="27700") == BNG
    with pytest.raises(ValueError, match="metres"):
        choose_working_crs(_box_areas(-0.1, 51.5), preferred="EPSG:4326")


def test_in_great_britain() -> None:
    assert in_great_britain((-0.5, 51.3, 0.3, 51.7))
    assert not in_great_britain((-6.2, 54.4, -5.7, 54.8))     # Belfast area
    assert not in_great_britain((2.2, 48.8, 2.5, 48.9))       # Paris


def test_guess_crs() -> None:
    assert guess_crs((-0.5, 51.3, 0.3, 51.7)) == WGS84
    assert guess_crs((503_000, 155_000, 562_000, 201_000)) == BNG
    assert guess_crs((4e6, 5e6, 4.1e6, 5.1e6)) is None


def test_missing_crs_is_a_problem_with_a_fix() -> None:
    crs, problems = resolve_crs(None, None, file="areas.shp", section="areas",
                                bounds=(503_000, 155_000, 562_000, 201_000))
    assert crs is None
    (p,) = problems
    assert "missing CRS" in p.message
    assert "British National Grid" in p.message
    assert p.fix.startswith('set crs = "EPSG:27700" in [areas]')


def test_declared_crs_overrides_the_file() -> None:
    crs, problems = resolve_crs(pyproj.CRS(WGS84), "EPSG:27700", file="a.geojson",
                                section="areas", bounds=(503_000, 155_000, 562_000, 201_000))
    assert problems == []
    assert crs is not None
    assert crs.to_epsg() == 27700


def test_metres_labelled_as_degrees_and_unknown_crs() -> None:
    _, problems = resolve_crs(pyproj.CRS(WGS84), None, file="a.geojson", section="areas",
                              bounds=(503_000, 155_000, 562_000, 201_000))
    assert "not degrees" in problems[0].message
    assert 'crs = "EPSG:27700"' in problems[0].fix
    _, problems = resolve_crs(None, "EPSG:99999999", file="i.csv", section="incidents")
    assert "not a coordinate reference system" in problems[0].message
