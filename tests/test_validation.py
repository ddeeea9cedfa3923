"""Each input problem is reported with its file, column, rows and fix, all at once.

The cases are tiny files written here (a 2 x 2 grid of 100 m squares in British
National Grid) with one fault each; the expected rows are counted by hand.
"""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
import shapely

from firerisk.errors import InputFileError
from firerisk.geo.ingest import load_inputs
from firerisk.geo.profile import load_profile
from firerisk.geo.validate import parse_dates

X0, Y0 = 530_000.0, 180_000.0


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def toml_dumps(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer: scalars first, then sub-tables and arrays of tables."""
    lines = []
    for key, value in data.items():
        inline = key == "groups" or not isinstance(value, dict)
        if inline and not (isinstance(value, list) and value and isinstance(value[0], dict)):
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "groups":
            lines.append(f"\n[{name}]")
            lines.append(toml_dumps(value, prefix=f"{name}."))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines.append(f"\n[[{name}]]")
                lines.append(toml_dumps(item, prefix=f"{name}."))
    return "\n".join(lines)


def grid() -> gpd.GeoDataFrame:
    """Four 100 m squares; file order D, C, B, A (so file order differs from id order)."""
    squares = {"A": (0, 0), "B": (100, 0), "C": (0, 100), "D": (100, 100)}
    ids = ["D", "C", "B", "A"]
    return gpd.GeoDataFrame(
        {"code": ids, "label": [f"Area {i}" for i in ids],
         "dist": ["north", "north", "south", "south"]},
        geometry=[shapely.box(X0 + squares[i][0], Y0 + squares[i][1],
                              X0 + squares[i][0] + 100, Y0 + squares[i][1] + 100) for i in ids],
        crs="EPSG:27700")


def incidents() -> pd.DataFrame:
    """14 rows; see tests/test_ingest.py for what happens to each."""
    rows = [
        (530050, 180050, "2020-03-01", "house", "accidental"),
        (530150, 180050, "2020-05-01", "flat", "accidental"),
        (530100, 180050, "2021-02-01", "house", "accidental"),
        (530100, 180100, "2020-07-01", "flat", "accidental"),
        (530150, 180100, "2021-01-15", "flat", "accidental"),
        (530000, 180050, "2020-08-01", "house", "accidental"),
        (530150, 180150, "2020-09-09", "house", "accidental"),
        (530900, 180900, "2020-10-10", "house", "accidental"),
        ("", 180050, "2020-01-02", "house", "accidental"),
        (530050, 180150, "2020-02-30", "house", "accidental"),
        (530050, 180150, "2019-12-31", "house", "accidental"),
        (530050, 180150, "2020-04-04", "house", "deliberate"),
        (530050, 180150, "2021-06-30", "flat", "accidental"),
        (530050, 180150, "2021-07-01", "flat", "accidental"),
    ]
    frame = pd.DataFrame(rows, columns=["east", "north", "when", "kind", "motive"])
    frame["caller_name"] = [f"Person {i}" for i in range(len(frame))]
    return frame


def covariates() -> pd.DataFrame:
    return pd.DataFrame({"code": ["A", "B", "C", "D", "Z"],
                         "households": ["100", "200", "300", "400", "50"],
                         "score": ["1.5", "2.5", "3.5", "4.5", "9"],
                         "note": ["a", "b", "c", "d", "z"]})


def base_profile() -> dict[str, Any]:
    prov = {"publisher": "Test", "licence": "OGL v3", "attribution": "Test data"}
    return {
        "name": "Test grid",
        "areas": {"path": "areas.gpkg", "id": "code", "name": "label",
                  "groups": {"district": "dist"}, "provenance": dict(prov)},
        "incidents": {"path": "incidents.csv", "x": "east", "y": "north", "crs": "EPSG:27700",
                      "date": "when", "date_format": "%Y-%m-%d", "type": "kind",
                      "drop_columns": ["caller_name"],
                      "filters": [{"column": "motive", "values": ["accidental"]}],
                      "provenance": dict(prov)},
        "covariates": [{"name": "census", "path": "cov.csv", "key": "code",
                        "drop_columns": ["note"], "provenance": dict(prov)}],
        "exposure": {"column": "households"},
        "features": {"score": {"column": "score", "label": "Score", "unit": "score"}},
        "study": {"start": date(2020, 1, 1), "end": date(2021, 6, 30)},
    }


def write_case(tmp: Path, *, areas: gpd.GeoDataFrame | None = None,
               areas_file: str = "areas.gpkg", incident_rows: pd.DataFrame | None = None,
               cov: pd.DataFrame | None = None, profile: dict[str, Any] | None = None) -> Path:
    """Write the grid case (with any part replaced) and return the profile path."""
    areas = grid() if areas is None else areas
    if areas_file.endswith(".gpkg"):
        areas.to_file(tmp / areas_file, layer="areas", engine="pyogrio")
    elif areas_file.endswith(".geojson"):
        areas.to_crs("EPSG:4326").to_file(tmp / areas_file, engine="pyogrio")
    (incidents() if incident_rows is None else incident_rows).to_csv(tmp / "incidents.csv",
                                                                    index=False)
    (covariates() if cov is None else cov).to_csv(tmp / "cov.csv", index=False)
    prof = base_profile() if profile is None else profile
    path = tmp / "profile.toml"
    path.write_text(toml_dumps(prof), encoding="utf-8")
    return path


def load_error(tmp: Path, **kwargs: Any) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        load_inputs(load_profile(write_case(tmp, **kwargs)))
    return info.value


def only(err: InputFileError, column: str) -> Any:
    hits = [p for p in err.problems if p.column == column]
    assert len(hits) == 1, f"expected one problem on {column!r}, got {err}"
    return hits[0]


# ---------------------------------------------------------------- the valid case loads

def test_the_valid_case_loads(tmp_path: Path) -> None:
    inputs = load_inputs(load_profile(write_case(tmp_path)))
    assert inputs.accounting.rows_used == 8


# ---------------------------------------------------------------- missing columns

def test_missing_area_columns_name_the_column_the_file_columns_and_a_close_match(
        tmp_path: Path) -> None:
    prof = base_profile()
    prof["areas"]["id"] = "Code"      # case differs
    prof["areas"]["name"] = "lable"   # typo
    prof["areas"]["groups"] = {"district": "district_name"}
    err = load_error(tmp_path, profile=prof)
    id_problem = only(err, "Code")
    assert "Did you mean 'code'?" in id_problem.message
    assert "'code', 'label', 'dist'" in id_problem.message
    assert 'set id = "code" in [areas]' in id_problem.fix
    assert "Did you mean 'label'?" in only(err, "lable").message
    assert "group 'district'" in only(err, "district_name").message
    assert "areas.gpkg, column 'Code'" in str(err)


def test_missing_incident_columns_are_all_reported_at_once(tmp_path: Path) -> None:
    prof = base_profile()
    prof["incidents"].update(x="eastings", date="date", type="category")
    prof["incidents"]["filters"] = [{"column": "motives", "values": ["accidental"]}]
    err = load_error(tmp_path, profile=prof)
    assert "Did you mean 'east'?" in only(err, "eastings").message
    assert "the incident date" in only(err, "date").message
    assert "the incident type" in only(err, "category").message
    assert "Did you mean 'motive'?" in only(err, "motives").message
    # the personal column exists in the file but is never suggested or read
    assert "caller_name" in only(err, "date").message  # listed among the file's columns


def test_missing_covariate_key_feature_and_exposure_columns(tmp_path: Path) -> None:
    prof = base_profile()
    prof["covariates"][0]["key"] = "cod"
    prof["exposure"]["column"] = "household"
    prof["features"]["score"]["column"] = "scores"
    err = load_error(tmp_path, profile=prof)
    assert "Did you mean 'code'?" in only(err, "cod").message
    assert "Did you mean 'households'?" in only(err, "household").message
    assert "[exposure]" in only(err, "household").message
    scores = only(err, "scores")
    assert "[features.score]" in scores.message
    assert 'set column to "score" in [features.score]' in scores.fix


def test_drop_columns_may_not_drop_a_needed_column(tmp_path: Path) -> None:
    prof = base_profile()
    prof["incidents"]["drop_columns"] = ["caller_name", "when"]
    prof["covariates"][0]["drop_columns"] = ["score"]
    err = load_error(tmp_path, profile=prof)
    assert "drop_columns" in only(err, "when").message
    assert "drop_columns" in only(err, "score").message


# ---------------------------------------------------------------- dates

def test_wrong_date_format_is_an_error_naming_column_rows_and_the_right_format(
        tmp_path: Path) -> None:
    prof = base_profile()
    prof["incidents"]["date_format"] = "%d/%m/%Y"
    err = load_error(tmp_path, profile=prof)
    problem = only(err, "when")
    assert problem.rows == tuple(range(1, 15))  # every row fails
    assert "14 of 14" in problem.message
    assert "'2020-03-01'" in problem.message
    assert 'date_format = "%Y-%m-%d"' in problem.fix
    assert "rows 1, 2, 3, 4, 5, ... (14 rows in all)" in str(err)


def test_a_few_bad_dates_are_dropped_not_fatal(tmp_path: Path) -> None:
    rows = incidents()
    rows.loc[0, "when"] = "not a date"   # row 1
    rows.loc[1, "when"] = ""             # row 2
    inputs = load_inputs(load_profile(write_case(tmp_path, incident_rows=rows)))
    acc = inputs.accounting
    # rows 1 and 2 join row 10 (30 February) as "bad date"
    assert acc.dropped["bad date"] == 3
    assert acc.examples["bad date"] == (1, 2, 10)
    assert acc.rows_used == 6


def test_parse_dates_never_raises_on_odd_values() -> None:
    values = pd.Series(["2020-01-01", "0201-01-01", "2020-01-01T10:00:00+01:00", None, "x"])
    parsed = parse_dates(values, None)
    assert parsed.isna().tolist() == [False, True, False, True, True]
    assert parsed.iloc[2] == pd.Timestamp("2020-01-01 10:00")
    assert parse_dates(pd.Series(["31/01/2020"]), "%d/%m/%Y").iloc[0] == pd.Timestamp("2020-01-31")


def test_day_first_dates_get_a_day_first_suggestion(tmp_path: Path) -> None:
    rows = incidents()
    rows["when"] = pd.to_datetime(rows["when"], errors="coerce").dt.strftime("%d/%m/%Y")
    rows["when"] = rows["when"].fillna("30/02/2020")
    err = load_error(tmp_path, incident_rows=rows)   # profile still says %Y-%m-%d
    assert 'date_format = "%d/%m/%Y"' in only(err, "when").fix


def test_study_period_that_misses_the_data(tmp_path: Path) -> None:
    prof = base_profile()
    prof["study"] = {"start": date(2030, 1, 1), "end": date(2031, 12, 31)}
    err = load_error(tmp_path, profile=prof)
    problem = only(err, "when")
    assert "2019-12-31 to 2021-07-01" in problem.message
    assert "[study]" in problem.fix


# ---------------------------------------------------------------- coordinates

def _lonlat(rows: pd.DataFrame) -> pd.DataFrame:
    tr = pyproj.Transformer.from_crs(27700, 4326, always_xy=True)
    out = rows.copy()
    ok = pd.to_numeric(out["east"], errors="coerce").notna()
    lon, lat = tr.transform(out.loc[ok, "east"].astype(float), out.loc[ok, "north"].astype(float))
    out["east"] = out["east"].astype(object)
    out["north"] = out["north"].astype(object)
    out.loc[ok, "east"] = [f"{v:.7f}" for v in lon]
    out.loc[ok, "north"] = [f"{v:.7f}" for v in lat]
    return out


def test_longitude_latitude_declared_as_bng_is_diagnosed(tmp_path: Path) -> None:
    err = load_error(tmp_path, incident_rows=_lonlat(incidents()))  # crs still EPSG:27700
    problem = only(err, "east/north")
    assert 'these look like longitude/latitude; set crs = "EPSG:4326"' in problem.fix
    # rows with coordinates that pass the filter: all but row 9 (none) and 12 (deliberate)
    assert problem.rows == (1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14)
    assert "12 of 12" in problem.message


def test_swapped_x_and_y_are_diagnosed(tmp_path: Path) -> None:
    rows = incidents().rename(columns={"east": "north", "north": "east"})
    err = load_error(tmp_path, incident_rows=rows)
    assert 'x and y look swapped; set x = "north" and y = "east"' in only(err, "east/north").fix


def test_mostly_missing_coordinates_are_an_error(tmp_path: Path) -> None:
    rows = incidents()
    rows.loc[0:9, "east"] = "n/a"      # rows 1..10 (row 9 was already empty)
    err = load_error(tmp_path, incident_rows=rows)
    problem = only(err, "east")
    assert problem.rows == tuple(range(1, 11))
    assert "10 of 14" in problem.message
    assert "'n/a'" in problem.message


def test_decimal_commas_get_their_own_fix(tmp_path: Path) -> None:
    rows = _lonlat(incidents())
    rows["east"] = rows["east"].astype(str).str.replace(".", ",", regex=False)
    prof = base_profile()
    prof["incidents"]["crs"] = "EPSG:4326"
    err = load_error(tmp_path, incident_rows=rows, profile=prof)
    assert "full stop as the decimal mark" in only(err, "east").fix


def test_a_few_points_outside_every_area_are_dropped(tmp_path: Path) -> None:
    inputs = load_inputs(load_profile(write_case(tmp_path)))
    assert inputs.accounting.dropped["outside every area"] == 1
    assert inputs.accounting.examples["outside every area"] == (8,)


# ---------------------------------------------------------------- areas

def test_duplicated_area_ids_name_every_row(tmp_path: Path) -> None:
    areas = grid()
    areas.loc[3, "code"] = "D"   # rows 1 and 4 are now both D
    err = load_error(tmp_path, areas=areas)
    problem = next(p for p in err.problems if p.column == "code" and "unique" in p.message)
    assert problem.rows == (1, 4)
    assert "'D'" in problem.message


def test_invalid_geometry_is_reported_with_make_valid_fix_and_can_be_repaired(
        tmp_path: Path) -> None:
    areas = grid()
    x, y = X0 + 100, Y0 + 100      # row 1 (area D) becomes a bow-tie over its own square
    areas.loc[0, "geometry"] = shapely.Polygon([(x, y), (x + 100, y + 100), (x + 100, y),
                                                (x, y + 100)])
    err = load_error(tmp_path, areas=areas)
    problem = only(err, "geometry")
    assert problem.rows == (1,)
    assert "Self-intersection" in problem.message
    assert "make_valid" in problem.fix
    assert "QGIS" in problem.fix
    assert "repair_geometry = true" in problem.fix
    # The fix the message names: one profile key, no code.
    prof = base_profile()
    prof["areas"]["repair_geometry"] = True
    repaired = load_inputs(load_profile(write_case(tmp_path, areas=areas, profile=prof)))
    assert repaired.areas.is_valid.all()
    assert any("repaired 1 invalid" in n for n in repaired.notes)
    # the repaired bow-tie still covers point 7 (530150, 180150), on its diagonal crossing
    assert repaired.counts.loc["D"].sum() == 1


def test_missing_crs_in_a_zipped_shapefile(tmp_path: Path) -> None:
    shp = tmp_path / "shp"
    shp.mkdir()
    grid().to_file(shp / "areas.shp", engine="pyogrio")
    with zipfile.ZipFile(tmp_path / "areas.zip", "w") as zf:
        for part in shp.iterdir():
            if part.suffix != ".prj":     # a shapefile shared without its .prj
                zf.write(part, part.name)
    prof = base_profile()
    prof["areas"]["path"] = "areas.zip"
    err = load_error(tmp_path, areas_file="areas.zip", profile=prof)
    problem = next(p for p in err.problems if "missing CRS" in p.message)
    assert problem.file.endswith("areas.zip")
    assert "British National Grid" in problem.message
    assert problem.fix.startswith('set crs = "EPSG:27700" in [areas]')
    # with the CRS set in the profile, the same file loads
    prof["areas"]["crs"] = "EPSG:27700"
    (tmp_path / "profile.toml").write_text(toml_dumps(prof), encoding="utf-8")
    assert load_inputs(load_profile(tmp_path / "profile.toml")).accounting.rows_used == 8


def test_missing_crs_for_csv_incidents_suggests_one(tmp_path: Path) -> None:
    prof = base_profile()
    del prof["incidents"]["crs"]
    err = load_error(tmp_path, profile=prof)
    problem = next(p for p in err.problems if "missing CRS" in p.message)
    assert 'set crs = "EPSG:27700" in [incidents]' in problem.fix


def test_projected_metres_labelled_as_lonlat(tmp_path: Path) -> None:
    prof = base_profile()
    prof["incidents"]["crs"] = "EPSG:4326"
    err = load_error(tmp_path, profile=prof)
    problem = next(p for p in err.problems if "not degrees" in p.message)
    assert 'set crs = "EPSG:27700" in [incidents]' in problem.fix


# ---------------------------------------------------------------- covariates

def test_areas_without_a_covariate_row_are_an_error(tmp_path: Path) -> None:
    cov = covariates()
    cov = cov[cov["code"] != "B"]
    err = load_error(tmp_path, cov=cov)
    problem = only(err, "code")
    assert "1 of 4 areas have no row" in problem.message
    assert "'B'" in problem.message


def test_numeric_area_ids_match_text_keys(tmp_path: Path) -> None:
    areas = grid()
    areas["code"] = [4.0, 3.0, 2.0, 1.0]          # D, C, B, A stored as real numbers
    cov = covariates()
    cov["code"] = ["1", "2", "3", "4", "99"]
    inputs = load_inputs(load_profile(write_case(tmp_path, areas=areas, cov=cov)))
    assert list(inputs.counts.index) == ["4", "3", "2", "1"]
    assert inputs.covariates_raw.loc["2", "households"] == 200


def test_keys_that_match_nothing_show_both_sides(tmp_path: Path) -> None:
    cov = covariates()
    cov["code"] = ["E01000001", "E01000002", "E01000003", "E01000004", "E01000005"]
    err = load_error(tmp_path, cov=cov)
    problem = only(err, "code")
    assert "no key matches" in problem.message
    assert "'E01000001'" in problem.message
    assert "'D'" in problem.message


def test_covariate_rows_for_other_places_are_dropped_and_counted(tmp_path: Path) -> None:
    inputs = load_inputs(load_profile(write_case(tmp_path)))
    (acc,) = inputs.covariate_accounting
    assert (acc.rows_read, acc.rows_used, acc.dropped["other places"]) == (5, 4, 1)
    assert acc.examples["other places"] == ("Z",)
    assert any("places not in the area file" in n for n in inputs.notes)
    assert list(inputs.covariates_raw.index) == ["D", "C", "B", "A"]


def test_repeated_covariate_keys_are_an_error(tmp_path: Path) -> None:
    cov = pd.concat([covariates(), covariates().iloc[[2]]], ignore_index=True)  # C again, row 6
    err = load_error(tmp_path, cov=cov)
    problem = only(err, "code")
    assert problem.rows == (3, 6)
    assert "'C'" in problem.message


def test_text_in_feature_and_exposure_columns(tmp_path: Path) -> None:
    cov = covariates()
    cov.loc[1, "score"] = "x"            # row 2
    cov.loc[3, "score"] = ".."           # row 4
    cov.loc[4, "score"] = "n/a"          # row 5, but Z is another place: ignored
    cov.loc[0, "households"] = "1,200"   # row 1
    err = load_error(tmp_path, cov=cov)
    score = only(err, "score")
    assert score.rows == (2, 4)
    assert "'x'" in score.message
    households = only(err, "households")
    assert households.rows == (1,)
    assert "thousands separators" in households.fix


def test_empty_exposure_values(tmp_path: Path) -> None:
    cov = covariates()
    cov.loc[2, "households"] = ""
    err = load_error(tmp_path, cov=cov)
    problem = only(err, "households")
    assert problem.rows == (3,)
    assert "empty" in problem.message


def test_filter_values_that_match_nothing(tmp_path: Path) -> None:
    prof = base_profile()
    prof["incidents"]["filters"] = [{"column": "motive", "values": ["Accidental"]}]
    err = load_error(tmp_path, profile=prof)
    problem = only(err, "motive")
    assert "'accidental'" in problem.message


# ---------------------------------------------------------------- all at once

def test_problems_in_several_files_are_raised_together(tmp_path: Path) -> None:
    areas = grid()
    areas.loc[3, "code"] = "D"
    cov = covariates()
    cov.loc[1, "score"] = "x"
    prof = base_profile()
    prof["incidents"]["date_format"] = "%d/%m/%Y"
    err = load_error(tmp_path, areas=areas, cov=cov, profile=prof)
    files = {Path(p.file).name for p in err.problems}
    assert {"areas.gpkg", "incidents.csv", "cov.csv"} <= files
    assert str(err).startswith("The input files have problems")
