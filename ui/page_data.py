"""Page "Data and method": where every input came from, how the run was made, what was hidden."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from ui import state

__all__ = ["render", "section_table"]

_SECTION_TITLES = {
    "profile": "Dataset profile",
    "disclosure": "Disclosure control (what is hidden, and why)",
    "model": "Model",
    "years": "Years used",
    "accounting": "Incident rows read, used and dropped",
    "checksums": "Input checksums",
    "versions": "Software versions",
}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def section_table(items: dict[str, Any]) -> pd.DataFrame:
    """A ``run`` section as a two-column table of text."""
    return pd.DataFrame({"Item": [str(k).replace("_", " ") for k in items],
                         "Value": [_show(v) for v in items.values()]})


def render() -> None:
    """Draw the data-and-method page."""
    results = state.current_results()
    st.header("Data and method")
    st.write("Every figure in this atlas comes from the results file below, built from the "
             "public inputs listed here. Nothing in the app changes those numbers.")

    st.subheader("Inputs (provenance register)")
    st.dataframe(results.provenance, hide_index=True, width="stretch")
    st.caption("Attribution")
    st.text(results.attribution())

    st.subheader("Disclosure control")
    disclosure = results.run.get("disclosure", {})
    st.write(f"Output mode: **{'public' if results.mode == 'public' else 'internal'}**. "
             f"Counts from 1 to {results.threshold - 1} are shown as “<{results.threshold}” so "
             "that no household can be picked out.")
    if disclosure:
        st.dataframe(section_table(disclosure), hide_index=True, width="stretch")

    group_counts = results.extra.get("group_counts")
    if group_counts is not None and not group_counts.empty:
        st.subheader("Recorded dwelling fires by area group")
        st.caption("Totals after disclosure control: small counts are hidden, and where one "
                   "hidden count could be worked out from a total, another is hidden too.")
        st.dataframe(group_counts, hide_index=True, width="stretch")

    st.subheader("How this run was made")
    st.text(f"Results file: {results.path.name} (SHA-256 {state.fingerprint(results.path)})")
    for section, items in results.run.items():
        if section == "disclosure" or not isinstance(items, dict):
            continue
        with st.expander(_SECTION_TITLES.get(section, section.replace("_", " ").capitalize())):
            st.dataframe(section_table(items), hide_index=True, width="stretch")

    st.subheader("Band limits")
    st.dataframe(results.band_breaks.rename(columns={
        "band_index": "Band number", "label": "Band", "lower": "From (per 1,000 households)",
        "upper": "To (per 1,000 households)"}), hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
