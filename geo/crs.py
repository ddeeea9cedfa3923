"""Coordinate reference systems: pick the working metric CRS and reproject.

Every distance-based step (point-in-polygon, areas in square metres, scale bars)
runs in one *working* CRS measured in metres:

1. the profile's ``working_crs`` when it is set;
2. otherwise British National Grid (EPSG:27700) when the areas lie in Great Britain;
3. otherwise the UTM zone that geopandas estimates for the areas
   (:meth:`geopandas.GeoDataFrame.estimate_utm_crs`).

Maps on the web use EPSG:4326 (longitude/latitude); :func:`to_wgs84` converts back.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pyproj
from pyproj.exceptions import CRSError

from firerisk.errors import Problem

__all__ = [
    "BNG",
    "WGS84",
    "choose_working_crs",
    "crs_label",
    "guess_crs",
    "in_great_britain",
    "parse_crs",
    "resolve_crs",
    "to_wgs84",
    "to_working",
    "transform_xy",
]

BNG = "EPSG:27700"
WGS84 = "EPSG:4326"

# Longitude/latitude box of Northern Ireland. EPSG:27700's area of use is a box that
# also covers Northern Ireland, which uses the Irish grid instead; areas whose centre
# falls in this box are therefore not treated as Great Britain.
_NORTHERN_IRELAND = (-8.25, 54.0, -5.42, 55.32)
# Generous bounds of British National Grid coordinates (metres) over GB and its waters.
_BNG_BOUNDS = (-100_000.0, -100_000.0, 800_000.0, 1_400_000.0)


def parse_crs(text: str) -> pyproj.CRS:
    """Parse a CRS written by a user (``"EPSG:27700"``, ``"27700"``, WKT, PROJ string).

    Raises
    ------
    pyproj.exceptions.CRSError
        When pyproj does not know the CRS.
    """
    text = text.strip()
    return pyproj.CRS.from_user_input(int(text) if text.isdigit() else text)


def crs_label(crs: pyproj.CRS | str) -> str:
    """A short text form of a CRS: ``"EPSG:27700"`` where possible, else its name."""
    crs = crs if isinstance(crs, pyproj.CRS) else parse_crs(crs)
    if crs.equals(WGS84, ignore_axis_order=True):
        return WGS84
    auth = crs.to_authority(min_confidence=90)
    return f"{auth[0]}:{auth[1]}" if auth else crs.name


def _same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    return bool(a.equals(b, ignore_axis_order=True))


def resolve_crs(file_crs: pyproj.CRS | None, declared: str | None, *, file: str, section: str,
                bounds: Sequence[float] | None = None) -> tuple[pyproj.CRS | None, list[Problem]]:
    """Decide which CRS a file's coordinates are in.

    The profile's ``crs`` (when given) wins over what the file says, because files
    are sometimes written with a wrong or default CRS (GeoJSON always claims
    longitude/latitude). A file with no CRS and no ``crs`` in the profile is a problem.

    Parameters
    ----------
    file_crs : pyproj.CRS or None
        What the file itself declares.
    declared : str or None
        The profile's ``crs`` key for this file.
    file, section : str
        The file's name and its profile table (``areas`` or ``incidents``), for messages.
    bounds : sequence of 4 floats, optional
        The coordinates' extent (xmin, ymin, xmax, ymax), used to suggest a CRS and to
        catch projected metres labelled as longitude/latitude.

    Returns
    -------
    crs, problems
        The CRS (None when it cannot be decided) and any problems found.
    """
    problems: list[Problem] = []
    guess = guess_crs(bounds) if bounds is not None else None
    example = guess or BNG
    crs: pyproj.CRS | None = None
    if declared:
        try:
            crs = parse_crs(declared)
        except CRSError:
            problems.append(Problem(
                file, f"crs = \"{declared}\" in [{section}] is not a coordinate reference system "
                "that pyproj knows.",
                f"write an EPSG code, e.g. crs = \"{example}\" in [{section}].",
            ))
            return None, problems
    elif file_crs is not None:
        crs = file_crs
    else:
        hint = f" The coordinates look like {_describe(guess)}." if guess else ""
        problems.append(Problem(
            file, f"the file has no coordinate reference system (missing CRS).{hint}",
            f"set crs = \"{example}\" in [{section}] (the CRS the coordinates are in).",
        ))
        return None, problems
    if bounds is not None and crs.is_geographic and not _lonlat_range(bounds):
        said = "the profile says" if declared else "the file says"
        suggestion = guess if guess and guess != WGS84 else BNG
        problems.append(Problem(
            file, f"{said} the coordinates are longitude/latitude ({crs_label(crs)}), but they "
            f"run from ({bounds[0]:.0f}, {bounds[1]:.0f}) to ({bounds[2]:.0f}, {bounds[3]:.0f}), "
            "which are projected metres, not degrees.",
            f"set crs = \"{suggestion}\" in [{section}] (or the CRS the coordinates are in).",
        ))
        return None, problems
    return crs, problems


def _describe(code: str | None) -> str:
    if code == WGS84:
        return "longitude/latitude (EPSG:4326)"
    if code == BNG:
        return "British National Grid metres (EPSG:27700)"
    return str(code)


def _lonlat_range(bounds: Sequence[float]) -> bool:
    xmin, ymin, xmax, ymax = bounds
    return bool(-180.0 <= xmin <= xmax <= 180.0 and -90.0 <= ymin <= ymax <= 90.0)


def guess_crs(bounds: Sequence[float]) -> str | None:
    """Guess the CRS of coordinates from their extent (for error messages only).

    Returns ``"EPSG:4326"`` for values inside ±180/±90, ``"EPSG:27700"`` for values
    that fit British National Grid, else None.
    """
    if not np.all(np.isfinite(np.asarray(bounds, dtype=float))):
        return None
    if _lonlat_range(bounds):
        return WGS84
    bx0, by0, bx1, by1 = _BNG_BOUNDS
    xmin, ymin, xmax, ymax = bounds
    if bx0 <= xmin <= xmax <= bx1 and by0 <= ymin <= ymax <= by1:
        return BNG
    return None


def in_great_britain(bounds_wgs84: Sequence[float]) -> bool:
    """True when a longitude/latitude extent lies in British National Grid's area of use
    and its centre is not in Northern Ireland."""
    aou = pyproj.CRS(BNG).area_of_use
    if aou is None:  # pragma: no cover - the EPSG database always has it
        return False
    xmin, ymin, xmax, ymax = bounds_wgs84
    inside = (aou.west <= xmin <= xmax <= aou.east) and (aou.south <= ymin <= ymax <= aou.north)
    cx, cy = (xmin + xmax) / 2.0, (ymin + ymax) / 2.0
    nx0, ny0, nx1, ny1 = _NORTHERN_IRELAND
    in_ni = nx0 <= cx <= nx1 and ny0 <= cy <= ny1
    return bool(inside and not in_ni)


def choose_working_crs(areas: gpd.GeoDataFrame, *, preferred: str | None = None) -> str:
    """Choose the metric CRS that all geometry work is done in.

    Parameters
    ----------
    areas : GeoDataFrame
        The areas, in any CRS (it must be set).
    preferred : str, optional
        The profile's ``working_crs``; used as given when set.

    Returns
    -------
    str
        For example ``"EPSG:27700"`` or ``"EPSG:32631"``.

    Raises
    ------
    ValueError
        When *preferred* is not a projected CRS in metres, or the areas have no CRS.
    """
    if preferred:
        crs = parse_crs(preferred)
        unit = crs.axis_info[0].unit_name if crs.axis_info else ""
        if not crs.is_projected or unit not in ("metre", "meter"):
            raise ValueError(f"working_crs {preferred!r} must be a projected CRS measured in "
                             "metres, e.g. \"EPSG:27700\".")
        return crs_label(crs)
    if areas.crs is None:
        raise ValueError("the areas have no CRS; set one before choosing a working CRS.")
    bounds = areas.to_crs(WGS84).total_bounds if not areas.empty else None
    if bounds is not None and in_great_britain(bounds):
        return BNG
    utm = areas.estimate_utm_crs()
    return crs_label(utm)


def to_working(gdf: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Reproject *gdf* to the working CRS (no copy when it is already there)."""
    target = parse_crs(crs)
    if gdf.crs is not None and _same_crs(pyproj.CRS(gdf.crs), target):
        return gdf
    return gdf.to_crs(target)


def to_wgs84(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Reproject *gdf* to longitude/latitude (EPSG:4326) for web maps."""
    return to_working(gdf, WGS84)


def transform_xy(x: np.ndarray, y: np.ndarray, *, source: pyproj.CRS | str,
                 target: pyproj.CRS | str) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays (x = easting or longitude, y = northing or latitude).

    Points that cannot be transformed come back as ``inf``.
    """
    src = source if isinstance(source, pyproj.CRS) else parse_crs(source)
    dst = target if isinstance(target, pyproj.CRS) else parse_crs(target)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if _same_crs(src, dst):
        return x.copy(), y.copy()
    transformer = pyproj.Transformer.from_crs(src, dst, always_xy=True)
    tx, ty = transformer.transform(x, y, errcheck=False)
    return np.asarray(tx, dtype=float), np.asarray(ty, dtype=float)
