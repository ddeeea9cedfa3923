"""The default QGIS style of the results' ``areas`` layer, stored in the GeoPackage itself.

QGIS (and other tools that follow its convention) read a layer's default style from the table
``layer_styles`` of the GeoPackage: one row per style, with the style as QML (QGIS's own format)
and as SLD (OGC Symbology Encoding 1.1), and ``useAsDefault``. The style drawn here is the app's
band layer: a categorised renderer on ``band_index``, highest priority first (as the app's
legend lists it), each band in the app's colour (``firerisk.legend``), labelled like the app's
legend with its range of expected fires per 1,000 households (internal results; public results
publish no rates, so their labels carry none), white borders, and "No data" for areas without a
band when there are any.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from firerisk.columns import BAND_INDEX
from firerisk.legend import (
    BORDER_COLOUR,
    BORDER_WEIGHT,
    FILL_OPACITY,
    NO_DATA_COLOUR,
    NO_DATA_LABEL,
    band_ranges,
    sequential_colours,
)

__all__ = ["STYLE_COLUMNS", "BandStyle", "area_style", "layer_styles_table", "qml", "sld"]

#: Columns of QGIS's ``layer_styles`` table (the ``id`` is the GeoPackage's feature id).
STYLE_COLUMNS = ("f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
                 "styleName", "styleQML", "styleSLD", "useAsDefault", "description", "owner",
                 "ui", "update_time")
DEFAULT_TITLE = "Priority for a home fire safety visit"


@dataclass(frozen=True)
class BandStyle:
    """What the style draws: one category per band (lowest first), and the legend's words.

    Attributes
    ----------
    title : str
        The legend title of the app (the style's name).
    labels, colours : tuple of str
        Band labels and fill colours (``#rrggbb``), lowest priority first.
    ranges : tuple of str
        Range of each band (empty for public results).
    note : str
        What the ranges measure (the app's line under the legend title).
    no_data : bool
        Whether some areas have no band (then a "No data" category is drawn).
    """

    title: str
    labels: tuple[str, ...]
    colours: tuple[str, ...]
    ranges: tuple[str, ...]
    note: str
    no_data: bool

    def legend_labels(self) -> list[tuple[int, str, str]]:
        """(band index, legend label, colour), in the app legend's order: highest first,
        then "No data"."""
        out = [(i, f"{label} ({self.ranges[i - 1]})" if self.ranges else label,
                self.colours[i - 1])
               for i, label in reversed(list(enumerate(self.labels, start=1)))]
        if self.no_data:
            out.append((0, NO_DATA_LABEL, NO_DATA_COLOUR))
        return out


def area_style(areas: pd.DataFrame, band_breaks: pd.DataFrame,
               run: dict[str, dict[str, Any]]) -> BandStyle:
    """The band style of a results file from its ``areas``, ``band_breaks`` and ``run``."""
    breaks = band_breaks.sort_values(BAND_INDEX)
    labels = tuple(str(v) for v in breaks["label"])
    lower = pd.to_numeric(breaks["lower"], errors="coerce").tolist()
    upper = pd.to_numeric(breaks["upper"], errors="coerce").tolist()
    ranges = band_ranges(lower, upper)
    bands = run.get("profile", {}).get("bands", {})
    title = str(bands.get("title") or DEFAULT_TITLE) if isinstance(bands, dict) else \
        DEFAULT_TITLE
    year = run.get("years", {}).get("next_year")
    note = ("Expected fires per 1,000 households" + (f" in {year}" if year else "")
            if ranges else "")
    index = pd.to_numeric(areas[BAND_INDEX], errors="coerce")
    no_data = bool((~index.isin(range(1, len(labels) + 1))).any())
    return BandStyle(title=title, labels=labels, colours=tuple(sequential_colours(len(labels))),
                     ranges=ranges, note=note, no_data=no_data)


def _rgba(colour: str, alpha: float = 1.0) -> str:
    """``#rrggbb`` as QGIS's ``r,g,b,a`` (0-255)."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"{r},{g},{b},{round(alpha * 255)}"


def _q(text: str) -> str:
    return html.escape(text, quote=True)


def _fill_symbol(name: int, colour: str) -> str:
    options = {"color": _rgba(colour, FILL_OPACITY), "style": "solid",
               "outline_color": _rgba(BORDER_COLOUR), "outline_style": "solid",
               "outline_width": f"{BORDER_WEIGHT:g}", "outline_width_unit": "Pixel",
               "joinstyle": "round"}
    props = "".join(f'<Option type="QString" name="{k}" value="{_q(v)}"/>'
                    for k, v in options.items())
    return (f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="SimpleFill" enabled="1" pass="0" locked="0">'
            f'<Option type="Map">{props}</Option></layer></symbol>')


def qml(style: BandStyle) -> str:
    """The style as a QGIS 3 QML document (categorised renderer on ``band_index``)."""
    entries = style.legend_labels()
    categories = "".join(
        f'<category render="true" value="{index}" type="integer" symbol="{n}" '
        f'label="{_q(label)}"/>' for n, (index, label, _) in enumerate(entries))
    symbols = "".join(_fill_symbol(n, colour) for n, (_, _, colour) in enumerate(entries))
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.22.0" styleCategories="Symbology">'
            f'<renderer-v2 type="categorizedSymbol" attr="{BAND_INDEX}" symbollevels="0" '
            'enableorderby="0" forceraster="0" referencescale="-1">'
            f"<categories>{categories}</categories><symbols>{symbols}</symbols>"
            "<rotation/><sizescale/></renderer-v2>"
            "<blendMode>0</blendMode><featureBlendMode>0</featureBlendMode>"
            "<layerGeometryType>2</layerGeometryType></qgis>\n")


def sld(style: BandStyle, *, layer: str = "areas") -> str:
    """The style as an SLD 1.1 document (one rule per band, in the legend's order)."""
    rules = []
    for index, label, colour in style.legend_labels():
        rules.append(
            f"<se:Rule><se:Name>{_q(label)}</se:Name><se:Description><se:Title>{_q(label)}"
            "</se:Title></se:Description><ogc:Filter><ogc:PropertyIsEqualTo>"
            f"<ogc:PropertyName>{BAND_INDEX}</ogc:PropertyName><ogc:Literal>{index}"
            "</ogc:Literal></ogc:PropertyIsEqualTo></ogc:Filter><se:PolygonSymbolizer>"
            f'<se:Fill><se:SvgParameter name="fill">{colour}</se:SvgParameter>'
            f'<se:SvgParameter name="fill-opacity">{FILL_OPACITY:g}</se:SvgParameter>'
            f'</se:Fill><se:Stroke><se:SvgParameter name="stroke">{BORDER_COLOUR}'
            f'</se:SvgParameter><se:SvgParameter name="stroke-width">{BORDER_WEIGHT:g}'
            "</se:SvgParameter></se:Stroke></se:PolygonSymbolizer></se:Rule>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld" '
            'xmlns:se="http://www.opengis.net/se" xmlns:ogc="http://www.opengis.net/ogc" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<NamedLayer><se:Name>{_q(layer)}</se:Name><UserStyle>"
            f"<se:Name>{_q(style.title)}</se:Name><se:FeatureTypeStyle>{''.join(rules)}"
            "</se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>\n")


def _utc(when: datetime) -> datetime:
    """*when* in UTC, whole seconds (a naive time is taken to be UTC already)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def layer_styles_table(style: BandStyle, *, geometry_column: str,
                       layer: str = "areas", updated: datetime | None = None,
                       extra: Sequence[dict[str, Any]] = ()) -> pd.DataFrame:
    """The ``layer_styles`` table: the band style of *layer* as its default (*updated*: when
    the results were made, aware or UTC; default now)."""
    description = style.title + (f". {style.note}." if style.note else ".") + \
        " Written by the community fire risk atlas; the same bands, colours and labels as " \
        "its map."
    row = {"f_table_catalog": "", "f_table_schema": "", "f_table_name": layer,
           "f_geometry_column": geometry_column, "styleName": style.title,
           "styleQML": qml(style), "styleSLD": sld(style, layer=layer), "useAsDefault": True,
           "description": description, "owner": "", "ui": "",
           "update_time": _utc(updated or datetime.now(UTC))}
    return pd.DataFrame([row, *extra], columns=list(STYLE_COLUMNS))
