"""The real app in headless Chromium: the map draws one polygon per area, follows the filter
and the layer without re-sending the geometry, starts large files as an overview of the area
groups that fills in every small area when zoomed in, and never tries to reach anything but
the app's own server."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from firerisk.geo.results import Results, read_results
from firerisk.ui.bands import published_banding
from firerisk.ui.mapview import LAYERS, group_classes, group_summary, layer_style
from tests.browser_helpers import (
    ByteCounter,
    app_in_browser,
    choose_group,
    choose_layer,
    map_frame,
    polygon_fills,
    settle,
    wait_for_fills,
    wait_for_polygons,
)

pytestmark = pytest.mark.browser


def _expected_fills(results: Results, layer: str, area_ids) -> set[str]:
    style = layer_style(results, layer, banding=published_banding(results.areas,
                                                                  results.band_breaks))
    return {style.colour_of(int(c)) for c in style.classes.reindex(list(area_ids))}


def _middle_group(results: Results) -> tuple[str, str, list[str]]:
    areas = results.areas
    column = results.group_columns[0]
    counts = areas[column].astype(str).value_counts()
    value = str(counts.index[len(counts) // 2])
    ids = areas.loc[areas[column].astype(str) == value, "area_id"].astype(str).tolist()
    return column, value, ids


def _geometry_file_bytes(counter: ByteCounter, static: Path) -> int:
    """Size on disk of the GeoJSON files the page fetched (served from *static*)."""
    paths = {urlsplit(u).path for u, _ in counter.responses
             if urlsplit(u).path.endswith(".geojson")}
    assert paths, "the map fetched no geometry file"
    total = 0
    for path in paths:
        assert path.startswith("/app/static/"), path
        total += (static / path.removeprefix("/app/static/")).stat().st_size
    return total


def test_map_polygons_follow_filter_and_layer_offline(sample_results, tmp_path):
    results = read_results(sample_results)
    areas = results.areas
    column, value, in_group = _middle_group(results)
    label = column.replace("_", " ").capitalize()

    with app_in_browser(sample_results, tmp_path) as session:
        base, page, guard, errors = session.base, session.page, session.guard, session.errors
        counter = ByteCounter().attach(page)

        start = time.monotonic()
        page.goto(base)
        wait_for_polygons(page, len(areas))
        cold = time.monotonic() - start
        assert polygon_fills(page) == _expected_fills(results, "band", areas["area_id"])
        settle(page)
        geometry = _geometry_file_bytes(counter, session.static)
        assert geometry > 500_000  # every London polygon: the size the checks compare to

        start = time.monotonic()
        page.reload()
        wait_for_polygons(page, len(areas))
        warm = time.monotonic() - start
        settle(page)
        frame = map_frame(page)
        frame.evaluate("() => { window.mapProbe = 42; }")  # gone if the frame is rebuilt

        # Layer change: new colours on every polygon, and only a style table travels.
        mark = counter.mark()
        start = time.monotonic()
        choose_layer(page, LAYERS["imd"])
        wait_for_fills(page, expected=_expected_fills(results, "imd", areas["area_id"]),
                       count=len(areas))
        layer_s = time.monotonic() - start
        settle(page)
        layer = counter.since(mark)
        assert layer["geometry_http"] == 0, layer["urls"]
        assert not any(u.endswith(".geojson") for u in layer["urls"]), layer["urls"]
        assert layer["websocket"] > 0  # the rerun did reach the page
        assert layer["total"] < geometry / 20, (layer["total"], geometry)

        # Group change: only the group's polygons remain, still no geometry re-sent.
        option = choose_group(page, label, value)
        mark = counter.mark()
        start = time.monotonic()
        option.click()
        wait_for_fills(page, expected=_expected_fills(results, "imd", in_group),
                       count=len(in_group))
        group_s = time.monotonic() - start
        settle(page)
        group = counter.since(mark)
        assert group["geometry_http"] == 0, group["urls"]
        assert group["total"] < geometry / 20, (group["total"], geometry)

        choose_layer(page, LAYERS["band"])
        wait_for_fills(page, expected=_expected_fills(results, "band", in_group),
                       count=len(in_group))

        # The map frame was restyled in place, never rebuilt (Leaflet, zoom and polygons
        # were kept through every change).
        assert frame.evaluate("() => window.mapProbe") == 42

        print(f"\nLondon map, {len(areas):,} areas: all polygons cold {cold:.1f} s, warm "
              f"{warm:.1f} s; geometry file {geometry:,} bytes; layer change {layer_s:.2f} s"
              f" / {layer['total']:,} bytes; {column} change {group_s:.2f} s / "
              f"{group['total']:,} bytes")
        assert guard.allowed > 0
        assert guard.blocked == [], f"the page tried to reach the internet: {guard.blocked}"
        assert errors == [], errors


def _drawn_positions(frame) -> set[int]:
    """Positions (in the results file) of the small areas drawn on the map."""
    ks = frame.evaluate(
        "() => window.FireRiskMap.state.areas.getLayers().map(l => l.feature.properties.k)")
    return {int(k) for k in ks}


def set_view(frame, lat: float, lon: float, zoom: int) -> None:
    """Move the map and wait until it is there. Leaflet drops a ``setView`` that arrives
    during a zoom animation (``{animate: false}`` included), so the call is repeated until
    the map reports the zoom asked for."""
    frame.wait_for_function(f"""() => {{
      const m = window.map;
      if (m._animatingZoom) {{ return false; }}
      if (m.getZoom() === {zoom}) {{ return true; }}
      m.setView([{lat}, {lon}], {zoom}, {{animate: false}});
      return false;
    }}""", polling=100, timeout=30_000)


def _map_state(frame) -> dict[str, object]:
    """What the map script holds, for a failure message."""
    return frame.evaluate("""() => {
      var S = window.FireRiskMap.state, m = S.map, files = window.FireRiskMap.files;
      return {zoom: m.getZoom(), token: S.token, mode: S.table && S.table.mode,
              detail_zoom: S.table && S.table.dz, groups: S.groups.getLayers().length,
              areas: S.areas.getLayers().length, size: m.getSize(),
              files: Object.keys(files).map(function (u) { return [u, !!files[u].data]; })};
    }""")


def test_large_files_start_as_group_overview_and_fill_in_when_zoomed(sample_results,
                                                                      tmp_path):
    # London has 4,994 areas; lowering the threshold makes the app treat it like England.
    results = read_results(sample_results)
    areas = results.areas
    column, value, in_group = _middle_group(results)
    label = column.replace("_", " ").capitalize()
    summary = group_summary(areas, column)
    banding = published_banding(areas, results.band_breaks)
    style = layer_style(results, "band", banding=banding)
    group_fills = {style.colour_of(int(c))
                   for c in group_classes(summary, "band", banding=banding)}
    positions = set(np.flatnonzero(areas[column].astype(str).to_numpy() == value).tolist())
    centre = areas.loc[areas[column].astype(str) == value].to_crs(4326).union_all().centroid

    # A fresh server with an empty cache folder (as on CI): no group file written yet, so
    # zooming in first meets "not found" and must retry until the background writer has
    # caught up.
    with app_in_browser(sample_results, tmp_path,
                        env={"FIRERISK_OVERVIEW_MIN_AREAS": "1000"}) as session:
        base, page, guard, errors = session.base, session.page, session.guard, session.errors

        page.goto(base)
        frame = map_frame(page)
        frame.wait_for_function("() => window.FireRiskMap && window.FireRiskMap.state.ov",
                                timeout=90_000)
        # London fits the map at about zoom 10, where the small areas already fill in;
        # zoom 8 is "national" zoom: one polygon per group.
        set_view(frame, centre.y, centre.x, 8)
        wait_for_polygons(page, len(summary))
        assert polygon_fills(page) == group_fills
        assert _drawn_positions(frame) == set()
        assert _map_state(frame)["zoom"] == 8

        # Zoomed in on one group: every one of its small areas is drawn.
        set_view(frame, centre.y, centre.x, 13)
        try:
            frame.wait_for_function(
                """(want) => { const drawn = new Set(window.FireRiskMap.state.areas.getLayers()
                     .map(l => l.feature.properties.k));
                   return want.every(k => drawn.has(k)); }""",
                arg=sorted(positions), timeout=60_000)
        except PlaywrightTimeout:
            raise AssertionError(f"zooming in never showed the small areas: "
                                 f"{_map_state(frame)}") from None

        set_view(frame, centre.y, centre.x, 8)
        wait_for_polygons(page, len(summary))

        # Picking the group shows exactly its areas.
        choose_group(page, label, value).click()
        wait_for_fills(page, expected=_expected_fills(results, "band", in_group),
                       count=len(in_group))
        assert _drawn_positions(frame) == positions

        # A new view (for example another group picked) that arrives while a zoom
        # animation runs is applied when the animation ends; Leaflet would drop it.
        w, south, e, north = (float(v) for v in areas.to_crs(4326).total_bounds)
        animating = frame.evaluate("""async (b) => {
          const m = window.map, S = window.FireRiskMap.state;
          m.setZoom(m.getZoom() + 1);  // animated; Leaflet starts it on the next frame
          await new Promise(r => requestAnimationFrame(r));
          const running = m._animatingZoom;
          window.FireRiskMap.render(m, Object.assign({}, S.table,
            {view: "during-animation", bounds: b}));
          return running;
        }""", [[south, w], [north, e]])
        assert animating, "the check needs a zoom animation running"
        # fitted: at the zoom that fits London, centred on it (to the pixel)
        frame.wait_for_function("""(b) => {
          const m = window.map, box = L.latLngBounds(b);
          return !m._animatingZoom && m.getZoom() === m.getBoundsZoom(box)
            && m.latLngToContainerPoint(m.getCenter())
                 .distanceTo(m.latLngToContainerPoint(box.getCenter())) < 2;
        }""", arg=[[south, w], [north, e]], timeout=10_000)

        assert guard.blocked == [], f"the page tried to reach the internet: {guard.blocked}"
        assert errors == [], errors


def test_tables_offer_no_export_of_their_own(sample_results, tmp_path):
    # A table's built-in "Download as CSV" would write a file with no attribution, output
    # mode or disclosure report; only the app's own buttons may export.
    with app_in_browser(sample_results, tmp_path) as session:
        base, page = session.base, session.page
        page.goto(f"{base}/page_list")
        table = page.locator('[data-testid="stDataFrame"]').first
        table.wait_for(timeout=90_000)
        table.hover()
        toolbar = page.locator('[data-testid="stElementToolbar"]').first
        # The toolbar draws its buttons after it appears: wait until it shows them all (the
        # full-screen button is the last one Streamlit adds), then read their labels.
        toolbar.get_by_role("button", name="Fullscreen").wait_for(state="visible",
                                                                   timeout=30_000)
        labels = [str(b.get_attribute("aria-label") or b.inner_text())
                  for b in toolbar.locator("button").all()]
        assert labels, "the table's toolbar did not appear"
        assert not [t for t in labels if "download" in t.lower()], labels
        # the app's own export is there (drawn after the table)
        page.locator('[data-testid="stDownloadButton"]').first.wait_for(timeout=60_000)

