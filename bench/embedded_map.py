"""The "everything in one page" map, kept as the benchmark's comparison for the app's map.

The app sends the geometry once as a static file and restyles it on every rerun
(``ui/mapview.py: area_layer`` and ``ui/js/areamap.js``). This builds the older map instead: one
folium ``GeoJson`` with every polygon, its colour and its tooltip embedded in the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import folium
import pandas as pd

from firerisk.columns import AREA_ID
from firerisk.ui.bands import Banding
from firerisk.ui.mapview import (
    BORDER_COLOUR,
    BORDER_WEIGHT,
    FILL_OPACITY,
    HOVER_COLOUR,
    HOVER_WEIGHT,
    LayerStyle,
    tooltip_properties,
)

__all__ = ["polygon_layer"]

# Hover outline in plain JS: a folium highlight_function would add a second per-area style
# table to the payload (and ~0.1 s per rerun for London).
_HOVER_JS = folium.JsCode(
    "function(feature, layer) {"
    " layer.on('mouseover', function(e) { e.target.setStyle({color: '" + HOVER_COLOUR + "',"
    " weight: " + str(HOVER_WEIGHT) + "});"
    " e.target.bringToFront(); });"
    " layer.on('mouseout', function(e) { e.target.setStyle({color: '" + BORDER_COLOUR + "',"
    " weight: " + str(BORDER_WEIGHT) + "}); }); }")


def polygon_layer(table: pd.DataFrame, geometry: Mapping[str, Mapping[str, Any]], *,
                  style: LayerStyle, banding: Banding, group_column: str | None
                  ) -> folium.FeatureGroup:
    """Feature group with one coloured, tooltipped polygon per row of *table*, geometry
    embedded in the page.

    The app does not use this (it sends geometry once as a static file, see
    ``ui.mapview.area_layer``).
    """
    ids = table[AREA_ID].astype(str).tolist()
    props, fields, aliases = tooltip_properties(table, style=style, banding=banding,
                                                group_column=group_column)
    classes = style.classes.reindex(ids).fillna(0).astype(int).to_numpy()
    fill = {area_id: style.colour_of(int(cls)) for area_id, cls in zip(ids, classes, strict=True)}
    features = [{"type": "Feature", "id": area_id, "properties": prop,
                 "geometry": geometry[area_id]}
                for area_id, prop in zip(ids, props, strict=True)]

    def style_function(feature: dict[str, Any]) -> dict[str, Any]:
        return {"fillColor": fill[feature["id"]], "fillOpacity": FILL_OPACITY,
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
