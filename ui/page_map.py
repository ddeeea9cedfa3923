"""Page "Map": the choropleth of the areas in the current filter, with its legend."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from ui import mapview, state
from ui.assets import LEAFLET_CSS, LEAFLET_JS, static_url
from ui.bands import AS_PUBLISHED, Banding, classify_rates
from ui.text import md_escape

__all__ = ["MAP_HEIGHT", "render"]

MAP_HEIGHT = 620


@st.cache_data(show_spinner=False, max_entries=16)
def _rate_banding(path: str, sha256: str, scheme: str) -> Banding:
    """Finer classes of the rate for the rate layer (quantiles when 'as published')."""
    results = state.load_results(path, sha256)
    labels = [str(i) for i in range(1, mapview.RATE_CLASSES + 1)]
    return classify_rates(results.areas["area_id"].astype(str), results.areas["risk_per_1000"],
                          scheme="quantiles" if scheme == AS_PUBLISHED else scheme,
                          labels=labels)


def render() -> None:
    """Draw the map page."""
    results = state.current_results()
    path, sha = str(results.path.resolve()), state.fingerprint(results.path)
    sel = state.selection(results)
    scheme = str(st.session_state.get("band_scheme", AS_PUBLISHED))

    layers = mapview.available_layers(results)
    layer = st.sidebar.radio("Map shows", list(layers), format_func=layers.__getitem__,
                             key="map_layer")

    st.header("Priority for a home fire safety visit")
    st.caption(f"{md_escape(results.run.get('profile', {}).get('name', ''))} — showing "
               f"{md_escape(sel.describe())}. Hover over an area for details.")

    banding = state.banding(results, scheme)
    rate_banding = _rate_banding(path, sha, scheme) if layer == "rate" else None
    style = mapview.layer_style(results, layer, banding=banding, rate_banding=rate_banding)

    mask = sel.mask(results.areas)
    shown = results.areas.loc[mask]
    if shown.empty:
        st.info("No areas match this filter.")
        return
    geometry = state.web_geometry(path, sha)
    minx, miny, maxx, maxy = mapview.wgs84_bounds(shown)
    outlines = (state.group_outlines(path, sha, sel.column) if sel.column else [])
    base = st.get_option("server.baseUrlPath") or ""
    m = mapview.base_map([[miny, minx], [maxy, maxx]],
                         js=[static_url(LEAFLET_JS, base_url_path=base)],
                         css=[static_url(LEAFLET_CSS, base_url_path=base)],
                         outlines=outlines, height=MAP_HEIGHT)
    table = shown.drop(columns="geometry")
    group = mapview.polygon_layer(table, geometry, style=style, banding=banding,
                                  group_column=sel.column)

    col_map, col_legend = st.columns([4, 1.3])
    with col_map:
        st_folium(m, feature_group_to_add=group, key="area_map", height=MAP_HEIGHT,
                  use_container_width=True, returned_objects=[])
    with col_legend:
        counts = style.classes.reindex(table["area_id"].astype(str)).value_counts().to_dict()
        st.markdown(mapview.legend_html(style, counts), unsafe_allow_html=True)
        st.caption(md_escape(style.note))
        if banding.scheme != AS_PUBLISHED and layer == "band":
            st.caption("Band scheme changed in the sidebar: these bands differ from the "
                       "published ones.")
        if banding.note and layer == "band":
            st.caption(md_escape(banding.note))
    st.text(results.attribution())


if __name__ == "__main__":
    render()
