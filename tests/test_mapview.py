"""The map's data: static geometry files written once, the small per-rerun style table, and
the household-weighted overview of area groups (hand-computed cases, ``risk.bands`` as the
reference for band breaks, and the app itself under AppTest)."""

from __future__ import annotations

import json
import re
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from firerisk.columns import uncertainty_columns
from firerisk.geo.results import Results, read_results, write_results
from firerisk.ui import mapview, state
from firerisk.ui.bands import Banding, published_banding

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
#: What Streamlit serves at /app/static for APP (static/ beside the main script), where the
#: app under AppTest writes the map's files.
STATIC_DIR = ROOT / "static"


# ------------------------------------------------------------------------- tiny hand cases

@pytest.fixture
def tiny() -> pd.DataFrame:
    """Five areas in two groups, with numbers easy to weigh by hand."""
    return pd.DataFrame({
        "area_id": ["a1", "a2", "a3", "b1", "b2"],
        "area_name": ["A one", "A two", "A three", "B one", "B two"],
        "la": ["A", "A", "A", "B", "B"],
        "households": [100.0, 300.0, 0.0, 50.0, 150.0],
        "risk_per_1000": [2.0, 4.0, 10.0, np.nan, 6.0],
        "expected": [0.2, 1.2, 0.0, np.nan, 0.9],
        "imd_decile": [1.0, 5.0, 9.0, np.nan, 2.0],
        "band_index": [1, 3, 5, 0, 4],
    })


def test_group_summary_weights_by_households(tiny):
    out = mapview.group_summary(tiny, "la")
    assert list(out.index) == ["A", "B"]
    assert list(out["areas"]) == [3, 2]
    assert list(out["households"]) == [400.0, 200.0]
    # A: (100 x 2 + 300 x 4) / 400 = 3.5 (the area with no households carries no weight);
    # B: only b2 has a rate.
    assert out.loc["A", "rate"] == pytest.approx(3.5)
    assert out.loc["B", "rate"] == pytest.approx(6.0)
    # ... which is 1,000 x expected / households where every area has both.
    assert out.loc["A", "rate"] == pytest.approx(1000 * 1.4 / 400)
    assert out.loc["A", "expected"] == pytest.approx(1.4)
    assert out.loc["B", "expected"] == pytest.approx(0.9)
    assert out.loc["A", "imd"] == pytest.approx((100 * 1 + 300 * 5) / 400)
    assert out.loc["B", "imd"] == pytest.approx(2.0)
    assert out.loc["A", "band_mean"] == pytest.approx((100 * 1 + 300 * 3) / 400)  # 2.5
    assert out.loc["B", "band_mean"] == pytest.approx(4.0)  # band 0 means "no band"


def _banding(upper: tuple[float, ...]) -> Banding:
    k = len(upper)
    return Banding(scheme="test", band_index=pd.Series(dtype=int),
                   labels=tuple(f"band {i}" for i in range(1, k + 1)), upper=upper,
                   lower=(0.0, *upper[:-1]))


def test_group_classes_on_each_layer(tiny):
    summary = mapview.group_summary(tiny, "la")
    banding = _banding((2.0, 4.0, 6.0, 8.0, 12.0))
    # 3.5 lies in (2, 4]; 6.0 equals an upper bound, so it stays in the lower band.
    assert mapview.group_classes(summary, "band", banding=banding).tolist() == [2, 3]
    finer = _banding((1.0, 3.0, 3.6, 5.0, 7.0, 9.0, 20.0))
    assert mapview.group_classes(summary, "rate", banding=banding,
                                 rate_banding=finer).tolist() == [3, 5]
    assert mapview.group_classes(summary, "imd", banding=banding).tolist() == [4, 2]
    assert mapview.group_classes(summary, "observed", banding=banding).tolist() == [0, 0]
    # Without rates (a public file), the weighted mean band, rounded half up (2.5 -> 3).
    public = summary.assign(rate=np.nan)
    assert mapview.group_classes(public, "band", banding=banding).tolist() == [3, 4]
    with pytest.raises(ValueError, match="rate_banding"):
        mapview.group_classes(summary, "rate", banding=banding)
    with pytest.raises(ValueError, match="unknown map layer"):
        mapview.group_classes(summary, "nope", banding=banding)


def test_class_string_encodes_one_character_per_area():
    assert mapview.class_string([0, 1, 9, 10, 35]) == "019az"
    assert mapview.class_string(np.array([], dtype=int)) == ""
    decoded = [int(c, 36) for c in mapview.class_string(np.arange(36))]
    assert decoded == list(range(36))
    with pytest.raises(ValueError, match=r"0\.\.35"):
        mapview.class_string([36])
    with pytest.raises(ValueError, match=r"0\.\.35"):
        mapview.class_string([-1])


def test_plural():
    assert mapview.plural("local authority") == "local authorities"
    assert mapview.plural("borough") == "boroughs"
    assert mapview.plural("key") == "keys"
    assert mapview.plural("fire station") == "fire stations"


# ------------------------------------------------------------------- the London results

@pytest.fixture(scope="module")
def results(sample_results: Path) -> Results:
    return read_results(sample_results)


def _decode(text: str) -> list[int]:
    return [int(c, 36) for c in text]


def test_area_properties_escape_text_and_follow_the_columns(results):
    table = results.areas.drop(columns="geometry").iloc[:3].copy()
    evil = '<img src=x onerror="alert(1)">'
    table["area_name"] = [evil, "Plain & simple", "x"]
    props = mapview.area_properties(table, positions=[7, 8, 9], group_column="borough")
    assert [p["k"] for p in props] == [7, 8, 9]
    assert props[0]["n"] == "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    assert props[1]["n"] == "Plain &amp; simple"
    assert props[0]["i"] == table["area_id"].iloc[0]
    assert {"g", "h", "e", "p", "s", "t", "r", "o", "d"} <= set(props[0])
    # the likely rank in words, in the whole service and inside the borough
    row = table.iloc[0]
    assert props[0]["s"].startswith(f"{int(row['rank']):,}")
    assert f"(likely between {int(row['rank_low']):,}" in props[0]["s"] or \
        row["rank_low"] == row["rank_high"]
    assert f" in {row['borough']} (likely" in props[0]["t"]
    style = mapview.layer_style(results, "rate", banding=published_banding(
        results.areas, results.band_breaks), rate_banding=published_banding(
        results.areas, results.band_breaks))
    fields = mapview.tooltip_fields(table.columns, style, group_label="Borough")
    assert [f[0] for f in fields] == ["n", "i", "g", "r", "b", "h", "e", "p", "t", "s"]
    assert dict(fields)["t"] == "Rank in its borough"
    assert all(f[0] == "b" or f[0] in props[0] for f in fields)

    hidden = ["expected", "risk_per_1000", "pi_low", "pi_high", "p_top10", "obs_recent",
              *uncertainty_columns(["borough"])]
    public = mapview.area_properties(table.drop(columns=hidden))
    assert not {"e", "p", "r", "o"} & set(public[0])
    band = mapview.layer_style(results, "band", banding=published_banding(
        results.areas, results.band_breaks))
    assert [f[0] for f in mapview.tooltip_fields(table.drop(columns=hidden).columns, band)] \
        == ["n", "i", "b", "h"]


def test_style_table_holds_classes_but_no_geometry(results):
    areas = results.areas
    banding = published_banding(areas, results.band_breaks)
    style = mapview.layer_style(results, "imd", banding=banding)
    ids = areas["area_id"].astype(str).tolist()
    table = mapview.style_table(style, banding, area_ids=ids, fields=[["n", "Area"]],
                                view="all", bounds=((51.3, -0.5), (51.7, 0.3)),
                                load=["/app/static/cache/x.geojson"], shown=[3, 1],
                                message="<b>hi</b>")
    assert _decode(table["cls"]) == style.classes.reindex(ids).tolist()
    assert _decode(table["bnd"]) == banding.band_index.reindex(ids).tolist()
    assert table["colours"] == [mapview.NO_DATA_COLOUR, *style.colours]
    assert table["blabels"][1:] == list(banding.labels)
    assert table["shown"] == [3, 1]
    assert table["msg"] == "&lt;b&gt;hi&lt;/b&gt;"
    text = mapview.table_json(table)
    assert "coordinates" not in text
    assert "<" not in text
    assert json.loads(text) == table
    assert len(text) < 4 * len(areas)  # a few bytes per area, against ~400 for the geometry
    # On the band layer the classes are the bands: sent once.
    band = mapview.layer_style(results, "band", banding=banding)
    once = mapview.style_table(band, banding, area_ids=ids, fields=[], view="all",
                               bounds=((0, 0), (1, 1)))
    assert "bnd" not in once
    assert _decode(once["cls"]) == banding.band_index.reindex(ids).tolist()


def test_observed_layer_keeps_hidden_totals_apart_from_missing_ones(results):
    cells = ["[c]", "<5", None, "7", "0", "[c]"]
    areas = results.areas.iloc[:6].copy()
    areas["obs_recent"] = cells
    small = replace(results, areas=areas)
    banding = published_banding(areas, results.band_breaks)
    style = mapview.layer_style(small, "observed", banding=banding)
    labels = list(style.labels)
    assert labels[-1] == mapview.HIDDEN_LABEL
    assert style.special == 1
    hidden = len(labels)
    assert style.classes.tolist() == [hidden, labels.index("1–4 (exact number hidden)") + 1, 0,
                                      labels.index("5–9") + 1, labels.index("0") + 1, hidden]
    assert style.colours[-1] == mapview.HIDDEN_COLOUR != mapview.NO_DATA_COLOUR
    # tooltip text for the stored (escaped) markers; plain values and missing ones untouched
    assert dict(style.display) == {"[c]": "hidden (small numbers)",
                                   "&lt;5": "1 to 4 (exact number hidden)"}
    assert style.values.tolist() == ["hidden (small numbers)", "1 to 4 (exact number hidden)",
                                     "no data", "7", "0", "hidden (small numbers)"]
    props = mapview.area_properties(areas.drop(columns="geometry"))
    table = mapview.style_table(style, banding, area_ids=areas["area_id"].tolist(),
                                fields=mapview.tooltip_fields(areas.columns, style),
                                view="all", bounds=((0, 0), (1, 1)))
    # what the map script shows: the table's text where it has one, else the stored value
    shown = [table["vtext"]["o"].get(p["o"], p["o"]) for p in props]
    assert shown == style.values.tolist()
    legend = mapview.legend_html(style, style.classes.value_counts().to_dict())
    # the scale from the top, then the hidden totals, then "No data" last
    at = [legend.index(f">{name}<") for name in ("20 or more", "0", mapview.HIDDEN_LABEL,
                                                   "No data")]
    assert at == sorted(at)
    legend = re.sub(r"<[^>]+>", "|", legend)
    assert re.search(r"Hidden to protect privacy \(small numbers\)\|+2 areas", legend)
    assert re.search(r"No data\|+1 area\|", legend)
    # nothing hidden: no hidden row; markers from a file are escaped in the tooltip text
    plain = replace(results, areas=areas.assign(obs_recent=["1", "<b>", "2", "3", "4", "5"]))
    style = mapview.layer_style(plain, "observed", banding=banding)
    assert mapview.HIDDEN_LABEL not in mapview.legend_html(
        style, style.classes.value_counts().to_dict())
    odd = replace(results, areas=areas.assign(obs_recent=["[<i>c</i>]"] * 6))
    display = mapview.layer_style(odd, "observed", banding=banding).display
    assert display == {"[&lt;i&gt;c&lt;/i&gt;]": "hidden (small numbers)"}


def test_band_legend_ranges_follow_the_band_limits(results):
    banding = Banding(scheme="test", band_index=pd.Series([1, 2, 2], index=["a", "b", "c"]),
                      labels=("Low", "High"), upper=(0.95, 5.64), lower=(0.5, 0.95))
    assert mapview.band_ranges(banding) == ("0.50–0.95", "0.95–5.6")
    areas = results.areas.iloc[:3].assign(area_id=["a", "b", "c"])
    style = mapview.layer_style(replace(results, areas=areas), "band", banding=banding)
    legend = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", mapview.legend_html(
        style, {1: 1, 2: 2})))
    year = int(results.run["years"]["next_year"])
    assert f"Expected fires per 1,000 households in {year}" in legend
    assert re.search(r"High 0\.95–5\.6 2 areas Low 0\.50–0\.95 1 area", legend), legend
    # public results hide the limits: labels only, and no line on what the ranges measure
    hidden = replace(banding, upper=(np.nan, np.nan), lower=(np.nan, np.nan))
    assert mapview.band_ranges(hidden) == ()
    style = mapview.layer_style(replace(results, areas=areas), "band", banding=hidden)
    legend = mapview.legend_html(style, {1: 1, 2: 2})
    assert "per 1,000" not in legend
    assert "–" not in legend


def test_tooltip_labels_name_the_forecast_year(results):
    band = mapview.layer_style(results, "band", banding=published_banding(
        results.areas, results.band_breaks))
    labels = dict(mapview.tooltip_fields(results.areas.columns, band, year=2031))
    assert labels["e"] == "Expected fires in 2031 (90% range)"
    assert dict(mapview.tooltip_fields(results.areas.columns, band))["e"] == \
        "Expected fires next year (90% range)"
    summary = mapview.group_summary(results.areas, results.group_columns[0])
    assert dict(mapview.group_fields(summary, group_label="borough", year=2031))["e"] == \
        "Expected fires in 2031 (all its areas)"
    _, fields, aliases = mapview.tooltip_properties(
        results.areas.drop(columns="geometry").iloc[:2], style=band,
        banding=published_banding(results.areas, results.band_breaks), group_column=None,
        year=2031)
    assert aliases[fields.index("e")] == "Expected fires in 2031 (90% range)"


def test_area_document_is_geojson_with_outlines():
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    line = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
    doc = json.loads(mapview.area_document([{"k": 0, "n": "a"}, {"k": 1, "n": "b"}],
                                           [square, square], outlines=[line]))
    assert doc["type"] == "FeatureCollection"
    assert [f["properties"]["k"] for f in doc["features"]] == [0, 1]
    assert doc["features"][0]["geometry"] == square
    assert doc["outlines"] == [line]
    with pytest.raises(ValueError, match="geometries"):
        mapview.area_document([{"k": 0}], [square, square])


# ------------------------------------------------------------------------- the app itself

@pytest.fixture
def fresh_map_cache():
    """Forget the map files cached by earlier runs in this process (the files on disk stay)."""
    state.forget_map_files()
    yield
    state.forget_map_files()


def start(path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("FIRERISK_RESULTS", str(path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def map_args(at: AppTest) -> dict[str, Any]:
    comps = at.get("component_instance")
    assert len(comps) == 1, "expected exactly one map component"
    return dict(json.loads(comps[0].proto.json_args))


def style_of(at: AppTest) -> dict[str, Any]:
    """The style table the map's script receives on this rerun."""
    script = map_args(at)["feature_group"]
    match = re.search(r"FireRiskMap\.render\([^,]+, (?=\{)", script)
    assert match, "no style table in the map's feature group"
    table, _ = json.JSONDecoder().raw_decode(script, match.end())
    return dict(table)


def static_file(url: str) -> dict[str, Any]:
    assert url.startswith("/app/static/cache/"), url
    path = STATIC_DIR / url.removeprefix("/app/static/")
    assert path.is_file(), path
    return dict(json.loads(path.read_bytes()))


def test_map_sends_geometry_once_and_restyles(sample_results, results, monkeypatch,
                                              fresh_map_cache):
    areas = results.areas
    ids = areas["area_id"].astype(str).tolist()
    banding = published_banding(areas, results.band_breaks)
    at = start(sample_results, monkeypatch)
    args = map_args(at)
    assert any(link.endswith(".js") and "/app/static/cache/areamap-" in link
               for link in args["js_links"])
    table = style_of(at)
    assert table["mode"] == "areas"
    assert table["shown"] is None
    assert _decode(table["cls"]) == banding.band_index.reindex(ids).tolist()
    assert "coordinates" not in args["feature_group"]

    # The static file holds every area once, with its geometry and escaped tooltip values.
    (url,) = table["load"]
    doc = static_file(url)
    features = doc["features"]
    assert sorted(f["properties"]["k"] for f in features) == list(range(len(areas)))
    assert [f["properties"]["i"] for f in features] == ids
    assert {f["geometry"]["type"] for f in features} <= {"Polygon", "MultiPolygon"}
    assert len(doc["outlines"]) == areas[results.group_columns[0]].nunique()

    # A layer change: new classes, same base map (the frame is kept), no geometry.
    at.sidebar.radio(key="map_layer").set_value("imd").run()
    assert not at.exception
    after = map_args(at)
    imd = style_of(at)
    style = mapview.layer_style(results, "imd", banding=banding)
    assert _decode(imd["cls"]) == style.classes.reindex(ids).tolist()
    assert imd["cls"] != table["cls"]
    assert imd["load"] == table["load"]
    assert after["script"] == args["script"]
    assert after["key"] == args["key"]
    assert len(after["feature_group"]) < 20 * len(areas)

    # A group: the same file, only the group's positions shown, the view fitted to it.
    column = results.group_columns[0]
    counts = areas[column].astype(str).value_counts()
    value = str(counts.index[len(counts) // 2])
    at.sidebar.selectbox(key="group_value").set_value(value).run()
    assert not at.exception
    group = style_of(at)
    positions = np.flatnonzero(areas[column].astype(str).to_numpy() == value).tolist()
    assert group["shown"] == positions
    assert group["load"] == table["load"]
    assert group["view"] != table["view"]
    assert map_args(at)["key"] == args["key"]

    # Emptying static/cache while the app runs: the next rerun writes the file again.
    file = STATIC_DIR / url.removeprefix("/app/static/")
    file.unlink()
    at.run()
    assert not at.exception
    assert style_of(at)["load"] == [url]
    assert file.is_file()


def test_text_from_data_is_escaped_in_the_static_file(results, tmp_path, monkeypatch,
                                                      fresh_map_cache):
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    column = results.group_columns[0]
    first = str(results.targets.sort_values("rank")["area_id"].iloc[0])
    home = str(results.areas.loc[results.areas["area_id"] == first, column].iloc[0])
    keep = results.areas[column].astype(str) == home
    areas = results.areas.loc[keep].copy()
    targets = results.targets.loc[results.targets[column].astype(str) == home].copy()
    for table in (areas, targets):
        table.loc[table["area_id"] == first, "area_name"] = evil
    path = write_results(tmp_path / "evil.gpkg", areas=areas, targets=targets, run=results.run,
                         provenance=results.provenance, band_breaks=results.band_breaks,
                         extra=results.extra)
    at = start(path, monkeypatch)
    doc = static_file(style_of(at)["load"][0])
    (feature,) = [f for f in doc["features"] if f["properties"]["i"] == first]
    texts = [str(v) for v in feature["properties"].values()]
    assert all("<" not in t and ">" not in t for t in texts)  # what innerHTML receives
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;" in feature[
        "properties"]["n"]
    assert "<script" not in map_args(at)["feature_group"]


def test_large_files_start_as_an_overview_of_groups(sample_results, results, monkeypatch,
                                                    fresh_map_cache):
    monkeypatch.setattr(mapview, "OVERVIEW_MIN_AREAS", 1000)  # London stands in for England
    monkeypatch.setattr(state, "GROUP_FILES_DELAY_S", 0.0)
    areas = results.areas
    column = results.group_columns[0]
    banding = published_banding(areas, results.band_breaks)
    summary = mapview.group_summary(areas, column)
    sha = state.fingerprint(sample_results)
    for old in (STATIC_DIR / state.CACHE_FOLDER).glob(f"{sha[:16]}-*"):
        shutil.rmtree(old)  # written by an earlier run: make this run write them again
    at = start(sample_results, monkeypatch)
    table = style_of(at)
    assert table["mode"] == "overview"
    assert _decode(table["gcls"]) == mapview.group_classes(summary, "band",
                                                           banding=banding).tolist()
    assert len(table["cls"]) == len(areas)  # small areas are styled too, for zooming in
    assert table["dz"] == mapview.DETAIL_ZOOM
    overview = static_file(table["ov"])
    assert [f["properties"]["n"] for f in overview["features"]] == list(summary.index)
    assert [f["properties"]["a"] for f in overview["features"]] == list(summary["areas"])

    # The background writer leaves one file per group, holding exactly its areas.
    for thread in threading.enumerate():
        if thread.name == "firerisk-map-files":
            thread.join(timeout=120)
    folder = STATIC_DIR / table["ov"].removeprefix("/app/static/")
    groups = areas[column].astype(str).to_numpy()
    for feature in overview["features"]:
        doc = json.loads((folder.parent / feature["properties"]["f"]).read_bytes())
        ks = [f["properties"]["k"] for f in doc["features"]]
        name = feature["properties"]["n"]
        assert ks == np.flatnonzero(groups == name).tolist(), name
        assert len(doc["outlines"]) == 1

    # Picking a group draws its file; the file written on demand is the same file.
    value = str(summary.index[len(summary) // 2])
    at.sidebar.selectbox(key="group_value").set_value(value).run()
    assert not at.exception
    picked = style_of(at)
    assert picked["mode"] == "areas"
    (url,) = picked["load"]
    target = STATIC_DIR / url.removeprefix("/app/static/")
    background = target.read_bytes()
    target.unlink()
    relative = state.group_file(str(sample_results.resolve()), sha, column, value)
    assert (STATIC_DIR / relative).read_bytes() == background
