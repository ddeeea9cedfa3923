"""Downloads offered by the app: the map PDF, the atlas and the residents' leaflet.

The PDF bytes come from :mod:`report.sources` (pure functions, shared with the command line,
so tests can read what a download button would send; AppTest cannot).
:func:`render_downloads` draws the download panel of the priority-list page.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from firerisk.columns import AREA_ID, AREA_NAME, RANK
from firerisk.errors import FireRiskError
from firerisk.geo.results import Results
from firerisk.report.sources import (
    atlas_pdf_bytes,
    explainer_pdf_bytes,
    map_pdf_bytes,
    mode_statement,
    sources_annex_pdf,
)
from firerisk.ui.state import fingerprint, load_results
from firerisk.ui.text import md_escape

__all__ = [
    "atlas_pdf_bytes",
    "explainer_pdf_bytes",
    "group_label",
    "map_pdf_bytes",
    "mode_statement",
    "pdf_file_name",
    "render_downloads",
    "sources_annex_pdf",
]


def group_label(column: str) -> str:
    """A group column as people say it: ``"borough"`` -> ``"borough"``, ``"fire_station"``
    -> ``"fire station"``."""
    return column.replace("_", " ")


def pdf_file_name(kind: str, *parts: str) -> str:
    """A safe file name such as ``priority-map-hackney.pdf``."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", " ".join(p for p in parts if p)).strip("-").lower()
    return f"{kind}-{slug[:80] or 'all-areas'}.pdf"


# --------------------------------------------------------------------------- Streamlit panel


def _run_contact(results: Results) -> str:
    profile = results.run.get("profile", {})
    return str(profile.get("contact") or "").strip() if isinstance(profile, dict) else ""


def _report_error(exc: FireRiskError) -> None:
    st.error("This document cannot be made:")
    st.code(str(exc), language=None)


def render_downloads(results: Results, selection: Any) -> None:
    """The download panel of the priority-list page.

    Parameters
    ----------
    results : Results
        The session's results (shared, read-only).
    selection : ui.state.Selection
        The sidebar filter; the map PDF and the leaflet's area list follow it.
    """
    sha = fingerprint(results.path)
    path = str(results.path.resolve())
    where = "all areas" if selection.is_all else selection.value
    st.subheader("Downloads")
    st.caption(md_escape(mode_statement(results)) + " Every download names the output mode "
               "and carries the data sources (attribution, licences and file checksums).")

    left, right = st.columns(2)
    with left:
        st.markdown(f"**Map and list (PDF)** — {md_escape(where)}")
        paper = st.radio("Paper", ("A4", "A3"), horizontal=True, key="pdf_paper")
        orientation = st.radio("Orientation", ("landscape", "portrait"), horizontal=True,
                               key="pdf_orientation", format_func=str.capitalize)
        column = selection.column  # alone (value None): its boundaries on the whole map
        value = None if selection.is_all else selection.value
        st.download_button(
            "Download PDF (map and list)",
            data=lambda: _cached_map(path, sha, column, value, str(paper), str(orientation)),
            file_name=pdf_file_name("priority-map", where, str(paper)),
            mime="application/pdf", key="download_map_pdf",
            help="A printable map of the areas in the current filter with their priority "
                 "list, a legend, scale bar and the data sources. Made when you click "
                 "(a few seconds).")

    with right:
        groups = results.group_columns
        if groups:
            by = selection.column if selection.column in groups else groups[0]
            label = group_label(by)
            n = results.areas[by].nunique() if by in results.areas.columns else 0
            st.markdown(f"**Atlas by {md_escape(label)} (PDF)** — a cover and contents, then "
                        f"{n:,} maps, each with its priority list")
            key = ("atlas", sha, by)
            if st.button(f"Make the atlas by {label}", key="make_atlas",
                         help="Making the atlas takes about half a minute; once made, it is "
                              "kept for everyone using this results file."):
                with st.spinner(f"Making the atlas by {label}…"):
                    try:
                        st.session_state["atlas_pdf"] = (key, _cached_atlas(path, sha, by))
                    except FireRiskError as exc:
                        _report_error(exc)
            held = st.session_state.get("atlas_pdf")
            atlas: bytes | None = held[1] if held is not None and held[0] == key else None
            ready = atlas is not None
            st.download_button(
                f"Download atlas by {label}", data=atlas or b"",
                file_name=pdf_file_name("priority-atlas", f"by {label}"),
                mime="application/pdf", key="download_atlas_pdf", disabled=not ready,
                help=None if ready else "Make the atlas first.")

    st.markdown("**Leaflet for residents (PDF)** — one page for one area: why visits are "
                "offered there, what a visit offers, which data were used and whom to contact.")
    contact = _run_contact(results)
    table = results.targets
    if not selection.is_all and selection.column in table.columns:
        table = table.loc[table[selection.column].astype(str) == selection.value]
    table = table.sort_values(RANK, kind="stable")
    if not contact:
        st.info("The dataset profile names no contact, so a leaflet cannot be made. Add "
                "`contact = \"...\"` to the profile and rebuild the results.")
        return
    if table.empty:
        st.info("No areas in the current filter.")
        return
    names = dict(zip(table[AREA_ID].astype(str), table[AREA_NAME].astype(str), strict=True))
    ranks = dict(zip(table[AREA_ID].astype(str), table[RANK].astype(int), strict=True))
    ids = list(names)
    if st.session_state.get("leaflet_area") not in names:
        st.session_state["leaflet_area"] = ids[0]
    area = st.selectbox("Area", ids, key="leaflet_area",
                        format_func=lambda a: f"{ranks[a]:,}. {names[a]} ({a})",
                        help="Areas in the current filter, highest priority first.")
    st.caption(f"Contact printed on the leaflet: {md_escape(contact)}")
    st.download_button(
        "Download leaflet for residents", key="download_leaflet_pdf",
        data=lambda: _cached_leaflet(path, sha, str(area), contact),
        file_name=pdf_file_name("leaflet", names[str(area)], str(area)),
        mime="application/pdf")


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_map(path: str, sha: str, column: str | None, value: str | None, paper: str,
                orientation: str) -> bytes:
    """Map PDF bytes, kept per results checksum and request (shared by every session)."""
    return map_pdf_bytes(load_results(path, sha), group_column=column, group_value=value,
                         paper=paper, orientation=orientation)


@st.cache_data(show_spinner=False, max_entries=4)
def _cached_atlas(path: str, sha: str, by: str) -> bytes:
    """Atlas PDF bytes, kept per results checksum and grouping."""
    return atlas_pdf_bytes(load_results(path, sha), by=by)


@st.cache_data(show_spinner=False, max_entries=64)
def _cached_leaflet(path: str, sha: str, area_id: str, contact: str) -> bytes:
    """Leaflet PDF bytes, kept per results checksum, area and contact."""
    return explainer_pdf_bytes(load_results(path, sha), area_id=area_id, contact=contact)
