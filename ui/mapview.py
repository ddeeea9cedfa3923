"""The offline choropleth: layer classes, colours, tooltips and the Leaflet map.

No geometry travels with a Streamlit rerun. The polygons (coverage-simplified, rounded WGS 84)
and every tooltip value that does not depend on the controls are written **once per results
checksum** as static GeoJSON files (``ui/state.py`` writes them under ``static/cache``; Streamlit
serves them at ``/app/static/cache``). The map's script (``ui/js/areamap.js``, served from the same
folder) fetches a file once per browser tab and keeps the Leaflet polygons. Each rerun sends
only a *style table* (:func:`style_table`): one character per area giving its fill class, the
legend colours, the band labels, the tooltip fields and the areas in the filter. A layer, band
scheme or group change therefore restyles or shows/hides the polygons already drawn.

Large files (more than :data:`OVERVIEW_MIN_AREAS` areas, for example all of England) start as
an *overview*: one polygon per area group (for example each local authority) coloured by its
household-weighted rate (:func:`group_summary`). From zoom :data:`DETAIL_ZOOM` the script
replaces the groups in view by their small areas (one static file per group), so every area is
still shown at service zoom; picking a group in the sidebar shows just its areas.

The map uses Leaflet from the app's own static folder, no tile layer, no CDN, and SVG paths
(``path.leaflet-interactive``). Every text taken from the data is HTML-escaped in Python before
it reaches the browser (Leaflet inserts tooltips as HTML).
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.resources
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure, MacroElement
from jinja2 import Template

from firerisk import legend
from firerisk.columns import (
    AREA_ID,
    AREA_NAME,
    BAND,
    BAND_INDEX,
    EXPECTED,
    HOUSEHOLDS,
    IMD_DECILE,
    OBS_RECENT,
    P_TOP10,
    PI_HIGH,
    PI_LOW,
    RANK,
    RANK_HIGH,
    RANK_LOW,
    RISK_PER_1000,
    UNCERTAIN_BAND,
    group_rank_columns,
)
from firerisk.geo.results import Results
from firerisk.legend import (
    BORDER_COLOUR,
    BORDER_WEIGHT,
    FILL_OPACITY,
    NO_DATA_COLOUR,
    sequential_colours,
)
from firerisk.risk.bands import band_of
from firerisk.risk.explain import place_text
from firerisk.ui.bands import AS_PUBLISHED, Banding
from firerisk.ui.text import in_forecast_year

__all__ = [
    "BACKGROUND",
    "BORDER_COLOUR",
    "DETAIL_ZOOM",
    "FORMAT_VERSION",
    "HIDDEN_COLOUR",
    "HIDDEN_LABEL",
    "HIDDEN_TEXT",
    "LAYERS",
    "MAP_SCRIPT",
    "MAX_DETAIL_AREAS",
    "NO_DATA_COLOUR",
    "OBSERVED_STEPS",
    "OVERVIEW_MIN_AREAS",
    "OVERVIEW_TOLERANCE_M",
    "RATE_CLASSES",
    "AreaLayer",
    "LayerStyle",
    "area_document",
    "area_layer",
    "area_map_js",
    "area_properties",
    "available_layers",
    "band_ranges",
    "base_map",
    "class_string",
    "group_classes",
    "group_fields",
    "group_summary",
    "layer_style",
    "legend_html",
    "map_look",
    "observed_classes",
    "overview_document",
    "plural",
    "script_name",
    "sequential_colours",
    "style_table",
    "table_json",
    "tooltip_fields",
    "tooltip_properties",
    "use_overview",
    "wgs84_bounds",
]

#: Layer key -> label in the app.
LAYERS: dict[str, str] = {
    BAND: "Priority for a home fire safety visit (band)",
    "rate": "Expected fires per 1,000 households",
    "observed": "Recorded dwelling fires, recent years",
    "imd": "Deprivation (IMD decile)",
}

BACKGROUND = "#eceff1"
#: Fill, legend label and tooltip text of areas whose recorded count is withheld ("[c]").
HIDDEN_COLOUR = "#9ecae1"
HIDDEN_LABEL = "Hidden to protect privacy (small numbers)"
HIDDEN_TEXT = "hidden (small numbers)"
#: How the map script draws: area borders and fills (``firerisk.legend``, shared with the
#: QGIS style of the results file), the hovered area, the group outlines.
HOVER_COLOUR = "#000000"
HOVER_WEIGHT = 2.0
OUTLINE_COLOUR = "#37474f"
OUTLINE_WEIGHT = 1.2
OUTLINE_OPACITY = 0.7
#: The map's script, package data of ``firerisk.ui`` (see :func:`area_map_js`).
MAP_SCRIPT = "js/areamap.js"

#: Lower ends of the classes of recorded fires at or above the small-number threshold.
OBSERVED_STEPS = (10, 15, 20)
RATE_CLASSES = 7

#: Above this many areas the map of every area starts as an overview of the area groups
#: (``$FIRERISK_OVERVIEW_MIN_AREAS`` overrides it, for example to try the overview on a
#: small file).
OVERVIEW_MIN_AREAS = int(os.environ.get("FIRERISK_OVERVIEW_MIN_AREAS", "8000"))
#: Zoom level (Leaflet) from which the overview draws the small areas of the groups in view.
DETAIL_ZOOM = 10
#: At detail zoom the overview draws the small areas of the groups nearest the centre of the
#: view until this many areas are drawn (about one fire service); the rest stay whole.
MAX_DETAIL_AREAS = 6_000
#: Simplification tolerance (metres) of the dissolved group polygons of the overview.
OVERVIEW_TOLERANCE_M = 150.0
#: Version of the static file layout and style table (part of every cache file name).
FORMAT_VERSION = 2
#: Characters encoding a class index (0..35) in a style table, one per area (the map script
#: gets them in the table's ``look``).
_CLASS_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"

# folium renders embedded data with Jinja's ``tojson``, whose default separators put a space
# after every comma and colon: about 10% of the London map payload. folium's templates share
# one Jinja environment; make its JSON compact (still valid, HTML-safe JSON).
folium.GeoJson._template.environment.policies["json.dumps_kwargs"] = {
    "sort_keys": True, "separators": (",", ":")}


@dataclass(frozen=True)
class LayerStyle:
    """Class of every area on one map layer, with its legend.

    Attributes
    ----------
    key : str
        Layer key (see :data:`LAYERS`).
    title : str
        Legend title.
    classes : pandas.Series
        Class per ``area_id``: 0 = no data, 1..n = index into ``labels``/``colours`` plus one.
    labels, colours : tuple of str
        Legend labels and fill colours of classes 1..n.
    values : pandas.Series
        Text of the layer's value per ``area_id`` (for the tooltip).
    note : str
        One plain sentence shown under the legend.
    ranges : tuple of str
        Range of each class shown after its label in the legend (empty: none).
    range_note : str
        What the ranges measure, shown under the legend title.
    special : int
        The last *special* classes are not steps of the colour scale (for example counts
        withheld for privacy): the legend lists them after the scale.
    display : mapping of str to str
        Tooltip text (HTML-escaped) replacing a stored layer value (also escaped), for
        example ``"[c]"`` -> ``"hidden (small numbers)"``; the map script applies it.
    """

    key: str
    title: str
    classes: pd.Series
    labels: tuple[str, ...]
    colours: tuple[str, ...]
    values: pd.Series
    note: str = ""
    ranges: tuple[str, ...] = ()
    range_note: str = ""
    special: int = 0
    display: Mapping[str, str] = field(default_factory=dict)

    def colour_of(self, class_index: int) -> str:
        """Fill colour of a class (grey for no data)."""
        return self.colours[class_index - 1] if class_index > 0 else NO_DATA_COLOUR


def _fmt_range(lo: float, hi: float) -> str:
    return f"{lo:,.1f} to {hi:,.1f}"


def band_ranges(banding: Banding) -> tuple[str, ...]:
    """``"1.8–5.6"`` for each band of *banding* (expected fires per 1,000 households); empty
    when any limit is missing (public results hide them). See ``firerisk.legend``."""
    if len(banding.lower) != len(banding.labels):
        return ()
    return legend.band_ranges(banding.lower, banding.upper)


def _is_withheld(text: Any) -> bool:
    """Whether a count cell is withheld for disclosure control (``"[c]"``)."""
    return isinstance(text, str) and text.strip().startswith("[")


def _observed_display(raw: Iterable[Any]) -> dict[str, str]:
    """Plain tooltip text (HTML-escaped) for the withheld markers among the stored values:
    ``"[c]"`` -> :data:`HIDDEN_TEXT`, ``"<5"`` -> ``"1 to 4 (exact number hidden)"``."""
    out: dict[str, str] = {}
    for value in raw:
        if not isinstance(value, str) or _esc(value) in out:
            continue
        s = value.strip()
        if _is_withheld(s):
            out[_esc(value)] = _esc(HIDDEN_TEXT)
        elif s.startswith("<") and s[1:].isdigit() and int(s[1:]) >= 2:
            top = int(s[1:]) - 1
            out[_esc(value)] = _esc(f"{'1' if top == 1 else f'1 to {top}'} "
                                    "(exact number hidden)")
    return out


def _observed_count(text: Any) -> float:
    """Number behind an ``obs_*`` cell: '<5' -> 1 (class 1–4), '' / None / '[c]' -> NaN."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return np.nan
    s = str(text).strip()
    if s.startswith("<"):
        return 1.0
    try:
        return float(s.replace(",", ""))
    except ValueError:
        return np.nan


def observed_classes(threshold: int) -> list[tuple[str, float, float]]:
    """Classes (label, low, high) of recorded fires; counts below *threshold* are hidden in
    the results file ('<5'), so 1 to threshold-1 is one class of its own. (Counts withheld
    entirely, '[c]', get a class of their own in :func:`layer_style`.)"""
    out: list[tuple[str, float, float]] = [("0", 0, 0)]
    if threshold > 1:
        out.append((f"1–{threshold - 1} (exact number hidden)" if threshold > 2
                    else "1 (exact number hidden)", 1, threshold - 1))
    lows = [threshold, *[b for b in OBSERVED_STEPS if b > threshold]]
    for lo, hi in zip(lows, [*lows[1:], None], strict=True):
        if hi is None:
            out.append((f"{lo} or more", lo, np.inf))
        else:
            out.append((f"{lo}–{hi - 1}" if hi - 1 > lo else str(lo), lo, hi - 1))
    return out


def available_layers(results: Results) -> dict[str, str]:
    """The layers this results file can draw (public files hold no counts or rates)."""
    cols = set(results.areas.columns)
    layers = dict(LAYERS)
    if RISK_PER_1000 not in cols or not results.areas[RISK_PER_1000].notna().any():
        layers.pop("rate")
    if OBS_RECENT not in cols:
        layers.pop("observed")
    if IMD_DECILE not in cols:
        layers.pop("imd")
    return layers


def _recent_years_label(results: Results) -> str:
    years = results.run.get("years", {})
    recent = years.get("recent") if isinstance(years, dict) else None
    if isinstance(recent, list) and recent:
        ys = sorted(int(y) for y in recent)
        return f"{ys[0]}–{ys[-1]}" if len(ys) > 1 else str(ys[0])
    full = years.get("full") if isinstance(years, dict) else None
    n = results.run.get("profile", {}).get("history_years")
    if isinstance(full, list) and full:
        n = int(n) if n else min(5, len(full))
        recent = sorted(int(y) for y in full)[-n:]
        return f"{recent[0]}–{recent[-1]}" if len(recent) > 1 else str(recent[0])
    return f"last {n} full years" if n else "recent full years"


def layer_style(results: Results, layer: str, *, banding: Banding,
                rate_banding: Banding | None = None) -> LayerStyle:
    """Classes and legend of *layer* for every area.

    Parameters
    ----------
    results : Results
        The results file.
    layer : str
        A key of :data:`LAYERS`.
    banding : Banding
        Priority bands under the chosen scheme (used by the ``band`` layer).
    rate_banding : Banding, optional
        Finer classes of the rate (used by the ``rate`` layer); its labels are replaced by
        numeric ranges.
    """
    areas = results.areas
    ids = areas[AREA_ID].astype(str).to_numpy()
    when = in_forecast_year(results)
    if layer == BAND:
        classes = banding.band_index.reindex(ids).fillna(0).astype(int)
        labels = banding.labels
        values = banding.label_of().reindex(ids).fillna("")
        note = (f"Bands group areas by expected dwelling fires per 1,000 households {when}. "
                "Darker means a higher priority for home fire safety visits.")
        if banding.scheme == AS_PUBLISHED and UNCERTAIN_BAND in areas.columns:
            note += (" “Uncertain” in an area's details means the likely range of its risk "
                     "spans three or more bands.")
        ranges = band_ranges(banding)
        return LayerStyle(layer, "Priority for a home fire safety visit", classes,
                          tuple(labels), tuple(sequential_colours(len(labels))), values, note,
                          ranges=ranges, range_note=f"Expected fires per 1,000 households "
                          f"{when}" if ranges else "")
    if layer == "rate":
        if rate_banding is None:
            raise ValueError("the rate layer needs rate_banding")
        classes = rate_banding.band_index.reindex(ids).fillna(0).astype(int)
        rates = areas[RISK_PER_1000].to_numpy(dtype=float)
        labels = tuple(_fmt_range(lo, hi) for lo, hi in zip(rate_banding.lower,
                                                              rate_banding.upper, strict=True))
        values = pd.Series([f"{v:,.2f}" if np.isfinite(v) else "no data" for v in rates],
                           index=ids)
        note = f"Expected dwelling fires {when} for every 1,000 households in the area."
        return LayerStyle(layer, "Expected fires per 1,000 households", classes, labels,
                          tuple(sequential_colours(len(labels))), values, note)
    if layer == "observed":
        raw = areas[OBS_RECENT] if OBS_RECENT in areas.columns else pd.Series(
            [None] * len(areas), index=areas.index)
        counts = np.array([_observed_count(v) for v in raw], dtype=float)
        classes_ = observed_classes(results.threshold)
        cls = np.zeros(len(counts), dtype=int)
        for i, (_, lo, hi) in enumerate(classes_, start=1):
            cls[(counts >= lo) & (counts <= hi)] = i
        cls[np.array([_is_withheld(v) for v in raw], dtype=bool)] = len(classes_) + 1
        period = _recent_years_label(results)
        display = _observed_display(raw)
        values = pd.Series([html.unescape(display.get(_esc(v), _esc(v)))
                            if isinstance(v, str) and v else "no data" for v in raw],
                           index=ids)
        note = (f"Dwelling fires recorded in {period}. Counts from 1 to "
                f"{results.threshold - 1} are not shown exactly, to protect privacy; some "
                "other counts are hidden too, so that a hidden count cannot be worked out "
                "from the totals.")
        labels = (*[label for label, _, _ in classes_], HIDDEN_LABEL)
        return LayerStyle(layer, f"Recorded dwelling fires, {period}",
                          pd.Series(cls, index=ids), labels,
                          (*sequential_colours(len(classes_)), HIDDEN_COLOUR), values, note,
                          special=1, display=display)
    if layer == "imd":
        if IMD_DECILE not in areas.columns:
            raise ValueError("this results file has no imd_decile column")
        dec = pd.to_numeric(areas[IMD_DECILE], errors="coerce").to_numpy(dtype=float)
        cls = np.where(np.isfinite(dec) & (dec >= 1) & (dec <= 10), np.nan_to_num(dec), 0)
        labels = ("1 (most deprived)", *[str(d) for d in range(2, 10)], "10 (least deprived)")
        values = pd.Series([str(int(d)) if np.isfinite(d) else "no data" for d in dec], index=ids)
        note = ("English Indices of Deprivation: decile 1 holds the 10% most deprived "
                "areas in England.")
        return LayerStyle(layer, "Deprivation (IMD decile)", pd.Series(cls.astype(int), index=ids),
                          labels, tuple(sequential_colours(10, palette="viridis")), values, note)
    raise ValueError(f"unknown map layer {layer!r}; choose one of {', '.join(LAYERS)}")


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _text(values: Any, fmt: str = "{}", missing: str = "no data") -> list[str]:
    """Format each value (HTML-escaped), with *missing* for NaN/None."""
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NA:
            out.append(missing)
        else:
            out.append(_esc(fmt.format(v)))
    return out


def _expected_label(year: int | None, *, with_range: bool) -> str:
    """Tooltip label of the expected fires: ``"Expected fires in 2024 (90% range)"``."""
    when = f"in {year}" if year is not None else "next year"
    return f"Expected fires {when}" + (" (90% range)" if with_range else "")


def tooltip_properties(table: pd.DataFrame, *, style: LayerStyle, banding: Banding,
                       group_column: str | None, year: int | None = None
                       ) -> tuple[list[dict[str, str]], list[str], list[str]]:
    """Per-area tooltip fields (every value HTML-escaped), with field names and aliases.

    Field names are one letter to keep the map payload small (they are repeated in every
    feature); the aliases are what the tooltip shows. Columns a public results file lacks
    (expected counts, intervals, chances) are left out. *year* is the forecast year
    (``ui.text.forecast_year``) named in the label of the expected fires.

    Returns
    -------
    (properties, fields, aliases)
        ``properties[i]`` belongs to row ``i`` of *table*.
    """
    cols = set(table.columns)
    ids = table[AREA_ID].astype(str)
    columns: dict[str, list[str]] = {"n": _text(table[AREA_NAME]), "i": _text(ids)}
    aliases = ["Area", "Code"]
    if group_column and table[group_column].astype(str).nunique() > 1:
        columns["g"] = _text(table[group_column])
        aliases.append(group_column.replace("_", " ").capitalize())
    if style.key != BAND:
        columns["s"] = _text(style.values.reindex(ids).fillna(""))
        aliases.append(style.title)
    bands = banding.label_of().reindex(ids).fillna("").astype(str).to_numpy()
    if UNCERTAIN_BAND in cols and banding.scheme == AS_PUBLISHED:
        flag = table[UNCERTAIN_BAND].fillna(False).astype(bool).to_numpy()
        bands = np.where(flag, np.char.add(bands.astype(str), " (uncertain)"),
                         bands)
    columns["b"] = _text(bands, missing="")
    aliases.append("Priority band")
    columns["h"] = _text(table[HOUSEHOLDS], "{:,.0f}")
    aliases.append("Households")
    if EXPECTED in cols:
        expected = _text(table[EXPECTED].astype(float), "{:,.1f}")
        if {PI_LOW, PI_HIGH} <= cols:
            pi = [f" ({int(lo)} to {int(hi)})" if pd.notna(lo) and pd.notna(hi) else ""
                  for lo, hi in zip(table[PI_LOW], table[PI_HIGH], strict=True)]
            expected = [e + p for e, p in zip(expected, pi, strict=True)]
            aliases.append(_expected_label(year, with_range=True))
        else:
            aliases.append(_expected_label(year, with_range=False))
        columns["e"] = expected
    if P_TOP10 in cols:
        columns["p"] = _text(100 * table[P_TOP10].astype(float), "{:.0f}%")
        aliases.append("Chance of being in the top 10%")
    fields = list(columns)
    props = [dict(zip(fields, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    return props, fields, [_esc(a) for a in aliases]


def wgs84_bounds(frame: Any) -> tuple[float, float, float, float]:
    """Longitude/latitude bounds (minx, miny, maxx, maxy) of a GeoDataFrame's extent.

    Only the (densified) bounding box is reprojected, not every polygon.
    """
    box = shapely.segmentize(shapely.box(*frame.total_bounds), 500.0) if frame.crs and \
        not frame.crs.is_geographic else shapely.box(*frame.total_bounds)
    series = gpd.GeoSeries([box], crs=frame.crs)
    if frame.crs is not None:
        series = series.to_crs(4326)
    minx, miny, maxx, maxy = (float(v) for v in series.total_bounds)
    return minx, miny, maxx, maxy



def base_map(bounds: Sequence[Sequence[float]], *, js: Sequence[str], css: Sequence[str],
             outlines: Sequence[tuple[str, Mapping[str, Any]]] = (),
             height: int = 600, min_zoom: int = 8) -> folium.Map:
    """Empty Leaflet map, no tiles, fitted to *bounds* ``[[south, west], [north, east]]``.

    Parameters
    ----------
    js, css : sequence of str
        URLs (served by the app) of leaflet.js and leaflet.css, and of any script the map
        needs (such as the map script, :func:`area_map_js`). Replace folium's CDN links.
    outlines : sequence of (name, GeoJSON geometry)
        Group outlines embedded in the map, thin and not interactive. The app sends its
        outlines in the static geometry files instead (see :func:`area_document`).
    min_zoom : int
        Lowest zoom the user can reach (about 5 shows all of Britain).
    """
    m = folium.Map(location=None, tiles=None, zoom_start=10, min_zoom=min_zoom, max_zoom=17,
                   control_scale=True, prefer_canvas=False, height=height,
                   zoom_snap=0.25)
    # Instance attributes shadow folium's class-level CDN lists (leaflet, jquery, bootstrap,
    # awesome-markers): only our local files are loaded.
    m.default_js = [(f"local_js_{i}", url) for i, url in enumerate(js)]
    m.default_css = [(f"local_css_{i}", url) for i, url in enumerate(css)]
    root = cast(Figure, m.get_root())
    root.header.add_child(folium.Element(
        "<style>.leaflet-container{background:" + BACKGROUND + ";}"
        ".leaflet-tooltip{white-space:normal;max-width:340px}"
        ".leaflet-tooltip table{border-collapse:collapse;font-size:12px}"
        ".leaflet-tooltip th{text-align:left;padding-right:8px;font-weight:600}"
        ".fr-note{background:rgba(255,255,255,0.92);padding:4px 8px;border-radius:4px;"
        "max-width:300px;font:12px/1.35 sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3)}"
        "</style>"), name="firerisk_css")
    if outlines:
        folium.map.CustomPane("outlines", z_index=450, pointer_events=False).add_to(m)
        collection = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": f"g{i}", "properties": {}, "geometry": dict(geom)}
            for i, (_, geom) in enumerate(outlines)]}
        folium.GeoJson(collection, name="Group outlines", interactive=False, pane="outlines",
                       style_function=lambda _f: {"color": OUTLINE_COLOUR,
                                                  "weight": OUTLINE_WEIGHT,
                                                  "opacity": OUTLINE_OPACITY, "fill": False},
                       control=False).add_to(m)
    m.fit_bounds([list(bounds[0]), list(bounds[1])])
    return m


def plural(noun: str) -> str:
    """English plural of a group label: 'borough' -> 'boroughs', 'local authority' ->
    'local authorities'."""
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def legend_html(style: LayerStyle, counts: Mapping[int, int], *,
                unit: tuple[str, str] = ("area", "areas")) -> str:
    """Legend as HTML (labels escaped), with the number of areas (or groups: *unit* is the
    singular and plural noun) shown in each class.

    The colour scale comes first (highest class on top, except deprivation, decile 1 first),
    each class with its range when *style* has ranges; then the special classes of *style*
    (such as counts hidden for privacy) and "No data" when any area has them.
    """
    rows = []
    n_scale = len(style.labels) - style.special
    ranges = style.ranges if len(style.ranges) == n_scale else ()
    scale = [(i, style.labels[i - 1], style.colours[i - 1], ranges[i - 1] if ranges else "")
             for i in range(1, n_scale + 1)]
    entries = scale if style.key == "imd" else scale[::-1]
    entries += [(i, style.labels[i - 1], style.colours[i - 1], "")
                for i in range(n_scale + 1, len(style.labels) + 1) if counts.get(i, 0)]
    if counts.get(0, 0):
        entries.append((0, "No data", NO_DATA_COLOUR, ""))
    for i, label, colour, span in entries:
        n = int(counts.get(i, 0))
        extra = f' <span style="color:#555">{html.escape(span)}</span>' if span else ""
        rows.append(
            '<div style="display:flex;align-items:center;gap:8px;margin:2px 0">'
            f'<span style="display:inline-block;width:18px;height:14px;background:{colour};'
            'border:1px solid #999;flex:none"></span>'
            f'<span>{html.escape(label)}{extra}</span>'
            f'<span style="color:#666;margin-left:auto;white-space:nowrap">{n:,} '
            f'{html.escape(unit[0] if n == 1 else unit[1])}</span></div>')
    sub = (f'<div style="color:#555;font-size:0.8rem">{html.escape(style.range_note)}</div>'
           if ranges and style.range_note else "")
    return (f'<div style="font-size:0.9rem"><strong>{html.escape(style.title)}</strong>'
            + sub + "".join(rows) + "</div>")


# --------------------------------------------------------------------------------------------
# Static geometry files and the per-rerun style table

#: Tooltip key of each layer's value in :func:`area_properties` (the band layer has none: the
#: band is always shown).
_VALUE_KEYS = {"rate": "r", "observed": "o", "imd": "d"}


def use_overview(n_areas: int, *, column: str | None, every_area: bool) -> bool:
    """Whether the map of the current filter starts as an overview of the area groups: more
    than :data:`OVERVIEW_MIN_AREAS` areas, no group picked, and a group column to dissolve
    by."""
    return column is not None and every_area and n_areas > OVERVIEW_MIN_AREAS


def class_string(classes: Iterable[int]) -> str:
    """One character per class index (``0``-``9``, then ``a``-``z``): how a style table
    sends the class of every area (5,000 areas -> 5,000 bytes)."""
    arr = np.asarray(list(classes) if not isinstance(classes, np.ndarray) else classes)
    if arr.size == 0:
        return ""
    arr = arr.astype(int)
    if arr.min() < 0 or arr.max() >= len(_CLASS_CHARS):
        raise ValueError(f"class indices must be 0..{len(_CLASS_CHARS) - 1}, got "
                         f"{arr.min()}..{arr.max()}")
    return "".join(np.array(list(_CLASS_CHARS))[arr].tolist())


def area_properties(table: pd.DataFrame, *, positions: Sequence[int] | np.ndarray | None = None,
                    group_column: str | None = None) -> list[dict[str, Any]]:
    """Tooltip values of each area that do not depend on the map controls, HTML-escaped.

    They are written once into the static geometry file. Keys are one letter (repeated in
    every feature): ``k`` position of the area in the results file (indexes the style
    table), ``n`` name, ``i`` code, ``g`` group (when *group_column* is given), ``h``
    households, ``e`` expected fires in the forecast year with the 90% range, ``p`` chance of being in
    the top 10%, ``u`` 1 when the published band is uncertain, and the layer values ``r``
    (rate), ``o`` (recorded fires, recent years) and ``d`` (IMD decile). Columns a public
    results file lacks are left out.

    Parameters
    ----------
    table : DataFrame
        Rows of the results' ``areas`` layer (geometry not needed).
    positions : sequence of int, optional
        Position of each row in the whole results file (default ``0..n-1``).
    group_column : str, optional
        Group column shown in the tooltip.
    """
    n = len(table)
    cols = set(table.columns)
    pos = np.arange(n) if positions is None else np.asarray(positions, dtype=int)
    if len(pos) != n:
        raise ValueError(f"{len(pos)} positions for {n} rows")
    columns: dict[str, list[Any]] = {
        "k": [int(p) for p in pos],
        "n": _text(table[AREA_NAME]),
        "i": _text(table[AREA_ID].astype(str)),
    }
    if group_column:
        columns["g"] = _text(table[group_column])
    if HOUSEHOLDS in cols:
        columns["h"] = _text(table[HOUSEHOLDS], "{:,.0f}")
    if EXPECTED in cols:
        expected = _text(table[EXPECTED].astype(float), "{:,.1f}")
        if {PI_LOW, PI_HIGH} <= cols:
            expected = [e + (f" ({int(lo)} to {int(hi)})" if pd.notna(lo) and pd.notna(hi)
                             else "")
                        for e, lo, hi in zip(expected, table[PI_LOW], table[PI_HIGH],
                                             strict=True)]
        columns["e"] = expected
    if P_TOP10 in cols:
        columns["p"] = _text(100 * table[P_TOP10].astype(float), "{:.0f}%")
    if UNCERTAIN_BAND in cols:
        columns["u"] = [int(bool(v)) for v in table[UNCERTAIN_BAND].fillna(False)]
    columns.update(_place_properties(table))
    if RISK_PER_1000 in cols:
        columns["r"] = _text(table[RISK_PER_1000].astype(float), "{:,.2f}")
    if OBS_RECENT in cols:
        columns["o"] = [_esc(v) if isinstance(v, str) and v else "no data"
                        for v in table[OBS_RECENT]]
    if IMD_DECILE in cols:
        dec = pd.to_numeric(table[IMD_DECILE], errors="coerce")
        columns["d"] = _text(dec, "{:.0f}")
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _ranged_group(columns: Iterable[str]) -> str | None:
    """The grouping label (alphabetically first) whose in-group ranges of ranks the results
    hold."""
    names = {str(c) for c in columns}
    for col in sorted(names):
        head, tail = "rank_in_", "_low"
        if col.startswith(head) and col.endswith(tail) and len(col) > len(head + tail):
            label = col[len(head):-len(tail)]
            if set(group_rank_columns(label)[:3]) <= names:
                return label
    return None


def _place_properties(table: pd.DataFrame) -> dict[str, list[str]]:
    """Hover texts of the area's rank with its likely range: ``s`` in the whole service,
    ``t`` inside its group (the first grouping column with ranges), HTML-escaped."""
    out: dict[str, list[str]] = {}
    cols = set(table.columns)
    if {RANK, RANK_LOW, RANK_HIGH} <= cols:
        out["s"] = [_esc(place_text(r, lo, hi, of=None)) for r, lo, hi in
                    zip(table[RANK], table[RANK_LOW], table[RANK_HIGH], strict=True)]
    label = _ranged_group(table.columns)
    if label is not None and label in cols:
        rank_col, low_col, high_col, _ = group_rank_columns(label)
        out["t"] = [_esc(place_text(r, lo, hi, of=None, where=str(g))) for r, lo, hi, g in
                    zip(table[rank_col], table[low_col], table[high_col], table[label],
                        strict=True)]
    return out


def tooltip_fields(columns: Iterable[str], style: LayerStyle, *,
                   group_label: str | None = None, year: int | None = None) -> list[list[str]]:
    """Tooltip rows ``[key, label]`` (labels HTML-escaped) for the areas on *style*'s layer.

    *columns* are the results' area columns; a row is listed only when the static file
    holds its key (see :func:`area_properties`). ``b`` (the band) is filled in by the map
    script from the style table. *year* is the forecast year named in the label of the
    expected fires (``"next year"`` when None).
    """
    cols = set(columns)
    fields = [["n", "Area"], ["i", "Code"]]
    if group_label:
        fields.append(["g", group_label])
    value_key = _VALUE_KEYS.get(style.key)
    if value_key:
        fields.append([value_key, style.title])
    fields.append(["b", "Priority band"])
    if HOUSEHOLDS in cols:
        fields.append(["h", "Households"])
    if EXPECTED in cols:
        fields.append(["e", _expected_label(year, with_range={PI_LOW, PI_HIGH} <= cols)])
    if P_TOP10 in cols:
        fields.append(["p", "Chance of being in the top 10%"])
    ranged = _ranged_group(cols)
    if ranged is not None and ranged in cols:
        fields.append(["t", f"Rank in its {ranged.replace('_', ' ')}"])
    if {RANK, RANK_LOW, RANK_HIGH} <= cols:
        fields.append(["s", "Rank in the whole service"])
    return [[key, _esc(label)] for key, label in fields]


def _weighted_mean(values: pd.Series, weights: pd.Series, groups: pd.Series) -> pd.Series:
    """Per group: sum(w * x) / sum(w) over rows with a finite x and a positive w."""
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    w = pd.to_numeric(weights, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(w) & (w > 0)
    frame = pd.DataFrame({"g": groups.to_numpy(), "wx": np.where(ok, w * np.where(ok, x, 0), 0),
                          "w": np.where(ok, w, 0)})
    sums = frame.groupby("g", sort=True)[["wx", "w"]].sum()
    return (sums["wx"] / sums["w"].where(sums["w"] > 0)).astype(float)


def group_summary(areas: pd.DataFrame, column: str) -> pd.DataFrame:
    """Household-weighted figures of each area group, for the overview map.

    Returns
    -------
    DataFrame
        Indexed by group (text, sorted), columns ``areas`` (number of small areas),
        ``households`` (sum), ``expected`` (sum of expected fires; NaN without that column),
        ``rate`` (household-weighted mean of ``risk_per_1000``, which equals
        1,000 x expected / households when every area has both), ``imd`` (household-weighted
        mean IMD decile) and ``band_mean`` (household-weighted mean published band index).
    """
    groups = areas[column].astype(str)
    cols = set(areas.columns)
    households = pd.to_numeric(areas[HOUSEHOLDS], errors="coerce") if HOUSEHOLDS in cols \
        else pd.Series(1.0, index=areas.index)
    out = pd.DataFrame({"areas": groups.groupby(groups, sort=True).size()})
    out.index.name = column
    out[HOUSEHOLDS] = households.groupby(groups, sort=True).sum(min_count=1)
    nan = pd.Series(np.nan, index=out.index)
    out[EXPECTED] = (pd.to_numeric(areas[EXPECTED], errors="coerce")
                       .groupby(groups, sort=True).sum(min_count=1)
                       if EXPECTED in cols else nan)
    out["rate"] = _weighted_mean(areas[RISK_PER_1000], households, groups) \
        if RISK_PER_1000 in cols else nan
    out["imd"] = _weighted_mean(areas[IMD_DECILE], households, groups) \
        if IMD_DECILE in cols else nan
    out["band_mean"] = _weighted_mean(
        pd.to_numeric(areas[BAND_INDEX], errors="coerce").where(lambda s: s > 0),
        households, groups) if BAND_INDEX in cols else nan
    return out


def _round_half_up(values: np.ndarray) -> np.ndarray:
    return np.floor(np.nan_to_num(values) + 0.5)


def group_classes(summary: pd.DataFrame, layer: str, *, banding: Banding,
                  rate_banding: Banding | None = None) -> np.ndarray:
    """Class of each group of :func:`group_summary` on *layer* (0 = no data).

    ``band``: the band its household-weighted rate falls in (the published bands' breaks,
    or the chosen scheme's); without rates, the weighted mean band rounded half up. ``rate``: the
    same with the finer rate classes. ``imd``: the weighted mean decile rounded half up.
    ``observed``: 0 (recorded counts are shown for small areas only: suppressed cells
    cannot be added up).
    """
    rate = summary["rate"].to_numpy(dtype=float)
    if layer == BAND:
        if np.isfinite(rate).any():
            return band_of(rate, banding.upper)
        mean = summary["band_mean"].to_numpy(dtype=float)
        k = len(banding.labels)
        return np.where(np.isfinite(mean), np.clip(_round_half_up(mean), 1, k),
                        0).astype(int)
    if layer == "rate":
        if rate_banding is None:
            raise ValueError("the rate layer needs rate_banding")
        return band_of(rate, rate_banding.upper)
    if layer == "imd":
        imd = summary["imd"].to_numpy(dtype=float)
        return np.where(np.isfinite(imd), np.clip(_round_half_up(imd), 1, 10),
                        0).astype(int)
    if layer == "observed":
        return np.zeros(len(summary), dtype=int)
    raise ValueError(f"unknown map layer {layer!r}; choose one of {', '.join(LAYERS)}")


def _group_properties(summary: pd.DataFrame, files: Sequence[str]) -> list[dict[str, Any]]:
    """Escaped tooltip values of each group (constant per results file) and the name of the
    static file with its small areas (``f``)."""
    columns: dict[str, list[Any]] = {
        "q": list(range(len(summary))),
        "n": _text(summary.index.astype(str)),
        "c": _text(summary["areas"], "{:,.0f}"),
        "a": [int(v) for v in summary["areas"]],
        "f": list(files),
    }
    if summary[HOUSEHOLDS].notna().any():
        columns["h"] = _text(summary[HOUSEHOLDS].astype(float), "{:,.0f}")
    if summary[EXPECTED].notna().any():
        columns["e"] = _text(summary[EXPECTED].astype(float), "{:,.1f}")
    if summary["rate"].notna().any():
        columns["r"] = _text(summary["rate"].astype(float), "{:,.2f}")
    if summary["imd"].notna().any():
        columns["d"] = _text(summary["imd"].astype(float), "{:.1f}")
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def group_fields(summary: pd.DataFrame, *, group_label: str,
                 year: int | None = None) -> list[list[str]]:
    """Tooltip rows ``[key, label]`` (escaped) of the overview's group polygons (*year*: the
    forecast year, named in the label of the expected fires)."""
    fields = [["n", group_label.capitalize()], ["c", "Small areas"],
              ["b", "Priority band of its household-weighted rate"]]
    if summary["rate"].notna().any():
        fields.append(["r", "Expected fires per 1,000 households (household-weighted)"])
    if summary["imd"].notna().any():
        fields.append(["d", "Deprivation decile (household-weighted mean)"])
    if summary[HOUSEHOLDS].notna().any():
        fields.append(["h", "Households"])
    if summary[EXPECTED].notna().any():
        fields.append(["e", _expected_label(year, with_range=False) + " (all its areas)"])
    return [[key, _esc(label)] for key, label in fields]


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def area_document(properties: Sequence[Mapping[str, Any]],
                  geometries: Sequence[Mapping[str, Any]], *,
                  outlines: Sequence[Mapping[str, Any]] = ()) -> bytes:
    """The static GeoJSON file of a set of areas: a FeatureCollection (properties from
    :func:`area_properties`) plus a foreign member ``outlines`` holding group boundary lines
    drawn on top for orientation."""
    if len(properties) != len(geometries):
        raise ValueError(f"{len(properties)} property rows for {len(geometries)} geometries")
    return _json_bytes({
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": dict(p), "geometry": dict(g)}
                     for p, g in zip(properties, geometries, strict=True)],
        "outlines": [dict(g) for g in outlines]})


def overview_document(summary: pd.DataFrame, geometries: Sequence[Mapping[str, Any]], *,
                      files: Sequence[str]) -> bytes:
    """The static GeoJSON file of the overview: one feature per group of *summary* (same
    order), with its tooltip values and the file name (``u``, relative to this file) of its
    small areas."""
    props = _group_properties(summary, files)
    return area_document(props, geometries)


def table_json(table: Mapping[str, Any]) -> str:
    """A style table as compact JSON that is safe inside a ``<script>`` (no ``<``, ``>``,
    ``&`` or line separators)."""
    text = json.dumps(table, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                       ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def map_look() -> dict[str, Any]:
    """How the map script draws, sent in every style table (``look``) so that no value is
    written in both languages: the style of an area (``area``), of the hovered area
    (``hover``) and of the group outlines (``outline``), as Leaflet path options, and the
    characters of :func:`class_string` (``alphabet``)."""
    return {
        "alphabet": _CLASS_CHARS,
        "area": {"color": BORDER_COLOUR, "weight": BORDER_WEIGHT, "opacity": 1,
                 "fillOpacity": FILL_OPACITY, "smoothFactor": 0.5},
        "hover": {"color": HOVER_COLOUR, "weight": HOVER_WEIGHT},
        "outline": {"color": OUTLINE_COLOUR, "weight": OUTLINE_WEIGHT,
                    "opacity": OUTLINE_OPACITY},
    }


def style_table(style: LayerStyle, banding: Banding, *, area_ids: Sequence[str],
                fields: Sequence[Sequence[str]], view: str,
                bounds: Sequence[Sequence[float]], load: Sequence[str] = (),
                shown: Sequence[int] | None = None, overview_url: str | None = None,
                group_classes_: Iterable[int] | None = None,
                group_bands: Iterable[int] | None = None,
                group_fields_: Sequence[Sequence[str]] = (), uncertain: bool = False,
                message: str = "") -> dict[str, Any]:
    """What one rerun sends to the map: a few bytes per area, no geometry.

    Parameters
    ----------
    style : LayerStyle
        The layer drawn (fill classes and colours).
    banding : Banding
        Bands under the chosen scheme (the tooltip's band).
    area_ids : sequence of str
        Every area of the results file, in file order (position ``k`` in the static files).
    fields : sequence of [key, label]
        Tooltip rows of the areas (:func:`tooltip_fields`).
    view : str
        Key of the filter: the map fits *bounds* whenever it changes, and keeps the user's
        zoom otherwise.
    bounds : [[south, west], [north, east]]
        Extent of the areas in the filter.
    load : sequence of str
        URLs of the static area files to draw (area mode).
    shown : sequence of int, optional
        Positions of the areas in the filter; ``None`` draws every area of the files.
    overview_url : str, optional
        URL of the overview file: draws the groups (overview mode) instead of *load*.
    group_classes_, group_bands, group_fields_
        Fill class, band and tooltip rows of each overview group.
    uncertain : bool
        Whether the tooltip marks uncertain published bands.
    message : str
        Plain text shown in a box on the map (escaped here).

    The table also carries ``look`` (:func:`map_look`: colours, line widths and the class
    alphabet), and ``vtext``, the tooltip text replacing stored layer values
    (``LayerStyle.display``, for example the withheld marker ``[c]``), when the layer has any.
    """
    ids = list(area_ids)
    classes = style.classes.reindex(ids).fillna(0).astype(int).to_numpy()
    bands = banding.band_index.reindex(ids).fillna(0).astype(int).to_numpy()
    table: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "look": map_look(),
        "mode": "overview" if overview_url else "areas",
        "cls": class_string(classes),
        "colours": [NO_DATA_COLOUR, *style.colours],
        "blabels": ["", *[_esc(label) for label in banding.labels]],
        "unc": bool(uncertain),
        "fields": [list(f) for f in fields],
        "view": view,
        "bounds": [[round(float(v), 5) for v in corner] for corner in bounds],
        "msg": _esc(message),
    }
    value_key = _VALUE_KEYS.get(style.key)
    if value_key and style.display:  # e.g. "[c]" -> "hidden (small numbers)" in the tooltip
        table["vtext"] = {value_key: dict(style.display)}
    if not np.array_equal(bands, classes):  # on the band layer the tooltip reuses "cls"
        table["bnd"] = class_string(bands)
    if overview_url:
        if group_classes_ is None or group_bands is None:
            raise ValueError("an overview needs the classes and bands of its groups")
        gcls, gbnd = class_string(group_classes_), class_string(group_bands)
        table.update({"ov": overview_url, "gcls": gcls, **({"gbnd": gbnd} if gbnd != gcls
                                                            else {}),
                      "gfields": [list(f) for f in group_fields_],
                      "dz": DETAIL_ZOOM, "dmax": MAX_DETAIL_AREAS})
    else:
        table["load"] = list(load)
        table["shown"] = None if shown is None else [int(k) for k in shown]
    return table


class AreaLayer(MacroElement):
    """Calls the map script (:func:`area_map_js`) with one style table (inside a feature group for
    ``st_folium``'s ``feature_group_to_add``)."""

    _template = Template(
        "{% macro script(this, kwargs) %}"
        "if (window.FireRiskMap) {"
        " window.FireRiskMap.render(window.map || {{ this.map_name }}, {{ this.data }});"
        "} else { console.error('firerisk: the area map script did not load'); }\n"
        "{% endmacro %}")

    def __init__(self, table: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "AreaLayer"
        self.data = table_json(table)
        self.map_name = "null"

    def render(self, **kwargs: Any) -> Any:
        parent = self._parent
        while parent is not None and not isinstance(parent, folium.Map):
            parent = getattr(parent, "_parent", None)
        self.map_name = parent.get_name() if parent is not None else "null"
        return super().render(**kwargs)


def area_layer(table: Mapping[str, Any]) -> folium.FeatureGroup:
    """Feature group for ``st_folium(feature_group_to_add=...)`` that draws *table*."""
    fg = folium.FeatureGroup(name="Areas", control=False)
    AreaLayer(table).add_to(fg)
    return fg


@functools.cache
def area_map_js() -> str:
    """The map's script (:data:`MAP_SCRIPT`, package data): loaded once per map frame,
    ``FireRiskMap.render(map, table)`` draws a :func:`style_table`."""
    return (importlib.resources.files("firerisk.ui") / MAP_SCRIPT).read_text(encoding="utf-8")


def script_name() -> str:
    """File name of :func:`area_map_js` with a hash of its text (a changed script gets a
    new URL, so no browser runs a stale copy)."""
    digest = hashlib.sha256(area_map_js().encode("utf-8")).hexdigest()[:12]
    return f"areamap-{digest}.js"
