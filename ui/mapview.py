"""The offline choropleth: layer classes, colours, tooltips and the folium map.

Polygons are drawn with ``folium.GeoJson`` and a style function (``folium.Choropleth`` and
branca colour scales pull d3 from a CDN). Leaflet comes from the app's own static folder, no
tile layer is used, and every piece of text taken from the data is HTML-escaped before it
reaches the browser (Leaflet tooltips are inserted as HTML).

The map is split in two parts for ``st_folium``: a *base map* (extent, group outlines) whose
script only changes with the area filter, and a *feature group* with the coloured polygons.
When only the layer or band scheme changes the base map's script is unchanged, so the
component stays mounted (no reload of Leaflet, zoom and pan are kept) and only the feature
group is swapped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure
from matplotlib import colormaps
from matplotlib.colors import to_hex

from geo.results import Results
from ui.bands import AS_PUBLISHED, Banding

__all__ = [
    "BACKGROUND",
    "LAYERS",
    "NO_DATA_COLOUR",
    "OBSERVED_STEPS",
    "RATE_CLASSES",
    "LayerStyle",
    "available_layers",
    "base_map",
    "layer_style",
    "legend_html",
    "observed_classes",
    "polygon_layer",
    "sequential_colours",
    "tooltip_properties",
    "wgs84_bounds",
]

#: Layer key -> label in the app.
LAYERS: dict[str, str] = {
    "band": "Priority for a home fire safety visit (band)",
    "rate": "Expected fires per 1,000 households",
    "observed": "Recorded dwelling fires, recent years",
    "imd": "Deprivation (IMD decile)",
}

BACKGROUND = "#eceff1"
NO_DATA_COLOUR = "#b0b0b0"
BORDER_COLOUR = "#ffffff"
BORDER_WEIGHT = 0.6
OUTLINE_COLOUR = "#37474f"

#: Lower ends of the classes of recorded fires at or above the small-number threshold.
OBSERVED_STEPS = (10, 15, 20)
RATE_CLASSES = 7

# folium renders embedded data with Jinja's ``tojson``, whose default separators put a space
# after every comma and colon: about 10% of the London map payload. folium's templates share
# one Jinja environment; make its JSON compact (still valid, HTML-safe JSON).
folium.GeoJson._template.environment.policies["json.dumps_kwargs"] = {
    "sort_keys": True, "separators": (",", ":")}


def sequential_colours(k: int, *, palette: str = "YlOrRd") -> list[str]:
    """*k* colours from a colour-blind-safe sequential palette (ColorBrewer YlOrRd, viridis)."""
    cmap = colormaps[palette]
    # YlOrRd runs light to dark; viridis runs dark to light (used for IMD, class 1 = most
    # deprived = darkest). The palette's extreme ends are skipped (too pale / too dark).
    stops = np.linspace(0.12, 0.95, k) if palette != "viridis" else np.linspace(0.0, 0.92, k)
    return [to_hex(cmap(float(x))) for x in stops]


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
    """

    key: str
    title: str
    classes: pd.Series
    labels: tuple[str, ...]
    colours: tuple[str, ...]
    values: pd.Series
    note: str = ""

    def colour_of(self, class_index: int) -> str:
        """Fill colour of a class (grey for no data)."""
        return self.colours[class_index - 1] if class_index > 0 else NO_DATA_COLOUR


def _fmt_range(lo: float, hi: float) -> str:
    return f"{lo:,.1f} to {hi:,.1f}"


def _observed_count(text: Any) -> float:
    """Number behind an ``obs_*`` cell: '<5' -> 1 (class 1–4), '' / None -> NaN."""
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
    """Classes (label, low, high) of recorded fires; counts below *threshold* are suppressed
    in the results file ('<5'), so 1 to threshold-1 is one class of its own."""
    out: list[tuple[str, float, float]] = [("0", 0, 0)]
    if threshold > 1:
        out.append((f"1–{threshold - 1} (suppressed)" if threshold > 2 else "1 (suppressed)",
                    1, threshold - 1))
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
    if "risk_per_1000" not in cols or not results.areas["risk_per_1000"].notna().any():
        layers.pop("rate")
    if "obs_recent" not in cols:
        layers.pop("observed")
    if "imd_decile" not in cols:
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
    ids = areas["area_id"].astype(str).to_numpy()
    if layer == "band":
        classes = banding.band_index.reindex(ids).fillna(0).astype(int)
        labels = banding.labels
        values = banding.label_of().reindex(ids).fillna("")
        note = ("Bands group areas by expected dwelling fires per 1,000 households next year. "
                "Darker means a higher priority for home fire safety visits.")
        if banding.scheme == AS_PUBLISHED and "uncertain_band" in areas.columns:
            note += (" “Uncertain” in an area's details means the likely range of its risk "
                     "spans three or more bands.")
        return LayerStyle(layer, "Priority for a home fire safety visit", classes,
                          tuple(labels), tuple(sequential_colours(len(labels))), values, note)
    if layer == "rate":
        if rate_banding is None:
            raise ValueError("the rate layer needs rate_banding")
        classes = rate_banding.band_index.reindex(ids).fillna(0).astype(int)
        rates = areas["risk_per_1000"].to_numpy(dtype=float)
        labels = tuple(_fmt_range(lo, hi) for lo, hi in zip(rate_banding.lower,
                                                              rate_banding.upper, strict=True))
        values = pd.Series([f"{v:,.2f}" if np.isfinite(v) else "no data" for v in rates],
                           index=ids)
        note = "Expected dwelling fires next year for every 1,000 households in the area."
        return LayerStyle(layer, "Expected fires per 1,000 households", classes, labels,
                          tuple(sequential_colours(len(labels))), values, note)
    if layer == "observed":
        raw = areas["obs_recent"] if "obs_recent" in areas.columns else pd.Series(
            [None] * len(areas), index=areas.index)
        counts = np.array([_observed_count(v) for v in raw], dtype=float)
        classes_ = observed_classes(results.threshold)
        cls = np.zeros(len(counts), dtype=int)
        for i, (_, lo, hi) in enumerate(classes_, start=1):
            cls[(counts >= lo) & (counts <= hi)] = i
        period = _recent_years_label(results)
        values = pd.Series([str(v) if isinstance(v, str) and v else "no data" for v in raw],
                           index=ids)
        note = (f"Dwelling fires recorded in {period}. Counts from 1 to "
                f"{results.threshold - 1} are not shown exactly, to protect privacy.")
        labels = tuple(label for label, _, _ in classes_)
        return LayerStyle(layer, f"Recorded dwelling fires, {period}",
                          pd.Series(cls, index=ids), labels,
                          tuple(sequential_colours(len(labels))), values, note)
    if layer == "imd":
        if "imd_decile" not in areas.columns:
            raise ValueError("this results file has no imd_decile column")
        dec = pd.to_numeric(areas["imd_decile"], errors="coerce").to_numpy(dtype=float)
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


def tooltip_properties(table: pd.DataFrame, *, style: LayerStyle, banding: Banding,
                       group_column: str | None) -> tuple[list[dict[str, str]], list[str],
                                                          list[str]]:
    """Per-area tooltip fields (every value HTML-escaped), with field names and aliases.

    Field names are one letter to keep the map payload small (they are repeated in every
    feature); the aliases are what the tooltip shows. Columns a public results file lacks
    (expected counts, intervals, chances) are left out.

    Returns
    -------
    (properties, fields, aliases)
        ``properties[i]`` belongs to row ``i`` of *table*.
    """
    cols = set(table.columns)
    ids = table["area_id"].astype(str)
    columns: dict[str, list[str]] = {"n": _text(table["area_name"]), "i": _text(ids)}
    aliases = ["Area", "Code"]
    if group_column and table[group_column].astype(str).nunique() > 1:
        columns["g"] = _text(table[group_column])
        aliases.append(group_column.replace("_", " ").capitalize())
    if style.key != "band":
        columns["s"] = _text(style.values.reindex(ids).fillna(""))
        aliases.append(style.title)
    bands = banding.label_of().reindex(ids).fillna("").astype(str).to_numpy()
    if "uncertain_band" in cols and banding.scheme == AS_PUBLISHED:
        flag = table["uncertain_band"].fillna(False).astype(bool).to_numpy()
        bands = np.where(flag, np.char.add(bands.astype(str), " (uncertain)"),
                         bands)
    columns["b"] = _text(bands, missing="")
    aliases.append("Priority band")
    columns["h"] = _text(table["households"], "{:,.0f}")
    aliases.append("Households")
    if "expected" in cols:
        expected = _text(table["expected"].astype(float), "{:,.1f}")
        if {"pi_low", "pi_high"} <= cols:
            pi = [f" ({int(lo)} to {int(hi)})" if pd.notna(lo) and pd.notna(hi) else ""
                  for lo, hi in zip(table["pi_low"], table["pi_high"], strict=True)]
            expected = [e + p for e, p in zip(expected, pi, strict=True)]
            aliases.append("Expected fires next year (90% range)")
        else:
            aliases.append("Expected fires next year")
        columns["e"] = expected
    if "p_top10" in cols:
        columns["p"] = _text(100 * table["p_top10"].astype(float), "{:.0f}%")
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
             height: int = 600) -> folium.Map:
    """Empty Leaflet map, no tiles, fitted to *bounds* ``[[south, west], [north, east]]``.

    Parameters
    ----------
    js, css : sequence of str
        URLs (served by the app) of leaflet.js and leaflet.css. Replace folium's CDN links.
    outlines : sequence of (name, GeoJSON geometry)
        Group outlines drawn on top, thin and not interactive, for orientation.
    """
    m = folium.Map(location=None, tiles=None, zoom_start=10, min_zoom=8, max_zoom=17,
                   control_scale=True, prefer_canvas=False, height=height,
                   zoom_snap=0.25)
    # Instance attributes shadow folium's class-level CDN lists (leaflet, jquery, bootstrap,
    # awesome-markers): only our local Leaflet is loaded.
    m.default_js = [(f"local_js_{i}", url) for i, url in enumerate(js)]
    m.default_css = [(f"local_css_{i}", url) for i, url in enumerate(css)]
    root = cast(Figure, m.get_root())
    root.header.add_child(folium.Element(
        "<style>.leaflet-container{background:" + BACKGROUND + ";}"
        ".leaflet-tooltip{white-space:normal;max-width:340px}"
        ".leaflet-tooltip table{border-collapse:collapse;font-size:12px}"
        ".leaflet-tooltip th{text-align:left;padding-right:8px;font-weight:600}"
        "</style>"), name="firerisk_css")
    if outlines:
        folium.map.CustomPane("outlines", z_index=450, pointer_events=False).add_to(m)
        collection = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": f"g{i}", "properties": {}, "geometry": dict(geom)}
            for i, (_, geom) in enumerate(outlines)]}
        folium.GeoJson(collection, name="Group outlines", interactive=False, pane="outlines",
                       style_function=lambda _f: {"color": OUTLINE_COLOUR, "weight": 1.2,
                                                  "opacity": 0.7, "fill": False},
                       control=False).add_to(m)
    m.fit_bounds([list(bounds[0]), list(bounds[1])])
    return m


# Hover outline in plain JS: a folium highlight_function would add a second per-area style
# table to the payload (and ~0.1 s per rerun for London).
_HOVER_JS = folium.JsCode(
    "function(feature, layer) {"
    " layer.on('mouseover', function(e) { e.target.setStyle({color: '#000000', weight: 2});"
    " e.target.bringToFront(); });"
    " layer.on('mouseout', function(e) { e.target.setStyle({color: '" + BORDER_COLOUR + "',"
    " weight: " + str(BORDER_WEIGHT) + "}); }); }")


def polygon_layer(table: pd.DataFrame, geometry: Mapping[str, Mapping[str, Any]], *,
                  style: LayerStyle, banding: Banding, group_column: str | None
                  ) -> folium.FeatureGroup:
    """Feature group with one coloured, tooltipped polygon per row of *table*."""
    ids = table["area_id"].astype(str).tolist()
    props, fields, aliases = tooltip_properties(table, style=style, banding=banding,
                                                group_column=group_column)
    classes = style.classes.reindex(ids).fillna(0).astype(int).to_numpy()
    fill = {area_id: style.colour_of(int(cls)) for area_id, cls in zip(ids, classes, strict=True)}
    features = [{"type": "Feature", "id": area_id, "properties": prop,
                 "geometry": geometry[area_id]}
                for area_id, prop in zip(ids, props, strict=True)]

    def style_function(feature: dict[str, Any]) -> dict[str, Any]:
        return {"fillColor": fill[feature["id"]], "fillOpacity": 0.85,
                "color": BORDER_COLOUR, "weight": BORDER_WEIGHT, "opacity": 1.0}

    fg = folium.FeatureGroup(name="Areas", control=False)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="Areas",
        style_function=style_function,
        on_each_feature=_HOVER_JS,
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, labels=True,
                                      sticky=True),
        smooth_factor=0.5,
    ).add_to(fg)
    return fg


def legend_html(style: LayerStyle, counts: Mapping[int, int]) -> str:
    """Legend as HTML (labels escaped), with the number of areas shown in each class."""
    rows = []
    entries = [(i, label, style.colours[i - 1]) for i, label in enumerate(style.labels, 1)]
    if counts.get(0, 0):
        entries.append((0, "No data", NO_DATA_COLOUR))
    for i, label, colour in reversed(entries) if style.key != "imd" else entries:
        n = int(counts.get(i, 0))
        rows.append(
            '<div style="display:flex;align-items:center;gap:8px;margin:2px 0">'
            f'<span style="display:inline-block;width:18px;height:14px;background:{colour};'
            'border:1px solid #999"></span>'
            f'<span>{html.escape(label)}</span>'
            f'<span style="color:#666;margin-left:auto">{n:,} area{"s" if n != 1 else ""}'
            '</span></div>')
    return (f'<div style="font-size:0.9rem"><strong>{html.escape(style.title)}</strong>'
            + "".join(rows) + "</div>")

