"""Page "Priority list": the ranked areas in the current filter, with the downloads (Excel,
CSV, map PDF, atlas and residents' leaflet)."""

from __future__ import annotations

import re

import streamlit as st

from firerisk.risk.explain import top_chance_note
from firerisk.ui import state
from firerisk.ui.bands import AS_PUBLISHED
from firerisk.ui.downloads import render_downloads
from firerisk.ui.exports import (
    CHANCE,
    LIKELY_BAND,
    LIKELY_RANK,
    RATE,
    targets_csv,
    targets_table,
    targets_xlsx,
)
from firerisk.ui.text import in_forecast_year, md_escape

__all__ = ["render"]


def _file_name(profile_name: str, where: str, suffix: str = "csv") -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{profile_name} {where}").strip("-").lower()
    return f"priority-list-{slug[:80] or 'areas'}.{suffix}"


def render() -> None:
    """Draw the list page."""
    results = state.current_results()
    sel = state.selection(results)
    scheme = str(st.session_state.get("band_scheme", AS_PUBLISHED))
    banding = state.banding(results, scheme)
    group = None if sel.is_all else sel.column
    value = None if sel.is_all else sel.value

    st.header("Areas in priority order for home fire safety visits")
    table = targets_table(results, group=group, value=value, banding=banding)
    when = in_forecast_year(results)
    order = (f"Areas are ranked by “{RATE}” {when}: fires for every 1,000 homes, so a "
             "small area can rank above a bigger one that expects more fires in total. ")
    st.caption(f"{len(table):,} areas ({md_escape(sel.describe())}), highest priority first. "
               + (order if RATE in table.columns else
                  f"Areas are ranked by {RATE.lower()} {when}; this "
                  f"{md_escape(results.mode)} output leaves the figures out. ")
               + (f"“Expected incidents” is the number of dwelling fires the model expects in "
                  f"the area {when}; the 90% range is where the count should fall 9 years in "
                  "10." if "Expected incidents" in table.columns else ""))

    config = {
        "Rank": st.column_config.NumberColumn("Rank", help="1 = highest priority in the "
                                              "whole service area", format="%d"),
        RATE: st.column_config.NumberColumn(
            format="%.1f", help=f"Dwelling fires the model expects {when} for every 1,000 "
            "households in the area: the figure the list is ranked by."),
        "Households": st.column_config.NumberColumn(format="localized"),
        "Expected incidents": st.column_config.NumberColumn(
            format="%.1f", help=f"Dwelling fires the model expects in the whole area {when}."),
        CHANCE: st.column_config.NumberColumn(
            format="%.0f%%", help="How often the area's risk puts it among the top areas "
            "holding 10% of the service's households, over the simulations of the model's "
            "uncertainty"),
        "Reasons": st.column_config.TextColumn(width="large"),
        LIKELY_RANK: st.column_config.TextColumn(
            width="medium", help="The range that holds the area's rank in 9 of 10 "
            "simulations of the model's uncertainty (ends rounded outward)."),
        LIKELY_BAND: st.column_config.TextColumn(
            help="The bands that likely range of ranks falls in."),
    }
    st.dataframe(table, hide_index=True, column_config=config, width="stretch", height=520)
    _uncertainty_note(results, table, value)

    profile_name = str(results.run.get("profile", {}).get("name", "areas"))
    excel, plain = st.columns(2)
    with excel:
        st.download_button(
            "Download this list (Excel)",
            data=lambda: targets_xlsx(results, group=group, value=value, banding=banding),
            file_name=_file_name(profile_name, sel.describe(), "xlsx"),
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key="download_targets_xlsx",
            help="The table above on the first sheet (with filters), and the output mode, "
                 "disclosure statement, sources and licences on the second.",
        )
    with plain:
        st.download_button(
            "Download this list (CSV)",
            data=targets_csv(results, group=group, value=value, banding=banding),
            file_name=_file_name(profile_name, sel.describe()),
            mime="text/csv",
            key="download_targets",
            help="The table above (its header on the first line), then the output mode, "
                 "attribution and data sources in note lines (#) under it.",
        )
    if banding.scheme != AS_PUBLISHED:
        st.caption("The list downloads use the band scheme chosen in the sidebar; the PDFs "
                   "below use the published bands.")
    st.divider()
    render_downloads(results, sel)
    st.divider()
    st.caption("Data sources")
    st.text(results.attribution())

def _uncertainty_note(results: object, table: object, value: str | None) -> None:
    """What the likely rank and the chance of the top 10% mean, for the group shown."""
    columns = getattr(table, "columns", ())
    if LIKELY_RANK not in columns:
        return
    where = value or "the whole service area"
    sims = None
    model = getattr(results, "run", {}).get("model", {})
    if isinstance(model, dict):
        sims = model.get("simulations")
    st.caption(md_escape(
        f"“{LIKELY_RANK}”: the model's estimates are uncertain, most of all for areas with "
        f"few homes or few past fires. In 9 of 10 simulations of that uncertainty the "
        f"area's rank in {where} fell inside this range: a narrow range is a firm place on "
        "the list, a wide one a place to check locally. "
        + (top_chance_note(where, simulations=sims) if value else "")))

if __name__ == "__main__":
    render()
