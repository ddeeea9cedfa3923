"""Page "Data and method": where every input came from, what happened to every incident row,
what is hidden and why, and how the model works — for a data protection officer and a
station manager alike.

The tables and sentences are built by small pure functions (tested directly); ``render``
only lays them out.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from firerisk.columns import BAND_INDEX, HOUSEHOLDS
from firerisk.geo.results import Results
from firerisk.ui import state
from firerisk.ui.exports import (
    accounting_table,
    data_summary_text,
    person_level_data_read,
    provenance_table,
    register_csv,
    suppression_rule,
    years_summary,
)
from firerisk.ui.text import in_forecast_year, md_escape

__all__ = ["model_paragraphs", "render", "section_table"]

_SECTION_TITLES = {
    "profile": "Dataset profile",
    "model": "Model settings and fit",
    "years": "Years covered",
    "accounting": "Incident rows (raw record)",
    "covariates": "Area statistics tables (rows read and used)",
    "checksums": "Input checksums",
    "versions": "Software versions",
    "build": "Build",
    "evaluation": "Backtest (raw record)",
}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def section_table(items: dict[str, Any]) -> pd.DataFrame:
    """A ``run`` section as a two-column table of text."""
    return pd.DataFrame({"Item": [str(k).replace("_", " ") for k in items],
                         "Value": [_show(v) for v in items.values()]})


def _lower_first(text: str) -> str:
    """``"Households living in flats"`` -> ``"households..."``; ``"IMD score"`` unchanged."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def model_paragraphs(results: Results) -> list[str]:
    """A short, plain account of how the list is made."""
    profile = results.run.get("profile", {})
    features = profile.get("features", {}) if isinstance(profile, dict) else {}
    labels = [str(v.get("label") or k) for k, v in features.items() if isinstance(v, dict)]
    model = results.run.get("model", {})
    exposure = str(profile.get("exposure") or HOUSEHOLDS) if isinstance(profile, dict) \
        else HOUSEHOLDS
    nb = isinstance(model, dict) and model.get("family") == "negative_binomial"
    labels = [_lower_first(x) for x in labels]
    stats = (", ".join(labels[:-1]) + f" and {labels[-1]}") if len(labels) > 1 else \
        (labels[0] if labels else "")
    first = ("For every small area the model estimates how many dwelling fires to expect "
             f"{in_forecast_year(results)}. It starts from the number of {exposure} (more "
             "homes, more fires), then adjusts for the area's own record of fires over the "
             "past years")
    first += f" and for a few facts about the area: {stats}." if stats else "."
    second = ("It is a "
              + ("negative binomial regression, a standard statistical model for counts "
                 "that allows areas to differ more than chance alone would explain"
                 if nb else "Poisson regression, a standard statistical model for counts")
              + ". Areas are then put in order of expected fires per 1,000 "
              f"{exposure}: with a fixed number of homes crews can visit, going to the areas "
              "with the highest rate first reaches the most homes where fires happen. The "
              "order is then split into priority bands.")
    third = ("Only statistics about whole areas go in: no names, addresses or records about "
             "any person. The list is a starting point for planning home fire safety visits, "
             "not a verdict on any household; local knowledge should be added to it. The page "
             "“How good is this list?” shows how well the method did in past years.")
    return [first, second, third]


def render() -> None:
    """Draw the data-and-method page."""
    results = state.current_results()
    st.header("Data and method")
    st.write("Every figure in this atlas comes from one results file, built from the inputs "
             "listed below. Nothing in the app changes those numbers.")

    person = person_level_data_read(results)
    if person is False:
        st.success("No person-level data was read. Incidents were counted by small area as "
                   "the file was read; no incident rows, addresses or locations are kept in "
                   "the results or shown anywhere in the app or its downloads. Every input was "
                   "checked for personal data (names, addresses, dates of birth and the like) "
                   "before use.")
    elif person is True:
        st.warning("The disclosure report records that person-level data was read. Check the "
                   "inputs with your data protection officer before sharing any output.")

    st.subheader("How the list is made")
    for paragraph in model_paragraphs(results):
        st.write(md_escape(paragraph))

    st.subheader("Inputs (provenance register)")
    st.caption("Every file that went into the results: who published it, under which licence "
               "or agreement, and its SHA-256 checksum, which changes if a single byte of the "
               "file changes — so anyone can confirm they hold exactly the same file.")
    register = provenance_table(results)
    st.dataframe(register, hide_index=True, width="stretch", column_config={
        "Rows read": st.column_config.NumberColumn(format="localized"),
        "Rows used": st.column_config.NumberColumn(format="localized"),
        "Rows dropped": st.column_config.NumberColumn(format="localized"),
        "SHA-256": st.column_config.TextColumn(width="large"),
        "Attribution": st.column_config.TextColumn(width="large"),
    })
    with st.expander("Checksums in full (to compare with your copies)"):
        st.code("\n".join(f"{sha}  {file}" for sha, file in
                          zip(register["SHA-256"], register["File"], strict=True)
                          if sha) or "no checksums recorded", language=None)
    st.caption("Attribution (to be kept with any copy of these outputs)")
    st.text(results.attribution() or "No attribution recorded.")
    left, right = st.columns(2)
    with left:
        st.download_button(
            "Download the register (CSV)", data=register_csv(results),
            file_name=f"inputs-{results.path.stem}.csv", mime="text/csv",
            key="download_register", help="The table above, with the output mode and the "
            "attribution in comment lines (#) at the top.")
    with right:
        st.download_button(
            "Download the data protection summary (text)",
            data=lambda: data_summary_text(results).encode("utf-8"),
            file_name=f"data-protection-summary-{results.path.stem}.txt", mime="text/plain",
            key="download_data_summary", help="One plain-text record of this page: the "
            "results file and its checksum, the output mode and suppression rule, the "
            "disclosure report, the row accounting and every input with its checksum.")

    st.subheader("Incident rows: read, used and dropped")
    acc = accounting_table(results)
    if acc is None:
        st.info("This results file records no row accounting.")
    else:
        read = int(acc.loc[acc["Reason"] == "read", "Rows"].iloc[0])
        used = int(acc.loc[acc["Reason"] == "used", "Rows"].iloc[0])
        drops = acc.loc[acc["Reason"].str.startswith("dropped") & (acc["Rows"] > 0)]
        why = "; ".join(f"{int(n):,} {r.removeprefix('dropped: ')}"
                        for r, n in zip(drops["Reason"], drops["Rows"], strict=True))
        st.write(f"**{read:,}** incident rows were read; **{used:,}** were counted in an area "
                 f"and year, and **{read - used:,}** were not"
                 + (f" ({md_escape(why)})." if why else "."))
        st.dataframe(acc, hide_index=True, width="stretch", column_config={
            "Rows": st.column_config.NumberColumn(format="localized"),
            "Example rows": st.column_config.TextColumn(
                help="The first data rows (1 = the first row after the header) dropped for "
                     "this reason, to look up in the source file."),
        })
    lines = years_summary(results)
    if lines:
        st.markdown("\n".join(f"- {md_escape(line)}" for line in lines))

    st.subheader("What is hidden, and why (disclosure control)")
    mode = "public" if results.mode == "public" else "internal"
    audience = ("anyone: it can be published" if mode == "public"
                else "fire and rescue service staff")
    st.write(f"Output mode: **{mode}** — meant for {audience}. Small-number threshold: "
             f"**{results.threshold}**.")
    st.write(md_escape(suppression_rule(results)))
    disclosure = results.run.get("disclosure", {})
    text = disclosure.get("text") if isinstance(disclosure, dict) else None
    if text:
        st.caption("The disclosure report written with the results:")
        st.code(str(text), language=None, wrap_lines=True)
    elif disclosure:
        st.dataframe(section_table(disclosure), hide_index=True, width="stretch")

    group_counts = results.extra.get("group_counts")
    if group_counts is not None and not group_counts.empty:
        st.subheader("Recorded dwelling fires by area group")
        st.caption("Totals after disclosure control: small counts are hidden, and where one "
                   "hidden count could be worked out from a total, another is hidden too.")
        st.dataframe(group_counts, hide_index=True, width="stretch")

    st.subheader("Band limits")
    st.dataframe(results.band_breaks.rename(columns={
        BAND_INDEX: "Band number", "label": "Band", "lower": "From (per 1,000 households)",
        "upper": "To (per 1,000 households)", "areas": "Areas"}), hide_index=True,
        width="stretch", column_config={
            "From (per 1,000 households)": st.column_config.NumberColumn(format="%.2f"),
            "To (per 1,000 households)": st.column_config.NumberColumn(format="%.2f")})

    st.subheader("How this run was made (for analysts)")
    st.text(f"Results file: {results.path.name} (SHA-256 {state.fingerprint(results.path)})")
    for section, items in results.run.items():
        if section == "disclosure" or not isinstance(items, dict) or not items:
            continue
        with st.expander(_SECTION_TITLES.get(section, section.replace("_", " ").capitalize())):
            st.dataframe(section_table(items), hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
