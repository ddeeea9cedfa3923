"""Topology-preserving simplification of area boundaries for web maps.

Small areas tile the study region: each inner edge is shared by exactly two areas. Simplifying
each polygon on its own (Douglas-Peucker per polygon) moves the two copies of a shared edge
differently and opens slivers and gaps. :func:`simplify_coverage` uses GEOS coverage
simplification (``shapely.coverage_simplify``), which simplifies every shared edge once, so
neighbours keep a common boundary and no area collapses.

:func:`web_geometries` then reprojects to WGS 84 and rounds coordinates, which shrinks the
GeoJSON sent to the browser. Rounding is a function of each vertex alone, so a vertex shared by
two areas is rounded to the same place in both and shared edges still match exactly.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from firerisk.errors import Problem, ResultsFileError

__all__ = [
    "DEFAULT_PRECISION",
    "DEFAULT_TOLERANCE_M",
    "dissolve",
    "simplify_coverage",
    "web_geometries",
]

#: Default coverage-simplification tolerance in metres (about the square root of the area of
#: the triangles that are removed). Invisible at street-level zoom.
DEFAULT_TOLERANCE_M = 15.0
#: Decimal places kept for longitude/latitude (1e-5 degree is about 1 m in Britain).
DEFAULT_PRECISION = 5


def simplify_coverage(
    geometry: gpd.GeoSeries,
    *,
    tolerance: float = DEFAULT_TOLERANCE_M,
    simplify_boundary: bool = True,
) -> gpd.GeoSeries:
    """Simplify polygons that tile a region, keeping shared edges together.

    Parameters
    ----------
    geometry : GeoSeries
        Polygons or multipolygons in a projected (metre) CRS that form a coverage: no overlaps,
        neighbours share identical vertices along common edges.
    tolerance : float
        Simplification tolerance in CRS units (metres), roughly the square root of the area of
        the triangles removed. ``0`` returns the input unchanged.
    simplify_boundary : bool
        Whether to simplify the outer boundary of the coverage too.

    Returns
    -------
    GeoSeries
        Same index, CRS and length. An area whose simplified shape would be empty keeps its
        original geometry, so no area vanishes from the map.

    Raises
    ------
    ResultsFileError
        If the CRS is geographic (degrees), where a metre tolerance is meaningless.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if geometry.crs is not None and geometry.crs.is_geographic:
        raise ResultsFileError([Problem(
            "area boundaries", f"are in a geographic CRS ({geometry.crs.to_string()}); "
            "coverage simplification needs metres.",
            "reproject to the profile's working CRS (for Britain EPSG:27700) first.")])
    if tolerance == 0 or len(geometry) == 0:
        return geometry.copy()
    values = geometry.values
    simplified = shapely.coverage_simplify(np.asarray(values, dtype=object), tolerance,
                                           simplify_boundary=simplify_boundary)
    lost = shapely.is_empty(simplified) | shapely.is_missing(simplified)
    if lost.any():
        simplified = np.where(lost, np.asarray(values, dtype=object), simplified)
    return gpd.GeoSeries(simplified, index=geometry.index, crs=geometry.crs)


def web_geometries(
    geometry: gpd.GeoSeries,
    *,
    tolerance: float = DEFAULT_TOLERANCE_M,
    precision: int = DEFAULT_PRECISION,
    simplify_boundary: bool = True,
) -> list[dict[str, Any]]:
    """GeoJSON geometry objects (EPSG:4326, rounded) ready to embed in a web map.

    Parameters
    ----------
    geometry : GeoSeries
        Area polygons in a projected CRS forming a coverage (see :func:`simplify_coverage`).
    tolerance : float
        Coverage-simplification tolerance in metres.
    precision : int
        Decimal places kept for longitude and latitude.
    simplify_boundary : bool
        Whether to simplify the outer boundary too. ``False`` keeps the outline of a part of a
        larger coverage exactly where it was, so parts simplified separately still fit
        together.

    Returns
    -------
    list of dict
        One GeoJSON geometry mapping per input row, in input order (one-part multipolygons
        become polygons).
    """
    simplified = simplify_coverage(geometry, tolerance=tolerance,
                                   simplify_boundary=simplify_boundary)
    wgs84 = simplified.to_crs(4326) if simplified.crs is not None else simplified
    rounded = shapely.transform(np.asarray(wgs84.values, dtype=object),
                                lambda xy: np.round(xy, precision))
    # Rounding can merge consecutive vertices; drop the repeats (shared by both neighbours, so
    # the coverage stays consistent).
    rounded = shapely.remove_repeated_points(rounded)
    # A one-part MultiPolygon is written as a Polygon (a shorter, equivalent GeoJSON object).
    single = (shapely.get_type_id(rounded) == 6) & (shapely.get_num_geometries(rounded) == 1)
    rounded = np.where(single, shapely.get_geometry(rounded, 0), rounded)
    return [shapely.geometry.mapping(geom) for geom in rounded]


def dissolve(geometry: gpd.GeoSeries, keys: Any) -> gpd.GeoSeries:
    """Union of the polygons of each key (for example the small areas of each local authority).

    Uses GEOS coverage union (fast, exact for a clean coverage) and falls back to a general
    union for a group whose polygons are not noded as a coverage.

    Parameters
    ----------
    geometry : GeoSeries
        Polygons.
    keys : array-like
        Group key per row, same length as *geometry*.

    Returns
    -------
    GeoSeries
        One (multi)polygon per distinct key, indexed by key in sorted order, same CRS.
    """
    labels = np.asarray(keys)
    if len(labels) != len(geometry):
        raise ValueError(f"{len(labels)} keys for {len(geometry)} geometries")
    codes, uniques = pd.factorize(labels, sort=True)
    values = np.asarray(geometry.values, dtype=object)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    out = []
    for g in range(len(uniques)):
        parts = values[order[bounds[g]:bounds[g + 1]]]
        try:
            merged = shapely.coverage_union_all(parts)
        except shapely.errors.GEOSException:
            merged = shapely.union_all(parts)
        out.append(merged)
    return gpd.GeoSeries(out, index=pd.Index(uniques), crs=geometry.crs)
