"""Read the input files named by a dataset profile.

* areas: GeoJSON, GeoPackage (optionally one ``layer``) or a zipped Shapefile (``.zip``);
* incidents: CSV (also ``.csv.gz``) with coordinate columns, or a point GeoJSON/GeoPackage;
* covariates: CSV tables keyed by area code.

Every reader here first passes the file through :func:`geo.safefiles.admit` (real type
by content, size, and archives inspected before GDAL or pandas opens them), so nothing
reaches a parser unchecked, whichever command or page asked for it.

Vector files are read with pyogrio; CSV files with pandas (pyarrow engine when installed,
pandas' C engine for what pyarrow cannot parse: values longer than its 1 MB block or
holding line breaks). Every CSV value is read as text, so codes keep their leading zeros;
validation turns numbers into numbers. A CSV's separator, text encoding and the lines
above its header are given by the profile (:class:`CsvLayout`); when they do not fit the
file, the error names the layout that does and the key that sets it. Only the columns a
step needs are read: columns listed in a profile's ``drop_columns`` are never loaded into
memory. Readers check only that a file can be opened; column and value checks are in
:mod:`geo.validate`. A file that cannot be read raises
:class:`~firerisk.errors.InputFileError` naming the cause, the rows and the fix.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from firerisk.errors import InputFileError, Problem
from firerisk.geo.safefiles import admit, text_encoding
from firerisk.specs import AreasSpec, CovariateSpec, IncidentsSpec

__all__ = [
    "CSV_KINDS",
    "CSV_SUFFIXES",
    "VECTOR_KINDS",
    "VECTOR_SUFFIXES",
    "CsvLayout",
    "covariate_columns",
    "covariate_section",
    "detect_layout",
    "incident_columns",
    "is_csv",
    "layout_of",
    "layout_problem",
    "list_columns",
    "list_layers",
    "pick_layer",
    "read_areas",
    "read_attributes",
    "read_covariates",
    "read_csv_text",
    "read_incidents",
    "read_vector",
    "row_hashes",
]

CSV_SUFFIXES = (".csv", ".csv.gz", ".gz", ".txt")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".fgb")
#: Real file kinds (geo.safefiles) each reader accepts.
CSV_KINDS = frozenset({"csv", "csv.gz"})
VECTOR_KINDS = frozenset({"geojson", "gpkg", "zip", "shp", "fgb"})
#: Separators tried when a file's layout does not fit the profile.
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 256 * 1024
_SNIFF_LINES = 200
_MAX_SKIP = 30
_SHOWN = {"\t": "\\t"}

try:  # pyarrow parses large CSV files several times faster than the C engine
    from pyarrow.lib import ArrowException as _ArrowError

    _CSV_ENGINE = "pyarrow"
except ImportError:  # pragma: no cover - pyarrow ships with the project's environment
    _CSV_ENGINE = "c"
    _ArrowError = ValueError


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is laid out, and where the profile sets it (for the fixes).

    ``skip_rows`` is the number of lines above the header row (a report title, notes,
    blank lines). ``section`` is the profile table as a user sees it, e.g.
    ``"[incidents]"``.
    """

    delimiter: str = ","
    encoding: str = "utf-8"
    skip_rows: int = 0
    section: str = "[incidents]"

    @property
    def text_encoding(self) -> str:
        """The codec to decode with (a UTF-8 byte-order mark is skipped)."""
        return "utf-8-sig" if codecs.lookup(self.encoding).name == "utf-8" else self.encoding

    def keys(self, other: CsvLayout) -> list[str]:
        """The profile lines that turn this layout into *other*."""
        out = []
        if other.delimiter != self.delimiter:
            out.append(f'delimiter = "{_SHOWN.get(other.delimiter, other.delimiter)}"')
        if codecs.lookup(other.encoding).name != codecs.lookup(self.encoding).name:
            out.append(f'encoding = "{other.encoding}"')
        if other.skip_rows != self.skip_rows:
            out.append(f"skip_rows = {other.skip_rows}")
        return out


def layout_of(spec: Any, section: str) -> CsvLayout:
    """The :class:`CsvLayout` of any profile table with ``delimiter``, ``encoding`` and
    ``skip_rows`` keys (incidents, covariates, stations and any later CSV input)."""
    return CsvLayout(delimiter=getattr(spec, "delimiter", ","),
                     encoding=getattr(spec, "encoding", "utf-8"),
                     skip_rows=int(getattr(spec, "skip_rows", 0)), section=section)


def is_csv(path: str | Path) -> bool:
    """True when *path* names a (possibly gzipped) CSV file."""
    return str(path).lower().endswith(CSV_SUFFIXES)


def _unreadable(path: Path, what: str, exc: Exception, fix: str) -> InputFileError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputFileError([Problem(str(path), f"cannot be read as {what} ({reason}).", fix)])


_VECTOR_FIX = ("save it as GeoJSON, GeoPackage or a zipped Shapefile (.zip holding .shp, .shx, "
               ".dbf and .prj) and check the path.")
_CSV_FIX = "save it as CSV (UTF-8) with one header row, e.g. 'CSV UTF-8' in Excel."
_VECTOR = "a GeoJSON, GeoPackage or zipped Shapefile"


# --------------------------------------------------------------------------- raw text

def _open_bytes(path: Path) -> io.BufferedReader:
    """The file's bytes, unpacked when it is gzip (checked by ``admit`` first)."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.BufferedReader(gzip.GzipFile(path, "rb"))
    return path.open("rb")


def _head(path: Path) -> bytes:
    with _open_bytes(path) as fh:
        return fh.read(_SNIFF_BYTES)


def _text_lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines as text, streamed (a bad byte raises UnicodeDecodeError)."""
    with _open_bytes(path) as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:
        yield from text


def _line_of_byte(path: Path, offset: int) -> int:
    """The 1-based line of the file holding byte *offset* (of the unpacked bytes)."""
    line, seen = 1, 0
    with _open_bytes(path) as fh:
        while seen < offset and (chunk := fh.read(1 << 20)):
            line += chunk[: max(0, offset - seen)].count(b"\n")
            seen += len(chunk)
    return line


def _encoding_problem(path: Path, layout: CsvLayout) -> Problem | None:
    """The file's text is not in the profile's encoding: say which it is and the key."""
    found = text_encoding(_head(path))
    want = codecs.lookup(layout.encoding).name
    if found is None:
        return None
    if found.startswith("utf-16") and not want.startswith("utf-16"):
        return Problem(str(path), "is UTF-16 text (Excel's 'Unicode Text' saves this), not "
                       f"{layout.encoding.upper()}.",
                       f'set encoding = "utf-16" under {layout.section}, or save the file as '
                       "'CSV UTF-8' in Excel.")
    if want.startswith("utf-16") and not found.startswith("utf-16"):
        return Problem(str(path), f"is not UTF-16 text, as encoding = \"{layout.encoding}\" "
                       "says.", f"remove encoding from {layout.section} (UTF-8 is the default), "
                       'or set encoding = "cp1252" for Windows text.')
    if found == "cp1252" and want == "utf-8":
        return Problem(str(path), "is not UTF-8 text: it looks like Windows text (cp1252, "
                       "what Excel's plain 'CSV' saves).",
                       f'set encoding = "cp1252" under {layout.section}, or save the file as '
                       "'CSV UTF-8' in Excel.")
    return None


def _decode_problem(path: Path, layout: CsvLayout, exc: UnicodeDecodeError) -> Problem:
    """A byte the encoding cannot read, further into the file: name its line."""
    line = _line_of_byte(path, int(exc.start)) if path.stat().st_size else 1
    hint = ('"cp1252" (Windows text)' if codecs.lookup(layout.encoding).name == "utf-8"
            else '"utf-8"')
    return Problem(str(path), f"line {line:,} holds a byte that {layout.encoding.upper()} "
                   f"cannot read ({exc.reason}); the file is in another text encoding.",
                   f"set encoding = {hint} under {layout.section}, or save the file as "
                   "'CSV UTF-8' in Excel.")


def _sniff_lines(path: Path, encoding: str) -> list[str]:
    """The first lines of the file (complete ones only), decoded."""
    head = _head(path)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head)
    lines = text.splitlines()
    if len(head) == _SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # cut mid-line
    return lines[:_SNIFF_LINES]


def _fit(lines: list[str], delimiter: str, skip: int,
         wanted: Sequence[str]) -> tuple[float, int, int, list[str]]:
    """How well (delimiter, skip) reads *lines*: consistency, wanted columns found, width.

    Consistency is the share of the next 50 rows as wide as the header; 0 when a line
    above the header is as wide as it (so it is part of the table, not a title).
    """
    rows = [r for r in csv.reader(lines[skip:], delimiter=delimiter) if r]
    if not rows:
        return 0.0, 0, 0, []
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    body = rows[1:51]
    consistent = (sum(len(r) == len(header) for r in body) / len(body)) if body else 1.0
    above = [r for r in csv.reader(lines[:skip], delimiter=delimiter) if r]
    if any(len(r) == len(header) for r in above) or (skip and not body):
        consistent = 0.0
    found = sum(1 for w in wanted if w in header)
    return consistent, found, len(header), header


def detect_layout(path: str | Path, layout: CsvLayout = CsvLayout(), *,
                  wanted: Sequence[str] = ()) -> CsvLayout:
    """The layout that reads the file best: encoding, separator and lines above the header.

    Tries every separator of :data:`DELIMITERS` with up to 30 lines skipped, on the first
    lines of the file, and keeps the one whose header holds the most *wanted* columns and
    whose rows have as many fields as the header; ties go to the profile's own settings.
    """
    path = Path(path)
    admit(path, allowed=CSV_KINDS)
    found = text_encoding(_head(path))
    encoding = layout.encoding
    if found is not None and (found.startswith("utf-16") or (found == "cp1252" and codecs.lookup(
            encoding).name == "utf-8")):
        encoding = "utf-16" if found.startswith("utf-16") else found
    lines = _sniff_lines(path, CsvLayout(encoding=encoding).text_encoding)
    best: tuple[tuple[float, ...], CsvLayout] | None = None
    for delimiter in dict.fromkeys((layout.delimiter, *DELIMITERS)):
        for skip in range(min(_MAX_SKIP, max(len(lines) - 1, 0)) + 1):
            if skip and not lines[skip].strip():
                continue  # the header is the first line after the skipped ones
            consistent, hits, width, _ = _fit(lines, delimiter, skip, wanted)
            if width < 2 or consistent < 0.9:
                continue
            own = (delimiter == layout.delimiter) + (skip == layout.skip_rows)
            score = (float(hits), consistent, -float(skip), float(own), float(width))
            if best is None or score > best[0]:
                best = (score, CsvLayout(delimiter=delimiter, encoding=encoding,
                                         skip_rows=skip, section=layout.section))
    return best[1] if best is not None else replace(layout, encoding=encoding)


def layout_problem(path: str | Path, layout: CsvLayout, *,
                   wanted: Sequence[str] = ()) -> Problem | None:
    """A problem naming the separator, encoding or header line that fits the file, or None.

    None when the profile's layout reads the file (a header of two columns or more, rows
    as wide as the header, and every *wanted* column found) or no better layout exists.
    """
    path = Path(path)
    encoding = _encoding_problem(path, layout)
    lines = _sniff_lines(path, layout.text_encoding)
    consistent, hits, width, _ = _fit(lines, layout.delimiter, layout.skip_rows, wanted)
    if encoding is None and width >= 2 and consistent >= 0.9 and hits == len(wanted):
        return None
    better = detect_layout(path, layout, wanted=wanted)
    _, better_hits, _, better_header = _fit(
        _sniff_lines(path, better.text_encoding), better.delimiter, better.skip_rows, wanted)
    changes = layout.keys(better)
    if not changes or (better_hits <= hits and encoding is None and width >= 2):
        return encoding
    why = []
    if better.delimiter != layout.delimiter:
        why.append(f"its columns are separated by '{_SHOWN.get(better.delimiter, better.delimiter)}'"
                   f", not '{_SHOWN.get(layout.delimiter, layout.delimiter)}'")
    if codecs.lookup(better.encoding).name != codecs.lookup(layout.encoding).name:
        why.append(f"it is {better.encoding.upper()} text, not {layout.encoding.upper()}")
    if better.skip_rows != layout.skip_rows:
        above = [line.strip() for line in lines[:better.skip_rows] if line.strip()]
        eg = f" (e.g. {above[0][:60]!r})" if above else ""
        why.append(f"its header is on line {better.skip_rows + 1}, below "
                   f"{better.skip_rows} line(s) that are not part of the table{eg}")
    shown = ", ".join(f"'{c}'" for c in better_header[:6])
    return Problem(str(path), f"does not fit the profile's CSV layout: {'; '.join(why)} (read "
                   f"that way, its columns are {shown}{', ...' if len(better_header) > 6 else ''}).",
                   f"set {' and '.join(changes)} under {layout.section}.")


def _structure_problem(path: Path, layout: CsvLayout) -> Problem | None:
    """A layout problem when the profile's layout gives a one-column or ragged table."""
    consistent, _, width, _ = _fit(_sniff_lines(path, layout.text_encoding), layout.delimiter,
                                   layout.skip_rows, ())
    if width >= 2 and consistent >= 0.9:
        return None
    return layout_problem(path, layout)


def _raise_layout(path: Path, layout: CsvLayout) -> None:
    problem = _encoding_problem(path, layout)
    if problem is not None:
        raise InputFileError([problem])


def _records(path: Path, layout: CsvLayout) -> Iterator[tuple[int, int, int, int]]:
    """(data row, first line, last line, fields) of every non-blank record; first the
    header as (0, 0, 0, fields). Lines are counted from the header (line 1)."""
    old = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    try:
        lines = _text_lines(path, layout.text_encoding)
        for _ in range(layout.skip_rows):
            next(lines, None)
        reader = csv.reader(lines, delimiter=layout.delimiter)
        yield 0, 0, 0, len(next(reader, []))
        row, last = 0, reader.line_num
        for record in reader:
            if record:
                row += 1
                yield row, last + 1, reader.line_num, len(record)
            last = reader.line_num
    finally:
        csv.field_size_limit(old)


def _scan_rows(path: Path, layout: CsvLayout) -> list[Problem]:
    """Stream the file with the csv module: rows of the wrong width, an unclosed quote."""
    ragged: list[int] = []
    widths: dict[int, int] = {}
    width = 0
    final = (0, 0, 0, 0)
    try:
        records = _records(path, layout)
        width = next(records)[3]
        for final in records:
            if final[3] != width:
                ragged.append(final[0])
                widths[final[3]] = widths.get(final[3], 0) + 1
    except UnicodeDecodeError as exc:
        return [_decode_problem(path, layout, exc)]
    row, first, last, n = final
    if ragged and ragged[-1] == row and last > first and n != width:
        return [Problem(
            str(path), f"a quoted value starting at data row {row:,} (line "
            f"{first + layout.skip_rows:,}) is never closed: a stray '\"' in a value makes the "
            "rest of the file one cell.",
            "remove the stray quote or double it (\"\"), or export the file again.", rows=(row,))]
    if not ragged:
        return []
    seen = ", ".join(f"{w} fields in {k:,} row{'s' if k > 1 else ''}"
                     for w, k in sorted(widths.items()))
    sep = _SHOWN.get(layout.delimiter, layout.delimiter)
    return [Problem(
        str(path), f"the header has {width} fields but some rows do not ({seen}): a '{sep}' "
        "inside a value that is not in quotes, a stray '\"', or a row cut short.",
        "correct those rows (put values that hold the separator in double quotes), or export "
        "the file again.", rows=tuple(ragged))]


def _pandas_csv(path: Path, layout: CsvLayout, *, engine: str, **options: Any) -> pd.DataFrame:
    encoding = "utf-8" if engine == "pyarrow" and layout.text_encoding == "utf-8-sig" \
        else layout.text_encoding
    return pd.read_csv(path, dtype=str, engine=engine, encoding=encoding, sep=layout.delimiter,
                       skiprows=layout.skip_rows or None, keep_default_na=False,
                       na_values=[""], **options)


# --------------------------------------------------------------------------- public readers

def list_layers(path: str | Path) -> tuple[str, ...]:
    """The layer names of a vector file (one for GeoJSON and most Shapefiles)."""
    path = Path(path)
    admit(path, allowed=VECTOR_KINDS)
    try:
        layers = pyogrio.list_layers(path)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _unreadable(path, _VECTOR, exc, _VECTOR_FIX) from exc
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


def list_columns(path: str | Path, *, layer: str | None = None,
                 layout: CsvLayout | None = None) -> tuple[str, ...]:
    """The column names of a CSV file (header only) or of a vector layer's attributes."""
    path = Path(path)
    if is_csv(path):
        layout = layout or CsvLayout()
        admit(path, allowed=CSV_KINDS)
        _raise_layout(path, layout)
        problem = _structure_problem(path, layout)
        if problem is not None:
            raise InputFileError([problem])
        try:
            header = _pandas_csv(path, layout, engine="c", nrows=0)
        except UnicodeDecodeError as exc:
            raise InputFileError([_decode_problem(path, layout, exc)]) from exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError) as exc:
            raise _unreadable(path, "CSV", exc, _CSV_FIX) from exc
        return tuple(str(c) for c in header.columns)
    admit(path, allowed=VECTOR_KINDS)
    try:
        info = pyogrio.read_info(path, layer=layer)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _unreadable(path, _VECTOR, exc, _VECTOR_FIX) from exc
    return tuple(str(c) for c in info["fields"])


def _read_csv_frame(path: Path, layout: CsvLayout, cols: list[str],
                    nrows: int | None) -> pd.DataFrame:
    """pyarrow first; when it cannot parse the file, scan it, then pandas' C engine."""
    if nrows is not None or _CSV_ENGINE != "pyarrow":
        return _pandas_csv(path, layout, engine="c", usecols=cols, nrows=nrows)
    try:
        return _pandas_csv(path, layout, engine="pyarrow", usecols=cols)
    except UnicodeDecodeError:
        raise
    except (pd.errors.ParserError, ValueError, _ArrowError, KeyError) as exc:
        problem = _structure_problem(path, layout)
        problems = [problem] if problem is not None else _scan_rows(path, layout)
        if problems:
            raise InputFileError(problems) from exc
        return _pandas_csv(path, layout, engine="c", usecols=cols)


def read_csv_text(path: str | Path, *, columns: Sequence[str],
                  layout: CsvLayout | None = None, nrows: int | None = None) -> pd.DataFrame:
    """Read the named *columns* of a CSV file, every value as text.

    Only empty cells are missing (NaN); markers such as ``n/a`` or ``..`` stay as text,
    so messages can show them. When pyarrow cannot parse the file, the whole file is
    scanned once: rows with the wrong number of fields and a quote that never closes are
    named by row; otherwise (long values, line breaks inside quotes) pandas' C engine
    reads it.

    Row *i* of the result (0-based) is data row *i + 1* of the file (header excluded).
    """
    path = Path(path)
    layout = layout or CsvLayout()
    cols = list(dict.fromkeys(columns))
    admit(path, allowed=CSV_KINDS)
    _raise_layout(path, layout)
    try:
        frame = _read_csv_frame(path, layout, cols, nrows)
    except InputFileError:
        raise
    except UnicodeDecodeError as exc:
        raise InputFileError([_decode_problem(path, layout, exc)]) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError,
            ValueError) as exc:
        problems = _scan_rows(path, layout)
        if problems:
            raise InputFileError(problems) from exc
        raise _unreadable(path, "CSV", exc, _CSV_FIX) from exc
    frame = frame.reset_index(drop=True)
    return frame[cols] if cols else frame


def row_hashes(path: str | Path, *, layout: CsvLayout | None = None,
               drop_columns: Sequence[str] = (), chunk_rows: int = 200_000) -> np.ndarray:
    """A 64-bit hash of every data row over all its columns but *drop_columns*.

    Read in chunks (bounded memory) and never kept: only the hashes are returned, one per
    data row in file order, so exact repeats of a row can be counted.
    """
    path = Path(path)
    layout = layout or CsvLayout()
    drop = set(drop_columns)
    admit(path, allowed=CSV_KINDS)
    parts = []
    with _pandas_csv(path, layout, engine="c", usecols=lambda c: c not in drop,
                     chunksize=chunk_rows) as chunks:
        for chunk in chunks:
            parts.append(pd.util.hash_pandas_object(chunk.fillna("\x00"), index=False)
                         .to_numpy(dtype=np.uint64))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)


def read_vector(path: str | Path, *, layer: str | None = None,
                columns: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Read a vector layer (pyogrio engine), only the listed attribute *columns*.

    Feature *i* (0-based) is row *i + 1* in messages.
    """
    path = Path(path)
    admit(path, allowed=VECTOR_KINDS)
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer,
                                     columns=list(columns) if columns is not None else None,
                                     use_arrow=True)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _unreadable(path, _VECTOR, exc, _VECTOR_FIX) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):  # a table without geometry
        raise InputFileError([Problem(str(path), "has no geometry column.",
                                      "export the layer with its geometry.")])
    return gdf.reset_index(drop=True)


def read_attributes(path: str | Path, *, layer: str | None = None,
                    columns: Sequence[str] | None = None,
                    max_features: int | None = None) -> pd.DataFrame:
    """Read a vector layer's attribute table only (no geometry), checked like every read."""
    path = Path(path)
    admit(path, allowed=VECTOR_KINDS)
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, read_geometry=False,
                                       columns=list(columns) if columns is not None else None,
                                       max_features=max_features)
    except (DataSourceError, DataLayerError, OSError) as exc:
        raise _unreadable(path, _VECTOR, exc, _VECTOR_FIX) from exc
    return pd.DataFrame(frame)


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
    """The incident columns the tool needs: coordinates (CSV only), date, type, filters,
    incident number.

    Nothing else is ever read, so personal or unused fields stay on disk.
    """
    cols: list[str] = []
    if is_csv(spec.path):
        cols += [c for c in (spec.x, spec.y) if c]
    cols.append(spec.date)
    if spec.type:
        cols.append(spec.type)
    cols += [f.column for f in spec.filters]
    if spec.id:
        cols.append(spec.id)
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
        return read_csv_text(spec.path, columns=cols, layout=layout_of(spec, "[incidents]"))
    layer = pick_layer(spec.path, spec.layer, section="incidents")
    return read_vector(spec.path, layer=layer, columns=cols)


def covariate_columns(spec: CovariateSpec, header: Sequence[str]) -> tuple[str, ...]:
    """The columns of a covariate table that are read: all but ``drop_columns``."""
    return tuple(c for c in header if c not in spec.drop_columns)


def covariate_section(spec: CovariateSpec) -> str:
    """How a covariate table is named in messages: ``[[covariates]] (name = "imd")``."""
    return f"[[covariates]] (name = \"{spec.name}\")"


def read_covariates(spec: CovariateSpec, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a covariate CSV with every value as text (the key keeps leading zeros).

    Parameters
    ----------
    spec : CovariateSpec
    columns : sequence of str, optional
        Columns to read; by default every column except ``spec.drop_columns``.
    """
    layout = layout_of(spec, covariate_section(spec))
    if columns is None:
        columns = covariate_columns(spec, list_columns(spec.path, layout=layout))
    return read_csv_text(spec.path, columns=[c for c in columns if c not in spec.drop_columns],
                         layout=layout)
