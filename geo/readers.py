"""Read the input files named by a dataset profile.

* areas: GeoJSON, GeoPackage (optionally one ``layer``) or a zipped Shapefile (``.zip``);
* incidents: CSV (also ``.csv.gz``) with coordinate columns, or a point GeoJSON/GeoPackage;
* covariates: CSV tables keyed by area code.

Vector files are read with pyogrio; CSV files with pandas (pyarrow engine when installed).
Every CSV value is read as text, so codes keep their leading zeros; validation turns
numbers into numbers. Only the columns a step needs are read: columns listed in a
profile's ``drop_columns`` are never loaded into memory. Readers check only that a file
can be opened; column and value checks are in :mod:`geo.validate`. A file that cannot be
read raises :class:`~geo.errors.InputFileError` with one problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from firerisk.errors import InputFileError, Problem
from firerisk.specs import AreasSpec, CovariateSpec, IncidentsSpec

__all__ = [
    "CSV_SUFFIXES",
    "VECTOR_SUFFIXES",
    "covariate_columns",
    "incident_columns",
    "is_csv",
    "list_columns",
    "list_layers",
    "pick_layer",
    "read_areas",
    "read_covariates",
    "read_csv_text",
    "read_incidents",
    "read_vector",
]

CSV_SUFFIXES = (".csv", ".csv.gz", ".gz", ".txt")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".fgb")

try:  # pyarrow parses large CSV files several times faster than the C engine
    import pyarrow  # noqa: F401

    _CSV_ENGINE = "pyarrow"
except ImportError:  # pragma: no cover - pyarrow ships with the project's environment
    _CSV_ENGINE = "c"


def is_csv(path: str | Path) -> bool:
    """True when *path* names a (possibly gzipped) CSV file."""
    return str(path).lower().endswith(CSV_SUFFIXES)


def _unreadable(path: Path, what: str, exc: Exception, fix: str) -> InputFileError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputFileError([Problem(str(path), f"cannot be read as {what} ({reason}).", fix)])


_VECTOR_FIX = ("save it as GeoJSON, GeoPackage or a zipped Shapefile (.zip holding .shp, .shx, "
               ".dbf and .prj) and check the path.")
_CSV_FIX = "save it as CSV (UTF-8) with one header row, e.g. 'CSV UTF-8' in Excel."


def list_layers(path: str | Path) -> tuple[str, ...]:
    """The layer names of a vector file (one for GeoJSON and most Shapefiles)."""
    path = Path(path)
    try:
        layers = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _unreadable(path, "a GeoJSON, GeoPackage or zipped Shapefile", exc, _VECTOR_FIX) from exc
    return tuple(str(name) for name in layers[:, 0])


def pick_layer(path: str | Path, layer: str | None, *, section: str) -> str | None:
    """Check the requested *layer* exists, or that the file has only one.

    Parameters
    ----------
    path : path of the vector file.
    layer : the profile's ``layer`` key, or None.
    section : the profile table (``areas`` or ``incidents``), for the fix text.

    Returns
    -------
    str or None
        The layer to read (None for single-layer files read without a name).
    """
    path = Path(path)
    layers = list_layers(path)
    if layer is not None:
        if layer not in layers:
            raise InputFileError([Problem(
                str(path), f"has no layer '{layer}'; its layers are: {', '.join(layers)}.",
                f"set layer = \"{layers[0]}\" (or another of those) in [{section}].")])
        return layer
    if len(layers) > 1:
        raise InputFileError([Problem(
            str(path), f"has {len(layers)} layers ({', '.join(layers)}) and the profile does "
            "not say which to use.", f"set layer = \"{layers[0]}\" (or another) in [{section}].")])
    return None


def list_columns(path: str | Path, *, layer: str | None = None) -> tuple[str, ...]:
    """The column names of a CSV file (header only) or of a vector layer's attributes."""
    path = Path(path)
    if is_csv(path):
        try:
            header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError,
                OSError, EOFError) as exc:
            raise _unreadable(path, "CSV", exc, _CSV_FIX) from exc
        return tuple(str(c) for c in header.columns)
    try:
        info = pyogrio.read_info(path, layer=layer)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _unreadable(path, "a GeoJSON, GeoPackage or zipped Shapefile", exc, _VECTOR_FIX) from exc
    return tuple(str(c) for c in info["fields"])


def read_csv_text(path: str | Path, *, columns: Sequence[str]) -> pd.DataFrame:
    """Read the named *columns* of a CSV file, every value as text.

    Only empty cells are missing (NaN); markers such as ``n/a`` or ``..`` stay as text,
    so messages can show them.

    Row *i* of the result (0-based) is data row *i + 1* of the file (header excluded).
    """
    path = Path(path)
    cols = list(dict.fromkeys(columns))
    try:
        frame = pd.read_csv(path, usecols=cols, dtype=str, engine=_CSV_ENGINE, encoding="utf-8",
                            keep_default_na=False, na_values=[""])
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError,
            OSError, EOFError) as exc:
        raise _unreadable(path, "CSV", exc, _CSV_FIX) from exc
    except ValueError as exc:  # e.g. a row with more fields than the header
        raise _unreadable(path, "CSV", exc, _CSV_FIX) from exc
    frame = frame.reset_index(drop=True)
    return frame[cols] if cols else frame


def read_vector(path: str | Path, *, layer: str | None = None,
                columns: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Read a vector layer (pyogrio engine), only the listed attribute *columns*.

    Feature *i* (0-based) is row *i + 1* in messages.
    """
    path = Path(path)
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer,
                                     columns=list(columns) if columns is not None else None,
                                     use_arrow=True)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _unreadable(path, "a GeoJSON, GeoPackage or zipped Shapefile", exc, _VECTOR_FIX) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):  # a table without geometry
        raise InputFileError([Problem(str(path), "has no geometry column.",
                                      "export the layer with its geometry.")])
    return gdf.reset_index(drop=True)


def read_areas(spec: AreasSpec, *, columns: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Read the area boundaries: the id, name and group columns and the geometry.

    Parameters
    ----------
    spec : AreasSpec
    columns : sequence of str, optional
        Attribute columns to read; by default the id, name and group columns.
    """
    if columns is None:
        columns = [spec.id, spec.name, *spec.group_columns.values()]
    layer = pick_layer(spec.path, spec.layer, section="areas")
    return read_vector(spec.path, layer=layer, columns=list(dict.fromkeys(columns)))


def incident_columns(spec: IncidentsSpec) -> tuple[str, ...]:
    """The incident columns the tool needs: coordinates (CSV only), date, type, filters.

    Nothing else is ever read, so personal or unused fields stay on disk.
    """
    cols: list[str] = []
    if is_csv(spec.path):
        cols += [c for c in (spec.x, spec.y) if c]
    cols.append(spec.date)
    if spec.type:
        cols.append(spec.type)
    cols += [f.column for f in spec.filters]
    return tuple(c for c in dict.fromkeys(cols) if c not in spec.drop_columns)


def read_incidents(spec: IncidentsSpec, *,
                   columns: Sequence[str] | None = None) -> pd.DataFrame | gpd.GeoDataFrame:
    """Read the incident file: a text DataFrame (CSV) or a GeoDataFrame (point file).

    Parameters
    ----------
    spec : IncidentsSpec
    columns : sequence of str, optional
        Columns to read; by default :func:`incident_columns`. Columns in
        ``spec.drop_columns`` are never read.
    """
    cols = [c for c in (columns if columns is not None else incident_columns(spec))
            if c not in spec.drop_columns]
    if is_csv(spec.path):
        return read_csv_text(spec.path, columns=cols)
    layer = pick_layer(spec.path, spec.layer, section="incidents")
    return read_vector(spec.path, layer=layer, columns=cols)


def covariate_columns(spec: CovariateSpec, header: Sequence[str]) -> tuple[str, ...]:
    """The columns of a covariate table that are read: all but ``drop_columns``."""
    return tuple(c for c in header if c not in spec.drop_columns)


def read_covariates(spec: CovariateSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a covariate CSV with every value as text (the key keeps leading zeros).

    Parameters
    ----------
    spec : CovariateSpec
    columns : sequence of str, optional
        Columns to read; by default every column except ``spec.drop_columns``.
    """
    if columns is None:
        columns = covariate_columns(spec, list_columns(spec.path))
    return read_csv_text(spec.path, columns=[c for c in columns if c not in spec.drop_columns])
