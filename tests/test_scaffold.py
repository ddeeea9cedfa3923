"""``firerisk init``: a draft profile guessed from the files, checked against the hand-written
London profile and on small files with other conventions."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from firerisk.errors import InputFileError, ProfileError, UnsafeFileError
from firerisk.geo import scaffold
from firerisk.geo.guard import check_profile_inputs
from firerisk.geo.ingest import load_inputs
from firerisk.geo.profile import load_profile
from firerisk.geo.scaffold import draft_profile
from tests.conftest import SAMPLE_PROFILE
from tests.test_cli import _run

SAMPLE = SAMPLE_PROFILE.parent


def _fill_provenance(text: str) -> str:
    return (text.replace('publisher = ""', 'publisher = "P"')
            .replace('licence = ""', 'licence = "OGL"')
            .replace('attribution = ""', 'attribution = "A"'))


def test_london_draft_matches_the_hand_written_profile(tmp_path: Path) -> None:
    from firerisk.pipeline import check

    draft = draft_profile(
        areas=SAMPLE / "london_lsoa21.geojson",
        incidents=SAMPLE / "lfb_dwelling_fires_2009_2024.csv.gz",
        covariates=[SAMPLE / "imd2025_london.csv", SAMPLE / "census2021_households_london.csv"],
        relative_to=SAMPLE)
    assert draft.unresolved == ()
    doc = tomllib.loads(draft.text)
    truth = tomllib.loads(SAMPLE_PROFILE.read_text(encoding="utf-8"))
    for key in ("path", "id", "name"):
        assert doc["areas"][key] == truth["areas"][key]
    assert list(doc["areas"]["groups"].values()) == list(truth["areas"]["groups"].values())
    for key in ("path", "x", "y", "crs", "date", "date_format"):
        assert doc["incidents"][key] == truth["incidents"][key], key
    assert [c["key"] for c in doc["covariates"]] == [c["key"] for c in truth["covariates"]]
    assert doc["exposure"]["column"] == truth["exposure"]["column"]
    assert doc["features"]["imd_score"]["column"] == truth["features"]["imd_score"]["column"]

    # Unfilled provenance is refused: nothing is built on an invented licence.
    (tmp_path / "draft.toml").write_text(draft.text.replace(
        'path = "', f'path = "{SAMPLE.as_posix()}/'), encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(tmp_path / "draft.toml")
    assert {p.message.split("'")[1] for p in info.value.problems} >= {
        "areas.provenance.publisher", "incidents.provenance", "covariates[1].provenance"}

    # Filled in, the draft reads every file exactly as the hand-written profile does.
    (tmp_path / "draft.toml").write_text(_fill_provenance(
        (tmp_path / "draft.toml").read_text(encoding="utf-8")), encoding="utf-8")
    mine, theirs = check(tmp_path / "draft.toml"), check(SAMPLE_PROFILE)
    assert mine.accounting == theirs.accounting
    assert mine.full_years == theirs.full_years
    assert mine.areas == theirs.areas == 4994


def _small_case(tmp: Path, *, coords: str) -> dict[str, Path]:
    codes = [f"W0100{i:04d}" for i in range(12)]
    squares = [shapely.box(-3.2 + 0.01 * i, 51.48, -3.19 + 0.01 * i, 51.49) for i in range(12)]
    areas = gpd.GeoDataFrame({"LSOA_CD": codes,
                              "LSOA_NM": [f"Cardiff {i:03d}" for i in range(12)],
                              "Ward_Name": ["North", "South", "East"] * 4},
                             geometry=squares, crs="EPSG:4326")
    areas.to_file(tmp / "areas.gpkg", layer="lsoa", engine="pyogrio")
    if coords == "lonlat":
        inc = pd.DataFrame({"Call Date": ["03/01/2021", "15/06/2021", "28/02/2022"],
                            "Longitude": [-3.195, -3.155, -3.105],
                            "Latitude": [51.485, 51.486, 51.487]})
    else:
        inc = pd.DataFrame({"Call Date": ["03/01/2021", "15/06/2021", "28/02/2022"],
                            "where": ["a", "b", "c"]})
    inc.to_csv(tmp / "calls.csv", index=False)
    # a national table: rows for 20 other places come first
    others = [f"W0109{i:04d}" for i in range(20)]
    pd.DataFrame({"area": others + codes, "Households total": range(500, 532),
                  "Deprivation score": [float(i) for i in range(32)]}).to_csv(
        tmp / "wimd.csv", index=False)
    return {"areas": tmp / "areas.gpkg", "incidents": tmp / "calls.csv",
            "covariates": tmp / "wimd.csv"}


def test_other_conventions_are_guessed(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="lonlat")
    draft = draft_profile(areas=files["areas"], incidents=files["incidents"],
                          covariates=[files["covariates"]], relative_to=tmp_path)
    doc = tomllib.loads(draft.text)
    assert draft.unresolved == ()
    assert (doc["areas"]["id"], doc["areas"]["name"]) == ("LSOA_CD", "LSOA_NM")
    assert doc["areas"]["groups"] == {"ward": "Ward_Name"}
    assert (doc["incidents"]["x"], doc["incidents"]["y"]) == ("Longitude", "Latitude")
    assert doc["incidents"]["crs"] == "EPSG:4326"
    assert (doc["incidents"]["date"], doc["incidents"]["date_format"]) == ("Call Date",
                                                                         "%d/%m/%Y")
    assert doc["covariates"][0]["key"] == "area"
    assert "the same kind of codes as the areas" in draft.text
    assert doc["exposure"]["column"] == "Households total"
    assert doc["features"]["deprivation_score"]["column"] == "Deprivation score"
    assert doc["areas"]["path"] == "areas.gpkg"  # relative to the profile's folder
    # no value from any file is copied into the draft
    for value in ("Cardiff 000", "North", "W01000000", "51.485"):
        assert value not in draft.text


def test_personal_columns_are_dropped_in_the_draft(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="lonlat")
    inc = pd.read_csv(files["incidents"])
    inc["Caller phone"] = ["07700 900123", "07700 900456", "07700 900789"]
    inc["notes"] = ["kitchen", "bedroom", "chip pan"]
    inc["Contact"] = ["a@example.org", "b@example.org", "c@example.org"]
    inc.to_csv(files["incidents"], index=False)
    draft = draft_profile(areas=files["areas"], incidents=files["incidents"],
                          covariates=[files["covariates"]], relative_to=tmp_path)
    doc = tomllib.loads(draft.text)
    assert set(doc["incidents"]["drop_columns"]) == {"Caller phone", "notes", "Contact"}
    assert "drop_columns" not in doc["covariates"][0]
    assert "example.org" not in draft.text
    (tmp_path / "p.toml").write_text(_fill_provenance(draft.text), encoding="utf-8")
    # the drafted profile passes the guard and reads every incident
    profile = load_profile(tmp_path / "p.toml")
    check_profile_inputs(profile)
    assert load_inputs(profile).accounting.rows_used == 3


def test_what_cannot_be_guessed_is_listed_and_left_empty(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="none")
    draft = draft_profile(areas=files["areas"], incidents=files["incidents"],
                          covariates=[files["covariates"]])
    assert set(draft.unresolved) == {"incidents.x", "incidents.y"}
    doc = tomllib.loads(draft.text)  # still valid TOML
    assert doc["incidents"]["x"] == doc["incidents"]["y"] == ""


def test_unusable_files_are_all_named_in_one_error(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="lonlat")
    binary = tmp_path / "export.csv"
    binary.write_bytes(bytes(range(128, 256)) * 50)
    with pytest.raises(InputFileError) as info:
        draft_profile(areas=files["incidents"], incidents=files["incidents"],
                      covariates=[files["areas"], tmp_path / "nope.csv"])
    by_file = {Path(p.file).name: p.message for p in info.value.problems}
    assert by_file == {"calls.csv": "holds no area polygons (geometry: none).",
                       "areas.gpkg": "is not a CSV file.",
                       "nope.csv": "the file does not exist."}
    # refused by the file gate before any reader opens it
    with pytest.raises(UnsafeFileError, match=r"export\.csv: is a binary file \(not text\)"):
        draft_profile(areas=files["areas"], incidents=binary, covariates=[files["covariates"]])


def test_init_command_writes_once_and_says_what_is_left(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="none")
    args = ["init", "--areas", str(files["areas"]), "--incidents", str(files["incidents"]),
            "--covariates", str(files["covariates"]), "--out", str(tmp_path / "p.toml")]
    first = _run(*args)
    assert first.returncode == 0, first.stderr
    assert "set incidents.x (not guessed)" in first.stdout
    assert "provenance" in first.stdout
    written = (tmp_path / "p.toml").read_text(encoding="utf-8")
    again = _run(*args)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert "--force" in again.stderr
    assert (tmp_path / "p.toml").read_text(encoding="utf-8") == written
    assert _run(*args, "--force").returncode == 0


# --- conventions of real English/Welsh fire-service and ONS files ----------------------------

def _draft(files: dict[str, Path], tmp: Path) -> tuple[dict[str, Any], tuple[str, ...], str]:
    draft = draft_profile(areas=files["areas"], incidents=files["incidents"],
                          covariates=[files["covariates"]], relative_to=tmp)
    return tomllib.loads(draft.text), draft.unresolved, draft.text


def _loaded(text: str, tmp: Path) -> Any:
    """The drafted profile, provenance filled in, read by the loader as a build would."""
    (tmp / "p.toml").write_text(_fill_provenance(text), encoding="utf-8")
    return load_inputs(load_profile(tmp / "p.toml"))


def test_ons_boundary_attribute_names(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="lonlat")
    n = 12
    squares = gpd.read_file(files["areas"]).geometry
    # the columns of an ONS Open Geography download, bookkeeping columns first
    areas = gpd.GeoDataFrame({
        "FID": range(1, n + 1), "OBJECTID": range(101, 101 + n),
        "GlobalID": [f"{{a1b2c3d4-0000-4000-8000-{i:012d}}}" for i in range(n)],
        "LSOA11CD": [f"W0101{i:04d}" for i in range(n)],
        "LSOA21CD": [f"W0100{i:04d}" for i in range(n)],
        "LSOA21NM": [f"Cardiff {i:03d}" for i in range(n)],
        "LSOA21NMW": [f"Caerdydd {i:03d}" for i in range(n)],
        "station_code": ["S1", "S2", "S3", "S4"] * 3,
        "station_name": ["Ely", "Roath", "Splott", "Canton"] * 3,
        "LAD22CD": ["W06000015", "W06000022"] * 6, "LAD22NM": ["Cardiff", "Newport"] * 6,
        "MSOA21NM": [f"Cardiff {i // 2:03d}" for i in range(n)],
        "WD22NM": ["Adamsdown", "Butetown", "Cathays"] * 4,
        "BNG_E": range(318_000, 318_000 + n), "BNG_N": range(176_000, 176_000 + n),
        "LAT": [51.48 + i / 1000 for i in range(n)], "LONG": [-3.2 + i / 100 for i in range(n)],
        "Shape__Area": [12_345.6 + i for i in range(n)],
        "Shape__Length": [456.7 + i for i in range(n)]}, geometry=squares, crs="EPSG:4326")
    areas.to_file(tmp_path / "lsoa.geojson", engine="pyogrio")
    files["areas"] = tmp_path / "lsoa.geojson"
    doc, unresolved, text = _draft(files, tmp_path)
    assert unresolved == ()
    assert (doc["areas"]["id"], doc["areas"]["name"]) == ("LSOA21CD", "LSOA21NM")
    assert doc["areas"]["groups"] == {"local_authority": "LAD22NM", "ward": "WD22NM",
                                      "station": "station_name", "msoa": "MSOA21NM"}
    for value in ("Cardiff", "Adamsdown", "W06000015", "318000", "a1b2c3d4"):
        assert value not in text
    # only bookkeeping columns: nothing is taken for the id, name or a group
    technical = pd.DataFrame(areas.drop(columns="geometry")).astype(str)[
        ["FID", "OBJECTID", "GlobalID", "BNG_E", "BNG_N", "LAT", "LONG", "Shape__Area",
         "Shape__Length"]]
    assert scaffold._area_id(technical) is None
    assert scaffold._area_name(technical, None) is None
    assert scaffold._groups(technical, []) == []


@pytest.mark.parametrize(("x", "y", "values", "crs"), [
    ("Easting", "Northing", ([318_500, 322_500], [176_500, 176_600]), "EPSG:27700"),
    ("EASTING_M", "NORTHING_M", ([318_500, 322_500], [176_500, 176_600]), "EPSG:27700"),
    ("X_COORD", "Y_COORD", ([318_500, 322_500], [176_500, 176_600]), "EPSG:27700"),
    ("x", "y", ([318_500, 322_500], [176_500, 176_600]), "EPSG:27700"),
    ("x", "y", ([-3.195, -3.155], [51.485, 51.486]), "EPSG:4326"),
    ("Longitude", "Latitude", ([-3.195, -3.155], [51.485, 51.486]), "EPSG:4326"),
    ("lng", "lat", ([-3.195, -3.155], [51.485, 51.486]), "EPSG:4326"),
])
def test_incident_coordinate_headers(tmp_path: Path, x: str, y: str,
                                     values: tuple[list[float], list[float]], crs: str) -> None:
    files = _small_case(tmp_path, coords="none")
    # latitude first, as some extracts have it, and the personal 'where' column dropped
    pd.DataFrame({"IncidentNumber": ["001", "002"], y: values[1], x: values[0],
                  "Date of Call": ["03/01/2021", "15/06/2021"]}).to_csv(files["incidents"],
                                                                         index=False)
    doc, unresolved, _ = _draft(files, tmp_path)
    assert unresolved == ()
    assert (doc["incidents"]["x"], doc["incidents"]["y"], doc["incidents"]["crs"]) == (x, y, crs)


def test_coordinates_with_separators_or_spaces_are_still_guessed(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="none")
    pd.DataFrame({"Easting": ["318,512", " 322 501 ", "327 497"],
                  "Northing": ["176,523", "176 611", " 176,702"],
                  "Date of Call": ["03/01/2021", "15/06/2021", "28/02/2022"]}).to_csv(
        files["incidents"], index=False)
    doc, unresolved, text = _draft(files, tmp_path)
    assert unresolved == ()
    assert doc["incidents"]["crs"] == "EPSG:27700"
    assert "thousands separators or spaces" in text  # the loader reads plain numbers only
    for value in ("318", "176", "512"):
        assert value not in text


@pytest.mark.parametrize(("x", "y", "kind", "crs"), [
    ([318_500.0, 0.0, 455_000.0], [176_500.0, 0.0, 1_210_000.0], "grid", "EPSG:27700"),
    ([318_500.0, 455_000.0], [176_500.0, 280_000.0], "either", "EPSG:27700"),
    ([-3.2, -0.1, 1.7], [51.5, 53.4, 52.6], "either", "EPSG:4326"),
    ([-3.2, -0.1, 1.7], [51.5, 53.4, 52.6], "grid", None),  # "Easting" holding degrees
    ([3.0, 12.0, 45.0], [5.0, 80.0, 20.0], "grid", None),  # tiny grid numbers
    ([3.0, 12.0, 45.0], [5.0, 80.0, 20.0], "either", None),  # not near the UK either
    ([318_500.0, 455_000.0], [176_500.0, 280_000.0], "geographic", None),
    ([151.2, 151.3], [-33.9, -33.8], "either", None),  # Sydney
    ([-500.0, 2_000_000.0], [9_000_000.0, -7.0], "either", None),
    ([np.nan, np.nan], [np.nan, np.nan], "either", None),
])
def test_crs_guess_needs_plausible_coordinates(x: list[float], y: list[float], kind: str,
                                               crs: str | None) -> None:
    as_text = [pd.Series([None if np.isnan(v) else str(v) for v in vs]) for vs in (x, y)]
    assert scaffold._guess_crs(*as_text, kind=kind) == crs


_DATES = {
    "dd/mm/yyyy": ("Date of Call", ["03/01/2021", "15/06/2021", "28/02/2022"], "%d/%m/%Y"),
    "dd/mm/yyyy hh:mm": ("CallDate", ["03/01/2021 14:05", "15/06/2021 09:30",
                                      "28/02/2022 23:59"], "%d/%m/%Y %H:%M"),
    "iso with space": ("IncidentDate", ["2021-01-03 14:05:00", "2021-06-15 09:30:00",
                                        "2022-02-28 23:59:00"], "%Y-%m-%d %H:%M:%S"),
    "iso with T": ("IncidentDate", ["2021-01-03T14:05:00", "2021-06-15T09:30:00",
                                     "2022-02-28T23:59:00"], "%Y-%m-%dT%H:%M:%S"),
    "iso, mixed layouts": ("IncidentDate", ["2021-01-03T14:05:00Z", "2021-06-15",
                                             "2022-02-28 23:59:00.000"], None),
}


@pytest.mark.parametrize("case", list(_DATES))
def test_incident_date_conventions_are_read_by_the_loader(tmp_path: Path, case: str) -> None:
    column, dates, fmt = _DATES[case]
    files = _small_case(tmp_path, coords="lonlat")
    inc = pd.read_csv(files["incidents"], dtype=str).drop(columns="Call Date")
    inc.insert(0, "incident_number", ["210001", "210002", "220003"])
    inc.insert(1, "year", ["2021", "2021", "2022"])
    inc[column] = dates
    inc.to_csv(files["incidents"], index=False)
    doc, unresolved, text = _draft(files, tmp_path)
    assert unresolved == ()
    assert doc["incidents"]["date"] == column
    assert doc["incidents"].get("date_format") == fmt
    assert "2021" not in text
    # the loader reads every date with the drafted settings
    assert _loaded(text, tmp_path).accounting.rows_used == 3


def test_mixed_day_first_layouts_leave_the_format_to_the_user(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="lonlat")
    inc = pd.read_csv(files["incidents"], dtype=str)
    inc["Call Date"] = ["03/01/2021", "15/06/2021 09:30", "28/02/2022 23:59"]
    inc.to_csv(files["incidents"], index=False)
    doc, unresolved, text = _draft(files, tmp_path)
    assert doc["incidents"]["date"] == "Call Date"
    assert "date_format" not in doc["incidents"]  # left out: no one format reads them all
    assert unresolved == ("incidents.date_format",)
    assert '# date_format = "%d/%m/%Y %H:%M"' in text


def test_numbers_and_years_are_not_taken_for_dates(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="lonlat")
    inc = pd.read_csv(files["incidents"], dtype=str).drop(columns="Call Date")
    # ISO 8601 would read both as dates: 20210103 as 3 Jan 2021, 2021 as 1 Jan 2021
    inc.insert(0, "incident_number", ["20210103", "20210615", "20220228"])
    inc.insert(1, "year", ["2021", "2021", "2022"])
    inc.to_csv(files["incidents"], index=False)
    doc, unresolved, _ = _draft(files, tmp_path)
    assert doc["incidents"]["date"] == ""
    assert "incidents.date" in unresolved
    inc["reported"] = ["2021-01-03", "2021-06-15", "2022-02-28"]
    inc.to_csv(files["incidents"], index=False)
    doc, unresolved, _ = _draft(files, tmp_path)
    assert (doc["incidents"]["date"], doc["incidents"]["date_format"]) == ("reported",
                                                                         "%Y-%m-%d")


@pytest.mark.parametrize("key", ["LSOA code (2021)", "lsoa21cd"])
@pytest.mark.parametrize("national", [False, True])
def test_covariate_keys_with_blank_and_footer_rows(tmp_path: Path, key: str,
                                                   national: bool) -> None:
    files = _small_case(tmp_path, coords="lonlat")
    codes = [f"W0100{i:04d}" for i in range(12)]
    others = [f"W0109{i:04d}" for i in range(20)] if national else []
    table = pd.DataFrame({key: others + codes,
                          "LSOA name (2021)": [f"Place {i}" for i in range(len(others) + 12)],
                          "Average household size": [2.4] * (len(others) + 12),
                          "Total: All households": range(500, 500 + len(others) + 12),
                          "IMD score": [float(i) + 0.5 for i in range(len(others) + 12)]})
    footer = (",,,,\n,,,,\n\n\"Source: Office for National Statistics, Census 2021\",,,,\n"
              "Notes: figures are rounded to the nearest 5,,,,\n")
    files["covariates"].write_text(table.to_csv(index=False) + footer, encoding="utf-8")
    doc, unresolved, text = _draft(files, tmp_path)
    assert unresolved == ()
    assert doc["covariates"][0]["key"] == key
    assert doc["exposure"]["column"] == "Total: All households"
    assert doc["features"]["imd_score"]["column"] == "IMD score"
    assert "Average household size" in text  # a numeric column, despite the footer
    if not national:
        return
    # the loader reads the table as drafted: the 12 areas used, the rest dropped and counted
    (tmp_path / "p.toml").write_text(_fill_provenance(text), encoding="utf-8")
    profile = load_profile(tmp_path / "p.toml")
    check_profile_inputs(profile)
    (acc,) = load_inputs(profile).covariate_accounting
    assert (acc.rows_used, acc.dropped["other places"]) == (12, 20 + 2)  # + source and notes
    assert acc.dropped["no key"] == 2  # the two blank rows: no area, not a repeated one


def test_households_column_is_a_count_not_a_rate() -> None:
    n = 4
    table = pd.DataFrame({
        "Average household size": ["2.4"] * n,
        "Households with 1 person (%)": ["30.5"] * n,
        "Household deprivation: Total; measures: Percent": ["100"] * n,
        "Number of households with dependent children": ["120"] * n,
        "Tenure of household: Total: All households": ["500"] * n,
        "Households total": ["n/a", "..", "x", "5"]})  # not numbers: not the exposure
    assert scaffold._exposure([("census", table)]) == (
        "census", "Tenure of household: Total: All households")
    assert scaffold._exposure([("census", table.iloc[:, :4])]) == (
        "census", "Number of households with dependent children")
    assert scaffold._exposure([("census", table.iloc[:, :3])]) is None


def test_init_guesses_the_csv_layouts_and_the_incident_number(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="lonlat")
    calls = pd.read_csv(files["incidents"], dtype=str)
    calls.insert(0, "IncidentNumber", [f"INC{i:05d}" for i in range(len(calls))])
    text = calls.to_csv(index=False, sep=";")
    files["incidents"].write_bytes(("Dwelling fires extract\nRun 2024-09-01\n\n" + text)
                                   .encode("utf-16"))
    cov = files["covariates"]
    cov.write_text(cov.read_text(encoding="utf-8").replace(",", "\t"), encoding="utf-8")
    draft = draft_profile(areas=files["areas"], incidents=files["incidents"],
                          covariates=[cov], relative_to=tmp_path)
    doc = tomllib.loads(draft.text)
    inc = doc["incidents"]
    assert (inc["delimiter"], inc["encoding"], inc["skip_rows"]) == (";", "utf-16", 3)
    assert inc["id"] == "IncidentNumber"
    assert (inc["x"], inc["date"]) == ("Longitude", "Call Date")
    assert doc["covariates"][0]["delimiter"] == "\t"
    assert "encoding" not in doc["covariates"][0]
    assert doc["covariates"][0]["key"] == "area"


def test_init_guesses_two_date_layouts_when_one_does_not_read_them_all(tmp_path: Path) -> None:
    files = _small_case(tmp_path, coords="lonlat")
    calls = pd.read_csv(files["incidents"], dtype=str)
    calls = pd.concat([calls] * 4, ignore_index=True)
    calls.loc[[0, 1, 2, 3, 4], "Call Date"] = ["2021-01-03", "2021-06-15", "2022-02-28",
                                               "2021-03-01", "2021-04-01"]
    calls.to_csv(files["incidents"], index=False)
    draft = draft_profile(areas=files["areas"], incidents=files["incidents"],
                          covariates=[files["covariates"]], relative_to=tmp_path)
    inc = tomllib.loads(draft.text)["incidents"]
    assert (inc["date_format"], inc["other_date_formats"]) == ("%d/%m/%Y", ["%Y-%m-%d"])
    assert "incidents.date_format" not in draft.unresolved
