"""load_inputs end to end: a hand-counted grid case, and the real London sample.

The grid is four 100 m squares (British National Grid) and 14 incident rows whose fate
is worked out by hand below. The London sample is checked against an independent
geopandas ``sjoin(predicate="within")`` and against its documented figures.
"""

from __future__ import annotations

import dataclasses
import pickle
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from firerisk.geo.aggregate import REASONS
from firerisk.geo.ingest import Inputs, load_inputs
from firerisk.geo.profile import load_profile

X0, Y0 = 530_000.0, 180_000.0
PROV = {"publisher": "Test", "licence": "OGL v3", "attribution": "Test data"}


def _toml_value(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    lines, later = [], []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "groups":
            later += [f"\n[{name}]", _toml(value, f"{name}.")]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                later += [f"\n[[{name}]]", _toml(item, f"{name}.")]
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines + later)


# Each row: x, y, date, type, motive  ->  what must happen to it
ROWS = [
    (530050, 180050, "2020-03-01", "house", "accidental"),  # 1  A 2020 (inside A)
    (530150, 180050, "2020-05-01", "flat", "accidental"),   # 2  B 2020
    (530100, 180050, "2021-02-01", "house", "accidental"),  # 3  A|B edge -> A (id order) 2021
    (530100, 180100, "2020-07-01", "flat", "accidental"),   # 4  corner of all four -> A 2020
    (530150, 180100, "2021-01-15", "flat", "accidental"),   # 5  B|D edge -> B 2021
    (530000, 180050, "2020-08-01", "house", "accidental"),  # 6  outer edge of A -> A 2020
    (530150, 180150, "2020-09-09", "house", "accidental"),  # 7  D 2020
    (530900, 180900, "2020-10-10", "house", "accidental"),  # 8  outside every area
    ("", 180050, "2020-01-02", "house", "accidental"),      # 9  missing coordinates
    (530050, 180150, "2020-02-30", "house", "accidental"),  # 10 bad date (30 February)
    (530050, 180150, "2019-12-31", "house", "accidental"),  # 11 before the study period
    (530050, 180150, "2020-04-04", "house", "deliberate"),  # 12 excluded by filter
    (530050, 180150, "2021-06-30", "flat", "accidental"),   # 13 C 2021 (last study day)
    (530050, 180150, "2021-07-01", "flat", "accidental"),   # 14 after the study period
]
EXPECTED_COUNTS = {  # area -> {2020, 2021}; file order D, C, B, A
    "D": [1, 0], "C": [0, 1], "B": [1, 1], "A": [3, 1],
}
EXPECTED_DROPPED = {"missing coordinates": 1, "bad date": 1, "outside the study period": 2,
                    "outside every area": 1, "excluded by filter": 1, "duplicate": 0}


def write_grid_case(tmp: Path, *, areas_format: str = "gpkg", incidents_format: str = "csv.gz",
                    rows: list[int] | None = None) -> Path:
    """Write the grid case; *rows* (1-based) keeps only those incident rows."""
    squares = {"A": (0, 0), "B": (100, 0), "C": (0, 100), "D": (100, 100)}
    ids = ["D", "C", "B", "A"]
    grid = gpd.GeoDataFrame(
        {"code": ids, "label": [f"Area {i}" for i in ids],
         "dist": ["north", "north", "south", "south"]},
        geometry=[shapely.box(X0 + squares[i][0], Y0 + squares[i][1],
                              X0 + squares[i][0] + 100, Y0 + squares[i][1] + 100) for i in ids],
        crs="EPSG:27700")
    areas: dict[str, Any] = {"id": "code", "name": "label", "groups": {"district": "dist"},
                             "provenance": PROV}
    if areas_format == "gpkg":
        grid.to_file(tmp / "areas.gpkg", layer="areas", engine="pyogrio")
        areas.update(path="areas.gpkg", layer="areas")
    elif areas_format == "geojson":
        grid.to_crs("EPSG:4326").to_file(tmp / "areas.geojson", engine="pyogrio")
        areas.update(path="areas.geojson")
    else:  # zipped shapefile
        (tmp / "shp").mkdir()
        grid.to_file(tmp / "shp" / "areas.shp", engine="pyogrio")
        with zipfile.ZipFile(tmp / "areas.zip", "w") as zf:
            for part in (tmp / "shp").iterdir():
                zf.write(part, part.name)
        areas.update(path="areas.zip")
    inc = pd.DataFrame(ROWS, columns=["east", "north", "when", "kind", "motive"])
    inc["caller_name"] = "someone"
    if rows is not None:
        inc = inc.iloc[[r - 1 for r in rows]]
    incidents: dict[str, Any] = {
        "x": "east", "y": "north", "crs": "EPSG:27700", "date": "when",
        "date_format": "%Y-%m-%d", "type": "kind", "drop_columns": ["caller_name"],
        "filters": [{"column": "motive", "values": ["accidental"]}], "provenance": PROV}
    if incidents_format == "csv.gz":
        inc.to_csv(tmp / "incidents.csv.gz", index=False)
        incidents["path"] = "incidents.csv.gz"
    elif incidents_format == "lonlat":
        east = pd.to_numeric(inc["east"], errors="coerce")
        lon, lat = pyproj.Transformer.from_crs(27700, 4326, always_xy=True).transform(
            east.to_numpy(dtype=float), inc["north"].to_numpy(dtype=float))
        inc = inc.assign(lon=[f"{v:.8f}" if np.isfinite(v) else "" for v in lon],
                         lat=[f"{v:.8f}" if np.isfinite(v) else "" for v in lat])
        inc.drop(columns=["east", "north"]).to_csv(tmp / "incidents.csv", index=False)
        incidents.update(path="incidents.csv", x="lon", y="lat", crs="EPSG:4326")
    else:  # point GeoPackage; row 9 has no geometry
        east = pd.to_numeric(inc["east"], errors="coerce").to_numpy(dtype=float)
        geom = [shapely.Point(e, n) if np.isfinite(e) else None
                for e, n in zip(east, inc["north"].astype(float), strict=True)]
        gpd.GeoDataFrame(inc.drop(columns=["east", "north"]), geometry=geom,
                         crs="EPSG:27700").to_file(tmp / "fires.gpkg", layer="fires",
                                                   engine="pyogrio")
        incidents.update(path="fires.gpkg", layer="fires")
        del incidents["x"], incidents["y"], incidents["crs"]
    pd.DataFrame({"code": ["A", "B", "C", "D", "Z"], "households": [100, 200, 300, 400, 50],
                  "score": [1.5, 2.5, 3.5, 4.5, 9.0]}).to_csv(tmp / "census.csv", index=False)
    pd.DataFrame({"code": ["D", "C", "B", "A"], "imd": [4, 3, 2, 1],
                  "borough_name": ["n", "n", "s", "s"]}).to_csv(tmp / "imd.csv", index=False)
    profile = {
        "name": "Test grid",
        "areas": areas,
        "incidents": incidents,
        "covariates": [
            {"name": "census", "path": "census.csv", "key": "code", "provenance": PROV},
            {"name": "imd", "path": "imd.csv", "key": "code", "provenance": PROV},
        ],
        "exposure": {"column": "households"},
        "features": {"score": {"column": "score", "label": "Score", "unit": "score"},
                     "imd": {"column": "imd", "label": "IMD", "unit": "score"}},
        "study": {"start": date(2020, 1, 1), "end": date(2021, 6, 30)},
    }
    path = tmp / "profile.toml"
    path.write_text(_toml(profile), encoding="utf-8")
    return path


@pytest.fixture
def grid_inputs(tmp_path: Path) -> Inputs:
    return load_inputs(load_profile(write_grid_case(tmp_path)))


def test_counts_match_the_hand_count(grid_inputs: Inputs) -> None:
    expected = pd.DataFrame.from_dict(EXPECTED_COUNTS, orient="index", columns=[2020, 2021])
    assert list(grid_inputs.counts.index) == ["D", "C", "B", "A"]
    assert grid_inputs.counts.index.name == "area_id"
    assert list(grid_inputs.counts.columns) == [2020, 2021]
    assert (grid_inputs.counts.dtypes == np.int64).all()
    assert grid_inputs.counts.to_numpy().tolist() == expected.to_numpy().tolist()


def test_row_accounting_matches_the_hand_count(grid_inputs: Inputs) -> None:
    acc = grid_inputs.accounting
    assert acc.rows_read == 14
    assert acc.rows_used == 8
    assert acc.dropped == EXPECTED_DROPPED
    assert list(acc.dropped) == list(REASONS)
    assert acc.rows_read == acc.rows_used + sum(acc.dropped.values())
    assert acc.examples["outside the study period"] == (11, 14)
    assert acc.examples["missing coordinates"] == (9,)
    assert acc.examples["excluded by filter"] == (12,)


def test_partial_year_is_flagged(grid_inputs: Inputs) -> None:
    years = grid_inputs.years
    assert years.years == (2020, 2021)
    assert years.full_years == (2020,)
    assert years[2021].first == date(2021, 1, 1)
    assert years[2021].last == date(2021, 6, 30)
    assert not years[2021].full


def test_counts_by_type(grid_inputs: Inputs) -> None:
    long = grid_inputs.counts_by_type
    assert long is not None
    assert list(long.columns) == ["area_id", "year", "type", "count"]
    got = {(r.area_id, r.year, r.type): r.count for r in long.itertuples()}
    assert got == {("A", 2020, "flat"): 1, ("A", 2020, "house"): 2, ("A", 2021, "house"): 1,
                   ("B", 2020, "flat"): 1, ("B", 2021, "flat"): 1, ("C", 2021, "flat"): 1,
                   ("D", 2020, "house"): 1}
    assert long["count"].sum() == grid_inputs.counts.to_numpy().sum()


def test_areas_and_covariates_follow_the_contract(grid_inputs: Inputs) -> None:
    areas = grid_inputs.areas
    assert list(areas.columns) == ["area_id", "area_name", "district", "geometry"]
    assert areas.crs.to_epsg() == 27700
    assert grid_inputs.working_crs == "EPSG:27700"
    assert list(areas["area_id"]) == ["D", "C", "B", "A"]
    assert grid_inputs.extent == pytest.approx((X0, Y0, X0 + 200, Y0 + 200))
    lon0, lat0, lon1, lat1 = grid_inputs.extent_wgs84
    assert -0.14 < lon0 < lon1 < -0.12
    assert 51.50 < lat0 < lat1 < 51.51
    cov = grid_inputs.covariates_raw
    assert list(cov.index) == ["D", "C", "B", "A"]
    assert list(cov.columns) == ["households", "score", "imd", "borough_name"]
    assert cov.loc["B", "households"] == 200
    assert cov.loc["B", "imd"] == 2
    assert cov["score"].dtype == np.float64
    assert cov["borough_name"].tolist() == ["n", "n", "s", "s"]


def test_provenance_row_counts(grid_inputs: Inputs) -> None:
    rows = grid_inputs.input_rows
    assert set(rows) == {"areas", "incidents", "covariates:census", "covariates:imd"}
    assert (rows["incidents"].rows_read, rows["incidents"].rows_used,
            rows["incidents"].rows_dropped) == (14, 8, 6)
    assert (rows["covariates:census"].rows_read, rows["covariates:census"].rows_used,
            rows["covariates:census"].rows_dropped) == (5, 4, 1)
    assert (rows["areas"].rows_read, rows["areas"].rows_used) == (4, 4)


def test_no_incident_rows_leave_ingest(grid_inputs: Inputs) -> None:
    for f in dataclasses.fields(grid_inputs):
        value = getattr(grid_inputs, f.name)
        if isinstance(value, pd.DataFrame):
            assert not {"x", "y", "row", "date", "east", "north"} & set(value.columns), f.name
            assert "caller_name" not in value.columns
    assert grid_inputs.boundary_ties == 3   # rows 3, 4 and 5


def test_inputs_survive_pickling(grid_inputs: Inputs) -> None:
    """Streamlit's cache pickles what it stores."""
    back = pickle.loads(pickle.dumps(grid_inputs))
    assert back.counts.equals(grid_inputs.counts)
    assert back.accounting == grid_inputs.accounting
    assert back.years == grid_inputs.years


def test_many_points_outside_every_area_are_noted(tmp_path: Path) -> None:
    # rows 1, 2 and 8 only: one of three counted rows lies outside every area
    inputs = load_inputs(load_profile(write_grid_case(tmp_path, rows=[1, 2, 8])))
    assert inputs.accounting.dropped["outside every area"] == 1
    assert any("33 %" in n and "outside every area" in n for n in inputs.notes)


def test_progress_messages(tmp_path: Path) -> None:
    said: list[str] = []
    load_inputs(load_profile(write_grid_case(tmp_path)), progress=said.append)
    assert said[0].startswith("Reading the areas")
    assert any(s.startswith("Counting incidents") for s in said)


@pytest.mark.parametrize(("areas_format", "incidents_format"),
                         [("zip", "csv.gz"), ("gpkg", "gpkg")])
def test_other_formats_give_the_same_counts(tmp_path: Path, areas_format: str,
                                            incidents_format: str) -> None:
    """A zipped Shapefile and a point GeoPackage hold the same coordinates exactly."""
    inputs = load_inputs(load_profile(write_grid_case(
        tmp_path, areas_format=areas_format, incidents_format=incidents_format)))
    assert inputs.counts.to_numpy().tolist() == list(EXPECTED_COUNTS.values())
    assert inputs.accounting.dropped == EXPECTED_DROPPED


def test_lonlat_incidents_and_geojson_areas(tmp_path: Path) -> None:
    """Via longitude/latitude, points off the boundaries land in the same areas.

    Rows 3-6 lie exactly on boundaries, which do not survive a trip through degrees,
    so they are left out here. The rest: A 2020 (row 1), B 2020 (2), D 2020 (7), C 2021
    (13), and the same five drops as before (8 to 12, 14).
    """
    rows = [1, 2, 7, 8, 9, 10, 11, 12, 13, 14]
    inputs = load_inputs(load_profile(write_grid_case(
        tmp_path, areas_format="geojson", incidents_format="lonlat", rows=rows)))
    assert inputs.working_crs == "EPSG:27700"
    assert inputs.incident_crs == "EPSG:4326"
    assert inputs.counts.to_numpy().tolist() == [[1, 0], [0, 1], [1, 0], [1, 0]]
    assert inputs.accounting.dropped == EXPECTED_DROPPED
    # examples are row numbers in the file actually read (10 rows)
    assert inputs.accounting.examples["outside every area"] == (4,)
    assert inputs.boundary_ties == 0


# ---------------------------------------------------------------- the real London sample

@pytest.fixture(scope="module")
def london(sample_profile: Path) -> Inputs:
    return load_inputs(load_profile(sample_profile))


def test_london_sample_loads_and_adds_up(london: Inputs) -> None:
    acc = london.accounting
    print("London accounting:", acc.as_dict(), f"loaded in {london.seconds:.2f} s")
    assert len(london.areas) == 4994
    assert london.areas["area_id"].is_unique
    assert acc.rows_read == 90_146
    assert acc.rows_read == acc.rows_used + sum(acc.dropped.values())
    assert london.counts.shape == (4994, 16)
    assert list(london.counts.columns) == list(range(2009, 2025))
    assert int(london.counts.to_numpy().sum()) == acc.rows_used
    assert london.years.partial_years == (2024,)
    assert london.years[2024].last == date(2024, 8, 31)
    assert london.years.full_years == tuple(range(2009, 2024))
    # the file's documented facts: dates 2009-01-01..2024-08-31, no missing coordinates
    assert (london.data_first, london.data_last) == (date(2009, 1, 1), date(2024, 8, 31))
    assert acc.dropped["missing coordinates"] == acc.dropped["bad date"] == 0
    # about 0.2 % fall outside the (generalised) LSOA polygons, as SOURCE.md found for 2011
    assert 0 < acc.dropped["outside every area"] < 0.005 * acc.rows_read
    assert london.covariates_raw.shape[0] == 4994
    assert london.covariates_raw["total_households"].notna().all()


def test_london_counts_match_an_independent_sjoin(london: Inputs, sample_profile: Path) -> None:
    profile = load_profile(sample_profile)
    areas = gpd.read_file(profile.areas.path).to_crs(27700)
    inc = pd.read_csv(profile.incidents.path)
    points = gpd.GeoDataFrame({"year": pd.to_datetime(inc["date"]).dt.year},
                              geometry=gpd.points_from_xy(inc["easting_rounded"],
                                                          inc["northing_rounded"]),
                              crs=27700)
    joined = gpd.sjoin(points, areas[["lsoa21_code", "geometry"]], predicate="within")
    expected = (joined.groupby(["lsoa21_code", "year"]).size().unstack(fill_value=0)
                .reindex(index=london.counts.index, columns=london.counts.columns, fill_value=0))
    # no London point lies on a boundary, so "within" and our tie rule agree exactly
    assert london.boundary_ties == 0
    assert (london.counts.to_numpy() == expected.to_numpy()).all()
    assert len(joined) == london.accounting.rows_used
