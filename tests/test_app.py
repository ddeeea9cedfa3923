"""The Streamlit app, run headless with AppTest: every page, the offline map, the list, the CSV."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from firerisk.geo.results import Results, read_results, write_results
from firerisk.ui.exports import BASE_COLUMNS, RATE, targets_csv, targets_table

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = ("ui/page_map.py", "ui/page_list.py", "ui/page_evaluation.py", "ui/page_data.py")


@pytest.fixture(scope="module")
def results(sample_results: Path) -> Results:
    return read_results(sample_results)


@pytest.fixture(scope="module")
def group(results: Results) -> tuple[str, str]:
    """The first group column and its smallest non-trivial value (for example one borough)."""
    column = results.group_columns[0]
    counts = results.areas[column].astype(str).value_counts()
    return column, str(counts.index[len(counts) // 2])


def start(path: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None) -> AppTest:
    """Run the app on *path*, opening *page* first (default: the map)."""
    monkeypatch.setenv("FIRERISK_RESULTS", str(path))
    at = AppTest.from_file(APP, default_timeout=120)
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def map_args(at: AppTest) -> dict[str, Any]:
    comps = at.get("component_instance")
    assert len(comps) == 1, "expected exactly one map component"
    return dict(json.loads(comps[0].proto.json_args))


def map_features(at: AppTest) -> list[dict[str, Any]]:
    """The areas the map draws on this rerun: code, tooltip properties (from the static
    geometry file the map fetches) and fill colour (from the style table of the rerun)."""
    script = map_args(at)["feature_group"]
    match = re.search(r"FireRiskMap\.render\([^,]+, (?=\{)", script)
    assert match, "no style table in the map's feature group"
    table, _ = json.JSONDecoder().raw_decode(script, match.end())
    features = []
    for url in table.get("load", []):
        path = ROOT / "static" / url.removeprefix("/app/static/")
        features += json.loads(path.read_bytes())["features"]
    shown = None if table.get("shown") is None else set(table["shown"])
    return [{"id": f["properties"]["i"], "properties": f["properties"],
             "fill": table["colours"][int(table["cls"][f["properties"]["k"]], 36)]}
            for f in features if shown is None or f["properties"]["k"] in shown]


def variant(results: Results, out: Path, change: Callable[[pd.DataFrame], None],
            extra: dict[str, pd.DataFrame] | None = None,
            keep: tuple[str, str] | None = None) -> Path:
    """Write a copy of *results* with rows changed by *change* (applied to areas and targets),
    keeping only the areas of group ``keep = (column, value)`` if given (smaller, faster)."""
    areas = results.areas.copy()
    targets = results.targets.copy()
    if keep is not None:
        areas = areas.loc[areas[keep[0]].astype(str) == keep[1]].copy()
        targets = targets.loc[targets[keep[0]].astype(str) == keep[1]].copy()
    change(areas)
    change(targets)
    return write_results(out, areas=areas, targets=targets, run=results.run,
                         provenance=results.provenance, band_breaks=results.band_breaks,
                         extra={**results.extra, **(extra or {})})


def test_every_page_runs_without_exception(sample_results, monkeypatch):
    at = start(sample_results, monkeypatch)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert at.header, f"{page} shows no header"


def test_map_loads_nothing_from_the_internet(sample_results, monkeypatch):
    at = start(sample_results, monkeypatch)
    args = map_args(at)
    links = args["js_links"] + args["css_links"]
    assert links, "the map must load Leaflet from the app"
    assert all(link.startswith("/") and not link.startswith("//") for link in links), links
    assert any(link.endswith("/app/static/vendor/leaflet/leaflet.js") for link in links)
    for part in ("script", "header", "html", "feature_group"):
        text = args.get(part) or ""
        assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text), part
        assert "cdn" not in text.lower(), part
    # the vendored files exist where the links point
    assert (ROOT / "static" / "vendor" / "leaflet" / "leaflet.js").is_file()
    assert (ROOT / "static" / "vendor" / "leaflet" / "leaflet.css").is_file()


def test_map_draws_every_area_then_only_the_filtered_group(sample_results, results, group,
                                                           monkeypatch):
    at = start(sample_results, monkeypatch)
    features = map_features(at)
    assert sorted(f["id"] for f in features) == sorted(results.areas["area_id"])
    column, value = group
    at.sidebar.selectbox(key="group_value").set_value(value).run()
    assert not at.exception
    expected = results.areas.loc[results.areas[column].astype(str) == value, "area_id"]
    assert sorted(f["id"] for f in map_features(at)) == sorted(expected)


def test_changing_the_layer_recolours_without_changing_the_base_map(sample_results,
                                                                     monkeypatch):
    at = start(sample_results, monkeypatch)
    before = map_args(at)
    fills_before = {f["fill"] for f in map_features(at)}
    at.sidebar.radio(key="map_layer").set_value("imd").run()
    assert not at.exception
    after = map_args(at)
    fills_after = {f["fill"] for f in map_features(at)}
    assert set(fills_after) != set(fills_before)
    # Same base map -> same component key: the browser keeps Leaflet and swaps the polygons.
    assert after["key"] == before["key"]
    assert after["script"] == before["script"]


def test_every_layer_and_band_scheme_runs(sample_results, group, monkeypatch):
    at = start(sample_results, monkeypatch)
    at.sidebar.selectbox(key="group_value").set_value(group[1]).run()  # small map: fast
    for scheme in ("quantiles", "natural_breaks", "equal_interval", "as_published"):
        at.sidebar.selectbox(key="band_scheme").set_value(scheme).run()
        for layer in ("band", "rate", "observed", "imd"):
            at.sidebar.radio(key="map_layer").set_value(layer).run()
            assert not at.exception, (scheme, layer, [e.value for e in at.exception])
            assert len(map_features(at)) > 0


def test_target_list_has_the_columns_and_is_sorted_by_rank(sample_results, results,
                                                           monkeypatch):
    at = start(sample_results, monkeypatch, page="ui/page_list.py")
    table = at.dataframe[0].value
    for column in BASE_COLUMNS:
        assert column in table.columns, column
    assert results.group_columns[0].capitalize() in table.columns
    assert len(table) == len(results.areas)
    assert table["Rank"].is_monotonic_increasing
    assert list(table["Code"]) == list(results.targets.sort_values("rank")["area_id"])
    row = results.targets.sort_values("rank").iloc[0]
    first = table.iloc[0]
    reasons = [str(row[c]) for c in ("reason_1", "reason_2", "reason_3") if str(row[c]).strip()]
    assert first["Reasons"] == "; ".join(reasons)
    assert first["90% range"] == f"{int(row['pi_low'])}–{int(row['pi_high'])}"
    assert first["Chance in top 10%"] == pytest.approx(round(100 * row["p_top10"]))


def test_borough_filter_restricts_the_list(sample_results, results, group, monkeypatch):
    column, value = group
    at = start(sample_results, monkeypatch, page="ui/page_list.py")
    at.sidebar.selectbox(key="group_value").set_value(value).run()
    assert not at.exception
    table = at.dataframe[0].value
    label = column.capitalize()
    assert set(table[label]) == {value}
    assert len(table) == int((results.areas[column].astype(str) == value).sum())
    assert table["Rank"].is_monotonic_increasing
    assert list(table[f"Rank in {column}"]) == list(range(1, len(table) + 1))


def test_band_scheme_changes_the_list_bands(sample_results, results, monkeypatch):
    at = start(sample_results, monkeypatch, page="ui/page_list.py")
    at.sidebar.selectbox(key="band_scheme").set_value("equal_interval").run()
    assert not at.exception
    table = at.dataframe[0].value
    # Equal-width bands of a right-skewed rate put the most areas in the lowest band, far
    # more than the fifth each band holds under the published quintiles.
    counts = table["Band"].value_counts()
    assert counts.index[0] == results.band_labels[0]
    assert counts.iloc[0] > len(table) / 3
    assert "Band uncertain" not in table.columns  # uncertainty refers to the published bands
    assert "Likely band (9 in 10)" not in table.columns


def test_csv_has_the_table_first_and_its_provenance_after(results, group):
    column, value = group
    data = targets_csv(results, group=column, value=value)
    text = data.decode("utf-8-sig")
    lines = text.splitlines()
    shown = targets_table(results, group=column, value=value)
    # the header, the rows, one empty line, then the notes
    assert lines[0].startswith('"Rank",')
    assert lines[len(shown) + 1] == ""
    header = lines[len(shown) + 2:]
    assert header
    assert all(line.startswith("# ") for line in header)
    assert any("Attribution:" in line and results.attribution()[:40] in line for line in header)
    assert any(f"Output mode: {results.mode}" in line and f"<{results.threshold}" in line
               for line in header)
    assert any(line.startswith("# Inputs:") and str(results.provenance["file"].iloc[0]) in line
               for line in header)
    back = pd.read_csv(io.BytesIO(data), comment="#", encoding="utf-8-sig")
    assert list(back.columns) == list(shown.columns)
    assert list(back["Code"]) == list(shown["Code"])
    assert np.allclose(back["Expected incidents"], shown["Expected incidents"])


def test_text_from_data_is_escaped_in_the_map_and_defused_in_the_csv(results, tmp_path,
                                                                       monkeypatch):
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    first = str(results.targets.sort_values("rank")["area_id"].iloc[0])

    def poison(table: pd.DataFrame) -> None:
        hit = table["area_id"] == first
        table.loc[hit, "area_name"] = evil
        table.loc[hit, "reason_1"] = "=HYPERLINK(\"http://example.org\")"

    column = results.group_columns[0]
    home = str(results.areas.loc[results.areas["area_id"] == first, column].iloc[0])
    path = variant(results, tmp_path / "evil.gpkg", poison, keep=(column, home))
    at = start(path, monkeypatch)
    feature = next(f for f in map_features(at) if f["id"] == first)
    texts = [str(v) for v in feature["properties"].values()]
    assert all("<" not in t and ">" not in t for t in texts)  # what innerHTML will receive
    assert any("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in t for t in texts)

    poisoned = read_results(path)
    csv = targets_csv(poisoned).decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(csv), comment="#")
    row = back.loc[back["Code"] == first].iloc[0]
    assert row["Reasons"].startswith("'=HYPERLINK")
    assert row["Area"] == evil  # kept as text, not dropped


def test_observed_layer_shows_suppressed_counts_as_their_own_class(sample_results, results,
                                                                   monkeypatch):
    at = start(sample_results, monkeypatch)
    at.sidebar.radio(key="map_layer").set_value("observed").run()
    assert not at.exception
    legend = " ".join(m.value for m in at.markdown)
    assert "1–4 (exact number hidden)" in legend
    suppressed = int((results.areas["obs_recent"].astype(str) == "<5").sum())
    assert re.search(rf"1–4 \(exact number hidden\).*?{suppressed:,} area", legend)


def test_evaluation_page_without_and_with_a_backtest(results, group, tmp_path, monkeypatch):
    bare = variant(Results(path=results.path, areas=results.areas, targets=results.targets,
                           run=results.run, provenance=results.provenance,
                           band_breaks=results.band_breaks, extra={}),
                   tmp_path / "bare.gpkg", lambda t: None, keep=group)
    at = start(bare, monkeypatch, page="ui/page_evaluation.py")
    assert any("no evaluation" in i.value for i in at.info)

    shares = np.linspace(0, 1, 11)
    curve = pd.concat([pd.DataFrame({"ranking": r, "household_share": shares,
                                     "incident_share": shares ** p})
                       for r, p in (("model", 0.5), ("last_year", 0.7))], ignore_index=True)
    evaluation = pd.DataFrame({"ranking": ["model", "last_year"], "capture_10": [0.3, 0.2]})
    rich = variant(results, tmp_path / "rich.gpkg", lambda t: None,
                   extra={"evaluation": evaluation, "evaluation_curve": curve}, keep=group)
    at = start(rich, monkeypatch, page="ui/page_evaluation.py")
    assert any("reached areas where 30% of the following year" in s.value
               and "20% using last year" in s.value for s in at.success)
    assert at.get("vega_lite_chart"), "the capture curve is not drawn"
    summary = at.dataframe[0].value
    assert list(summary["Top 10% of households"]) == ["30.0%", "20.0%"]
    assert list(summary["List"]) == ["This list (the model)", "Last year's count"]


def test_missing_results_are_built_on_first_start(sample_results, tmp_path, monkeypatch):
    import firerisk.pipeline

    calls: list[tuple[Path, Path]] = []

    def fake_build(profile, out, *, progress=None, evaluate=True):
        calls.append((Path(profile), Path(out)))
        if progress:
            progress("Reading the inputs", 0.1)
            progress("Fitting the model", None)
        shutil.copyfile(sample_results, out)
        return Path(out)

    monkeypatch.setattr(firerisk.pipeline, "build", fake_build, raising=False)
    monkeypatch.setenv("FIRERISK_PROFILE", str(ROOT / "sample_data" / "london.toml"))
    target = tmp_path / "fresh" / "results.gpkg"
    target.parent.mkdir()
    at = start(target, monkeypatch)
    assert calls == [(ROOT / "sample_data" / "london.toml", target)]
    assert target.exists()
    assert len(at.get("component_instance")) == 1


def test_public_results_without_counts_or_rates(results):
    from dataclasses import replace

    from firerisk.ui.bands import published_banding
    from firerisk.ui.mapview import available_layers, layer_style, tooltip_properties
    from firerisk.ui.state import band_schemes

    hidden = ["obs_recent", *[c for c in results.areas.columns if c.startswith("obs_")],
              "expected", "risk_per_1000", "pi_low", "pi_high", "p_top10"]
    hidden = list(dict.fromkeys(hidden))
    public = replace(results, areas=results.areas.drop(columns=hidden),
                     targets=results.targets.drop(columns=hidden))
    assert set(available_layers(public)) == {"band", "imd"}
    assert band_schemes(public) == ["as_published"]
    table = targets_table(public)
    assert not {"Expected incidents", "90% range", "Chance in top 10%"} & set(table.columns)
    assert {"Rank", "Area", "Code", "Households", "Band", "Reasons"} <= set(table.columns)
    banding = published_banding(public.areas, public.band_breaks)
    style = layer_style(public, "band", banding=banding)
    props, fields, aliases = tooltip_properties(public.areas.drop(columns="geometry"),
                                                style=style, banding=banding,
                                                group_column=public.group_columns[0])
    assert "e" not in fields
    assert "p" not in fields
    assert len(fields) == len(aliases)
    assert all(set(p) == set(fields) for p in props)
    text = targets_csv(public).decode("utf-8-sig")
    assert "Expected incidents" not in text.splitlines()[0]  # the header is the first line
    assert "Rank" in text.splitlines()[0]


@pytest.mark.parametrize(("threshold", "labels"), [
    (5, ["0", "1–4 (exact number hidden)", "5–9", "10–14", "15–19", "20 or more"]),
    (10, ["0", "1–9 (exact number hidden)", "10–14", "15–19", "20 or more"]),
    (3, ["0", "1–2 (exact number hidden)", "3–9", "10–14", "15–19", "20 or more"]),
])
def test_observed_classes_follow_the_threshold(threshold, labels):
    from firerisk.ui.mapview import observed_classes

    classes = observed_classes(threshold)
    assert [c[0] for c in classes] == labels
    # every count from 0 to 100 falls in exactly one class
    for n in range(101):
        assert sum(lo <= n <= hi for _, lo, hi in classes) == 1, n


def test_vendor_assets_are_copied_once_and_served_under_the_base_path(tmp_path):
    from firerisk.ui.assets import (
        LEAFLET_FILES,
        install_vendor_assets,
        leaflet_source_dir,
        static_url,
    )

    copied = install_vendor_assets(static_dir=tmp_path)
    assert len(copied) == len(LEAFLET_FILES)
    for name, path in zip(LEAFLET_FILES, copied, strict=True):
        assert path.read_bytes() == (leaflet_source_dir() / name).read_bytes()
    assert b"1.9.4" in (tmp_path / "vendor" / "leaflet" / "leaflet.js").read_bytes()[:400]
    stamps = [p.stat().st_mtime_ns for p in copied]
    install_vendor_assets(static_dir=tmp_path)
    assert [p.stat().st_mtime_ns for p in copied] == stamps  # identical files are left alone
    assert static_url("vendor/leaflet/leaflet.js") == "/app/static/vendor/leaflet/leaflet.js"
    assert static_url("vendor/x.css", base_url_path="/atlas/") == "/atlas/app/static/vendor/x.css"


# --------------------------------------------------------------------- usability trial fixes


def legend_of(at: AppTest) -> str:
    """The map legend's HTML (the markdown holding the legend title)."""
    return next(m.value for m in at.markdown if "<strong>" in m.value)


def test_list_shows_the_rate_it_is_ranked_by_next_to_the_rank(sample_results, results, group,
                                                               monkeypatch):
    at = start(sample_results, monkeypatch, page="ui/page_list.py")
    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["Rank", RATE]
    truth = results.targets.set_index("area_id")["risk_per_1000"]
    assert np.allclose(table[RATE], truth.reindex(table["Code"]).to_numpy())
    # ranked by this figure: it never goes up down the list
    assert table[RATE].is_monotonic_decreasing
    captions = " ".join(c.value for c in at.caption)
    assert f"ranked by “{RATE}”" in captions
    column, value = group
    at.sidebar.selectbox(key="group_value").set_value(value).run()
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["Rank", f"Rank in {column}", RATE]
    assert table[RATE].is_monotonic_decreasing


def test_observed_layer_labels_withheld_totals_plainly(results, tmp_path, monkeypatch):
    column = results.group_columns[0]
    withheld = results.areas["obs_recent"].astype(str) == "[c]"
    home = str(results.areas.loc[withheld, column].value_counts().index[0])
    in_home = results.areas[column].astype(str) == home
    lost = str(results.areas.loc[in_home & ~withheld, "area_id"].iloc[0])

    def lose_one(table: pd.DataFrame) -> None:  # one genuinely missing total
        table.loc[table["area_id"] == lost, "obs_recent"] = None

    path = variant(results, tmp_path / "missing.gpkg", lose_one, keep=(column, home))
    n_hidden = int((withheld & in_home).sum())
    at = start(path, monkeypatch)
    at.sidebar.radio(key="map_layer").set_value("observed").run()
    assert not at.exception
    legend = re.sub(r"<[^>]+>", " ", legend_of(at))
    assert re.search(rf"Hidden to protect privacy \(small numbers\)\s+{n_hidden:,} area",
                     legend), legend
    assert re.search(r"No data\s+1 area\b", legend), legend  # only the missing one
    # the tooltip: the map script swaps the stored marker for the table's text
    script = map_args(at)["feature_group"]
    match = re.search(r"FireRiskMap\.render\([^,]+, (?=\{)", script)
    assert match
    table, _ = json.JSONDecoder().raw_decode(script, match.end())
    shown = table["vtext"]["o"]
    features = {f["id"]: f for f in map_features(at)}
    hidden_ids = results.areas.loc[withheld & in_home, "area_id"]
    for area in hidden_ids:
        value = features[area]["properties"]["o"]
        assert shown[value] == "hidden (small numbers)"
        assert features[area]["fill"] != table["colours"][0]  # not the "no data" grey
    assert features[lost]["properties"]["o"] == "no data"
    assert features[lost]["fill"] == table["colours"][0]
    assert all("<" not in k + v and ">" not in k + v for k, v in shown.items())


def test_the_app_names_the_forecast_year(sample_results, results, monkeypatch):
    year = int(results.run["years"]["next_year"])
    at = start(sample_results, monkeypatch)
    notes = " ".join(c.value for c in at.caption)
    assert f"households in {year}" in notes
    assert "next year" not in notes
    script = map_args(at)["feature_group"]
    assert f"Expected fires in {year} (90% range)" in script
    assert "next year" not in script
    at.switch_page("ui/page_list.py").run()
    captions = " ".join(c.value for c in at.caption)
    assert f"expects in the area in {year}" in captions
    assert "next year" not in captions
    at.switch_page("ui/page_data.py").run()
    text = " ".join(m.value for m in at.markdown)
    assert f"how many dwelling fires to expect in {year}" in text
    assert "next year" not in text


def test_evaluation_page_says_it_covers_the_whole_service_area(sample_results, results,
                                                                group, monkeypatch):
    at = start(sample_results, monkeypatch, page="ui/page_evaluation.py")
    assert "whole service area" in at.info[0].value
    assert f"{len(results.areas):,} areas" in at.info[0].value
    column, value = group
    at.sidebar.selectbox(key="group_value").set_value(value).run()
    assert not at.exception
    top = at.info[0].value
    assert "whole service area" in top
    assert value in top
    assert f"The {column} picked in the sidebar" in top
    assert "does not change the figures for the whole service" in top
    # capture inside each borough, the borough picked first, beside the whole service
    inside = next(d.value for d in at.dataframe if "This list" in d.value.columns)
    assert inside.iloc[0, 0] == value
    assert inside.iloc[-1, 0] == "Whole service"
    assert len(inside) == results.areas[column].nunique() + 1


def test_band_legend_gives_the_rate_range_of_each_band(sample_results, results, monkeypatch):
    at = start(sample_results, monkeypatch)
    legend = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", legend_of(at)))
    year = int(results.run["years"]["next_year"])
    assert f"Expected fires per 1,000 households in {year}" in legend

    def limit(v: float) -> str:  # as the PDF legend prints them
        return f"{v:.2f}" if abs(v) < 1 else f"{v:.1f}"

    for row in results.band_breaks.itertuples():
        assert f"{row.label} {limit(row.lower)}–{limit(row.upper)} " in legend, row.label
    # another scheme: the ranges follow its own breaks
    at.sidebar.selectbox(key="band_scheme").set_value("equal_interval").run()
    legend = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", legend_of(at)))
    rates = results.areas["risk_per_1000"].astype(float)
    step = (rates.max() - rates.min()) / len(results.band_breaks)
    top = results.band_labels[-1]
    assert f"{top} {limit(rates.min() + (len(results.band_breaks) - 1) * step)}–" \
        f"{limit(rates.max())} " in legend
