"""``firerisk init``: a draft profile guessed from the files, checked against the hand-written
London profile and on small files with other conventions."""

from __future__ import annotations

import tomllib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.errors import InputFileError, ProfileError
from geo.guard import check_profile_inputs
from geo.ingest import load_inputs
from geo.profile import load_profile
from geo.scaffold import draft_profile
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
    with pytest.raises(InputFileError, match=r"export\.csv: could not be read as CSV"):
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
