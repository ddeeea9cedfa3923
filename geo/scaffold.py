"""A first draft of a dataset profile, guessed from a service's own files.

``firerisk init`` reads the column names of the area, incident and covariate files and a
sample of their values, guesses which column is which, and writes a commented TOML profile.
Every guess is marked, and the provenance of each file is left empty on purpose: the draft
fails ``firerisk check`` until a person has filled it in, so no export ever goes out with an
invented licence or attribution.

Only column names and service-wide facts (value ranges, the share of values that parse)
are used; no value from a file is written into the draft. Columns the personal-data guard
(:mod:`geo.guard`) would refuse are never guessed from, and the draft discards them with
``drop_columns``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from firerisk.errors import InputFileError, PersonalDataError, Problem, UnsafeFileError
from firerisk.geo.guard import INPUT_KINDS, check_personal_data
from firerisk.geo.readers import (
    CsvLayout,
    detect_layout,
    is_csv,
    list_columns,
    pick_layer,
    read_attributes,
    read_csv_text,
)
from firerisk.geo.safefiles import admit
from firerisk.geo.validate import parse_dates

__all__ = ["Draft", "draft_profile"]

#: Rows read from each file to guess from (enough to tell codes, numbers and dates apart).
SAMPLE_ROWS = 5_000

_CODE = re.compile(r"^[A-Z]\d{8}$")  # ONS GSS codes such as E01000001
#: (key, label): a column whose name has a word starting with *key* groups areas by *label*.
_GROUP_LABELS = (("borough", "borough"), ("ltla", "local_authority"), ("lad", "local_authority"),
                 ("district", "district"), ("ward", "ward"), ("wd", "ward"),
                 ("station", "station"), ("stn", "station"), ("utla", "county"),
                 ("cty", "county"), ("county", "county"), ("msoa", "msoa"))
#: (kind, x names, y names) of incident coordinates, in order of preference.
_XY_PAIRS = (
    ("grid", ("easting", "easting_m", "bng_e", "eastings"),
     ("northing", "northing_m", "bng_n", "northings")),
    ("geographic", ("longitude", "lon", "long", "lng"), ("latitude", "lat")),
    ("either", ("x_coord", "x_coordinate", "xcoord", "x"),
     ("y_coord", "y_coordinate", "ycoord", "y")),
)
#: GIS bookkeeping and coordinate columns of boundary files (ONS and others), normalised.
_TECHNICAL = re.compile(r"^(fid|ogc_fid|objectid|object_id|globalid|global_id|"
                        r"shape_?(area|length|leng|len)|st_(area|length)_shape|bng_[en]|"
                        r"lat|long|lon|lng|latitude|longitude|easting|northing|x|y)$")
_ISO_NOTE = ("# date_format left out: the dates are ISO 8601 (e.g. 2024-01-31T14:05:00), "
             "read without it")
_NO_FORMAT_NOTE = ("# No one date_format reads every sampled date (e.g. some have a time, some",
                   "# not): save the dates in one layout and set it, e.g. for 31/01/2024 14:05:",
                   '# date_format = "%d/%m/%Y %H:%M"')
#: Column names that hold years, months or references rather than dates.
_NOT_DATE = re.compile(r"year|month|number|(id|_no|ref)$")
#: Day, month and year in some order: 31/01/2024, 2024-01-31, 31 Jan 2024.
_DATEISH = re.compile(r"\d{1,4}[-/. ](\d{1,2}|[A-Za-z]{3,9})[-/. ]\d{2,4}")
#: Date formats tried for ``date_format``, UK day-first layouts before US month-first.
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d-%m-%Y",
                 "%d.%m.%Y", "%Y/%m/%d", "%d-%b-%Y", "%d %b %Y", "%d/%m/%y", "%d/%m/%y %H:%M",
                 "%m/%d/%Y", "%m/%d/%Y %H:%M")
_UK_LONLAT = (-11.0, 49.0, 3.0, 62.0)
#: Words that make a household column a rate or an average, not a count of households.
_NOT_COUNT = frozenset({"percent", "pct", "per", "share", "rate", "ratio", "proportion",
                        "prop", "average", "avg", "mean", "median", "size", "persons",
                        "people", "residents"})
_BNG = (0.0, 0.0, 700_000.0, 1_300_000.0)


@dataclass(frozen=True)
class Draft:
    """A drafted profile: its TOML text, and what could not be guessed."""

    text: str
    unresolved: tuple[str, ...] = field(default=())


_CSV_FIX = "save it as CSV (UTF-8) with one header row, e.g. 'CSV UTF-8' in Excel."
_VECTOR_FIX = ("save it as GeoJSON, GeoPackage or a zipped Shapefile (.zip holding .shp, .shx, "
               ".dbf and .prj).")


def _sample(path: Path, layer: str | None = None,
            layout: CsvLayout | None = None) -> pd.DataFrame:
    """The first :data:`SAMPLE_ROWS` rows, every value as text (None when missing)."""
    try:
        if is_csv(path):
            cols = list_columns(path, layout=layout)
            return read_csv_text(path, columns=cols, layout=layout, nrows=SAMPLE_ROWS)
        frame = read_attributes(path, layer=layer, max_features=SAMPLE_ROWS)
    except InputFileError:
        raise
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError,
            EOFError, ValueError, DataSourceError, DataLayerError) as exc:
        kind = "CSV" if is_csv(path) else "a GeoJSON, GeoPackage or zipped Shapefile"
        raise InputFileError([Problem(str(path), f"could not be read as {kind} ({exc}).",
                                      _CSV_FIX if is_csv(path) else _VECTOR_FIX)]) from exc
    return pd.DataFrame(frame).astype(str).where(frame.notna())


def _admit_files(areas: Path, incidents: Path, covariates: Sequence[Path]) -> None:
    """Every file that exists passes geo.safefiles.admit (type, size, archives) before any
    reader opens it; one error for all the refused files. (Which kind suits which role is
    checked next, with messages about polygons and tables.)"""
    problems: list[Problem] = []
    kinds = frozenset().union(*INPUT_KINDS.values())
    for path in (areas, incidents, *covariates):
        if path.exists():
            try:
                admit(path, allowed=kinds)
            except UnsafeFileError as exc:
                problems += exc.problems
    if problems:
        raise UnsafeFileError(problems)


def _layout_lines(path: Path, section: str) -> tuple[CsvLayout, list[str]]:
    """The CSV layout of a file, and the profile lines for what differs from the default."""
    layout = detect_layout(path, CsvLayout(section=section))
    lines = [f"{line}   # guessed from the file" for line in CsvLayout().keys(layout)]
    if layout.skip_rows:
        lines[-1] += ": the lines above the header are not part of the table"
    return layout, lines


def _incident_id(frame: pd.DataFrame) -> str | None:
    """A column named like an incident number whose sampled values (nearly) never repeat."""
    for col in frame.columns:
        norm = _norm(str(col))
        if re.fullmatch(r"(incident|inc|call|job|event)_?(number|no|num|id|ref)", norm):
            values = frame[col].dropna()
            if len(values) and values.nunique() > 0.95 * len(values):
                return str(col)
    return None


def _check_files(areas: Path, incidents: Path, covariates: Sequence[Path]) -> None:
    """Every file exists, the areas are polygons and the tables are CSV; one error for all."""
    problems = [Problem(str(p), "the file does not exist.", "check the path.")
                for p in (areas, incidents, *covariates) if not p.exists()]
    _admit_files(areas, incidents, covariates)
    if areas.exists():
        geometry = None
        if not is_csv(areas):
            try:
                geometry = pyogrio.read_info(areas, layer=pick_layer(areas, None,
                                                                      section="areas"))[
                    "geometry_type"]
            except (DataSourceError, DataLayerError, OSError) as exc:
                problems.append(Problem(str(areas), f"could not be read ({exc}).", _VECTOR_FIX))
                geometry = ""
        if geometry is None or (geometry and "polygon" not in str(geometry).lower()):
            problems.append(Problem(
                str(areas), f"holds no area polygons (geometry: {geometry or 'none'}).",
                "give --areas the boundary file of your small areas, saved as GeoJSON, "
                "GeoPackage or a zipped Shapefile."))
    problems += [Problem(str(p), "is not a CSV file.", _CSV_FIX)
                 for p in covariates if p.exists() and not is_csv(p)]
    if problems:
        raise InputFileError(problems)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _numeric_share(values: pd.Series) -> float:
    """Share of the non-empty values that are plain numbers (0 when all are empty)."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    return float(_numbers(text).notna().mean()) if len(text) else 0.0


def _clean_numbers(values: pd.Series) -> tuple[pd.Series, bool]:
    """Numbers read through thousands separators and spaces, and whether any were needed.

    Parameters
    ----------
    values : pandas.Series
        Text values such as ``"530,123"`` or ``" 180 456 "``.

    Returns
    -------
    numbers, needed
        The numbers (NaN where unreadable) and True when a separator or inner space had to
        be removed for some value to read (the loader reads plain numbers only).
    """
    text = values.astype(str).where(values.notna()).str.strip()
    cleaned = (text.str.replace(r"[\s\u00a0\u202f]+", "", regex=True)
               .str.replace(r"(?<=\d),(?=\d{3}(?:\D|$))", "", regex=True))
    plain, numbers = _numbers(text), _numbers(cleaned)
    return numbers, bool((plain.isna() & numbers.notna()).any())


def _fractional(values: pd.Series) -> bool:
    """True for a column of numbers with decimals (an area, a length, a coordinate)."""
    numbers = _numbers(values.dropna())
    return bool(numbers.notna().all() and (numbers % 1 != 0).any())


def _code_share(values: pd.Series) -> float:
    text = values.dropna().astype(str).str.strip()
    return float(text.str.match(_CODE).mean()) if len(text) else 0.0


def _technical(col: str) -> bool:
    """A GIS bookkeeping or coordinate column (never an area's id, name or group)."""
    return bool(_TECHNICAL.match(_norm(col)))


def _year(col: str) -> int:
    """The two-digit edition year in a column name (``LSOA21CD`` -> 21; 0 when none)."""
    found = re.findall(r"\d{2,4}", col)
    return int(found[-1][-2:]) if found else 0


def _stem(col: str) -> str:
    """A column name without its code/name suffix (``LSOA21CD`` and ``LSOA21NM`` -> lsoa21)."""
    return re.sub(r"_?(cd|code|id|nm|name)$", "", _norm(col))


def _is_name(col: str) -> bool:
    norm = _norm(col)
    return "name" in norm or norm.endswith("nm")


def _area_id(frame: pd.DataFrame) -> str | None:
    """The column of unique area codes: GSS codes first (newest edition), then by name."""
    unique = [c for c in frame.columns if not _technical(c) and frame[c].notna().all()
              and frame[c].is_unique]
    coded = sorted((c for c in unique if _code_share(frame[c]) > 0.95), key=_year, reverse=True)
    named = [c for c in unique if re.search(r"(cd|code|id)$", _norm(c))]
    whole = [c for c in unique if not _is_name(c) and not _fractional(frame[c])]
    for pool in (coded, named, whole):
        if pool:
            return str(pool[0])
    return None


def _area_name(frame: pd.DataFrame, id_col: str | None) -> str | None:
    """The column of area names: (nearly) unique, and sharing the id column's stem if any."""
    names = [c for c in frame.columns if c != id_col and _is_name(c) and not _technical(c)]
    # an area's own name is (nearly) unique; a borough name repeats
    unique = [c for c in names if frame[c].nunique() > 0.9 * len(frame)]
    stem = _stem(id_col) if id_col else None
    pool = sorted(unique or names, key=lambda c: _stem(c) != stem)
    return str(pool[0]) if pool else None


def _group_label(col: str) -> str | None:
    norm = _norm(col)
    return next((lab for key, lab in _GROUP_LABELS if re.search(rf"(^|_){key}", norm)), None)


def _groups(frame: pd.DataFrame, used: Sequence[str | None]) -> list[tuple[str, str]]:
    """Columns that group areas (borough, ward ...): names preferred over codes."""
    out: list[tuple[str, str]] = []
    n = len(frame)
    for col in sorted(frame.columns, key=lambda c: not _is_name(c)):
        if col in used or _technical(col) or _code_share(frame[col]) > 0.5:
            continue
        k = frame[col].nunique()
        if not 2 <= k <= n // 2:  # a group holds two areas or more on average
            continue
        label = _group_label(col)
        if label and label not in dict(out):
            out.append((label, str(col)))
    return out


def _pick(columns: Sequence[str], names: Sequence[str]) -> str | None:
    normed = {_norm(c): c for c in columns}
    for name in names:
        if name in normed:
            return str(normed[name])
    for name in names:
        for norm, col in normed.items():
            if norm.startswith(name + "_") or norm.endswith("_" + name):
                return str(col)
    return None


def _coordinates(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[str, str, str] | None:
    """The x and y columns and their kind (``grid``, ``geographic`` or ``either``), by name.

    A pair whose values are mostly numbers wins over one that is not.
    """
    found = []
    for kind, xs, ys in _XY_PAIRS:
        x, y = _pick(columns, xs), _pick(columns, ys)
        if x and y and x != y:
            found.append((x, y, kind))
    readable = [f for f in found
                if min(_clean_numbers(frame[f[0]])[0].notna().mean(),
                       _clean_numbers(frame[f[1]])[0].notna().mean()) > 0.5]
    pool = readable or found
    return pool[0] if pool else None


def _guess_crs(x: pd.Series, y: pd.Series, *, kind: str = "either") -> str | None:
    """EPSG:27700 or EPSG:4326 when at least 95 % of the points fit it, else None.

    Longitude/latitude must lie around the UK and grid metres must be metres (not tiny
    numbers); ``kind`` (``grid``, ``geographic`` or ``either``, from the column names)
    rules out the other system. Points at (0, 0) are missing values and are ignored.
    """
    xs, ys = _clean_numbers(x)[0], _clean_numbers(y)[0]
    ok = xs.notna() & ys.notna() & ~((xs == 0) & (ys == 0))
    xs, ys = xs[ok], ys[ok]
    if xs.empty:
        return None
    x0, y0, x1, y1 = _UK_LONLAT
    if kind != "grid" and (xs.between(x0, x1) & ys.between(y0, y1)).mean() >= 0.95:
        return "EPSG:4326"
    x0, y0, x1, y1 = _BNG
    if kind != "geographic" and (xs.between(x0, x1) & ys.between(y0, y1)).mean() >= 0.95 \
            and min(xs.median(), ys.median()) > 1_000:
        return "EPSG:27700"
    return None


def _date_share(values: pd.Series, fmt: str | None) -> float:
    """Share of the non-empty values the loader reads with ``date_format = fmt``."""
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    return float(parse_dates(text, fmt).notna().mean()) if len(text) else 0.0


def _looks_like_date(col: str, values: pd.Series) -> bool:
    """Text dates (not numbers such as years or incident numbers) the loader can read."""
    norm = _norm(col)
    if "date" not in norm and _NOT_DATE.search(norm):
        return False
    if values.dropna().empty or _numeric_share(values) > 0.5:
        return False
    text = values.dropna().astype(str).str.strip()
    if text.str.match(_DATEISH).mean() <= 0.9:  # cheap test before parsing every format
        return False
    readable = pd.Series(False, index=text.index)
    for fmt in (*_DATE_FORMATS, None):
        readable |= parse_dates(text, fmt).notna()
    return bool(readable.mean() > 0.9)


def _date_rank(col: str) -> int:
    norm = _norm(col)
    if "date" in norm:
        return 0 if any(w in norm for w in ("call", "incident", "alarm")) else 1
    return 2 if any(w in norm for w in ("time", "call", "when")) else 3


def _date_column(frame: pd.DataFrame) -> str | None:
    """The incident date column: named like one (call date first) and readable as dates."""
    for col in sorted(frame.columns, key=_date_rank):
        if _looks_like_date(col, frame[col]):
            return str(col)
    return None


def _date_format(values: pd.Series) -> str | None:
    """The first format in :data:`_DATE_FORMATS` that reads every sampled date, else None."""
    return next((f for f in _DATE_FORMATS if _date_share(values, f) == 1.0), None)


def _key_column(frame: pd.DataFrame, ids: set[str]) -> tuple[str | None, str]:
    """The column holding area codes, and why it was picked ('' when none was).

    Shares are of the non-empty values, so blank rows and a footer of notes do not count.
    """
    best, share = None, 0.0
    for col in frame.columns:
        values = frame[col].dropna().astype(str).str.strip()
        s = float(values.isin(ids).mean()) if len(values) else 0.0
        if s > share:
            best, share = str(col), s
    if best is not None and share > 0.5:
        return best, f"{share:.0%} of sampled values are area codes"
    # A national table read for one service: its first rows are other places. Look for the
    # same kind of code (the same three-character GSS prefixes) instead.
    prefixes = {i[:3] for i in ids if _CODE.match(i)}
    best, share = None, 0.0
    for col in frame.columns:
        values = frame[col].dropna().astype(str).str.strip()
        s = float((values.str.match(_CODE) & values.str[:3].isin(prefixes)).mean()) \
            if prefixes and len(values) else 0.0
        if s > share:
            best, share = str(col), s
    if best is not None and share > 0.8:
        return best, ("the same kind of codes as the areas (rows for other places "
                      "are dropped and counted)")
    return None, ""


def _data_rows(frame: pd.DataFrame, key: str | None, ids: set[str]) -> pd.DataFrame:
    """The rows that hold an area code in *key* (no blank, note or footer rows)."""
    if key is None:
        return frame.dropna(how="all")
    values = frame[key].astype(str).where(frame[key].notna()).str.strip()
    keep = values.isin(ids) | values.str.match(_CODE).fillna(False).astype(bool)
    return frame[keep] if keep.any() else frame.dropna(how="all")


def _counts(values: pd.Series) -> bool:
    """True when (nearly) every value is a whole number of zero or more."""
    numbers = _numbers(values.dropna().astype(str).str.strip())
    return bool(len(numbers) and numbers.notna().mean() > 0.95
                and ((numbers >= 0) & (numbers % 1 == 0)).mean() > 0.95)


def _exposure_rank(col: str) -> int | None:
    """How surely a column is the number of households (0 best; None: it is not)."""
    words = _norm(col).split("_")
    if not any(w.startswith("household") for w in words) or "%" in col \
            or any(w in _NOT_COUNT for w in words):
        return None
    rest = [w for w in words if w not in ("total", "all", "number", "of", "count", "hh")]
    if rest in (["households"], ["household"]):
        return 0  # "Households total", "total_households", "Number of households"
    return 1 if {"total", "all"} & set(words) else 2


def _exposure(tables: Sequence[tuple[str, pd.DataFrame]]) -> tuple[str, str] | None:
    """The table and column with the number of households per area (whole numbers)."""
    ranked = [(rank, name, str(col)) for name, frame in tables for col in frame.columns
              if (rank := _exposure_rank(str(col))) is not None and _counts(frame[col])]
    if not ranked:
        return None
    _, name, col = min(ranked, key=lambda r: r[0])
    return name, col


def _personal(frame: pd.DataFrame, file: Path) -> dict[str, str]:
    """Columns the personal-data guard refuses, with the first reason for each."""
    try:
        check_personal_data(frame, file=str(file))
    except PersonalDataError as exc:
        out: dict[str, str] = {}
        for problem in exc.problems:
            if problem.column and problem.column not in out:
                out[problem.column] = problem.message.split(";")[0]
        return out
    return {}


def _drop_lines(personal: dict[str, str]) -> list[str]:
    if not personal:
        return []
    lines = ["# Personal data: these columns would be refused. They are discarded at read time",
             "# below; better still, keep a copy of the file without them."]
    lines += [f"#   {col}: {reason}" for col, reason in personal.items()]
    lines.append(f"drop_columns = {_toml(list(personal))}")
    return lines


def _toml(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _provenance(section: str) -> list[str]:
    return [f"[{section}.provenance]",
            "# Fill these in before building: every export prints them.",
            'publisher = ""      # who published or shared the file',
            'licence = ""        # e.g. "Open Government Licence v3.0" (or agreement = "DSA ref")',
            'attribution = ""    # the exact attribution text the licence asks for',
            'date = ""           # when this edition was published, e.g. "2024-10"', ""]


def _table_name(path: Path, taken: set[str]) -> str:
    base = _norm(path.name.split(".")[0]) or "table"
    base = base if base[0].isalpha() else f"t_{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _coordinate_lines(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """The ``x``, ``y`` and ``crs`` lines of [incidents], and the keys left unguessed."""
    pair = _coordinates(frame, columns)
    if pair is None:
        return (['x = ""   # not guessed: the easting or longitude column',
                 'y = ""   # not guessed: the northing or latitude column',
                 'crs = "EPSG:27700"   # or "EPSG:4326" for longitude/latitude'],
                ["incidents.x", "incidents.y"])
    x, y, kind = pair
    lines = [f"x = {_toml(x)}   # guessed", f"y = {_toml(y)}   # guessed"]
    if _clean_numbers(frame[x])[1] or _clean_numbers(frame[y])[1]:
        lines.append("# Some sampled coordinates hold thousands separators or spaces: save "
                     "these columns as plain numbers (530123, not 530,123).")
    crs = _guess_crs(frame[x], frame[y], kind=kind)
    if crs:
        return [*lines, f"crs = {_toml(crs)}   # guessed from the coordinate ranges"], []
    note = ('crs = ""   # not guessed: "EPSG:27700" for British National Grid, "EPSG:4326" '
            "for longitude/latitude")
    return [*lines, note], ["incidents.crs"]


def _date_lines(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The ``date`` and ``date_format`` lines of [incidents], and the keys left unguessed.

    ``date_format`` is left out when the dates are ISO 8601 in more than one layout (the
    loader reads ISO 8601 without it); it is left to the user when no format reads them all.
    """
    date = _date_column(frame)
    if date is None:
        return (['date = ""   # not guessed: the column with the date of each incident'],
                ["incidents.date"])
    lines = [f"date = {_toml(date)}   # guessed"]
    fmt = _date_format(frame[date])
    if fmt:
        return [*lines, f"date_format = {_toml(fmt)}   # guessed: every sampled date fits it"], []
    if _date_share(frame[date], None) == 1.0:
        return [*lines, _ISO_NOTE], []
    pair = _date_formats(frame[date])
    if pair:
        return [*lines, f"date_format = {_toml(pair[0])}   # guessed: most sampled dates fit it",
                (f"other_date_formats = {_toml(list(pair[1:]))}   # guessed: the other dates "
                 "fit these (better: save every date in one layout)")], []
    return [*lines, *_NO_FORMAT_NOTE], ["incidents.date_format"]


def _date_formats(values: pd.Series) -> tuple[str, ...] | None:
    """Two layouts that together read every sampled date (the commoner first), or None.

    Layouts that differ only by a time of day are not paired (those dates are better saved
    in one layout, see ``_NO_FORMAT_NOTE``), nor day-first with month-first ones, which
    would read 03/01 both ways."""

    def day_first(fmt: str) -> bool | None:
        if fmt.startswith("%Y"):
            return None  # year first: unambiguous next to either
        return fmt.find("%d") < fmt.find("%m")

    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    read = {f: parse_dates(text, f).notna() for f in _DATE_FORMATS}
    ranked = sorted(read, key=lambda f: -int(read[f].sum()))
    for first in ranked[:3]:
        for second in ranked:
            timed = first.startswith(second) or second.startswith(first)
            orders = {day_first(first), day_first(second)} - {None}
            if second != first and not timed and len(orders) < 2 \
                    and bool((read[first] | read[second]).all()):
                return first, second
    return None


def draft_profile(*, areas: str | Path, incidents: str | Path, covariates: Sequence[str | Path],
                  relative_to: str | Path | None = None, name: str | None = None) -> Draft:
    """Guess a dataset profile from the files themselves.

    Parameters
    ----------
    areas, incidents : path
        The area boundaries and the incident file.
    covariates : sequence of path
        One or more CSV tables with one row per area (one of them with households).
    relative_to : path, optional
        Folder the profile will be saved in: file paths are written relative to it.
    name : str, optional
        Title of the dataset (default: from the incident file's name).

    Returns
    -------
    Draft
        The TOML text (every guess commented) and the keys that could not be guessed.

    Raises
    ------
    InputFileError
        Listing every file that is missing or cannot be read, or area boundaries that are
        not polygons.
    """
    base = Path(relative_to).resolve() if relative_to is not None else None

    def where(p: Path) -> str:
        p = p.resolve()
        if base is not None:
            try:
                return p.relative_to(base).as_posix()
            except ValueError:
                pass
        return p.as_posix()

    areas, incidents = Path(areas), Path(incidents)
    cov_paths = [Path(c) for c in covariates]
    _check_files(areas, incidents, cov_paths)
    unresolved: list[str] = []
    lines = ["# Draft dataset profile written by `firerisk init`. Every guess is marked",
             "# 'guessed': check it against your files. Then fill in each [*.provenance]",
             "# table and run `firerisk check --config THIS_FILE` until it reports no problem.",
             "# Every key is documented in the README, \"Using your own data\".",
             f"name = {_toml(name or incidents.name.split('.')[0].replace('_', ' '))}",
             'service = ""   # your fire and rescue service',
             'contact = ""   # who residents should contact, printed on the leaflet', ""]

    # Areas
    layer = pick_layer(areas, None, section="areas")
    a = _sample(areas, layer)
    id_col = _area_id(a)
    name_col = _area_name(a, id_col)
    groups = _groups(a, [id_col, name_col])
    crs = pyogrio.read_info(areas, layer=layer).get("crs")
    lines += ["[areas]", f"path = {_toml(where(areas))}"]
    lines.append(f"id = {_toml(id_col or '')}   # guessed: unique codes" if id_col else
                 'id = ""   # not guessed: the column with each area\'s unique code')
    if not id_col:
        unresolved.append("areas.id")
    lines.append(f"name = {_toml(name_col or '')}   # guessed" if name_col else
                 'name = ""   # not guessed: the column with each area\'s name')
    if not name_col:
        unresolved.append("areas.name")
    if groups:
        inline = ", ".join(f"{lab} = {_toml(col)}" for lab, col in groups)
        lines.append(f"groups = {{ {inline} }}   # guessed: filters in the app; rename or "
                     "remove")
    else:
        lines.append('# groups = { borough = "borough_name_column" }   # none guessed')
    if not crs:
        lines.append('crs = ""   # the file has no CRS: give it, e.g. "EPSG:27700"')
        unresolved.append("areas.crs")
    lines += ["", *_provenance("areas")]

    # Incidents
    inc_layer = None if is_csv(incidents) else pick_layer(incidents, None, section="incidents")
    inc_layout, layout_lines = (_layout_lines(incidents, "[incidents]") if is_csv(incidents)
                                else (None, []))
    i = _sample(incidents, inc_layer, inc_layout)
    personal = _personal(i, incidents)
    i = i.drop(columns=list(personal))
    lines += ["[incidents]", f"path = {_toml(where(incidents))}", *layout_lines]
    number = _incident_id(i)
    if number:
        lines.append(f"id = {_toml(number)}   # guessed: an incident number (rows repeating "
                     "it are counted once)")
    if is_csv(incidents):
        cols = [c for c in list_columns(incidents, layout=inc_layout) if c not in personal]
        more, todo = _coordinate_lines(i, cols)
        lines += more
        unresolved += todo
    more, todo = _date_lines(i)
    lines += more
    unresolved += todo
    lines += _drop_lines(personal)
    lines += ['# filters = [{ column = "motive", values = ["Accidental"] }]   # optional',
              "", *_provenance("incidents")]

    # Covariate tables
    ids: set[str] = set()
    if id_col:
        ids = set(read_attributes(areas, layer=layer, columns=[id_col])[id_col]
                  .astype(str).str.strip())
    tables: list[tuple[str, pd.DataFrame]] = []
    taken: set[str] = set()
    numeric: list[tuple[str, str]] = []
    for path in cov_paths:
        tname = _table_name(path, taken)
        layout, layout_lines = _layout_lines(path, f"[[covariates]] (name = \"{tname}\")")
        frame = _sample(path, layout=layout)
        personal = _personal(frame, path)
        frame = frame.drop(columns=list(personal))
        key, why = _key_column(frame, ids) if ids else (None, "")
        lines += ["[[covariates]]", f"name = {_toml(tname)}", f"path = {_toml(where(path))}",
                  *layout_lines]
        if key:
            lines.append(f"key = {_toml(key)}   # guessed: {why}")
        else:
            lines.append('key = ""   # not guessed: the column holding the area codes')
            unresolved.append(f"covariates[{tname}].key")
        lines += [*_drop_lines(personal), "", *_provenance("covariates")]
        data = _data_rows(frame, key, ids).drop(columns=[key] if key else [])
        tables.append((tname, data))
        numeric += [(tname, str(c)) for c in data.columns
                    if _numbers(data[c]).notna().mean() > 0.95]

    exposure = _exposure(tables)
    lines.append("[exposure]")
    if exposure:
        lines.append(f"column = {_toml(exposure[1])}   # guessed (table {exposure[0]}): "
                     "households per area")
    else:
        lines.append('column = ""   # not guessed: the number of households per area')
        unresolved.append("exposure.column")
    lines += ['label = "households"', ""]

    scores = [c for _, c in numeric if "score" in _norm(c)
              and (not exposure or c != exposure[1])]
    lines.append("# Model features: what may explain dwelling fires. Each needs a label in plain")
    lines.append("# words (used in the reasons shown to residents).")
    if scores:
        col = scores[0]
        lines += [f"[features.{_norm(col)}]", f"column = {_toml(col)}   # guessed",
                  f"label = {_toml(col.replace('_', ' '))}   # write it in plain words",
                  'unit = "score"', ""]
    else:
        unresolved.append("features")
    others = [c for _, c in numeric if c not in scores[:1]
              and (not exposure or c != exposure[1])]
    if others:
        lines.append("# Other numeric columns that could become features: "
                     + ", ".join(others[:12]) + (" ..." if len(others) > 12 else ""))
        counts = [c for t, c in numeric if exposure and t == exposure[0] and c != exposure[1]]
        if exposure and counts:
            lines += ["# A share of households, for example:",
                      "# [features.some_share]",
                      f"# numerator = [{_toml(counts[0])}]",
                      f"# denominator = {_toml(exposure[1])}",
                      '# label = "Households that ..."',
                      '# unit = "percent"',
                      '# (one column with unit = "percent" must hold shares from 0 to 1;',
                      "#  for percentages from 0 to 100, add scale = 100)"]
        lines.append("")
    lines += ["[disclosure]", "threshold = 5", 'mode = "internal"', ""]
    return Draft(text="\n".join(lines) + "\n", unresolved=tuple(unresolved))
