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

from geo.errors import InputFileError, PersonalDataError, Problem
from geo.guard import check_personal_data
from geo.readers import is_csv, list_columns, pick_layer

__all__ = ["Draft", "draft_profile"]

#: Rows read from each file to guess from (enough to tell codes, numbers and dates apart).
SAMPLE_ROWS = 5_000

_CODE = re.compile(r"^[A-Z]\d{8}$")  # ONS GSS codes such as E01000001
_GROUP_LABELS = (("borough", "borough"), ("ltla", "local_authority"), ("lad", "local_authority"),
                 ("district", "district"), ("ward", "ward"), ("station", "station"),
                 ("msoa", "msoa"))
_X_NAMES = ("easting", "x", "lon", "longitude", "long", "x_coordinate")
_Y_NAMES = ("northing", "y", "lat", "latitude", "y_coordinate")
_BNG = (0.0, 0.0, 700_000.0, 1_300_000.0)


@dataclass(frozen=True)
class Draft:
    """A drafted profile: its TOML text, and what could not be guessed."""

    text: str
    unresolved: tuple[str, ...] = field(default=())


_CSV_FIX = "save it as CSV (UTF-8) with one header row, e.g. 'CSV UTF-8' in Excel."
_VECTOR_FIX = ("save it as GeoJSON, GeoPackage or a zipped Shapefile (.zip holding .shp, .shx, "
               ".dbf and .prj).")


def _sample(path: Path, layer: str | None = None) -> pd.DataFrame:
    """The first :data:`SAMPLE_ROWS` rows, every value as text (None when missing)."""
    try:
        if is_csv(path):
            return pd.read_csv(path, nrows=SAMPLE_ROWS, dtype=str, keep_default_na=False,
                               na_values=[""], encoding="utf-8-sig")
        frame = pyogrio.read_dataframe(path, layer=layer, read_geometry=False,
                                       max_features=SAMPLE_ROWS)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError,
            EOFError, ValueError, DataSourceError, DataLayerError) as exc:
        kind = "CSV" if is_csv(path) else "a GeoJSON, GeoPackage or zipped Shapefile"
        raise InputFileError([Problem(str(path), f"could not be read as {kind} ({exc}).",
                                      _CSV_FIX if is_csv(path) else _VECTOR_FIX)]) from exc
    return pd.DataFrame(frame).astype(str).where(frame.notna())


def _check_files(areas: Path, incidents: Path, covariates: Sequence[Path]) -> None:
    """Every file exists, the areas are polygons and the tables are CSV; one error for all."""
    problems = [Problem(str(p), "the file does not exist.", "check the path.")
                for p in (areas, incidents, *covariates) if not p.exists()]
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


def _code_share(values: pd.Series) -> float:
    text = values.dropna().astype(str).str.strip()
    return float(text.str.match(_CODE).mean()) if len(text) else 0.0


def _area_id(frame: pd.DataFrame) -> str | None:
    unique = [c for c in frame.columns if frame[c].notna().all() and frame[c].is_unique]
    coded = [c for c in unique if _code_share(frame[c]) > 0.95]
    for pool in (coded, [c for c in unique if any(k in _norm(c) for k in ("code", "id"))],
                 unique):
        if pool:
            return str(pool[0])
    return None


def _area_name(frame: pd.DataFrame, id_col: str | None) -> str | None:
    names = [c for c in frame.columns
             if c != id_col and ("name" in _norm(c) or _norm(c).endswith("nm"))]
    # an area's own name is (nearly) unique; a borough name repeats
    unique = [c for c in names if frame[c].nunique() > 0.9 * len(frame)]
    pool = unique or names
    return str(pool[0]) if pool else None


def _groups(frame: pd.DataFrame, used: Sequence[str | None]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    n = len(frame)
    for col in frame.columns:
        if col in used or _code_share(frame[col]) > 0.5:
            continue
        k = frame[col].nunique()
        if not 2 <= k <= n // 2:  # a group holds two areas or more on average
            continue
        norm = _norm(col)
        label = next((lab for key, lab in _GROUP_LABELS if key in norm), None)
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


def _guess_crs(x: pd.Series, y: pd.Series) -> str | None:
    x, y = _numbers(x).dropna(), _numbers(y).dropna()
    if x.empty or y.empty:
        return None
    if x.between(-180, 180).all() and y.between(-90, 90).all():
        return "EPSG:4326"
    x0, y0, x1, y1 = _BNG
    if x.between(x0, x1).all() and y.between(y0, y1).all() and x.median() > 1_000:
        return "EPSG:27700"
    return None


def _date_column(frame: pd.DataFrame) -> str | None:
    candidates = sorted(frame.columns, key=lambda c: "date" not in _norm(c))
    for col in candidates:
        values = frame[col].dropna().astype(str)
        if values.empty or _numbers(values).notna().mean() > 0.5:
            continue
        parsed = pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=True)
        if parsed.notna().mean() > 0.9:
            return str(col)
    return None


def _date_format(values: pd.Series) -> str | None:
    text = values.dropna().astype(str)
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M", "%d-%m-%Y"):
        if pd.to_datetime(text, format=fmt, errors="coerce").notna().all():
            return fmt
    return None


def _key_column(frame: pd.DataFrame, ids: set[str]) -> tuple[str | None, str]:
    """The column holding area codes, and why it was picked ('' when none was)."""
    best, share = None, 0.0
    for col in frame.columns:
        values = frame[col].dropna().astype(str).str.strip()
        if values.empty:
            continue
        s = float(values.isin(ids).mean())
        if s > share:
            best, share = str(col), s
    if best is not None and share > 0.5:
        return best, f"{share:.0%} of sampled values are area codes"
    # A national table read for one service: its first rows are other places. Look for the
    # same kind of code (the same three-character GSS prefixes) instead.
    prefixes = {i[:3] for i in ids if _CODE.match(i)}
    for col in frame.columns:
        values = frame[col].dropna().astype(str).str.strip()
        if prefixes and len(values) and (values.str.match(_CODE)
                                         & values.str[:3].isin(prefixes)).mean() > 0.95:
            return str(col), ("the same kind of codes as the areas (rows for other places "
                              "are dropped and counted)")
    return None, ""


def _exposure(tables: Sequence[tuple[str, pd.DataFrame]]) -> tuple[str, str] | None:
    for name, frame in tables:
        for col in frame.columns:
            norm = _norm(col)
            if "household" in norm and ("total" in norm or norm in ("households", "household"))\
                    and _numbers(frame[col]).notna().mean() > 0.95:
                return name, str(col)
    for name, frame in tables:
        for col in frame.columns:
            if "household" in _norm(col) and _numbers(frame[col]).notna().mean() > 0.95:
                return name, str(col)
    return None


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
    i = _sample(incidents, inc_layer)
    personal = _personal(i, incidents)
    i = i.drop(columns=list(personal))
    lines += ["[incidents]", f"path = {_toml(where(incidents))}"]
    if is_csv(incidents):
        cols = [c for c in list_columns(incidents) if c not in personal]
        x, y = _pick(cols, _X_NAMES), _pick(cols, _Y_NAMES)
        if x and y:
            inc_crs = _guess_crs(i[x], i[y])
            lines += [f"x = {_toml(x)}   # guessed", f"y = {_toml(y)}   # guessed"]
            if inc_crs:
                lines.append(f"crs = {_toml(inc_crs)}   # guessed from the coordinate ranges")
            else:
                lines.append('crs = ""   # not guessed: "EPSG:27700" for British National '
                             'Grid, "EPSG:4326" for longitude/latitude')
                unresolved.append("incidents.crs")
        else:
            lines += ['x = ""   # not guessed: the easting or longitude column',
                      'y = ""   # not guessed: the northing or latitude column',
                      'crs = "EPSG:27700"   # or "EPSG:4326" for longitude/latitude']
            unresolved += ["incidents.x", "incidents.y"]
    date = _date_column(i)
    if date:
        lines.append(f"date = {_toml(date)}   # guessed")
        fmt = _date_format(i[date])
        if fmt:
            lines.append(f"date_format = {_toml(fmt)}   # guessed: every sampled date fits it")
    else:
        lines.append('date = ""   # not guessed: the column with the date of each incident')
        unresolved.append("incidents.date")
    lines += _drop_lines(personal)
    lines += ['# filters = [{ column = "motive", values = ["Accidental"] }]   # optional',
              "", *_provenance("incidents")]

    # Covariate tables
    ids: set[str] = set()
    if id_col:
        ids = set(pyogrio.read_dataframe(areas, layer=layer, columns=[id_col],
                                         read_geometry=False)[id_col].astype(str).str.strip())
    tables: list[tuple[str, pd.DataFrame]] = []
    taken: set[str] = set()
    numeric: list[tuple[str, str]] = []
    for path in cov_paths:
        frame = _sample(path)
        personal = _personal(frame, path)
        frame = frame.drop(columns=list(personal))
        tname = _table_name(path, taken)
        tables.append((tname, frame))
        key, why = _key_column(frame, ids) if ids else (None, "")
        lines += ["[[covariates]]", f"name = {_toml(tname)}", f"path = {_toml(where(path))}"]
        if key:
            lines.append(f"key = {_toml(key)}   # guessed: {why}")
        else:
            lines.append('key = ""   # not guessed: the column holding the area codes')
            unresolved.append(f"covariates[{tname}].key")
        lines += [*_drop_lines(personal), "", *_provenance("covariates")]
        for col in frame.columns:
            if col != key and _numbers(frame[col]).notna().mean() > 0.95:
                numeric.append((tname, str(col)))

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
                      '# unit = "percent"']
        lines.append("")
    lines += ["[disclosure]", "threshold = 5", 'mode = "internal"', ""]
    return Draft(text="\n".join(lines) + "\n", unresolved=tuple(unresolved))
