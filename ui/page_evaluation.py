"""Page "How good is this list?": the backtest stored in the results file, in plain words."""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd
import streamlit as st

from ui import state

__all__ = ["curve_chart_data", "headline", "render", "summary_table"]

_RANKING_NAMES = {
    "model": "This atlas (model)",
    "last_year": "Last year's fires",
    "history_5y": "Fires over the previous years",
    "eb_rate": "Smoothed past fire rate",
    "imd": "Deprivation (IMD) only",
    "stable_rate": "Benchmark: long-run rates (uses later years too)",
    "random": "Random order",
}


def _name(ranking: Any) -> str:
    return _RANKING_NAMES.get(str(ranking), str(ranking).replace("_", " "))


def curve_chart_data(curve: pd.DataFrame) -> pd.DataFrame | None:
    """Capture curve as a wide table for ``st.line_chart`` (percentages), or None if unusable.

    Expects columns ``ranking``, ``household_share`` and ``incident_share`` (shares 0..1) and
    adds the diagonal a random order would follow.
    """
    need = {"ranking", "household_share", "incident_share"}
    if not need <= set(curve.columns) or curve.empty:
        return None
    wide = (curve.assign(ranking=curve["ranking"].map(_name))
            .pivot_table(index="household_share", columns="ranking", values="incident_share")
            .sort_index())
    wide = wide * 100
    wide.index = (wide.index * 100).round(1)
    wide.index.name = "Share of households visited (%)"
    wide["Random order"] = wide.index.to_numpy(dtype=float)
    wide.columns.name = None
    return wide


def summary_table(evaluation: pd.DataFrame) -> pd.DataFrame | None:
    """Share of fires found at each household budget, one row per list, in words.

    Uses the ``capture_<k>`` columns (and ``capture_<k>_low``/``_high`` 95% intervals when
    present); None when the table has none.
    """
    ks = sorted(int(m.group(1)) for c in evaluation.columns
                if (m := re.fullmatch(r"capture_(\d+)", str(c))))
    if not ks or "ranking" not in evaluation.columns:
        return None
    rows = []
    for rec in evaluation.to_dict("records"):
        row = {"List": _name(rec["ranking"])}
        for k in ks:
            value = rec.get(f"capture_{k}")
            lo, hi = rec.get(f"capture_{k}_low"), rec.get(f"capture_{k}_high")
            text = "n/a"
            if value is not None and math.isfinite(float(value)):
                text = f"{100 * float(value):.1f}%"
                if lo is not None and hi is not None and math.isfinite(float(lo)) \
                        and math.isfinite(float(hi)):
                    text += f" ({100 * float(lo):.1f} to {100 * float(hi):.1f})"
            row[f"Top {k}% of households"] = text
        rows.append(row)
    return pd.DataFrame(rows)


def headline(evaluation: pd.DataFrame) -> str | None:
    """One plain sentence on capture at 10% of households for the model, if recorded."""
    if evaluation.empty:
        return None
    row = None
    if "ranking" in evaluation.columns:
        hit = evaluation.loc[evaluation["ranking"].astype(str) == "model"]
        if "origin" in hit.columns:
            pooled = hit.loc[hit["origin"].astype(str).isin(["pooled", "all"])]
            hit = pooled if len(pooled) else hit
        row = hit.iloc[0] if len(hit) else None
    if row is None or "capture_10" not in row.index:
        return None
    try:
        share = float(row["capture_10"])
    except (TypeError, ValueError):
        return None
    if not math.isfinite(share):
        return None
    return (f"In past years, the top of this list — the areas holding 10% of households — "
            f"had {100 * share:.0f}% of the next year's dwelling fires. A list in random "
            "order would find about 10%.")


def render() -> None:
    """Draw the evaluation page."""
    results = state.current_results()
    st.header("How good is this list?")
    st.write("The model was tested the honest way: fitted only on the years before a given "
             "year, then asked which areas would have the most dwelling fires in that year. "
             "Its list is compared with simpler lists a service could make without it.")
    extra = results.extra
    evaluation = extra.get("evaluation")
    curve = extra.get("evaluation_curve")
    coefficients = extra.get("coefficients")
    comparison = extra.get("model_comparison")
    if evaluation is None and curve is None and coefficients is None:
        st.info("This results file holds no evaluation. Rebuild it with the evaluation switched "
                "on (`firerisk build` evaluates by default) to see how well the list would "
                "have done in past years.")
        return
    if evaluation is not None:
        sentence = headline(evaluation)
        if sentence:
            st.success(sentence)
    if curve is not None:
        data = curve_chart_data(curve)
        if data is not None:
            st.subheader("Fires found against households visited")
            st.caption("Each line shows the share of the next year's dwelling fires that "
                       "happened in the top areas of a list, as more households are visited. "
                       "Higher is better; the straight line is a random order.")
            st.line_chart(data, x_label="Share of households visited (%)",
                          y_label="Share of fires found (%)")
    if evaluation is not None:
        st.subheader("Share of the next year's fires found")
        table = summary_table(evaluation)
        if table is not None:
            st.caption("Visiting the top areas of each list until the given share of "
                       "households is reached; 95% intervals in brackets. A random order "
                       "finds the same share of fires as of households.")
            st.dataframe(table, hide_index=True, width="stretch")
        with st.expander("All backtest measures (for analysts)"):
            st.dataframe(evaluation, hide_index=True, width="stretch")
    if comparison is not None:
        with st.expander("Model variants compared"):
            st.dataframe(comparison, hide_index=True, width="stretch")
    if coefficients is not None:
        with st.expander("Model coefficients (for analysts)"):
            st.dataframe(coefficients, hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
