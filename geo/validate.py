"""Check the input files against the profile, collecting every problem.

The functions here never raise on bad data: they return what they could clean up and
a list of :class:`~geo.errors.Problem`; :mod:`geo.ingest` raises one
:class:`~geo.errors.InputFileError` listing them all. Rows are 1-based data rows
(header excluded; for vector files, the feature's position in the layer).

Fatal problems: missing columns, repeated area ids, missing or invalid area geometry,
a missing CRS, most incident dates unreadable (a wrong ``date_format``), most incident
coordinates missing or outside the areas' extent (wrong columns or CRS), covariate
keys that miss some areas or repeat, and text in feature or exposure columns.

Not fatal here (dropped and counted in the row accounting): a few incidents with missing
coordinates or an unreadable date, incidents outside the study period or excluded by
a filter, repeats of an incident number (``[incidents] id``) or exact repeats with
``duplicates = "drop"``, and covariate rows for places that are not in the area file.
Many exact repeats without an ``id`` are fatal (:mod:`geo.quality`). :mod:`geo.ingest`
then holds the drops to the ceiling on silent loss, finds stray dates and incomplete years
(:mod:`geo.timeline`) and implausible figures (:mod:`geo.plausible`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from pyproj.exceptions import ProjError

from firerisk.columns import AREA_ID, AREA_NAME
from firerisk.errors import Problem, describe_rows
from firerisk.geo.crs import BNG, WGS84, crs_label, resolve_crs, transform_xy
from firerisk.geo.plausible import Source
from firerisk.geo.quality import date_layouts, describe_layouts, duplicate_problem, repeated_rows
from firerisk.specs import AreasSpec, CovariateSpec, IncidentsSpec, Profile, StudySpec

__all__ = [
    "DATE_FORMAT_CANDIDATES",
    "DROP_ORDER",
    "MAJORITY",
    "ColumnNeed",
    "CovariateAccounting",
    "CovariateCheck",
    "PreparedIncidents",
    "area_needs",
    "check_areas",
    "check_covariates",
    "close_matches",
    "covariate_header_problems",
    "covariate_needs",
    "drop_column_conflicts",
    "incident_needs",
    "missing_columns",
    "parse_dates",
    "prepare_incidents",
    "suggest_date_format",
]

#: Above this share of failing rows, a check is a wrong setting, not a few bad rows.
MAJORITY = 0.5
#: The reasons :func:`prepare_incidents` gives dropped rows, in the order they are tried.
DROP_ORDER = ("missing coordinates", "bad date", "excluded by filter",
              "outside the study period", "duplicate")
#: Date formats tried (on a sample) to suggest a ``date_format`` when most dates fail.
DATE_FORMAT_CANDIDATES = (
    "%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d", "%d.%m.%Y",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%d-%b-%Y", "%d %b %Y", "%d-%b-%y", "%d/%m/%y",
)
NOT_RECORDED = "(not recorded)"
_EXAMPLES = 10


def _rows(mask: np.ndarray | pd.Series) -> tuple[int, ...]:
    """1-based row numbers where *mask* is true."""
    return tuple(int(i) + 1 for i in np.flatnonzero(np.asarray(mask, dtype=bool)))


def _examples(values: Iterable[object], limit: int = 3) -> str:
    shown = list(dict.fromkeys(repr(v) for v in values))[:limit]
    return ", ".join(shown)


def _n(count: int, singular: str, plural: str) -> str:
    return f"{count:,} {singular if count == 1 else plural}"


def _pct(part: int, whole: int) -> str:
    return f"{part:,} of {whole:,} ({100.0 * part / whole:.0f} %)" if whole else "0"


# --------------------------------------------------------------------------- columns

@dataclass(frozen=True)
class ColumnNeed:
    """A column the profile names: what it is for and where it is set.

    ``section`` is written as a user sees it in the TOML, e.g. ``"[areas]"``.
    """

    column: str
    what: str
    key: str
    section: str


def close_matches(name: str, available: Sequence[str], *, n: int = 3) -> list[str]:
    """Column names that look like *name* (case-insensitive, via difflib)."""
    lowered = {c.lower(): c for c in available}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    exact_ci = [c for c in available if c.lower() == name.lower()]
    return list(dict.fromkeys(exact_ci + [lowered[h] for h in hits]))


def _column_list(available: Sequence[str], limit: int = 25) -> str:
    shown = ", ".join(f"'{c}'" for c in available[:limit])
    more = f", ... ({len(available)} in all)" if len(available) > limit else ""
    return shown + more if available else "(none)"


def missing_columns(file: str, available: Sequence[str],
                    needs: Sequence[ColumnNeed]) -> list[Problem]:
    """One problem per needed column that is not in *available*, with close matches."""
    problems = []
    for need in needs:
        if not need.column or need.column in available:
            continue
        matches = close_matches(need.column, available)
        hint = f" Did you mean '{matches[0]}'?" if matches else ""
        target = matches[0] if matches else "..."
        problems.append(Problem(
            file,
            f"is not in the file ({need.what}, set by {need.key} in {need.section}).{hint} "
            f"The file has columns {_column_list(available)}.",
            f"set {need.key} = \"{target}\" in {need.section}, or rename the column in the file.",
            column=need.column,
        ))
    return problems


def drop_column_conflicts(file: str, drop: Sequence[str], needs: Sequence[ColumnNeed],
                          *, section: str) -> list[Problem]:
    """Problems for columns listed in ``drop_columns`` that the profile also needs."""
    problems = []
    for need in needs:
        if need.column and need.column in drop:
            problems.append(Problem(
                file, f"is listed in drop_columns but is needed as {need.what}.",
                f"remove \"{need.column}\" from drop_columns in {section}.",
                column=need.column))
    return problems


# --------------------------------------------------------------------------- areas

def _id_strings(values: pd.Series) -> pd.Series:
    """Codes as text: integers without '.0', text stripped, missing kept as NaN."""
    if pd.api.types.is_float_dtype(values.dtype):  # e.g. Shapefile codes stored as reals
        def fmt(v: float) -> str | None:
            if pd.isna(v):
                return None
            return str(int(v)) if float(v).is_integer() else str(v)
        return pd.Series([fmt(v) for v in values], index=values.index, dtype="str")
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype(str)
    text = values.astype("str")
    text = text.where(values.notna())
    return text.str.strip()


def check_areas(raw: gpd.GeoDataFrame, spec: AreasSpec, *, file: str,
                repair_geometry: bool = False,
                ) -> tuple[gpd.GeoDataFrame | None, list[Problem], list[str]]:
    """Check the raw area layer and rename its columns to the contract.

    Parameters
    ----------
    raw : GeoDataFrame
        As read by :func:`geo.readers.read_areas`.
    spec : AreasSpec
    file : str
        The file name used in messages.
    repair_geometry : bool
        Repair invalid polygons with :func:`shapely.make_valid` (reported in the notes)
        instead of reporting them as problems.

    Returns
    -------
    areas, problems, notes
        ``areas`` has columns ``area_id``, ``area_name``, one per group label and
        ``geometry``, in the file's CRS (or the profile's ``crs``, which wins; no CRS when
        neither is known); None when the id column is missing.
    """
    problems: list[Problem] = []
    notes: list[str] = []
    if spec.id not in raw.columns:
        return None, problems, notes
    n = len(raw)
    if n == 0:
        problems.append(Problem(file, "has no features.", "check the file and layer."))
        return None, problems, notes
    ids = _id_strings(raw[spec.id])
    blank = ids.isna() | (ids == "")
    if blank.any():
        problems.append(Problem(file, "has features with an empty area id.",
                                "give every area a code, or remove those features.",
                                column=spec.id, rows=_rows(blank)))
    dup = ids.duplicated(keep=False) & ~blank
    if dup.any():
        repeated = ids[dup].drop_duplicates()
        problems.append(Problem(
            file, f"area ids must be unique; {_n(len(repeated), 'id is', 'ids are')} repeated "
            f"(e.g. {_examples(repeated)}).",
            "keep one feature per area (dissolve multi-part areas into one MultiPolygon), "
            "or choose a column with unique codes as id.",
            column=spec.id, rows=_rows(dup)))
    if spec.name in raw.columns:
        names = raw[spec.name].astype("str").where(raw[spec.name].notna())
        no_name = names.isna() | (names.str.strip() == "")
        if no_name.any():
            notes.append(f"{file}: {describe_rows(_rows(no_name))} have no name in "
                         f"'{spec.name}'; the area id is shown instead.")
        names = names.where(~no_name, ids)
    else:
        names = ids.copy()
    data: dict[str, pd.Series] = {AREA_ID: ids, AREA_NAME: names}
    for label, column in spec.groups:
        if column in raw.columns:
            values = raw[column].astype("str").where(raw[column].notna(), NOT_RECORDED)
        else:
            values = pd.Series(NOT_RECORDED, index=raw.index, dtype="str")
        data[label] = values

    geom = raw.geometry
    missing = geom.isna().to_numpy() | shapely.is_empty(geom.array).astype(bool)
    missing = np.asarray(missing, dtype=bool)
    if missing.any():
        problems.append(Problem(file, "these features have no geometry.",
                                "add their boundaries or delete the features.",
                                column="geometry", rows=_rows(missing)))
    types = np.asarray(geom.geom_type.fillna("None"))
    not_poly = ~np.isin(types, ["Polygon", "MultiPolygon"]) & ~missing
    if not_poly.any():
        problems.append(Problem(
            file, f"areas must be polygons, but these are {_examples(types[not_poly])}.",
            "export the area boundaries (polygons), not points or lines.",
            column="geometry", rows=_rows(not_poly)))
    checkable = ~missing & ~not_poly
    valid = np.ones(n, dtype=bool)
    valid[checkable] = shapely.is_valid(geom.array[checkable])
    invalid = ~valid
    geometry = geom.copy()
    if invalid.any():
        if repair_geometry:
            fixed = shapely.make_valid(geom.array[invalid], method="structure",
                                       keep_collapsed=False)
            geometry.iloc[np.flatnonzero(invalid)] = fixed
            notes.append(f"{file}: repaired {invalid.sum():,} invalid geometries with "
                         f"shapely.make_valid ({describe_rows(_rows(invalid))}).")
        else:
            first = int(np.flatnonzero(invalid)[0])
            reason = shapely.is_valid_reason(geom.array[first])
            problems.append(Problem(
                file, f"these area geometries are invalid (row {first + 1}: {reason}).",
                "repair them in QGIS (Processing Toolbox > 'Fix geometries', which uses "
                "make_valid) and save again, or set repair_geometry = true under [areas] "
                "in the profile to have this tool apply shapely.make_valid (the build notes "
                "then list the repaired rows).",
                column="geometry", rows=_rows(invalid)))
    bounds = raw.total_bounds if (~missing).any() else None
    crs, crs_problems = resolve_crs(pyproj.CRS(raw.crs) if raw.crs is not None else None,
                                    spec.crs, file=file, section="areas", bounds=bounds)
    problems += crs_problems
    areas = gpd.GeoDataFrame(data, geometry=geometry.to_numpy(), crs=crs)
    return areas, problems, notes


# --------------------------------------------------------------------------- incidents

@dataclass(frozen=True)
class PreparedIncidents:
    """Incidents after the non-spatial checks (internal to ``geo``; never stored).

    ``table`` has columns ``row``, ``x``, ``y`` (working CRS metres), ``date``, ``year``
    and ``type`` when the profile names a type column. ``dropped`` maps each reason to
    the row numbers dropped for it. ``dates`` holds every row's date (NaT where
    unreadable), for the density checks of :mod:`geo.timeline`. ``in_scope`` counts the
    rows the profile means to count (kept by the filters and inside the study period, or
    undated), and ``lost`` the rows among them dropped for a missing position or date,
    for the ceiling on silent loss (:mod:`geo.quality`); ``date_layouts`` describes the
    layouts of the date column when it mixes several.
    """

    table: pd.DataFrame
    rows_read: int
    dropped: dict[str, np.ndarray]
    data_first: date | None
    data_last: date | None
    crs: str | None
    notes: tuple[str, ...] = field(default=())
    dates: pd.Series = field(default_factory=lambda: pd.Series(dtype="datetime64[ns]"),
                             repr=False)
    in_scope: int = 0
    lost: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    date_layouts: str = ""
    other_layouts: tuple[str, ...] = ()


def suggest_date_format(values: pd.Series, *, sample: int = 500) -> str | None:
    """The first of :data:`DATE_FORMAT_CANDIDATES` that reads at least 90 % of a sample."""
    text = values.dropna().astype("str").str.strip()
    text = text[text != ""]
    if text.empty:
        return None
    text = text.iloc[:: max(1, len(text) // sample)].iloc[:sample]
    best, best_share = None, 0.0
    for fmt in DATE_FORMAT_CANDIDATES:
        share = float(pd.to_datetime(text, format=fmt, errors="coerce").notna().mean())
        if share > best_share + 1e-9:
            best, best_share = fmt, share
    return best if best_share >= 0.9 else None


def parse_dates(values: pd.Series, date_format: str | None,
                others: Sequence[str] = ()) -> pd.Series:
    """Parse dates (``date_format`` in Python strftime codes; ISO 8601 when None).

    Values ``date_format`` cannot read are tried with each of *others* in turn (the
    profile's ``other_date_formats``). Unreadable values (and years outside 1678-2261)
    become NaT. Time zones are dropped, keeping each value's local wall-clock time (so its
    local calendar date).
    """
    if others and not pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = parse_dates(values, date_format)
        for fmt in others:
            missing = parsed.isna() & values.notna()
            if not missing.any():
                break
            parsed = parsed.where(~missing, parse_dates(values.where(missing), fmt))
        return parsed
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    else:
        text = values.astype("str").where(values.notna()).str.strip()
        fmt = date_format or "ISO8601"
        try:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        except (ValueError, TypeError):  # mixed time-zone offsets: keep the local time
            local = text.str.replace(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|[+-]\d{2}:?\d{2})$",
                                     r"\1", regex=True)
            parsed = pd.to_datetime(local, format=fmt, errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    year = parsed.dt.year
    parsed = parsed.where((year >= 1678) & (year <= 2261))  # e.g. "0201-01-01": a bad date
    return parsed.astype("datetime64[ns]")


def _coordinate_arrays(raw: pd.DataFrame, spec: IncidentsSpec, *, file: str,
                       problems: list[Problem]) -> tuple[np.ndarray, np.ndarray, str, str]:
    """x, y as floats (NaN where missing) and the names of the x/y sources."""
    n = len(raw)
    if isinstance(raw, gpd.GeoDataFrame):
        geom = raw.geometry
        missing = np.asarray(geom.isna().to_numpy() | shapely.is_empty(geom.array), dtype=bool)
        types = np.asarray(geom.geom_type.fillna("None"))
        not_point = ~missing & (types != "Point")
        if not_point.any():
            problems.append(Problem(
                file, f"incidents must be points, but these are {_examples(types[not_point])}.",
                "export incident locations as points.", column="geometry",
                rows=_rows(not_point)))
        ok = ~missing & ~not_point
        x = np.full(n, np.nan)
        y = np.full(n, np.nan)
        x[ok] = shapely.get_x(geom.array[ok])
        y[ok] = shapely.get_y(geom.array[ok])
        return x, y, "geometry", "geometry"
    xcol, ycol = spec.x or "", spec.y or ""
    x = pd.to_numeric(raw[xcol].str.strip(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    y = pd.to_numeric(raw[ycol].str.strip(), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return x, y, xcol, ycol


def _missing_coordinate_problem(raw: pd.DataFrame, x: np.ndarray, y: np.ndarray, xcol: str,
                                ycol: str, missing: np.ndarray, *, file: str) -> Problem:
    bad_x = ~np.isfinite(x)
    column = xcol if bad_x.sum() >= (~np.isfinite(y)).sum() else ycol
    text_values: list[object] = []
    decimal_comma = False
    if column in raw.columns and not isinstance(raw, gpd.GeoDataFrame):
        col = raw[column]
        shown = col[missing & col.notna().to_numpy()]
        text_values = list(shown.iloc[:3])
        decimal_comma = bool(shown.astype("str").str.fullmatch(r"-?\d+,\d+").mean() > 0.5) \
            if len(shown) else False
    eg = f" (e.g. {_examples(text_values)})" if text_values else ""
    fix = ("use a full stop as the decimal mark (51.5, not 51,5)." if decimal_comma else
           f"check that x = \"{xcol}\" and y = \"{ycol}\" in [incidents] name the coordinate "
           "columns and that they hold plain numbers.")
    return Problem(file, f"{_pct(int(missing.sum()), len(x))} rows have no usable coordinates"
                   f"{eg}; that many means a wrong column or number format, not a few gaps.",
                   fix, column=column, rows=_rows(missing))


def _inside(x: np.ndarray, y: np.ndarray, extent: Sequence[float]) -> np.ndarray:
    xmin, ymin, xmax, ymax = extent
    return (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)


def _diagnose_extent(x: np.ndarray, y: np.ndarray, declared: pyproj.CRS, *, working: str,
                     extent: Sequence[float], spec: IncidentsSpec,
                     extra: Sequence[str] = ()) -> str:
    """Find a CRS (or x/y swap) that puts most points inside the areas' extent."""
    step = max(1, len(x) // 2000)
    xs, ys = x[::step], y[::step]
    candidates = list(dict.fromkeys([crs_label(declared), WGS84, BNG, working, *extra]))
    best: tuple[float, str, bool] | None = None
    for code in candidates:
        for swapped in (False, True):
            if code == crs_label(declared) and not swapped:
                continue
            a, b = (ys, xs) if swapped else (xs, ys)
            try:
                tx, ty = transform_xy(a, b, source=code, target=working)
            except ProjError:  # pragma: no cover - an unusable candidate CRS
                tx = ty = np.empty(0)
            share = float(_inside(tx, ty, extent).mean()) if len(tx) else 0.0
            if share > MAJORITY and (best is None or share > best[0] + 1e-9):
                best = (share, code, swapped)
    if best is None:
        return ("check that x and y name the easting (or longitude) and northing (or "
                "latitude) columns, that crs in [incidents] is the CRS they are in, and that "
                "the incident file covers the same place as the areas (if it covers a larger "
                "region, add a filter, e.g. on a borough column).")
    _, code, swapped = best
    fixes = []
    if code != crs_label(declared):
        if code == WGS84:
            fixes.append("these look like longitude/latitude; set crs = \"EPSG:4326\" in "
                         "[incidents]")
        else:
            fixes.append(f"these look like coordinates in {code}; set crs = \"{code}\" in "
                         "[incidents]")
    if swapped:
        fixes.append(f"x and y look swapped; set x = \"{spec.y}\" and y = \"{spec.x}\" in "
                     "[incidents]")
    return "; ".join(fixes) + "."


def _date_step(raw: pd.DataFrame, spec: IncidentsSpec, *, file: str,
               problems: list[Problem]) -> tuple[pd.Series, np.ndarray, str, tuple[str, ...]]:
    """Parse the dates; a wrong layout for most of them is a problem. Returns the dates,
    the mask of unreadable ones and, when the column mixes layouts, a description and the
    other layouts that read some of the rest."""
    n = len(raw)
    parsed = parse_dates(raw[spec.date], spec.date_format, spec.other_date_formats)
    bad_date = parsed.isna().to_numpy()
    fmt = f'"{spec.date_format}"' if spec.date_format else "ISO 8601 (e.g. 2024-01-31)"
    layouts = ""
    others: tuple[str, ...] = ()
    if bad_date.any():
        declared = spec.date_format or "ISO 8601"
        found = date_layouts(raw[spec.date], parsed, declared=declared,
                             candidates=DATE_FORMAT_CANDIDATES)
        others = tuple(f.layout for f in found if f.layout not in ("unreadable", declared))
        if len(found) > 1:
            layouts = f"the column holds dates in several layouts: {describe_layouts(found)}"
    if n and bad_date.mean() > MAJORITY:
        shown = raw[spec.date][bad_date & raw[spec.date].notna().to_numpy()]
        eg = f" (e.g. {_examples(shown.iloc[:3])})" if len(shown) else ""
        guess = suggest_date_format(raw[spec.date])
        fix = (f"set date_format = \"{guess}\" in [incidents]." if guess else
               "set date_format in [incidents] to match the dates, in Python strftime codes "
               "(e.g. \"%d/%m/%Y\" for 31/01/2024).")
        if not guess and others:
            fix = (f"set other_date_formats = {_toml_list(others)} in [incidents] to read "
                   "every layout, or write every date in one layout.")
        more = f"; {layouts}" if layouts and not guess else ""
        problems.append(Problem(
            file, f"{_pct(int(bad_date.sum()), n)} dates cannot be read with the date format "
            f"{fmt}{eg}{more}.", fix, column=spec.date, rows=_rows(bad_date)))
    return parsed, bad_date, layouts, others


def _toml_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def _filter_step(raw: pd.DataFrame, spec: IncidentsSpec, *, file: str,
                 problems: list[Problem], notes: list[str]) -> np.ndarray:
    """The rows every filter keeps; a filter that keeps nothing is a problem."""
    n = len(raw)
    keep = np.ones(n, dtype=bool)
    for flt in spec.filters:
        values = raw[flt.column].astype("str").where(raw[flt.column].notna()).str.strip()
        hit = values.isin(flt.values).to_numpy()
        present = values.value_counts()
        for v in flt.values:
            if v not in present.index and hit.any():
                notes.append(f"{file}: filter value '{v}' does not occur in column "
                             f"'{flt.column}'.")
        if n and not hit.any():
            common = ", ".join(f"'{v}'" for v in present.index[:8])
            near = sorted({m for v in flt.values
                           for m in close_matches(v, [str(p) for p in present.index])})
            hint = f" Close values: {', '.join(repr(m) for m in near)}." if near else ""
            problems.append(Problem(
                file, f"no row has any of the filter values {list(flt.values)}; the column "
                f"holds e.g. {common}.{hint}",
                "correct values in the filter for this column in [incidents] (matching is "
                "exact and case-sensitive).", column=flt.column))
        keep &= hit
    return keep


def _period_step(parsed: pd.Series, study: StudySpec, spec: IncidentsSpec, *, file: str,
                 first: date | None, last: date | None, problems: list[Problem]) -> np.ndarray:
    """The dated rows outside the study period; a period that misses the data is a problem."""
    start, end = study.start, study.end
    day = parsed.dt.normalize()
    out_period = np.zeros(len(parsed), dtype=bool)
    if start is not None:
        out_period |= (day < pd.Timestamp(start)).to_numpy()
    if end is not None:
        out_period |= (day > pd.Timestamp(end)).to_numpy()
    if (start or end) and first and last:
        lo, hi = start or first, end or last
        if last < lo or first > hi:
            problems.append(Problem(
                file, f"no incident falls in the study period {lo} to {hi}; the dates run "
                f"from {first} to {last}.",
                "correct start and end in [study], or check date_format in [incidents] "
                "(day and month swapped?).", column=spec.date))
    return out_period


def _duplicate_step(raw: pd.DataFrame, spec: IncidentsSpec, eligible: np.ndarray,
                    parsed: pd.Series, row_keys: np.ndarray | None, *, file: str,
                    id_hint: str | None, problems: list[Problem],
                    notes: list[str]) -> np.ndarray:
    """Rows dropped as repeats: of an incident number (``id``), or exact repeats when
    ``duplicates = "drop"``; with the default policy, many exact repeats are a problem."""
    if spec.id:
        repeats = repeated_rows(raw[spec.id].astype("str").where(raw[spec.id].notna()), eligible)
        if repeats.any():
            notes.append(f"{file}: {int(repeats.sum()):,} rows repeat an earlier incident "
                         f"number in '{spec.id}' and were counted once.")
        return repeats
    keys = row_keys if row_keys is not None and len(row_keys) == len(raw) else \
        pd.util.hash_pandas_object(raw.drop(columns="geometry", errors="ignore")
                                   .astype("str"), index=False).to_numpy()
    repeats = repeated_rows(keys, eligible)
    if spec.duplicates == "drop":
        return repeats
    if spec.duplicates == "check":
        problem, note = duplicate_problem(repeats, eligible, parsed, file=file,
                                          section="[incidents]", id_hint=id_hint)
        problems += [problem] if problem else []
        notes += [note] if note else []
    return np.zeros(len(raw), dtype=bool)


def prepare_incidents(raw: pd.DataFrame, spec: IncidentsSpec, study: StudySpec, *, file: str,
                      working_crs: str | None, extent: Sequence[float] | None,
                      extra_crs: Sequence[str] = (), row_keys: np.ndarray | None = None,
                      id_hint: str | None = None) -> tuple[PreparedIncidents, list[Problem]]:
    """Parse coordinates and dates, apply filters and the study period, find repeats,
    reproject.

    Each row that is dropped is given the first reason that applies, in this order:
    ``missing coordinates``, ``bad date``, ``excluded by filter``,
    ``outside the study period``, ``duplicate``. (``outside every area`` is decided by
    :func:`geo.aggregate.aggregate_incidents`.)

    Parameters
    ----------
    raw : DataFrame or GeoDataFrame
        As read by :func:`geo.readers.read_incidents` (all needed columns present).
    spec, study : the profile's [incidents] and [study] tables.
    file : str
        File name used in messages.
    working_crs : str or None
        Target CRS of ``x``/``y``; None when the areas could not be read (coordinates
        are then neither reprojected nor checked against the extent).
    extent : (xmin, ymin, xmax, ymax) or None
        The areas' extent in the working CRS.
    extra_crs : sequence of str
        More CRSs to try when suggesting a fix for coordinates outside the extent.
    row_keys : array, optional
        A hash of each whole row of the file (:func:`geo.readers.row_hashes`), to find
        exact repeats; by default the columns read are hashed.
    id_hint : str, optional
        A column that looks like an incident number, named in the fix for repeats.
    """
    problems: list[Problem] = []
    notes: list[str] = []
    n = len(raw)
    if n == 0:
        problems.append(Problem(file, "has no incident rows.", "check the file."))

    x, y, xcol, ycol = _coordinate_arrays(raw, spec, file=file, problems=problems)
    missing_xy = ~np.isfinite(x) | ~np.isfinite(y) | ((x == 0) & (y == 0))
    if n and missing_xy.mean() > MAJORITY:
        problems.append(_missing_coordinate_problem(raw, x, y, xcol, ycol, missing_xy, file=file))
    ok_xy = ~missing_xy
    bounds = ((float(x[ok_xy].min()), float(y[ok_xy].min()), float(x[ok_xy].max()),
               float(y[ok_xy].max())) if ok_xy.any() else None)
    file_crs = raw.crs if isinstance(raw, gpd.GeoDataFrame) else None
    crs, crs_problems = resolve_crs(pyproj.CRS(file_crs) if file_crs is not None else None,
                                    spec.crs, file=file, section="incidents", bounds=bounds)
    problems += crs_problems

    parsed, bad_date, layouts, other_layouts = _date_step(raw, spec, file=file,
                                                          problems=problems)
    good_dates = parsed[~bad_date]
    data_first = good_dates.min().date() if len(good_dates) else None
    data_last = good_dates.max().date() if len(good_dates) else None
    keep = _filter_step(raw, spec, file=file, problems=problems, notes=notes)
    out_period = _period_step(parsed, study, spec, file=file, first=data_first,
                              last=data_last, problems=problems)

    # assign one reason per dropped row, in order
    reason = np.full(n, "", dtype=object)
    for name, mask in (("missing coordinates", missing_xy), ("bad date", bad_date),
                       ("excluded by filter", ~keep), ("outside the study period", out_period)):
        reason[(reason == "") & mask] = name
    repeats = _duplicate_step(raw, spec, reason == "", parsed, row_keys, file=file,
                              id_hint=id_hint, problems=problems, notes=notes)
    reason[(reason == "") & repeats] = "duplicate"
    kept = reason == ""
    in_scope = keep & ~out_period

    tx, ty = _project(x, y, ok_xy, keep, crs=crs, working_crs=working_crs, extent=extent,
                      spec=spec, extra_crs=extra_crs, file=file, columns=(xcol, ycol),
                      problems=problems)
    table = pd.DataFrame({
        "row": np.flatnonzero(kept) + 1,
        "x": tx[kept],
        "y": ty[kept],
        "date": parsed[kept].to_numpy(),
    })
    table["year"] = table["date"].dt.year.astype("int64")
    if spec.type:
        types = raw[spec.type].astype("str").where(raw[spec.type].notna()).str.strip()
        types = types.where(types.notna() & (types != ""), NOT_RECORDED)
        table["type"] = types[kept].to_numpy()
    dropped = {name: np.flatnonzero(reason == name) + 1 for name in DROP_ORDER}
    lost = {name: np.flatnonzero(in_scope & (reason == name)) + 1
            for name in ("missing coordinates", "bad date")}
    prepared = PreparedIncidents(table=table, rows_read=n, dropped=dropped,
                                 data_first=data_first, data_last=data_last,
                                 crs=crs_label(crs) if crs is not None else None,
                                 notes=tuple(notes), dates=parsed.reset_index(drop=True),
                                 in_scope=int(in_scope.sum()), lost=lost,
                                 date_layouts=layouts, other_layouts=other_layouts)
    return prepared, problems


def _project(x: np.ndarray, y: np.ndarray, ok_xy: np.ndarray, keep: np.ndarray, *,
             crs: pyproj.CRS | None, working_crs: str | None, extent: Sequence[float] | None,
             spec: IncidentsSpec, extra_crs: Sequence[str], file: str,
             columns: tuple[str, str], problems: list[Problem]) -> tuple[np.ndarray, np.ndarray]:
    """Reproject to the working CRS; most points outside the areas' extent is a problem."""
    n = len(x)
    tx = np.full(n, np.nan)
    ty = np.full(n, np.nan)
    if crs is None or working_crs is None or not ok_xy.any():
        return tx, ty
    tx[ok_xy], ty[ok_xy] = transform_xy(x[ok_xy], y[ok_xy], source=crs, target=working_crs)
    if extent is not None:
        relevant = ok_xy & keep
        inside = _inside(tx, ty, extent)
        outside = relevant & ~inside
        if relevant.any() and outside.sum() > MAJORITY * relevant.sum():
            fix = _diagnose_extent(x[relevant], y[relevant], crs, working=working_crs,
                                   extent=extent, spec=spec, extra=extra_crs)
            xcol, ycol = columns
            column = xcol if xcol == ycol else f"{xcol}/{ycol}"
            problems.append(Problem(
                file, f"{_pct(int(outside.sum()), int(relevant.sum()))} incidents lie "
                f"outside the extent of the areas when read as {crs_label(crs)}.",
                fix, column=column, rows=_rows(outside)))
    return tx, ty


# --------------------------------------------------------------------------- covariates

@dataclass(frozen=True)
class CovariateAccounting:
    """What happened to one covariate table's rows.

    ``dropped`` has the reasons ``other places`` (keys not in the area file: rows for
    other places, dropped) and ``no key`` (blank key, e.g. a footer line).
    ``rows_read == rows_used + sum(dropped)``.
    """

    name: str
    file: str
    rows_read: int
    rows_used: int
    dropped: dict[str, int]
    examples: dict[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        if self.rows_read != self.rows_used + sum(self.dropped.values()):
            raise AssertionError(f"covariate rows do not add up for {self.name}: {self}")

    @property
    def rows_dropped(self) -> int:
        """Rows read but not used."""
        return sum(self.dropped.values())


@dataclass(frozen=True)
class CovariateCheck:
    """Result of :func:`check_covariates`.

    ``sources`` maps each column of ``frame`` to its file and each area's row there, so
    later checks (:mod:`geo.plausible`) can name the rows of a value.
    """

    frame: pd.DataFrame
    accounting: tuple[CovariateAccounting, ...]
    problems: tuple[Problem, ...]
    notes: tuple[str, ...]
    sources: dict[str, Source] = field(default_factory=dict)


def covariate_needs(profile: Profile) -> dict[str, list[ColumnNeed]]:
    """Columns the exposure and features need, each with who asks for it."""
    needs: dict[str, list[ColumnNeed]] = {}

    def add(column: str | None, what: str, key: str, section: str) -> None:
        if column:
            needs.setdefault(column, []).append(ColumnNeed(column, what, key, section))

    add(profile.exposure.column, "the exposure", "column", "[exposure]")
    for f in profile.features:
        where = f"[features.{f.name}]"
        add(f.column, f"feature '{f.name}'", "column", where)
        for c in f.numerator:
            add(c, f"a numerator of feature '{f.name}'", "numerator", where)
        add(f.denominator, f"the denominator of feature '{f.name}'", "denominator", where)
    return needs


def area_needs(spec: AreasSpec) -> list[ColumnNeed]:
    """Columns the [areas] table names."""
    needs = [ColumnNeed(spec.id, "the area id", "id", "[areas]"),
             ColumnNeed(spec.name, "the area name", "name", "[areas]")]
    needs += [ColumnNeed(col, f"group '{label}'", f"groups.{label}", "[areas]")
              for label, col in spec.groups]
    return needs


def incident_needs(spec: IncidentsSpec, *, csv: bool) -> list[ColumnNeed]:
    """Columns the [incidents] table names (coordinates only for CSV files)."""
    needs = []
    if csv:
        needs += [ColumnNeed(spec.x or "", "the x coordinate (easting or longitude)", "x",
                             "[incidents]"),
                  ColumnNeed(spec.y or "", "the y coordinate (northing or latitude)", "y",
                             "[incidents]")]
    needs.append(ColumnNeed(spec.date, "the incident date", "date", "[incidents]"))
    if spec.type:
        needs.append(ColumnNeed(spec.type, "the incident type", "type", "[incidents]"))
    needs += [ColumnNeed(f.column, "a filter column", "column (in filters)", "[incidents]")
              for f in spec.filters]
    if spec.id:
        needs.append(ColumnNeed(spec.id, "the incident number", "id", "[incidents]"))
    return needs


def covariate_header_problems(profile: Profile,
                              headers: dict[str, tuple[str, ...]]) -> list[Problem]:
    """Check the covariate tables' headers: keys, drop_columns, referenced columns.

    Parameters
    ----------
    profile : Profile
    headers : dict
        Table name -> its column names, for the tables that could be opened.
    """
    problems: list[Problem] = []
    needs = covariate_needs(profile)
    kept: dict[str, list[str]] = {}
    for cov in profile.covariates:
        if cov.name not in headers:
            continue
        cols = headers[cov.name]
        section = f"[[covariates]] (name = \"{cov.name}\")"
        key_need = ColumnNeed(cov.key, "the key that joins rows to the areas' id", "key", section)
        problems += missing_columns(str(cov.path), cols, [key_need])
        problems += drop_column_conflicts(str(cov.path), cov.drop_columns,
                                          [key_need, *(n for c in cols if c in needs
                                                       for n in needs[c][:1])],
                                          section=section)
        kept[cov.name] = [c for c in cols if c not in cov.drop_columns]
    if len(kept) < len(profile.covariates):
        return problems  # some tables could not be opened: their columns are unknown
    available = [c for cols in kept.values() for c in cols]
    present = {c for cols in headers.values() for c in cols}
    files = ", ".join(str(c.path) for c in profile.covariates)
    for column, who in needs.items():
        if column in present:
            continue  # present (if dropped, reported above)
        matches = close_matches(column, available)
        hint = f" Did you mean '{matches[0]}'?" if matches else ""
        target = matches[0] if matches else "..."
        need = who[0]
        problems.append(Problem(
            files, f"is not in any covariate table ({need.what}, set by {need.key} in "
            f"{need.section}).{hint}",
            f"set {need.key} to \"{target}\" in {need.section} (or add the column to a "
            "covariate table).", column=column))
    return problems


def _numeric(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Numbers, and masks of empty cells and of text that is not a number."""
    text = values.astype("str").where(values.notna()).str.strip()
    empty = (text.isna() | (text == "")).to_numpy()
    numbers = pd.to_numeric(text.where(~empty), errors="coerce")
    not_number = ~empty & numbers.isna().to_numpy()
    return numbers.astype(float), empty, not_number


def _number_fix(examples: Sequence[str]) -> str:
    joined = " ".join(str(e) for e in examples)
    if re.search(r"\d,\d{3}", joined):
        return "remove the thousands separators (write 1234, not 1,234)."
    if "%" in joined:
        return "remove the % signs (write 12.5, not 12.5%)."
    return ("make every value a plain number (suppressed or missing values such as 'x', '..' "
            "or '-' need a value; correct or remove those areas).")


def check_covariates(profile: Profile, tables: dict[str, pd.DataFrame], *,
                     area_ids: pd.Index | None) -> CovariateCheck:
    """Join the covariate tables to the areas by key, checking every referenced column.

    Parameters
    ----------
    profile : Profile
    tables : dict
        Table name -> text DataFrame (as read), for the tables that could be read and
        have their key column.
    area_ids : pandas.Index or None
        The area ids in areas order; None when the areas could not be read (the keys
        are then not matched).

    Returns
    -------
    CovariateCheck
        ``frame`` is indexed by ``area_id`` (areas order) with the union of the tables'
        columns (keys dropped); columns that are all numbers are numeric.
    """
    problems: list[Problem] = []
    notes: list[str] = []
    accounting: list[CovariateAccounting] = []
    needs = covariate_needs(profile)
    owner: dict[str, str] = {}
    sources: dict[str, Source] = {}
    parts: list[pd.DataFrame] = []
    specs = {c.name: c for c in profile.covariates}
    for name, raw in tables.items():
        spec: CovariateSpec = specs[name]
        file = str(spec.path)
        n = len(raw)
        keys = _id_strings(raw[spec.key])
        no_key = (keys.isna() | (keys == "")).to_numpy()
        if area_ids is not None:
            other = ~no_key & ~keys.isin(area_ids).to_numpy()
        else:
            other = np.zeros(n, dtype=bool)
        used = ~no_key & ~other
        acc = CovariateAccounting(
            name=name, file=file, rows_read=n, rows_used=int(used.sum()),
            dropped={"other places": int(other.sum()), "no key": int(no_key.sum())},
            examples={"other places": tuple(keys[other].iloc[:_EXAMPLES]),
                      "no key": tuple(str(r) for r in _rows(no_key)[:_EXAMPLES])})
        accounting.append(acc)
        if other.any():
            notes.append(f"{file}: {int(other.sum()):,} rows are for places not in the area "
                         f"file and were dropped (e.g. {_examples(keys[other], 3)}).")
        if no_key.any():
            notes.append(f"{file}: {describe_rows(_rows(no_key))} have no value in "
                         f"'{spec.key}' and were ignored.")
        dup = used & keys.duplicated(keep=False).to_numpy()
        if dup.any():
            problems.append(Problem(
                file, f"each area needs exactly one row, but {_n(keys[dup].nunique(), 'key repeats', 'keys repeat')} "
                f"(e.g. {_examples(keys[dup])}).",
                "keep one row per area (if the table has one row per year or category, "
                "filter or pivot it first).", column=spec.key, rows=_rows(dup)))
        if area_ids is not None:
            have = set(keys[used])
            absent = [a for a in area_ids if a not in have]
            if absent:
                if not used.any():
                    msg = (f"no key matches an area id: the table has keys like "
                           f"{_examples(keys[~no_key])}, the areas have ids like "
                           f"{_examples(area_ids[:3])}.")
                    fix = (f"check that key = \"{spec.key}\" names the column with the same "
                           "codes as the areas' id (same geography and year of codes).")
                else:
                    msg = (f"{len(absent):,} of {len(area_ids):,} areas have no row in this "
                           f"table (e.g. {_examples(absent)}).")
                    fix = ("add a row for every area (the table must cover the whole area "
                           "file), or check that both use the same codes.")
                problems.append(Problem(file, msg, fix, column=spec.key))
        # referenced columns: numbers only, in the rows used
        for column, who in needs.items():
            if column not in raw.columns:
                continue
            numbers, empty, text = _numeric(raw[column])
            text = text & used
            empty = empty & used
            what = who[0].what
            if text.any():
                bad = raw[column][text]
                problems.append(Problem(
                    file, f"{what} must be numbers, but {_n(int(text.sum()), 'value is', 'values are')} not "
                    f"(e.g. {_examples(bad)}).", _number_fix(list(bad.iloc[:5])),
                    column=column, rows=_rows(text)))
            if empty.any():
                problems.append(Problem(
                    file, f"{what} has {_n(int(empty.sum()), 'empty value', 'empty values')}.",
                    "fill in every area's value (0 where it is truly zero).",
                    column=column, rows=_rows(empty)))
            if column == profile.exposure.column:
                negative = used & (numbers < 0).to_numpy()
                if negative.any():
                    problems.append(Problem(
                        file, "the exposure must not be negative.",
                        "correct the values.", column=column, rows=_rows(negative)))
        # build the frame: first row per key, in areas order
        body = raw.loc[used].drop(columns=[spec.key])
        body.index = pd.Index(keys[used], name=AREA_ID)
        first = ~body.index.duplicated(keep="first")
        body = body[first]
        row_of = pd.Series(np.flatnonzero(used)[first] + 1, index=body.index)
        rename = {}
        for column in body.columns:
            if column in owner:
                if column in needs:
                    problems.append(Problem(
                        file, f"is also in the '{owner[column]}' table, so "
                        f"{needs[column][0].what} is ambiguous.",
                        f"list \"{column}\" in drop_columns of one of the two tables.",
                        column=column))
                rename[column] = f"{name}.{column}"
            else:
                owner[column] = name
        sources.update({rename.get(c, c): Source(file, row_of) for c in body.columns})
        parts.append(body.rename(columns=rename))
    frame = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=pd.Index([], name=AREA_ID))
    if area_ids is not None:
        frame = frame.reindex(pd.Index(area_ids, name=AREA_ID))
    for column in frame.columns:
        numbers, empty, text = _numeric(frame[column])
        if not text.any() and not empty.all():
            frame[column] = numbers
    return CovariateCheck(frame=frame, accounting=tuple(accounting), problems=tuple(problems),
                          notes=tuple(notes), sources=sources)
