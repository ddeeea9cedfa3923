"""Tests for geo.guard: the personal-data guard at ingest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from firerisk.errors import InputFileError, PersonalDataError
from firerisk.geo.guard import check_one_row_per_area, check_personal_data, is_valid_nhs_number

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def nhs_with_check(nine: str) -> str | None:
    """Append the check digit to nine digits (weights 10..2, 11 - sum mod 11)."""
    weights = [10, 9, 8, 7, 6, 5, 4, 3, 2]
    remainder = sum(int(d) * w for d, w in zip(nine, weights, strict=True)) % 11
    check = (11 - remainder) % 11
    return None if check == 10 else nine + str(check)


def refused_columns(df: pd.DataFrame, **kw) -> set[str | None]:
    with pytest.raises(PersonalDataError) as info:
        check_personal_data(df, file="partner.csv", **kw)
    return {p.column for p in info.value.problems}


# -- headers -----------------------------------------------------------------------------

PERSONAL_HEADERS = [
    "first_name", "Surname", "forename", "FullName", "last name", "name_first", "occupier_name",
    "Occupier",
    "resident", "tenant_name", "caller_name",
    "address", "Address Line 1", "address_line_2", "street", "house_number", "Flat No", "UPRN",
    "postcode", "post_code", "Postal Code", "Postcode_full", "pcds",
    "dob", "date_of_birth", "DateOfBirth", "birth_date", "year_of_birth",
    "phone", "tel", "Telephone", "mobile_number", "mobile",
    "email", "E-mail", "email_address",
    "nhs_number", "NHS No", "NHSNumber",
    "ni_number", "NINO", "National Insurance Number",
    "notes", "comments", "narrative", "description", "free text", "Remarks",
]


@pytest.mark.parametrize("header", PERSONAL_HEADERS)
def test_every_personal_header_kind_is_refused(header):
    df = pd.DataFrame({"lsoa21_code": ["E01000001", "E01000002"], header: ["x", "y"]})
    with pytest.raises(PersonalDataError) as info:
        check_personal_data(df, file="partner.csv")
    message = str(info.value)
    assert "partner.csv" in message
    assert f"'{header}'" in message
    assert "drop_columns" in message  # how to proceed
    assert [p.column for p in info.value.problems] == [header]


ALLOWED_HEADERS = [
    "lsoa21_code", "lsoa21_name", "ltla24_name", "ward", "borough", "IncGeo_WardName",
    "date", "property_type", "easting_rounded", "IMD_score", "total_households",
    "total_residents", "residents: Disabled under the Equality Act", "births",
    "accommodation: A caravan or other mobile or temporary structure",
    "postcode_district", "Postcode Sector", "AddressQualifier", "StopCodeDescription",
    "address_type", "hmo_license", "telecoms_score", "name",
    "country_of_birth: Europe", "Number of mobile homes", "FirstPumpArriving_DeployedFromStation",
    "first_pump_station_name",
]


def test_area_level_headers_are_not_refused():
    df = pd.DataFrame({h: ["E01000001", "E01000002"] for h in ALLOWED_HEADERS})
    check_personal_data(df, file="areas.csv")


# -- content -----------------------------------------------------------------------------

CONTENT: dict[str, list[str | None]] = {
    "postcodes": ["L1 8JQ", "SW1A 1AA", "E1 6AN", "M60 1QD", "CR2 6XH", "B33 8TH"],
    "postcodes in text": ["fire at 12 High St, London E1 6AN", "flat 3, DN55 1PT", "ok",
                          "kitchen", "bedroom", "hallway"],
    "emails": ["jane.doe@example.org", "j.smith+fire@mail.example.co.uk", "-", "-", "-", "-"],
    "phones": ["020 7946 0018", "07700 900123", "+44 20 7946 0958", "(0161) 496 0000",
               "0117 496 0123", "01632 960001"],
    "nhs": ["943 476 5919", nhs_with_check("401023213"), nhs_with_check("123456782"),
            nhs_with_check("987654320"), nhs_with_check("450557710"),
            nhs_with_check("111111111")],
    "ni": ["AB123456C", "JG 10 37 59 A", "CE 12 34 56 D", "ab123456a", "HH999999B", "PP010203C"],
}


@pytest.mark.parametrize("kind", sorted(CONTENT))
def test_every_content_pattern_is_refused(kind):
    values = [v for v in CONTENT[kind] if v is not None]
    df = pd.DataFrame({"lsoa21_code": [f"E0100000{i}" for i in range(len(values))],
                       "value": values})
    with pytest.raises(PersonalDataError) as info:
        check_personal_data(df, file="partner.csv")
    assert [p.column for p in info.value.problems] == ["value"]
    message = str(info.value)
    for v in values:  # the message names rows, never the personal values themselves
        assert v not in message or len(v) < 4


def test_nhs_numbers_stored_as_integers_are_refused():
    nines = [f"{k:09d}" for k in range(400000000, 400000200)]
    numbers = [int(x) for x in (nhs_with_check(n) for n in nines) if x is not None]
    df = pd.DataFrame({"patient_ref": np.array(numbers, dtype=np.int64)})
    assert refused_columns(df) == {"patient_ref"}


def test_nhs_check_digit():
    assert is_valid_nhs_number("943 476 5919")
    assert not is_valid_nhs_number("943 476 5918")
    assert is_valid_nhs_number(str(nhs_with_check("401023213")))
    assert not is_valid_nhs_number("12345")
    # remainder 0 gives check digit 0; remainder 1 would need 10, so no number is valid
    weights = range(10, 1, -1)
    nines = [f"{k:09d}" for k in range(401023200, 401023300)]
    rem = {n: sum(int(d) * w for d, w in zip(n, weights, strict=True)) % 11 for n in nines}
    zero = next(n for n in nines if rem[n] == 0)
    assert is_valid_nhs_number(zero + "0")
    one = next(n for n in nines if rem[n] == 1)
    assert not any(is_valid_nhs_number(one + str(d)) for d in range(10))


def test_look_alikes_are_not_refused():
    rng = np.random.default_rng(1)
    # ten-digit codes that mostly fail the NHS check digit, invalid NI prefixes,
    # postcode districts (not units), and a long free-text-free category column
    codes = [str(x) for x in rng.integers(10**9, 10**10 - 1, size=200)]
    n = len(codes)
    df = pd.DataFrame({
        "ref": codes,
        "ni_lookalike": (["QQ123456C", "GB123456A", "AB123456E", "E01000001"] * n)[:n],
        "district": (["SW1A", "E1", "L1", "M60", "CR2"] * n)[:n],
        "date": pd.date_range("2009-01-01", periods=n).strftime("%Y-%m-%d"),
        "incident_ref": [f"{k:06d}-0101{2009 + k % 15}" for k in range(n)],
        "easting": rng.integers(500000, 560000, size=n),
        "northing": rng.integers(150000, 200000, size=n),
        "ward": [f"E05{k:06d}" for k in range(n)],
        "score": rng.uniform(0, 80, size=n).round(3),
    })
    check_personal_data(df, file="lookalikes.csv")


def test_sample_area_files_pass():
    data = json.loads((SAMPLE / "london_lsoa21.geojson").read_text(encoding="utf-8"))
    areas = pd.DataFrame([f["properties"] for f in data["features"]])
    check_personal_data(areas, file="london_lsoa21.geojson")
    for name in ("imd2025_london.csv", "census2021_households_london.csv"):
        check_personal_data(pd.read_csv(SAMPLE / name), file=name)


def test_real_lfb_incident_file_passes():
    incidents = pd.read_csv(SAMPLE / "lfb_dwelling_fires_2009_2024.csv.gz", nrows=1000)
    assert list(incidents.columns) == ["date", "borough", "ward", "easting_rounded",
                                       "northing_rounded", "hmo_yn", "hmo_license",
                                       "property_type"]
    check_personal_data(incidents, file="lfb_dwelling_fires_2009_2024.csv.gz")


def test_one_error_lists_every_column():
    df = pd.DataFrame({"lsoa21_code": ["E01000001"], "first_name": ["Ann"], "phone": ["x"],
                       "contact": ["ann@example.org"], "households": [3]})
    assert refused_columns(df) == {"first_name", "phone", "contact"}


def test_drop_columns_are_not_checked():
    df = pd.DataFrame({"lsoa21_code": ["E01000001"], "first_name": ["Ann"], "phone": ["x"],
                       "contact": ["ann@example.org"]})
    check_personal_data(df, file="partner.csv", drop_columns=["first_name", "phone", "contact"])
    assert refused_columns(df, drop_columns=["first_name"]) == {"phone", "contact"}


def test_one_row_per_area():
    ok = pd.DataFrame({"lsoa21_code": ["E01000001", "E01000002"], "households": [10, 20]})
    check_one_row_per_area(ok, key="lsoa21_code", file="cov.csv")
    people = pd.DataFrame({"lsoa21_code": ["E01000001", "E01000002", "E01000001", "E01000003",
                                           "E01000002"],
                           "age": [81, 45, 79, 30, 52]})
    with pytest.raises(PersonalDataError) as info:
        check_one_row_per_area(people, key="lsoa21_code", file="cov.csv")
    problem = info.value.problems[0]
    assert problem.rows == (1, 2, 3, 5)
    assert "E01000001" in str(info.value)
    assert "E01000002" in str(info.value)
    assert "E01000003" not in str(info.value)
    assert "cov.csv" in str(info.value)
    with pytest.raises(InputFileError):
        check_one_row_per_area(ok, key="area", file="cov.csv")


def test_blank_keys_are_not_repeated_areas():
    # Excel leaves blank lines (",,,") at the end of a sheet: they name no area.
    blanks = pd.DataFrame({"lsoa21_code": ["E01000001", None, "E01000002", "", "  ", None],
                           "households": [10, None, 20, None, None, None]})
    check_one_row_per_area(blanks, key="lsoa21_code", file="cov.csv")
    blanks.loc[5, "lsoa21_code"] = "E01000002"
    with pytest.raises(PersonalDataError) as info:
        check_one_row_per_area(blanks, key="lsoa21_code", file="cov.csv")
    assert info.value.problems[0].rows == (3, 6)


# -- whole profiles ------------------------------------------------------------------------


def write_profile(folder: Path, *, incident_drop=(), covariate_drop=()) -> Path:
    prov = '\npublisher = "test"\nlicence = "OGL"\nattribution = "test"\n'
    text = f"""
name = "guard test"
[areas]
path = "{(SAMPLE / 'london_lsoa21.geojson').as_posix()}"
id = "lsoa21_code"
name = "lsoa21_name"
[areas.provenance]{prov}
[incidents]
path = "incidents.csv"
x = "easting"
y = "northing"
crs = "EPSG:27700"
date = "date"
drop_columns = {json.dumps(list(incident_drop))}
[incidents.provenance]{prov}
[[covariates]]
name = "partner"
path = "partner.csv"
key = "lsoa21_code"
drop_columns = {json.dumps(list(covariate_drop))}
[covariates.provenance]{prov}
[[covariates]]
name = "renamed"
path = "renamed.csv"
key = "lsoa21_code"
[covariates.provenance]{prov}
[exposure]
column = "households"
[features.score]
column = "score"
label = "Score"
"""
    (folder / "profile.toml").write_text(text, encoding="utf-8")
    pd.DataFrame({"date": ["2020-01-01", "2020-02-01"], "easting": [530050, 531050],
                  "northing": [180050, 181050], "Postcode_full": ["SE1 7PB", "N1 9GU"]}
                 ).to_csv(folder / "incidents.csv", index=False)
    pd.DataFrame({"lsoa21_code": ["E01000001", "E01000001", "E01000002"],
                  "households": [10, 12, 20], "score": [1.0, 2.0, 3.0],
                  "phone": ["x", "y", "z"]}).to_csv(folder / "partner.csv", index=False)
    pd.DataFrame({"lsoa21_code": ["E01000001"], "households": [1], "score": [1.0]}
                 ).to_csv(folder / "renamed.csv", index=False)
    return folder / "profile.toml"


def test_profile_inputs_are_all_checked_at_once(tmp_path):
    from firerisk.geo.guard import check_profile_inputs
    from firerisk.geo.profile import load_profile

    profile = load_profile(write_profile(tmp_path))
    (tmp_path / "renamed.csv").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(PersonalDataError) as info:
        check_profile_inputs(profile)
    text = str(info.value)
    assert "'Postcode_full'" in text  # header of a column the tool would not even read
    assert "'phone'" in text
    assert "more than one row for some areas (E01000001)" in text
    assert "PNG image" in text
    assert len(info.value.problems) == 4


def test_profile_drop_columns_let_a_file_through(tmp_path):
    from firerisk.errors import UnsafeFileError
    from firerisk.geo.guard import check_profile_inputs
    from firerisk.geo.profile import load_profile

    profile = load_profile(write_profile(tmp_path, incident_drop=["Postcode_full"],
                                         covariate_drop=["phone"]))
    with pytest.raises(PersonalDataError, match="more than one row") as info:
        check_profile_inputs(profile)
    assert len(info.value.problems) == 1
    pd.DataFrame({"lsoa21_code": ["E01000001", "E01000002"], "households": [10, 20],
                  "score": [1.0, 3.0], "phone": ["x", "y"]}).to_csv(tmp_path / "partner.csv",
                                                                    index=False)
    check_profile_inputs(profile)
    (tmp_path / "renamed.csv").write_bytes(b"\x7fELF" + bytes(100))
    with pytest.raises(UnsafeFileError, match="program"):
        check_profile_inputs(profile)


def test_sample_profile_passes(sample_profile):
    from firerisk.geo.guard import check_profile_inputs
    from firerisk.geo.profile import load_profile

    check_profile_inputs(load_profile(sample_profile))
