"""Coverage simplification keeps the London LSOA tiling intact (no vanished areas, no
slivers, no gaps), checked with shapely set operations independent of GEOS's coverage code."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

import firerisk.geo.simplify as simplify_mod
from firerisk.errors import ResultsFileError
from firerisk.geo.simplify import DEFAULT_TOLERANCE_M, dissolve, simplify_coverage, web_geometries

LONDON = Path(__file__).resolve().parent.parent / "sample_data" / "london_lsoa21.geojson"


@pytest.fixture(scope="module")
def london_areas() -> gpd.GeoDataFrame:
    """The 4,994 real London LSOA 2021 areas in British National Grid, with their borough."""
    areas = gpd.read_file(LONDON, engine="pyogrio").to_crs(27700)
    areas.index = areas["lsoa21_code"]
    return areas


@pytest.fixture(scope="module")
def london(london_areas: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The London LSOA boundaries alone."""
    return london_areas.geometry


def neighbour_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) whose polygons share a boundary line, with that shared line."""
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.intersection(geoms[i], geoms[j])
    line = shapely.length(shared) > 0
    return i[line], j[line], shared[line]


def coverage_problems(geoms: np.ndarray, *, area_tol: float) -> dict[str, float]:
    """Overlap area between any two polygons, and area of holes in their union (gaps)."""
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    overlap = float(shapely.area(shapely.intersection(geoms[i[keep]], geoms[j[keep]])).sum())
    union = shapely.union_all(geoms)
    parts = shapely.get_parts(union)
    holes = [shapely.Polygon(r) for p in parts for r in p.interiors]
    gap = float(sum(h.area for h in holes if h.area > area_tol))
    return {"overlap": overlap, "gap": gap}


@pytest.fixture(scope="module")
def london_pairs(london: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return neighbour_pairs(np.asarray(london.values, dtype=object))


def test_the_sample_boundaries_form_a_coverage(london, london_pairs):
    # Precondition for everything below: the input itself has no overlaps and no gaps.
    problems = coverage_problems(np.asarray(london.values, dtype=object), area_tol=1.0)
    assert problems == {"overlap": 0.0, "gap": 0.0}
    assert len(london_pairs[0]) > 14_000  # LSOAs have about 6 neighbours each


@pytest.mark.parametrize("tolerance", [DEFAULT_TOLERANCE_M, 100.0])
def test_no_area_vanishes_and_index_is_kept(london, tolerance):
    out = simplify_coverage(london, tolerance=tolerance)
    assert list(out.index) == list(london.index)
    assert out.crs == london.crs
    assert not out.is_empty.any()
    assert out.is_valid.all()
    assert (out.area > 0).all()
    # The simplification is real: vertices were removed.
    assert shapely.get_num_coordinates(out.values).sum() < shapely.get_num_coordinates(
        london.values).sum()


def test_default_tolerance_changes_each_area_by_under_one_percent(london):
    out = simplify_coverage(london, tolerance=DEFAULT_TOLERANCE_M)
    change = (out.area - london.area).abs() / london.area
    assert change.max() < 0.01


@pytest.mark.parametrize("tolerance", [DEFAULT_TOLERANCE_M, 100.0])
def test_neighbours_still_share_their_boundary_without_slivers_or_gaps(
        london, london_pairs, tolerance):
    out = np.asarray(simplify_coverage(london, tolerance=tolerance).values, dtype=object)
    i, j, _ = london_pairs
    shared = shapely.intersection(out[i], out[j])
    assert (shapely.length(shared) > 0).all(), "a pair of neighbours lost its common edge"
    problems = coverage_problems(out, area_tol=1.0)  # 1 m²
    assert problems["overlap"] < 1.0
    assert problems["gap"] == 0.0
    # The outline of London keeps its area closely (outer boundary simplified too).
    assert shapely.union_all(out).area == pytest.approx(
        shapely.union_all(london.values).area, rel=0.002)


def test_shared_edges_move_less_than_the_default_tolerance(london, london_pairs):
    out = np.asarray(simplify_coverage(london, tolerance=DEFAULT_TOLERANCE_M).values,
                     dtype=object)
    i, j, before = london_pairs
    after = shapely.intersection(out[i], out[j])
    moved = shapely.hausdorff_distance(shapely.line_merge(before), shapely.line_merge(after))
    assert np.nanmax(moved) <= DEFAULT_TOLERANCE_M


def test_polygon_by_polygon_simplification_would_be_caught(london):
    # Control: the same checks flag the slivers and gaps of naive per-polygon simplification,
    # so the tests above can fail.
    naive = shapely.simplify(np.asarray(london.values, dtype=object), 100.0,
                             preserve_topology=True)
    problems = coverage_problems(naive, area_tol=1.0)
    assert problems["overlap"] > 1_000.0
    assert problems["gap"] > 1_000.0


def test_web_geometries_round_without_breaking_shared_edges(london, london_pairs):
    geoms = web_geometries(london)
    assert len(geoms) == len(london)
    shapes = np.array([shapely.geometry.shape(g) for g in geoms], dtype=object)
    coords = np.concatenate([shapely.get_coordinates(s) for s in shapes])
    assert np.array_equal(coords, np.round(coords, 5))
    lon, lat = coords[:, 0], coords[:, 1]  # degrees, not metres
    assert lon.min() > -0.6
    assert lon.max() < 0.4
    assert lat.min() > 51.2
    assert lat.max() < 51.8
    i, j, _ = london_pairs
    shared = shapely.intersection(shapes[i], shapes[j])
    assert (shapely.length(shared) > 0).all()
    # about 1e-10 deg² is 1 m²
    assert float(shapely.area(shared).sum()) < 1e-10
    assert {g["type"] for g in geoms} <= {"Polygon", "MultiPolygon"}


def test_zero_tolerance_returns_the_input(london):
    out = simplify_coverage(london.iloc[:50], tolerance=0)
    assert out.geom_equals_exact(london.iloc[:50], tolerance=0).all()


def test_geographic_crs_is_refused(london):
    with pytest.raises(ResultsFileError, match="geographic CRS"):
        simplify_coverage(london.iloc[:5].to_crs(4326), tolerance=10)
    with pytest.raises(ValueError, match="tolerance"):
        simplify_coverage(london.iloc[:5], tolerance=-1)


def test_an_area_that_would_collapse_keeps_its_original_shape(london, monkeypatch):
    sub = london.iloc[:10]
    real = shapely.coverage_simplify

    def collapse_third(geoms, tolerance, **kwargs):
        out = real(geoms, tolerance, **kwargs)
        out[3] = shapely.Polygon()
        return out

    monkeypatch.setattr(simplify_mod.shapely, "coverage_simplify", collapse_third)
    out = simplify_coverage(sub, tolerance=50)
    assert not out.is_empty.any()
    assert out.iloc[3].equals(sub.iloc[3])


def test_dissolve_gives_each_group_the_union_of_its_areas(london_areas):
    keys = london_areas["ltla24_name"]
    out = dissolve(london_areas.geometry, keys)
    assert list(out.index) == sorted(keys.unique())
    assert out.crs == london_areas.crs
    for name in ("Hackney", "City of London", "Bromley"):
        reference = shapely.union_all(london_areas.geometry[keys == name].values)
        assert shapely.symmetric_difference(out[name], reference).area < 1.0  # m²
    assert out.area.sum() == pytest.approx(london_areas.area.sum(), rel=1e-9)
    with pytest.raises(ValueError, match="keys"):
        dissolve(london_areas.geometry, keys.iloc[:-1])


def test_dissolve_falls_back_when_polygons_are_not_noded():
    # b has a vertex on the shared edge that a lacks: GEOS coverage union refuses this input.
    a = shapely.box(0, 0, 1, 1)
    b = shapely.Polygon([(1, 0), (2, 0), (2, 1), (1, 1), (1, 0.5)])
    with pytest.raises(shapely.errors.GEOSException):
        shapely.coverage_union_all([a, b])
    out = dissolve(gpd.GeoSeries([a, b], crs=27700), ["g", "g"])
    assert out["g"].area == pytest.approx(2.0)
    assert shapely.normalize(out["g"]).equals(shapely.box(0, 0, 2, 1))


def test_a_part_simplified_without_its_boundary_keeps_its_outline(london_areas):
    part = london_areas.loc[london_areas["ltla24_name"] == "Hackney"].geometry
    out = simplify_coverage(part, tolerance=400.0, simplify_boundary=False)
    assert shapely.get_num_coordinates(out.values).sum() < shapely.get_num_coordinates(
        part.values).sum()
    # The outline of the part is untouched, so it still fits its unsimplified neighbours.
    before, after = shapely.union_all(part.values), shapely.union_all(out.values)
    assert shapely.symmetric_difference(before, after).area < 1.0  # m²
    geoms = web_geometries(part, tolerance=400.0, simplify_boundary=False)
    assert len(geoms) == len(part)
