"""Every reader on tiny files written here: what is read, and what is never read."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from firerisk.errors import InputFileError
from firerisk.geo.readers import (
    CsvLayout,
    detect_layout,
    incident_columns,
    is_csv,
    layout_problem,
    list_columns,
    list_layers,
    read_areas,
    read_covariates,
    read_csv_text,
    read_incidents,
    row_hashes,
)
from firerisk.geo.validate import prepare_incidents
from firerisk.specs import (
    AreasSpec,
    CovariateSpec,
    IncidentFilter,
    IncidentsSpec,
    Provenance,
    StudySpec,
)

PROV = Provenance(publisher="Test", licence="OGL", attribution="Test")


def squares() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["007", "008"], "label": ["Seven", "Eight"], "ward": ["W1", "W2"],
         "population": [10, 20]},
        geometry=[shapely.box(530_000, 180_000, 530_100, 180_100),
                  shapely.box(530_100, 180_000, 530_200, 180_100)], crs="EPSG:27700")


def areas_spec(path: Path, **kw: object) -> AreasSpec:
    return AreasSpec(path=path, id="code", name="label", provenance=PROV,
                     groups=(("ward_label", "ward"),), **kw)  # type: ignore[arg-type]


def _check_areas(gdf: gpd.GeoDataFrame) -> None:
    assert list(gdf.columns) == ["code", "label", "ward", "geometry"]   # not 'population'
    assert gdf["code"].tolist() == ["007", "008"]
    assert len(gdf) == 2


def test_geojson_areas(tmp_path: Path) -> None:
    squares().to_crs("EPSG:4326").to_file(tmp_path / "a.geojson", engine="pyogrio")
    gdf = read_areas(areas_spec(tmp_path / "a.geojson"))
    _check_areas(gdf)
    assert gdf.crs.to_epsg() == 4326


def test_geopackage_areas_with_a_layer(tmp_path: Path) -> None:
    path = tmp_path / "a.gpkg"
    squares().to_file(path, layer="lsoa", engine="pyogrio")
    squares().iloc[:1].to_file(path, layer="other", engine="pyogrio")
    assert set(list_layers(path)) == {"lsoa", "other"}
    gdf = read_areas(areas_spec(path, layer="lsoa"))
    _check_areas(gdf)
    assert gdf.crs.to_epsg() == 27700
    with pytest.raises(InputFileError, match=r"has 2 layers .* set layer = "):
        read_areas(areas_spec(path))
    with pytest.raises(InputFileError, match="has no layer 'lsao'"):
        read_areas(areas_spec(path, layer="lsao"))


def test_zipped_shapefile_areas(tmp_path: Path) -> None:
    (tmp_path / "shp").mkdir()
    squares().to_file(tmp_path / "shp" / "areas.shp", engine="pyogrio")
    with zipfile.ZipFile(tmp_path / "areas.zip", "w") as zf:
        for part in (tmp_path / "shp").iterdir():
            zf.write(part, part.name)
    gdf = read_areas(areas_spec(tmp_path / "areas.zip"))
    _check_areas(gdf)
    assert gdf.crs.to_epsg() == 27700
    assert list_columns(tmp_path / "areas.zip") == ("code", "label", "ward", "population")


def test_unreadable_vector_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.geojson"
    path.write_text("{ this is not json", encoding="utf-8")
    with pytest.raises(InputFileError, match="cannot be read as a GeoJSON") as info:
        read_areas(areas_spec(path))
    assert "zipped Shapefile" in info.value.problems[0].fix


INCIDENT_CSV = (
    "id,easting,northing,call_date,kind,motive,caller_name,phone\n"
    "0001,530050,180050,2020-01-05,house,accidental,Ann,0123\n"
    "0002,530150,180050,2020-02-05,flat,deliberate,Bob,0456\n"
    "0003,,180050,2020-03-05,flat,accidental,Cy,0789\n"
)


def incidents_spec(path: Path, **kw: object) -> IncidentsSpec:
    base: dict[str, object] = {
        "path": path, "date": "call_date", "provenance": PROV, "x": "easting", "y": "northing",
        "crs": "EPSG:27700", "type": "kind",
        "filters": (IncidentFilter("motive", ("accidental",)),),
        "drop_columns": ("caller_name", "phone")}
    base.update(kw)
    return IncidentsSpec(**base)  # type: ignore[arg-type]


def test_csv_incidents_read_only_the_needed_columns_as_text(tmp_path: Path) -> None:
    path = tmp_path / "inc.csv"
    path.write_text(INCIDENT_CSV, encoding="utf-8")
    spec = incidents_spec(path)
    assert incident_columns(spec) == ("easting", "northing", "call_date", "kind", "motive")
    raw = read_incidents(spec)
    assert list(raw.columns) == ["easting", "northing", "call_date", "kind", "motive"]
    assert raw["easting"].tolist()[:2] == ["530050", "530150"]   # text, parsed later
    assert pd.isna(raw["easting"].iloc[2])
    # drop_columns are never read even when asked for explicitly
    raw = read_incidents(spec, columns=["call_date", "caller_name"])
    assert list(raw.columns) == ["call_date"]


def test_gzipped_csv_incidents(tmp_path: Path) -> None:
    path = tmp_path / "inc.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(INCIDENT_CSV)
    assert is_csv(path)
    assert list_columns(path)[:3] == ("id", "easting", "northing")
    raw = read_incidents(incidents_spec(path))
    assert raw["call_date"].tolist() == ["2020-01-05", "2020-02-05", "2020-03-05"]


def _prepare(raw: pd.DataFrame, spec: IncidentsSpec) -> pd.DataFrame:
    prepared, problems = prepare_incidents(
        raw, spec, StudySpec(), file="f", working_crs="EPSG:27700",
        extent=(530_000, 180_000, 530_200, 180_100))
    assert problems == []
    return prepared.table


def test_bng_and_lonlat_csvs_give_the_same_working_coordinates(tmp_path: Path) -> None:
    bng = tmp_path / "bng.csv"
    bng.write_text(INCIDENT_CSV, encoding="utf-8")
    lon, lat = pyproj.Transformer.from_crs(27700, 4326, always_xy=True).transform(
        [530050, 530150], [180050, 180050])
    ll = tmp_path / "ll.csv"
    ll.write_text("lon,lat,call_date,kind,motive\n"
                  f"{lon[0]:.8f},{lat[0]:.8f},2020-01-05,house,accidental\n"
                  f"{lon[1]:.8f},{lat[1]:.8f},2020-02-05,flat,deliberate\n", encoding="utf-8")
    a = _prepare(read_incidents(incidents_spec(bng)), incidents_spec(bng))
    spec_ll = incidents_spec(ll, x="lon", y="lat", crs="EPSG:4326")
    b = _prepare(read_incidents(spec_ll), spec_ll)
    # one row each survives (row 1; row 2 is deliberate, row 3 has no easting)
    assert a["row"].tolist() == b["row"].tolist() == [1]
    assert np.hypot(a["x"] - b["x"], a["y"] - b["y"]).max() < 0.01
    assert a["x"].iloc[0] == 530050
    assert a["y"].iloc[0] == 180050


def test_point_geopackage_incidents(tmp_path: Path) -> None:
    path = tmp_path / "inc.gpkg"
    gpd.GeoDataFrame({"call_date": ["2020-01-05", "2020-02-05"], "kind": ["house", "flat"],
                      "motive": ["accidental", "accidental"], "caller_name": ["Ann", "Bob"]},
                     geometry=gpd.points_from_xy([530050, 530150], [180050, 180050]),
                     crs="EPSG:27700").to_file(path, layer="fires", engine="pyogrio")
    spec = incidents_spec(path, x=None, y=None, crs=None)
    assert incident_columns(spec) == ("call_date", "kind", "motive")   # no x/y for points
    raw = read_incidents(spec)
    assert isinstance(raw, gpd.GeoDataFrame)
    assert list(raw.columns) == ["call_date", "kind", "motive", "geometry"]
    table = _prepare(raw, spec)
    assert table["x"].tolist() == [530050, 530150]
    assert table["type"].tolist() == ["house", "flat"]


def test_covariates_keep_codes_as_text_and_honour_drop_columns(tmp_path: Path) -> None:
    path = tmp_path / "cov.csv"
    path.write_text("code,households,name_of_contact,score\n"
                    "007,100,Ann,1.5\n008,200,Bob,n/a\n", encoding="utf-8")
    spec = CovariateSpec(name="c", path=path, key="code", provenance=PROV,
                         drop_columns=("name_of_contact",))
    frame = read_covariates(spec)
    assert list(frame.columns) == ["code", "households", "score"]
    assert frame["code"].tolist() == ["007", "008"]
    assert frame["score"].tolist() == ["1.5", "n/a"]   # markers stay visible for messages


def test_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "cov.csv"
    path.write_bytes(b"\xef\xbb\xbfcode,households\n007,100\n")
    assert list_columns(path) == ("code", "households")
    spec = CovariateSpec(name="c", path=path, key="code", provenance=PROV)
    assert read_covariates(spec)["code"].tolist() == ["007"]


def test_csv_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "cov.csv"
    path.write_bytes("code,name\n1,Caf\xe9\n".encode("latin-1"))
    spec = CovariateSpec(name="c", path=path, key="code", provenance=PROV)
    with pytest.raises(InputFileError, match="is not UTF-8 text") as info:
        read_covariates(spec)
    assert "UTF-8" in info.value.problems[0].fix
    assert 'encoding = "cp1252" under [[covariates]] (name = "c")' in info.value.problems[0].fix
    # the fix it names reads the file
    spec = CovariateSpec(name="c", path=path, key="code", provenance=PROV, encoding="cp1252")
    assert read_covariates(spec)["name"].tolist() == ["Caf\xe9"]


# -- CSV layouts: the cause of an unreadable file, named with the key that fixes it ----------

TABLE = "code,households,score\n" + "".join(f"E0{i:07d},{100 + i},{i / 10}\n" for i in range(40))


def _write_bytes(tmp: Path, data: bytes, name: str = "t.csv") -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("data", "layout", "keys"), [
    (TABLE.replace(",", ";").encode(), {"delimiter": ";"}, 'delimiter = ";"'),
    (TABLE.replace(",", "\t").encode(), {"delimiter": "\t"}, 'delimiter = "\\t"'),
    (("Table 7: households\nSource: ONS, 2023\n\n" + TABLE).encode(), {"skip_rows": 3},
     "skip_rows = 3"),
    (TABLE.encode("utf-16"), {"encoding": "utf-16"}, 'encoding = "utf-16"'),
    (("Café report\n\n" + TABLE.replace(",", ";")).encode("cp1252"),
     {"delimiter": ";", "skip_rows": 2, "encoding": "cp1252"}, 'encoding = "cp1252"'),
])
def test_a_layout_that_does_not_fit_is_named_with_its_keys(tmp_path: Path, data: bytes,
                                                           layout: dict[str, object],
                                                           keys: str) -> None:
    path = _write_bytes(tmp_path, data)
    detected = detect_layout(path, wanted=["code", "households"])
    for key, value in layout.items():
        assert getattr(detected, key) == value, (key, detected)
    problem = layout_problem(path, CsvLayout(section="[incidents]"),
                             wanted=["code", "households"])
    assert problem is not None
    assert keys in problem.fix
    assert "under [incidents]" in problem.fix
    # the layout it names reads the table
    fixed = CsvLayout(**{"section": "[incidents]", **layout})  # type: ignore[arg-type]
    assert layout_problem(path, fixed, wanted=["code", "households"]) is None
    frame = read_csv_text(path, columns=["code", "households"], layout=fixed)
    assert frame["households"].tolist() == [str(100 + i) for i in range(40)]


def test_a_plain_table_needs_no_layout_key(tmp_path: Path) -> None:
    path = _write_bytes(tmp_path, TABLE.encode())
    assert detect_layout(path) == CsvLayout()
    assert layout_problem(path, CsvLayout(), wanted=["code"]) is None


def test_rows_with_the_wrong_number_of_fields_are_named(tmp_path: Path) -> None:
    lines = TABLE.splitlines()
    lines[5] += ",surplus"  # data row 5
    lines[21] = lines[21].rsplit(",", 1)[0]  # data row 21, one field short
    path = _write_bytes(tmp_path, ("\n".join(lines) + "\n").encode())
    with pytest.raises(InputFileError) as info:
        read_csv_text(path, columns=["code", "households"])
    (problem,) = info.value.problems
    assert problem.rows == (5, 21)
    assert "2 fields in 1 row, 4 fields in 1 row" in problem.message


def test_a_quote_that_never_closes_is_named_by_row(tmp_path: Path) -> None:
    lines = TABLE.splitlines()
    lines[30] = lines[30].replace(",", ',"', 1)
    path = _write_bytes(tmp_path, ("\n".join(lines) + "\n").encode())
    with pytest.raises(InputFileError) as info:
        read_csv_text(path, columns=["code", "households"])
    (problem,) = info.value.problems
    assert problem.rows == (30,)
    assert "never closed" in problem.message


def test_long_values_and_line_breaks_in_quotes_are_read(tmp_path: Path) -> None:
    lines = TABLE.splitlines()
    lines[0] += ",notes"
    for i in range(1, len(lines)):
        lines[i] += ',""'
    lines[10] = lines[10][:-3] + ',"' + ("a long note\n" * 150_000) + '"'  # 1.8 MB, 150k lines
    path = _write_bytes(tmp_path, ("\n".join(lines) + "\n").encode())
    frame = read_csv_text(path, columns=["code", "households"])
    assert len(frame) == 40
    assert frame["households"].tolist() == [str(100 + i) for i in range(40)]


def test_row_hashes_match_exact_repeats_only(tmp_path: Path) -> None:
    text = "a,b,c\n1,x,\n2,y,z\n1,x,\n1,x,z\n"
    path = _write_bytes(tmp_path, text.encode())
    hashes = row_hashes(path)
    assert len(hashes) == 4
    assert hashes[0] == hashes[2]
    assert len({hashes[0], hashes[1], hashes[3]}) == 3
    without_c = row_hashes(path, drop_columns=["c"])
    assert without_c[3] == without_c[0]  # c was the only difference
