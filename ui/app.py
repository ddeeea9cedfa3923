"""The dashboard: a thin router over the pages of ``firerisk.ui``.

Started by ``firerisk app`` (``firerisk/serve.py`` writes a two-line main script into the cache
folder and runs Streamlit on it) or, in a source checkout, by ``streamlit run app.py``. Both
main scripts call :func:`main`. The results file is ``$FIRERISK_RESULTS``, else the London
sample's results in the cache folder (built from ``$FIRERISK_PROFILE`` or the sample's
profile on first start).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from firerisk.ui import assets, state
from firerisk.ui.bands import SCHEMES

__all__ = ["PAGES", "main"]

#: The pages: (module file beside this one, title). The first is the default page. Each runs
#: as a script (its ``render()`` under ``__main__``) from inside the installed package; its
#: URL path is its file name (``/page_list``...).
PAGES = (
    ("page_map.py", "Map"),
    ("page_list.py", "Priority list"),
    ("page_evaluation.py", "How good is this list?"),
    ("page_data.py", "Data and method"),
)


def _serve_static_beside_main_script() -> None:
    """Streamlit serves ``static/`` beside the main script: write the map's files there."""
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.main_script_path:
        assets.serve_static_from(Path(ctx.main_script_path).resolve().parent / "static")


def _sidebar() -> None:
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
                     help="How areas are split into priority bands by their expected fires "
                          "per 1,000 households. 'As published' uses the bands in the "
                          "results file.")


def main() -> None:
    """Run one rerun of the dashboard (the main script's only call)."""
    st.set_page_config(page_title="Community fire risk atlas", layout="wide")
    _serve_static_beside_main_script()
    state.ensure_vendor_assets(str(assets.static_dir()))
    _sidebar()
    # No page icons: Streamlit fetches Material-icon favicons from fonts.gstatic.com
    # (offline: fails).
    here = Path(__file__).resolve().parent
    page = st.navigation([st.Page(here / name, title=title, default=i == 0)
                          for i, (name, title) in enumerate(PAGES)])
    page.run()
