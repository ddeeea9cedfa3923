"""A corpus of broken (and harmlessly different) inputs, generated from the London sample.

Nothing broken is committed: :func:`write_subset` cuts a two-borough subset (Camden and
Islington: 256 areas, the 5,684 incidents placed inside them, 2009 to August 2024) out of
``sample_data/`` and each :class:`Case` copies it and breaks one thing, the way a
service's own extract breaks. Every case says what must happen:

* ``refuse``: ``check`` and ``build`` both exit 2 with one problem naming the file, the
  column and rows where they apply, and the fix (``fix`` is a phrase the fix must hold);
* ``same``: the build must equal the clean build (a BOM, CRLF line ends, gzip, quoting);
* ``build``: the build must succeed (the profile tells the tool how to treat the data),
  printing ``warning`` when one is given.
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
BOROUGHS = {"E09000007": "Camden", "E09000019": "Islington"}
INCIDENTS = "incidents.csv"
CENSUS = "census.csv"
IMD = "imd.csv"
AREAS = "areas.geojson"


def write_subset(folder: Path) -> Path:
    """The clean subset and its profile in *folder*; returns the profile path.

    The incidents get an ``incident_number`` column (unique, made here) so the corpus can
    test de-duplication by incident number.
    """
    folder.mkdir(parents=True, exist_ok=True)
    areas = gpd.read_file(SAMPLE / "london_lsoa21.geojson", engine="pyogrio")
    areas = areas[areas["ltla24_code"].isin(BOROUGHS)].reset_index(drop=True)
    areas.to_file(folder / AREAS, engine="pyogrio")
    ids = set(areas["lsoa21_code"])
    inc = pd.read_csv(SAMPLE / "lfb_dwelling_fires_2009_2024.csv.gz", dtype=str,
                      keep_default_na=False)
    inc = inc[inc["borough"].isin(BOROUGHS)].reset_index(drop=True)
    # keep the rows whose position lies in the two boroughs, so the clean subset builds
    # without a warning (about 1 % of borough-coded rows lie just across the boundary)
    points = gpd.GeoSeries(gpd.points_from_xy(inc["easting_rounded"].astype(float),
                                              inc["northing_rounded"].astype(float)),
                           crs="EPSG:27700").to_crs(areas.crs)
    inside = points.within(areas.union_all()).to_numpy()
    inc = inc[inside].reset_index(drop=True)
    inc.insert(0, "incident_number", [f"LFB{100000 + i}" for i in range(len(inc))])
    inc.to_csv(folder / INCIDENTS, index=False)
    for src, name in (("census2021_households_london.csv", CENSUS), ("imd2025_london.csv", IMD)):
        table = pd.read_csv(SAMPLE / src, dtype=str, keep_default_na=False)
        if name == IMD:  # the columns the profile uses (fewer columns to check: a faster test)
            table = table[["lsoa21_code", "IMD_decile", "IMD_rank", "IMD_score"]]
        table[table["lsoa21_code"].isin(ids)].to_csv(folder / name, index=False)
    text = (SAMPLE / "london.toml").read_text(encoding="utf-8")
    for old, new in (("london_lsoa21.geojson", AREAS),
                     ("lfb_dwelling_fires_2009_2024.csv.gz", INCIDENTS),
                     ("imd2025_london.csv", IMD), ("census2021_households_london.csv", CENSUS)):
        text = text.replace(f'"{old}"', f'"{new}"')
    # 200 simulated years instead of 2,000: the model's precision is not what is tested
    text = text.replace("[model]\n", "[model]\nsimulations = 200\n")
    (folder / "profile.toml").write_text(text, encoding="utf-8")
    return folder / "profile.toml"


# --------------------------------------------------------------------------- editing helpers

def toml_set(folder: Path, table: str, line: str) -> None:
    """Add (or replace) ``key = value`` in ``[table]`` of the profile."""
    path = folder / "profile.toml"
    text = path.read_text(encoding="utf-8")
    key = line.split("=")[0].strip()
    header = f"[{table}]\n"
    if header not in text:
        text += f"\n{header}"
    start = text.index(header) + len(header)
    end = text.find("\n[", start)
    end = len(text) if end < 0 else end + 1
    body = re.sub(rf"(?m)^{re.escape(key)}\s*=.*\n?", "", text[start:end])
    path.write_text(text[:start] + line + "\n" + body + text[end:], encoding="utf-8")


def toml_drop(folder: Path, table: str) -> None:
    """Remove ``[table]`` (as ``firerisk init`` drafts a profile without it)."""
    path = folder / "profile.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"[{table}]\n")
    end = text.find("\n[", start + 1)
    path.write_text(text[:start] + (text[end + 1:] if end >= 0 else ""), encoding="utf-8")


def read(folder: Path, name: str = INCIDENTS) -> pd.DataFrame:
    return pd.read_csv(folder / name, dtype=str, keep_default_na=False)


def write(folder: Path, frame: pd.DataFrame, name: str = INCIDENTS) -> None:
    frame.to_csv(folder / name, index=False)


def edit(name: str = INCIDENTS) -> Callable[[Callable[[pd.DataFrame], pd.DataFrame]],
                                            Callable[[Path], None]]:
    """Decorator: a frame -> frame function becomes a case mutation of file *name*."""
    def wrap(fn: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
        def mutate(folder: Path) -> None:
            write(folder, fn(read(folder, name)), name)
        return mutate
    return wrap


def text_edit(fn: Callable[[str], str], name: str = INCIDENTS) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        path = folder / name
        path.write_text(fn(path.read_text(encoding="utf-8")), encoding="utf-8", newline="")
    return mutate


def both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        for step in steps:
            step(folder)
    return mutate


def profile(table: str, line: str) -> Callable[[Path], None]:
    return lambda folder: toml_set(folder, table, line)


def covariate_key(name: str, line: str) -> Callable[[Path], None]:
    """Add ``key = value`` to the [[covariates]] table whose path is *name*."""
    def mutate(folder: Path) -> None:
        path = folder / "profile.toml"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace(f'path = "{name}"', f'path = "{name}"\n{line}'),
                        encoding="utf-8")
    return mutate


def every(frame: pd.DataFrame, step: int) -> np.ndarray:
    return np.arange(len(frame)) % step == 0


# --------------------------------------------------------------------------- mutations

def _stray(dates: list[str]) -> Callable[[Path], None]:
    @edit()
    def add(f: pd.DataFrame) -> pd.DataFrame:
        extra = f.iloc[:len(dates)].copy()
        extra["date"] = dates
        extra["incident_number"] = [f"X{i}" for i in range(len(dates))]
        return pd.concat([f, extra], ignore_index=True)
    return both(lambda d: toml_drop(d, "study"), add)


@edit()
def _drop_2016(f: pd.DataFrame) -> pd.DataFrame:
    return f[~f["date"].str.startswith("2016")]


@edit()
def _drop_2018_q2(f: pd.DataFrame) -> pd.DataFrame:
    return f[~f["date"].str[:7].isin(["2018-04", "2018-05", "2018-06"])]


def _dmy(values: pd.Series) -> pd.Series:
    return values.str[8:10] + "/" + values.str[5:7] + "/" + values.str[:4]


@edit()
def _dates_40pct_dmy(f: pd.DataFrame) -> pd.DataFrame:
    pick = np.random.default_rng(1).random(len(f)) < 0.4
    f.loc[pick, "date"] = _dmy(f.loc[pick, "date"])
    return f


@edit()
def _dates_dmy_before_2015(f: pd.DataFrame) -> pd.DataFrame:
    early = f["date"] < "2015"
    f.loc[early, "date"] = _dmy(f.loc[early, "date"])
    return f


@edit()
def _dates_3pct_bad(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[every(f, 33), "date"] = "unknown"
    return f


@edit()
def _coords_8pct_missing(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[every(f, 12), "easting_rounded"] = ""
    return f


@edit(CENSUS)
def _households_1e9(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[10, "total_households"] = "1000000000"
    return f


@edit(CENSUS)
def _households_zero(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[[3, 4, 5], "total_households"] = "0"  # areas with fires in the study years
    return f


@edit(CENSUS)
def _households_inf(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[7, "total_households"] = "inf"
    return f


@edit(IMD)
def _imd_inf(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[7, "IMD_score"] = "inf"
    return f


@edit(IMD)
def _imd_typo(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[12, "IMD_score"] = str(float(f.loc[12, "IMD_score"]) * 100)
    return f


def _percent_column(folder: Path) -> None:
    census = read(folder, CENSUS)
    flats = [c for c in census.columns if c.startswith("accommodation: ") and (
        "flats" in c or "converted" in c or "commercial" in c)]
    share = census[flats].astype(float).sum(axis=1) / census["total_households"].astype(float)
    census["flats_pct"] = (100 * share.clip(upper=1)).round(1).astype(str)
    write(folder, census, CENSUS)
    path = folder / "profile.toml"
    text = path.read_text(encoding="utf-8")
    start = text.index("[features.flat_share]")
    end = text.index("\n[", start + 1)
    path.write_text(text[:start] + '[features.flat_share]\ncolumn = "flats_pct"\n'
                    'label = "Households living in flats"\nunit = "percent"\n' + text[end:],
                    encoding="utf-8")


@edit()
def _duplicated_extract(f: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([f, f], ignore_index=True)


@edit()
def _month_twice(f: pd.DataFrame) -> pd.DataFrame:
    month = f[f["date"].str.startswith("2019-03")]
    return pd.concat([f, month], ignore_index=True).sort_values("date", kind="stable")


@edit()
def _last_8_years(f: pd.DataFrame) -> pd.DataFrame:
    return f[f["date"] >= "2017"]


def _semicolon(folder: Path) -> None:
    read(folder).to_csv(folder / INCIDENTS, index=False, sep=";")


def _utf16(folder: Path, name: str = IMD) -> None:
    text = (folder / name).read_text(encoding="utf-8")
    (folder / name).write_bytes(text.encode("utf-16"))


def _junk_lines(folder: Path, name: str = CENSUS) -> None:
    text = (folder / name).read_text(encoding="utf-8")
    (folder / name).write_text("Census 2021: households by tenure and accommodation type\n"
                               "Source: Office for National Statistics\n\n" + text,
                               encoding="utf-8")


def _ragged(text: str) -> str:
    lines = text.split("\n")
    lines[101] = lines[101] + ",extra"
    lines[2001] = lines[2001] + ",one,two"
    return "\n".join(lines)


def _unclosed_quote(text: str) -> str:
    lines = text.split("\n")
    lines[3001] = lines[3001].replace(',"Other dwelling"', ',"Other dwelling', 1)
    lines[3001] = lines[3001].replace(",Other dwelling,", ',"Other dwelling,', 1)
    return "\n".join(lines)


@edit()
def _long_cell(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[1500, "hmo_license"] = "x" * 1_300_000
    return f


def _bom(folder: Path) -> None:
    path = folder / INCIDENTS
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def _crlf(folder: Path) -> None:
    path = folder / INCIDENTS
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def _gzipped(folder: Path) -> None:
    data = (folder / INCIDENTS).read_bytes()
    (folder / INCIDENTS).unlink()
    with gzip.open(folder / "incidents.csv.gz", "wb") as fh:
        fh.write(data)
    path = folder / "profile.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(f'"{INCIDENTS}"',
                                                             '"incidents.csv.gz"'),
                    encoding="utf-8")


def _quoted(folder: Path) -> None:
    read(folder).to_csv(folder / INCIDENTS, index=False, quoting=1)


@edit()
def _shuffled_columns(f: pd.DataFrame) -> pd.DataFrame:
    return f[list(reversed(f.columns))]


@edit()
def _swapped_xy(f: pd.DataFrame) -> pd.DataFrame:
    f[["easting_rounded", "northing_rounded"]] = f[["northing_rounded", "easting_rounded"]]
    return f


@edit(CENSUS)
def _thousands(f: pd.DataFrame) -> pd.DataFrame:
    f.loc[5, "total_households"] = "1,234"
    return f


@edit(CENSUS)
def _missing_rows(f: pd.DataFrame) -> pd.DataFrame:
    return f.drop(index=[0, 1, 2])


@edit()
def _personal(f: pd.DataFrame) -> pd.DataFrame:
    f["caller_name"] = [f"Person {i}" for i in range(len(f))]
    return f


def _repeated_area(folder: Path) -> None:
    areas = gpd.read_file(folder / AREAS, engine="pyogrio")
    areas.loc[5, "lsoa21_code"] = areas.loc[4, "lsoa21_code"]
    (folder / AREAS).unlink()
    areas.to_file(folder / AREAS, engine="pyogrio")


def _png_as_csv(folder: Path) -> None:
    (folder / IMD).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)


def _zip_slip_areas(folder: Path) -> None:
    with zipfile.ZipFile(folder / "areas.zip", "w") as zf:
        zf.write(folder / AREAS, "areas.geojson")
        zf.writestr("../../evil.txt", b"owned")
    path = folder / "profile.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(f'"{AREAS}"', '"areas.zip"'),
                    encoding="utf-8")


def _symlink_areas(folder: Path) -> None:
    with zipfile.ZipFile(folder / "areas.zip", "w") as zf:
        zf.write(folder / AREAS, "areas.geojson")
        info = zipfile.ZipInfo("link.geojson")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    path = folder / "profile.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(f'"{AREAS}"', '"areas.zip"'),
                    encoding="utf-8")


def _gzip_bomb(folder: Path) -> None:
    line = (folder / INCIDENTS).read_text(encoding="utf-8").split("\n")[1] + "\n"
    header = (folder / INCIDENTS).read_text(encoding="utf-8").split("\n")[0] + "\n"
    block = (line * (4 * 1024 * 1024 // len(line))).encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6) as fh:
        fh.write(header.encode())
        for _ in range(10):
            fh.write(block)
    (folder / INCIDENTS).unlink()
    (folder / "incidents.csv.gz").write_bytes(buf.getvalue())
    path = folder / "profile.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(f'"{INCIDENTS}"',
                                                             '"incidents.csv.gz"'),
                    encoding="utf-8")


# --------------------------------------------------------------------------- the corpus

@dataclass(frozen=True)
class Case:
    """One broken (or harmlessly different) input and what must happen to it."""

    name: str
    mutate: Callable[[Path], None]
    expect: str = "refuse"  # "refuse", "same" or "build"
    file: str = INCIDENTS  # the file the one problem names ("profile.toml" for the profile)
    column: str | None = None
    rows: bool = False  # the problem must name rows
    fix: tuple[str, ...] = ()  # phrases the fix (or, for builds, the output) must hold
    warning: str | None = None  # for builds: a phrase the printed warning must hold
    evaluate: bool = False  # build with the backtest (else --no-evaluate)
    kind: str = "The input files have problems"
    tags: frozenset[str] = field(default_factory=frozenset)


STRAY = ("set end = 2024-08-31 under [study]",)  # the subset's last date is 29 August
CASES: tuple[Case, ...] = (
    # 1. years from the data's density
    Case("stray_2025_date", _stray(["2025-01-02"]), column="date", rows=True, fix=STRAY),
    Case("stray_2031_and_2204_dates", _stray(["2031-06-01", "2204-03-04", "2204-03-05"]),
         column="date", rows=True, fix=STRAY),
    Case("stray_1900_placeholder", _stray(["1900-01-01"] * 3), column="date", rows=True,
         fix=("set start = 2009-01-01 under [study]",)),
    Case("year_2016_missing", _drop_2016, column="date",
         fix=("accept_incomplete = [2016]", "start = 2017-01-01")),
    Case("quarter_2018_q2_missing", _drop_2018_q2, column="date",
         fix=("accept_incomplete = [2018]",)),
    Case("year_2016_missing_accepted",
         both(_drop_2016, profile("study", "accept_incomplete = [2016]")), expect="build"),
    # 2. a ceiling on silent loss
    Case("dates_40pct_day_first", _dates_40pct_dmy, column="date", rows=True,
         fix=('other_date_formats = ["%d/%m/%Y"] under [incidents]', "max_dropped_percent"),
         tags=frozenset({"%d/%m/%Y"})),
    Case("dates_40pct_day_first_read_both",
         both(_dates_40pct_dmy, profile("incidents", 'other_date_formats = ["%d/%m/%Y"]')),
         expect="same"),
    Case("dates_day_first_before_2015", _dates_dmy_before_2015, column="date", rows=True,
         fix=("max_dropped_percent",), tags=frozenset({"%d/%m/%Y\" in 2009-2014"})),
    Case("dates_3pct_unreadable", _dates_3pct_bad, expect="build", warning="'bad date'"),
    Case("coordinates_8pct_missing", _coords_8pct_missing,
         column="easting_rounded/northing_rounded", rows=True,
         fix=("max_dropped_percent = 10",)),
    Case("coordinates_8pct_missing_tolerated",
         both(_coords_8pct_missing, profile("incidents", "max_dropped_percent = 10")),
         expect="build", warning="'missing coordinates'"),
    # 3. plausibility
    Case("households_1e9", _households_1e9, file=CENSUS, column="total_households", rows=True,
         fix=("range = [0,",)),
    Case("households_0_where_fires_happened", _households_zero, file=CENSUS,
         column="total_households", rows=True, fix=("correct the households",)),
    Case("households_inf", _households_inf, file=CENSUS, column="total_households", rows=True,
         fix=("real figures",)),
    Case("imd_score_inf", _imd_inf, file=IMD, column="IMD_score", rows=True,
         fix=("real figures",)),
    Case("imd_score_typing_slip", _imd_typo, file=IMD, column="IMD_score", rows=True,
         fix=("range = [lowest, highest] under [features.imd_score]",)),
    # 4. percentages on the wrong scale
    Case("percent_column_0_to_100", _percent_column, file=CENSUS, column="flats_pct",
         rows=True, fix=("scale = 100 under [features.flat_share]",)),
    Case("percent_column_0_to_100_scaled",
         both(_percent_column, profile("features.flat_share", "scale = 100")), expect="build"),
    # 5. duplicates
    Case("duplicated_extract", _duplicated_extract, rows=True,
         fix=('id = "incident_number"', 'duplicates = "keep"')),
    Case("one_month_exported_twice", _month_twice, rows=True,
         fix=('id = "incident_number"',)),
    Case("duplicated_extract_with_id",
         both(_duplicated_extract, profile("incidents", 'id = "incident_number"')),
         expect="same"),
    # 6. check refuses what build refuses
    Case("bands_quintiles", profile("bands", 'scheme = "quintiles"'), file="profile.toml",
         fix=("quantiles",), kind="The dataset profile has problems"),
    Case("origins_start_too_early", profile("evaluation", "first = 2010"),
         file="profile.toml", fix=("first = 2014 under [evaluation]", "window_years"),
         evaluate=True, kind="The dataset profile has problems"),
    Case("origins_first_after_last",
         both(profile("evaluation", "first = 2020"), profile("evaluation", "last = 2016")),
         file="profile.toml", fix=("first = 2016", "last = 2020"),
         kind="The dataset profile has problems"),
    Case("window_longer_than_the_data", profile("evaluation", "window_years = 20"),
         file="profile.toml", fix=("window_years = 6",), evaluate=True,
         kind="The dataset profile has problems"),
    Case("eight_years_default_origins",
         both(_last_8_years, lambda d: toml_drop(d, "evaluation"),
              profile("study", "start = 2017-01-01")),
         expect="build", evaluate=True),
    # 7. hostile files on the real read path
    Case("zip_slip_areas", _zip_slip_areas, file="areas.zip", fix=("unpack the archive",),
         kind="The file was refused"),
    Case("symlink_member_areas", _symlink_areas, file="areas.zip",
         fix=("unpack the archive",), kind="The file was refused"),
    Case("gzip_bomb_incidents", _gzip_bomb, file="incidents.csv.gz",
         fix=("unpack it yourself",), kind="The file was refused"),
    Case("png_named_csv", _png_as_csv, file=IMD, fix=("save or export",),
         kind="The file was refused"),
    # 8. messages that name the true cause
    Case("semicolon_delimited", _semicolon, fix=('delimiter = ";" under [incidents]',)),
    Case("utf16_covariates", _utf16, file=IMD,
         fix=('encoding = "utf-16" under [[covariates]] (name = "imd")',)),
    Case("junk_lines_above_header", _junk_lines, file=CENSUS,
         fix=('skip_rows = 3 under [[covariates]] (name = "census")',)),
    Case("ragged_rows", text_edit(_ragged), rows=True, fix=("double quotes",)),
    Case("unclosed_quote", text_edit(_unclosed_quote), rows=True, fix=("stray quote",)),
    Case("semicolon_with_delimiter",
         both(_semicolon, profile("incidents", 'delimiter = ";"')), expect="same"),
    Case("utf16_with_encoding",
         both(_utf16, covariate_key(IMD, 'encoding = "utf-16"')), expect="same"),
    Case("junk_lines_with_skip_rows",
         both(_junk_lines, covariate_key(CENSUS, "skip_rows = 3")), expect="same"),
    Case("cell_over_1mb_in_unused_column", _long_cell, expect="same"),
    # harmless differences: the same answer
    Case("byte_order_mark", _bom, expect="same"),
    Case("crlf_line_ends", _crlf, expect="same"),
    Case("gzip_compressed", _gzipped, expect="same"),
    Case("every_field_quoted", _quoted, expect="same"),
    Case("columns_in_another_order", _shuffled_columns, expect="same"),
    # classes already tested elsewhere, through the same commands
    Case("wrong_date_format", profile("incidents", 'date_format = "%d/%m/%Y"'),
         column="date", rows=True, fix=('date_format = "%Y-%m-%d"',)),
    Case("swapped_x_and_y", _swapped_xy, column="easting_rounded/northing_rounded",
         rows=True, fix=("look swapped",)),
    Case("misspelt_key", profile("features.imd_score", 'lable = "x"'), file="profile.toml",
         fix=("did you mean 'label'?",), kind="The dataset profile has problems"),
    Case("missing_column", profile("incidents", 'x = "easting"'), column="easting",
         fix=('x = "easting_rounded"',)),
    Case("thousands_separator", _thousands, file=CENSUS, column="total_households",
         rows=True, fix=("thousands separators",)),
    Case("covariate_rows_missing", _missing_rows, file=CENSUS, column="lsoa21_code",
         fix=("add a row for every area",)),
    Case("repeated_area_id", _repeated_area, file=AREAS, column="lsoa21_code", rows=True,
         fix=("keep one feature per area",)),
    Case("personal_data_columns", _personal, fix=("drop_columns",),
         kind="The input seems to contain personal data, so it was not read"),
)


def make_case(case: Case, clean: Path, into: Path) -> Path:
    """Copy the clean subset to *into*, apply the case, and return its profile path."""
    shutil.copytree(clean, into)
    case.mutate(into)
    return into / "profile.toml"
