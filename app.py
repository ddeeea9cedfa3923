"""Community fire risk atlas: the Streamlit app (a thin router).

Run with ``streamlit run app.py``. The results file is ``$FIRERISK_RESULTS`` or
``sample_data/results/london.gpkg`` (built from ``$FIRERISK_PROFILE`` or
``sample_data/london.toml`` on first start if missing). Pages live in ``ui/``.
"""

from __future__ import annotations

import streamlit as st

from firerisk.ui import state
from firerisk.ui.bands import SCHEMES

st.set_page_config(page_title="Community fire risk atlas", layout="wide")
state.ensure_vendor_assets()

results = state.current_results()

with st.sidebar:
    st.title("Community fire risk atlas")
    groups = results.group_columns
    if len(groups) > 1:
        st.selectbox("Group areas by", groups, key="group_column",
                     format_func=lambda g: g.replace("_", " ").capitalize())
    column = state.selection(results).column
    if column is not None:
        values = [state.ALL, *sorted(results.areas[column].dropna().astype(str).unique())]
        if st.session_state.get("group_value") not in values:  # e.g. grouping changed
            st.session_state["group_value"] = state.ALL
        st.selectbox(column.replace("_", " ").capitalize(), values, key="group_value")
    schemes = state.band_schemes(results)
    if st.session_state.get("band_scheme") not in schemes:
        st.session_state["band_scheme"] = schemes[0]
    st.selectbox("Band scheme", schemes, format_func=SCHEMES.__getitem__,
                 key="band_scheme",
                 help="How areas are split into priority bands by their expected fires per "
                      "1,000 households. 'As published' uses the bands in the results file.")

# No page icons: Streamlit fetches Material-icon favicons from fonts.gstatic.com (offline: fails).
page = st.navigation([
    st.Page("ui/page_map.py", title="Map", default=True),
    st.Page("ui/page_list.py", title="Priority list"),
    st.Page("ui/page_evaluation.py", title="How good is this list?"),
    st.Page("ui/page_data.py", title="Data and method"),
])
page.run()
