"""The map's script (``ui/js/areamap.js``) on its own, in headless Chromium with the real
Leaflet, without Streamlit: a hand-made style table and GeoJSON file, and what the script
must draw from them (hand-worked fills, borders, tooltips, filters, failures and parts).

The table is made by ``ui.mapview.style_table`` itself where it can be, so the test also
pins what Python and the script agree on (the class alphabet and the look travel in the
table; nothing is written twice).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from firerisk.ui import mapview
from firerisk.ui.assets import leaflet_source_dir
from firerisk.ui.bands import Banding
from tests.browser_helpers import NetworkGuard, launch_browser

pytestmark = pytest.mark.browser

ORIGIN = "http://127.0.0.1:9"  # never reached: every request is answered by a route
PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/leaflet.css"><script src="/leaflet.js"></script>
<script src="/areamap.js"></script></head>
<body><div id="m" style="width:600px;height:400px"></div>
<script>window.map = L.map("m", {zoomSnap: 0.25});</script></body></html>"""


def _square(x: float, y: float) -> dict[str, Any]:
    d = 0.01
    return {"type": "Polygon",
            "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}


#: Three areas side by side; ``k`` is the position that indexes the table's class strings.
FEATURES = [{"type": "Feature", "geometry": _square(-0.12 + 0.012 * k, 51.5),
             "properties": {"k": k, "n": f"Area {k}", "i": f"E0{k}", "h": "1,000",
                            "u": int(k == 2), "o": "[c]" if k == 1 else str(k)}}
            for k in range(3)]
AREAS = {"type": "FeatureCollection", "features": FEATURES,
         "outlines": [{"type": "LineString", "coordinates": [[-0.12, 51.5], [-0.08, 51.5]]}]}


class Served:
    """Answers the page's requests from memory and counts them by path."""

    def __init__(self, files: dict[str, tuple[bytes, str]]) -> None:
        self.files = files
        self.hits: dict[str, int] = {}

    def __call__(self, route: Any) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        self.hits[path] = self.hits.get(path, 0) + 1
        if path not in self.files:
            route.fulfill(status=404, body="not found")
            return
        body, kind = self.files[path]
        route.fulfill(status=200, body=body, content_type=kind)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[tuple[Any, Served, list[str]]]:
    from playwright.sync_api import sync_playwright

    leaflet = leaflet_source_dir()
    served = Served({
        "/": (PAGE.encode(), "text/html"),
        "/leaflet.js": ((leaflet / "leaflet.js").read_bytes(), "text/javascript"),
        "/leaflet.css": ((leaflet / "leaflet.css").read_bytes(), "text/css"),
        "/areamap.js": (mapview.area_map_js().encode(), "text/javascript"),
        "/areas.geojson": (json.dumps(AREAS).encode(), "application/json"),
    })
    with sync_playwright() as pw:
        context = launch_browser(pw, tmp_path / "profile", width=800, height=600)
        guard = NetworkGuard()
        try:
            context.route("**/*", lambda route: served(route) if route.request.url.startswith(
                ORIGIN) else guard(route))
            errors: list[str] = []
            pg = context.new_page()
            pg.on("pageerror", lambda exc: errors.append(str(exc)))
            pg.goto(f"{ORIGIN}/")
            pg.wait_for_function("() => window.FireRiskMap && window.map")
            yield pg, served, errors
        finally:
            context.close()
        assert guard.blocked == []


def _table(classes: list[int], bands: list[int], **options: Any) -> dict[str, Any]:
    ids = [f["properties"]["i"] for f in FEATURES]
    style = mapview.LayerStyle(
        key="observed", title="Recorded fires", classes=pd.Series(classes, index=ids),
        labels=("none", "few", "many"), colours=("#111111", "#222222", "#333333"),
        values=pd.Series(["0"] * 3, index=ids), display={"[c]": "hidden (small numbers)"})
    banding = Banding(scheme="as_published", band_index=pd.Series(bands, index=ids),
                      labels=("Low", "High & rising"), upper=(1.0, 2.0))
    fields = [["n", "Area"], ["o", "Recorded fires"], ["b", "Priority band"]]
    return mapview.style_table(style, banding, area_ids=ids, fields=fields,
                               view=options.pop("view", "all"),
                               bounds=[[51.49, -0.13], [51.52, -0.07]],
                               load=options.pop("load", ["/areas.geojson"]), **options)


RENDER = "(t) => { window.FireRiskMap.render(window.map, t); }"
DRAWN = """() => window.FireRiskMap.state.areas.getLayers()
    .map(l => [l.feature.properties.k, l.options.fillColor, l.options.color, l.options.weight,
               l.options.fillOpacity]).sort()"""


def _drawn(pg: Any, n: int) -> list[list[Any]]:
    pg.wait_for_function(f"() => window.FireRiskMap.state.areas.getLayers().length === {n}")
    return [list(row) for row in pg.evaluate(DRAWN)]


def test_classes_colours_and_borders_come_from_the_table(page) -> None:
    pg, _, errors = page
    table = _table([2, 0, 1], [1, 2, 2])
    # The look and the alphabet travel in the table: change them and the script follows.
    table["look"] = {**table["look"], "alphabet": "zyx",
                     "area": {**table["look"]["area"], "color": "#abcdef", "weight": 3}}
    table["cls"] = "xzy"  # classes 2, 0, 1 in the alphabet "zyx"
    table.pop("bnd", None)
    pg.evaluate(RENDER, table)
    drawn = _drawn(pg, 3)
    # colours[0] is the no-data grey; class c is colours[c].
    assert drawn == [[0, "#222222", "#abcdef", 3, mapview.FILL_OPACITY],
                     [1, mapview.NO_DATA_COLOUR, "#abcdef", 3, mapview.FILL_OPACITY],
                     [2, "#111111", "#abcdef", 3, mapview.FILL_OPACITY]]
    svg = pg.locator("path.leaflet-interactive").evaluate_all(
        "els => els.map(e => [e.getAttribute('fill'), e.getAttribute('stroke')])")
    assert sorted(svg) == sorted([["#222222", "#abcdef"], [mapview.NO_DATA_COLOUR, "#abcdef"],
                                  ["#111111", "#abcdef"]])
    outline = pg.locator(".leaflet-frOutlines-pane path").evaluate_all(
        "els => els.map(e => [e.getAttribute('stroke'), e.getAttribute('stroke-width'),"
        " e.getAttribute('stroke-opacity'), e.getAttribute('fill')])")
    assert outline == [[mapview.OUTLINE_COLOUR, f"{mapview.OUTLINE_WEIGHT:g}",
                        f"{mapview.OUTLINE_OPACITY:g}", "none"]]
    assert errors == []


def test_python_classes_decode_to_the_same_fills(page) -> None:
    pg, _, errors = page
    pg.evaluate(RENDER, _table([1, 2, 3], [1, 1, 2]))
    assert [row[:2] for row in _drawn(pg, 3)] == [[0, "#111111"], [1, "#222222"],
                                                  [2, "#333333"]]
    assert errors == []


def test_a_new_table_restyles_the_same_polygons_without_fetching_again(page) -> None:
    pg, served, errors = page
    pg.evaluate(RENDER, _table([1, 2, 3], [1, 1, 2]))
    _drawn(pg, 3)
    pg.evaluate("() => window.FireRiskMap.state.areas.getLayers()"
                ".forEach(l => { l._probe = l.feature.properties.k; })")
    pg.evaluate(RENDER, _table([3, 3, 0], [1, 1, 2], shown=[0, 2], view="group"))
    pg.wait_for_function("() => window.FireRiskMap.state.areas.getLayers().length === 2")
    assert [row[:2] for row in pg.evaluate(DRAWN)] == [[0, "#333333"],
                                                       [2, mapview.NO_DATA_COLOUR]]
    probes = pg.evaluate("() => window.FireRiskMap.state.areas.getLayers().map(l => l._probe)")
    assert sorted(probes) == [0, 2]  # the same Leaflet layers, restyled
    assert served.hits["/areas.geojson"] == 1
    assert errors == []


def test_tooltip_shows_escaped_labels_band_and_display_text(page) -> None:
    pg, _, errors = page
    pg.evaluate(RENDER, _table([1, 2, 3], [1, 1, 2], uncertain=True))
    _drawn(pg, 3)
    tips = pg.evaluate("""() => window.FireRiskMap.state.areas.getLayers()
        .sort((a, b) => a.feature.properties.k - b.feature.properties.k)
        .map(l => { l.openTooltip(l.getBounds().getCenter());
                    const html = l.getTooltip().getElement().innerHTML;
                    l.closeTooltip(); return html; })""")
    assert tips[0] == ("<table><tbody><tr><th>Area</th><td>Area 0</td></tr><tr><th>Recorded fires"
                       "</th><td>0</td></tr><tr><th>Priority band</th><td>Low</td></tr>"
                       "</tbody></table>")
    # "[c]" is shown as the table's display text; the label arrives escaped once.
    assert "<td>hidden (small numbers)</td>" in tips[1]
    assert "<td>High &amp; rising (uncertain)</td>" in tips[2]
    assert errors == []


def test_a_missing_file_says_so_on_the_map(page) -> None:
    pg, _, _ = page
    pg.evaluate(RENDER, _table([1, 2, 3], [1, 1, 2], load=["/gone.geojson"]))
    note = pg.locator(".fr-note")
    note.wait_for(state="visible")
    pg.wait_for_function("() => document.querySelector('.fr-note').textContent.length > 0")
    assert "could not be loaded" in note.inner_text()


def test_parts_are_set_up_once_and_updated_on_every_render(page) -> None:
    pg, _, errors = page
    pg.evaluate("""() => { window.calls = [];
      window.FireRiskMap.extend({
        setup: (map, api) => window.calls.push(["setup", map === window.map,
                                                typeof api.pane]),
        update: (t, api) => window.calls.push(["update", t.view,
                                               api.decode(t.cls, 2)])}); }""")
    pg.evaluate(RENDER, _table([1, 2, 3], [1, 1, 2]))
    pg.wait_for_function("() => window.calls.length === 2")
    pg.evaluate(RENDER, _table([1, 2, 0], [1, 1, 2], view="again"))
    pg.wait_for_function("() => window.calls.length === 3")
    assert pg.evaluate("() => window.calls") == [["setup", True, "function"],
                                                 ["update", "all", 3],
                                                 ["update", "again", 0]]
    assert errors == []
