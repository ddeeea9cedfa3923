"""Page "Map": the choropleth of the areas in the current filter, with its legend.

The polygons come from static files written once per results file (``state.map_files``); a
rerun sends only the style table of ``mapview.style_table`` (a few bytes per area), so a
change of layer, band scheme or group restyles the polygons already in the browser.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_folium import st_folium

from firerisk.columns import AREA_ID, BAND, RISK_PER_1000, UNCERTAIN_BAND
from firerisk.ui import mapview, state
from firerisk.ui.assets import LEAFLET_CSS, LEAFLET_JS, static_url
from firerisk.ui.bands import AS_PUBLISHED, Banding, classify_rates
from firerisk.ui.text import forecast_year, md_escape

__all__ = ["MAP_HEIGHT", "render"]

MAP_HEIGHT = 620


@st.cache_data(show_spinner=False, max_entries=16)
def _rate_banding(path: str, sha256: str, scheme: str) -> Banding:
    """Finer classes of the rate for the rate layer (quantiles when 'as published')."""
    results = state.load_results(path, sha256)
    labels = [str(i) for i in range(1, mapview.RATE_CLASSES + 1)]
    return classify_rates(results.areas[AREA_ID].astype(str), results.areas[RISK_PER_1000],
                          scheme="quantiles" if scheme == AS_PUBLISHED else scheme,
                          labels=labels)


@st.cache_data(show_spinner=False, max_entries=4)
def _area_ids(path: str, sha256: str) -> list[str]:
    return state.load_results(path, sha256).areas[AREA_ID].astype(str).tolist()


def render() -> None:
    """Draw the map page."""
    results = state.current_results()
    path, sha = str(results.path.resolve()), state.fingerprint(results.path)
    sel = state.selection(results)
    scheme = str(st.session_state.get("band_scheme", AS_PUBLISHED))
    areas = results.areas
    overview = mapview.use_overview(len(areas), column=sel.column, every_area=sel.is_all)

    layers = mapview.available_layers(results)
    if st.session_state.get("map_layer") not in layers:
        st.session_state["map_layer"] = next(iter(layers))
    layer = st.sidebar.radio("Map shows", list(layers), format_func=layers.__getitem__,
                             key="map_layer")

    st.header("Priority for a home fire safety visit")
    st.caption(f"{md_escape(results.run.get('profile', {}).get('name', ''))} — showing "
               f"{md_escape(sel.describe())}. Hover over an area for details.")

    banding = state.banding(results, scheme)
    rate_banding = _rate_banding(path, sha, scheme) if layer == "rate" else None
    style = mapview.layer_style(results, layer, banding=banding, rate_banding=rate_banding)

    # Always the same elements in the same places: an element that comes and goes before
    # the map would shift it in Streamlit's layout, and Streamlit would rebuild its frame
    # (reloading Leaflet and the polygons) instead of restyling it.
    notice = st.empty()
    mask = sel.mask(areas).to_numpy()
    if not mask.any():
        notice.info("No areas match this filter.")
        return
    files = state.map_files(path, sha, sel.column)
    base = st.get_option("server.baseUrlPath") or ""

    def url(relative: str) -> str:
        return static_url(relative, base_url_path=base)

    m = mapview.base_map([list(files.bounds[0]), list(files.bounds[1])],
                         js=[url(LEAFLET_JS), url(files.script)], css=[url(LEAFLET_CSS)],
                         height=MAP_HEIGHT, min_zoom=5 if files.split else 8)
    label = sel.column.replace("_", " ") if sel.column else "group"
    year = forecast_year(results)
    fields = mapview.tooltip_fields(areas.columns, style, group_label=label.capitalize()
                                    if files.group_in_tooltip else None, year=year)
    uncertain = banding.scheme == AS_PUBLISHED and UNCERTAIN_BAND in areas.columns
    ids = _area_ids(path, sha)
    if overview:
        assert sel.column is not None
        assert files.overview is not None
        summary = state.group_summary(path, sha, sel.column)
        gcls = mapview.group_classes(summary, layer, banding=banding, rate_banding=rate_banding)
        gbnd = mapview.group_classes(summary, BAND, banding=banding)
        message = (f"Each {label} is drawn as a whole, coloured by its household-weighted "
                   f"figure. Zoom in to see its small areas, or pick a {label} in the sidebar.")
        if layer == "observed":
            message = (f"Recorded fires are shown for small areas only (suppressed counts "
                       f"cannot be added up): zoom in, or pick a {label} in the sidebar.")
        table = mapview.style_table(
            style, banding, area_ids=ids, fields=fields, view="all", bounds=files.bounds,
            overview_url=url(files.overview), group_classes_=gcls, group_bands=gbnd,
            group_fields_=mapview.group_fields(summary, group_label=label, year=year),
            uncertain=uncertain, message=message)
        counts = dict(zip(*np.unique(gcls, return_counts=True), strict=True))
        unit = (label, mapview.plural(label))
        notice.info(f"This results file has {len(areas):,} small areas: the map starts with one "
                f"shape per {label} ({len(summary):,}) and shows the small areas once you "
                f"zoom in. Pick a {label} in the sidebar to see only its areas.")
    else:
        if files.split:
            assert sel.column is not None
            load = [url(state.group_file(path, sha, sel.column, sel.value))]
            shown = None
        else:
            assert files.areas is not None
            load = [url(files.areas)]
            shown = None if sel.is_all else np.flatnonzero(mask)
        if sel.is_all:
            bounds = files.bounds
        else:
            minx, miny, maxx, maxy = mapview.wgs84_bounds(areas.loc[mask])
            bounds = ((miny, minx), (maxy, maxx))
        table = mapview.style_table(
            style, banding, area_ids=ids, fields=fields,
            view="all" if sel.is_all else f"{sel.column}={sel.value}", bounds=bounds,
            load=load, shown=None if shown is None else shown.tolist(), uncertain=uncertain)
        shown_ids = [ids[i] for i in np.flatnonzero(mask)]
        counts = style.classes.reindex(shown_ids).value_counts().to_dict()
        unit = ("area", "areas")

    col_map, col_legend = st.columns([4, 1.3])
    with col_map:
        st_folium(m, feature_group_to_add=mapview.area_layer(table), key="area_map",
                  height=MAP_HEIGHT, use_container_width=True, returned_objects=[])
    with col_legend:
        st.markdown(mapview.legend_html(style, counts, unit=unit), unsafe_allow_html=True)
        st.caption(md_escape(style.note))
        if overview and layer in (BAND, "rate"):
            st.caption(f"Each {md_escape(label)} is coloured by the household-weighted mean of "
                       "its areas' expected fires per 1,000 households, placed in the same "
                       "classes as the small areas.")
        if banding.scheme != AS_PUBLISHED and layer == BAND:
            st.caption("Band scheme changed in the sidebar: these bands differ from the "
                       "published ones.")
        if banding.note and layer == BAND:
            st.caption(md_escape(banding.note))
    st.text(results.attribution())


if __name__ == "__main__":
    render()
