"""Page "How good is this list?": the backtest and the model stored in the results file, in
plain words for a station manager, with the detail for analysts one click away.

The sentences and tables are built by pure functions (tested directly); ``render`` lays
them out.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd
import streamlit as st

from firerisk.columns import HOUSEHOLDS
from firerisk.geo.results import Results
from firerisk.ui import state
from firerisk.ui.text import md_escape

__all__ = [
    "RANKING_HELP",
    "RANKING_NAMES",
    "SIMPLE_RULES",
    "calibration_sentence",
    "calibration_table",
    "curve_chart_data",
    "curve_chart_spec",
    "factor_sentences",
    "group_quality",
    "headline",
    "model_facts",
    "reference_sentence",
    "render",
    "scope_note",
    "summary_table",
]

#: Each ranking's name as people say it (keys are the backtest's ranking names).
RANKING_NAMES = {
    "model": "This list (the model)",
    "last_year": "Last year's count",
    "history_5y": "Count over the previous years",
    "eb_rate": "Smoothed rate over the previous years",
    "imd": "Deprivation (IMD) alone",
    "stable_rate": "Average of the other years' rates (future years included)",
    "random": "Random order",
}

#: What each ranking is, in one sentence.
RANKING_HELP = {
    "model": "The model's expected fires per 1,000 households, made from the years before "
             "each test year only (the method of this atlas's list).",
    "last_year": "Areas with the most dwelling fires in the year before, first.",
    "history_5y": "Areas with the most dwelling fires over the five years before, first.",
    "eb_rate": "The fire rate per household over the five years before, with small areas' "
               "rates pulled toward the average so that one bad year does not put them on top.",
    "imd": "The most deprived areas first (the Index of Multiple Deprivation score), with no "
           "fire data at all — the common 'most deprived 20%' rule.",
    "stable_rate": "Each area's average fire rate over every other year, later years "
                   "included: a reference nobody could have made in advance, and not an upper "
                   "limit, because one area's own years are a noisy guide to its risk.",
}

#: The simple rules a service could use without the model (the model is compared with the
#: best of them; the "other years" reference uses future years, so it is not one).
SIMPLE_RULES = ("last_year", "history_5y", "eb_rate", "imd")

_PCT = re.compile(r"capture_(\d+)")


def _name(ranking: Any) -> str:
    return RANKING_NAMES.get(str(ranking), str(ranking).replace("_", " ").capitalize())


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def curve_chart_data(curve: pd.DataFrame) -> pd.DataFrame | None:
    """Capture curve as a wide table for ``st.line_chart`` (percentages), or None if unusable.

    Expects columns ``ranking``, ``household_share`` and ``incident_share`` (shares 0..1) and
    adds the diagonal a random order would follow.
    """
    need = {"ranking", "household_share", "incident_share"}
    if not need <= set(curve.columns) or curve.empty:
        return None
    order = list(dict.fromkeys(curve["ranking"].map(_name)))
    wide = (curve.assign(ranking=curve["ranking"].map(_name))
            .pivot_table(index="household_share", columns="ranking", values="incident_share")
            .sort_index())
    wide = wide[[c for c in order if c in wide.columns]] * 100
    wide.index = (wide.index * 100).round(1)
    wide.index.name = "Share of households visited (%)"
    wide[RANKING_NAMES["random"]] = wide.index.to_numpy(dtype=float)
    wide.columns.name = None
    return wide


#: Line colours: the model stands out; the other-years reference and random order are dashed.
_CURVE_STYLE = {
    "model": ("#b30000", 3.5, (1, 0)),
    "last_year": ("#f4a259", 1.5, (1, 0)),
    "history_5y": ("#74add1", 1.5, (1, 0)),
    "eb_rate": ("#4575b4", 1.5, (1, 0)),
    "imd": ("#8e6bb8", 1.5, (1, 0)),
    "stable_rate": ("#1a9850", 1.5, (6, 3)),
    "random": ("#888888", 1.5, (2, 3)),
}


def curve_chart_spec(wide: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Long data and a Vega-Lite spec for the capture curve (from :func:`curve_chart_data`):
    the model's line thick and dark red, the other-years reference and random order dashed."""
    long = (wide.reset_index(names=HOUSEHOLDS)
            .melt(id_vars=HOUSEHOLDS, var_name="list", value_name="fires")
            .dropna())
    names = {RANKING_NAMES.get(k, k): v for k, v in _CURVE_STYLE.items()}
    order = list(wide.columns)
    colours = [names.get(c, ("#555555", 1.5, (1, 0)))[0] for c in order]
    widths = [names.get(c, ("#555555", 1.5, (1, 0)))[1] for c in order]
    dashes = [list(names.get(c, ("#555555", 1.5, (1, 0)))[2]) for c in order]
    spec: dict[str, Any] = {
        "mark": {"type": "line", "interpolate": "monotone"},
        "encoding": {
            "x": {"field": HOUSEHOLDS, "type": "quantitative",
                  "title": "Share of households visited (%)",
                  "scale": {"domain": [0, 100]}},
            "y": {"field": "fires", "type": "quantitative",
                  "title": "Share of the following year's fires found (%)",
                  "scale": {"domain": [0, 100]}},
            "color": {"field": "list", "type": "nominal", "sort": order, "title": None,
                      "scale": {"domain": order, "range": colours},
                      "legend": {"orient": "bottom", "columns": 2, "labelLimit": 400}},
            "strokeWidth": {"field": "list", "type": "nominal", "legend": None,
                            "scale": {"domain": order, "range": widths}},
            "strokeDash": {"field": "list", "type": "nominal", "legend": None,
                           "scale": {"domain": order, "range": dashes}},
            "tooltip": [
                {"field": "list", "type": "nominal", "title": "List"},
                {"field": HOUSEHOLDS, "type": "quantitative", "format": ".0f",
                 "title": "Households visited (%)"},
                {"field": "fires", "type": "quantitative", "format": ".1f",
                 "title": "Fires found (%)"},
            ],
        },
    }
    return long, spec


def _capture_ks(evaluation: pd.DataFrame) -> list[int]:
    return sorted(int(m.group(1)) for c in evaluation.columns
                  if (m := _PCT.fullmatch(str(c))))


def summary_table(evaluation: pd.DataFrame) -> pd.DataFrame | None:
    """One row per list: share of the following year's fires found at each household budget (with
    the 95% interval), how many times a random choice that is, and the forecast error.

    Uses the ``capture_<k>`` columns (and ``capture_<k>_low``/``_high`` when present),
    ``pai_10`` and ``deviance`` when present; None when the table has no capture column.
    """
    ks = _capture_ks(evaluation)
    if not ks or "ranking" not in evaluation.columns:
        return None
    rows = []
    for rec in evaluation.to_dict("records"):
        row: dict[str, Any] = {"List": _name(rec["ranking"])}
        for k in ks:
            value = _num(rec.get(f"capture_{k}"))
            lo, hi = _num(rec.get(f"capture_{k}_low")), _num(rec.get(f"capture_{k}_high"))
            text = "n/a"
            if value is not None:
                text = f"{100 * value:.1f}%"
                if lo is not None and hi is not None:
                    text += f" ({100 * lo:.1f} to {100 * hi:.1f})"
            row[f"Top {k}% of households"] = text
        if "pai_10" in evaluation.columns:
            pai = _num(rec.get("pai_10"))
            row["Times random (top 10%)"] = "n/a" if pai is None else f"{pai:.2f}×"
        if "deviance" in evaluation.columns:
            dev = _num(rec.get("deviance"))
            row["Forecast error (lower is better)"] = (
                "not a forecast" if dev is None else f"{dev:.3f}")
        rows.append(row)
    return pd.DataFrame(rows)


def _capture(evaluation: pd.DataFrame, ranking: str, k: int = 10) -> float | None:
    if "ranking" not in evaluation.columns or f"capture_{k}" not in evaluation.columns:
        return None
    hit = evaluation.loc[evaluation["ranking"].astype(str) == ranking]
    if "origin" in hit.columns:
        pooled = hit.loc[hit["origin"].astype(str).isin(["pooled", "all"])]
        hit = pooled if len(pooled) else hit
    return _num(hit[f"capture_{k}"].iloc[0]) if len(hit) else None


def headline(evaluation: pd.DataFrame, *, k: int = 10) -> str | None:
    """The result in one sentence: the model's capture at *k*% of households against last
    year's count and deprivation alone (when recorded). None without the model's capture."""
    model = _capture(evaluation, "model", k)
    if model is None:
        return None
    text = (f"If crews had visited the {k}% of homes in the top-ranked areas, they would have "
            f"reached areas where {100 * model:.0f}% of the following year's dwelling fires "
            "happened")
    others = [(f"{100 * v:.0f}% using {label}", v) for name, label in
              (("last_year", "last year's fires"), ("imd", "deprivation alone"))
              if (v := _capture(evaluation, name, k)) is not None]
    if others:
        text += " — compared with " + " and ".join(t for t, _ in others)
    return text + f", and about {k}% by choosing areas at random."


def scope_note(results: Results, selection: Any) -> str:
    """What this page covers: always the whole service area, whatever the sidebar's filter
    (*selection*, a ``ui.state.Selection``) picks; said plainly when a filter is set."""
    name = ""
    profile = results.run.get("profile", {})
    if isinstance(profile, dict):
        name = str(profile.get("service") or profile.get("name") or "").strip()
    where = f"the whole service area ({name}, {len(results.areas):,} areas)" if name else \
        f"the whole service area ({len(results.areas):,} areas)"
    text = (f"This page covers {where}: the test ranked every area together, so its "
            "figures are for the whole list.")
    if not selection.is_all and selection.column:
        groups = results.run.get("evaluation", {}).get("groups")
        words = selection.column.replace("_", " ")
        if isinstance(groups, dict) and groups.get("label") == selection.column:
            text += (f" The {words} picked in the sidebar ({selection.value}) does not change "
                     f"the figures for the whole service; its own row comes first under "
                     f"“Inside each {words}”.")
        else:
            text += (f" The {words} picked in the sidebar ({selection.value}) does not change "
                     "anything on this page.")
    return text


def _origins(results: Results) -> int | None:
    """How many past years the backtest covered (from the model's calibration areas)."""
    pooled = results.run.get("evaluation", {}).get("pooled", {})
    calib = pooled.get("model", {}).get("calibration") if isinstance(pooled, dict) else None
    if not isinstance(calib, list) or not calib or not len(results.areas):
        return None
    total = sum(int(c.get("areas", 0)) for c in calib if isinstance(c, dict))
    n, rest = divmod(total, len(results.areas))
    return n if n > 0 and rest == 0 else None


def reference_sentence(evaluation: pd.DataFrame, *, k: int = 10) -> str | None:
    """How the model compares with the average of each area's other years (future years
    included), if both are recorded: a reference, not a ceiling."""
    model, ref = _capture(evaluation, "model", k), _capture(evaluation, "stable_rate", k)
    if model is None or ref is None:
        return None
    gap = 100 * (ref - model)
    if abs(gap) < 0.5:
        how = "about as well as"
    elif gap > 0:
        how = f"{gap:.1f} percentage points below"
    else:
        how = f"{-gap:.1f} percentage points above"
    return (f"The list did {how} a list built on each area's average fire rate in the other "
            f"years ({100 * ref:.0f}%), later years included. Nobody could make that list in "
            "advance, and it is not the best possible list either: one area's own years are a "
            "noisy guide to its risk. Fires are partly chance: no list can find every one.")


def calibration_table(results: Results) -> pd.DataFrame | None:
    """The model's forecast beside what happened, decile by decile, from the run layer.

    Areas are put in tenths by the size of their forecast in each test year (1 = the
    smallest forecasts) and pooled over the test years. None when not recorded.
    """
    pooled = results.run.get("evaluation", {}).get("pooled", {})
    calib = pooled.get("model", {}).get("calibration") if isinstance(pooled, dict) else None
    if not isinstance(calib, list) or not calib:
        return None
    rows = []
    for c in calib:
        pred, obs = _num(c.get("mean_predicted")), _num(c.get("mean_observed"))
        err = None if pred is None or not obs else pred / obs - 1
        rows.append({"Tenth of areas (1 = lowest forecast)": int(c.get("decile", 0)),
                     "Area-years": int(c.get("areas", 0)),
                     "Forecast fires per area": "n/a" if pred is None else f"{pred:.3f}",
                     "Fires that happened per area": "n/a" if obs is None else f"{obs:.3f}",
                     "Forecast against what happened": "n/a" if err is None else
                     f"{100 * err:+.1f}%"})
    return pd.DataFrame(rows)


def calibration_sentence(results: Results, *, limit: float = 0.05) -> str | None:
    """The worst tenth's error in one sentence (None when not recorded)."""
    pooled = results.run.get("evaluation", {}).get("pooled", {})
    calib = pooled.get("model", {}).get("calibration") if isinstance(pooled, dict) else None
    if not isinstance(calib, list) or not calib:
        return None
    errs = [(int(c["decile"]), p / o - 1) for c in calib
            if (p := _num(c.get("mean_predicted"))) is not None
            and (o := _num(c.get("mean_observed")))]
    if not errs:
        return None
    decile, worst = max(errs, key=lambda e: abs(e[1]))
    within = all(abs(e) <= limit for _, e in errs)
    return (f"Crews can plan from the forecast fires, not only the order: in every tenth of "
            f"areas the forecast was {'within' if within else 'not always within'} "
            f"{100 * limit:.0f}% of the fires that happened (the furthest: tenth {decile}, "
            f"{100 * worst:+.1f}%).")


def group_quality(results: Results, selection: Any = None) -> tuple[pd.DataFrame, str] | None:
    """The share of fires found inside each group (for example each borough), ranking only
    that group's areas, beside the whole service's figure.

    Returns the table (the group picked in the sidebar, if any, first) and the group label;
    None when the backtest was run without groups.
    """
    doc = results.run.get("evaluation", {}).get("groups")
    if not isinstance(doc, dict) or not doc.get("rows"):
        return None
    label = str(doc.get("label") or "group")
    k = int(doc.get("k") or 10)
    frame = pd.DataFrame(doc["rows"])
    wide = frame.pivot_table(index="group", columns="ranking", values="capture")
    areas = frame.groupby("group")["areas"].first()
    rules = [r for r in SIMPLE_RULES if r in wide.columns]
    pooled = results.run.get("evaluation", {}).get("pooled", {})

    def service(name: str) -> float | None:
        doc_r = pooled.get("model") if name == "model" else pooled.get("baselines", {}).get(name)
        return _num(doc_r.get(f"capture_{k}")) if isinstance(doc_r, dict) else None

    def pct(v: Any) -> str:
        v = _num(v)
        return "n/a" if v is None else f"{100 * v:.1f}%"

    # One rule for every group: the simple rule that did best over the whole service
    # (picking each group's best rule after the fact would flatter the rules).
    best = max(rules, key=lambda r: service(r) or -1.0, default=None)
    head = label.replace("_", " ").capitalize()
    rule_col = "Best simple rule" if best is None else f"{_name(best)} (best simple rule)"
    rows = [{head: str(g), "Areas": int(areas[g]),
             "This list": pct(wide.at[g, "model"]) if "model" in wide else "n/a",
             rule_col: "n/a" if best is None else pct(wide.at[g, best])} for g in wide.index]
    rows.append({head: "Whole service", "Areas": int(areas.sum()),
                 "This list": pct(service("model")),
                 rule_col: "n/a" if best is None else pct(service(best))})
    table = pd.DataFrame(rows)
    if selection is not None and not selection.is_all and selection.column == label:
        first = table.iloc[:, 0] == str(selection.value)
        table = pd.concat([table[first], table[~first]], ignore_index=True)
    return table, label


def _factor_step(unit: str) -> tuple[float, str]:
    """The step a rate ratio is quoted for, and its words, for a feature unit."""
    if unit == "percent":  # shares 0..1
        return 0.1, "10 percentage points more"
    if unit == "score":
        return 10.0, "10 points higher"
    return 1.0, "one unit higher"


def factor_sentences(results: Results) -> list[str]:
    """One plain sentence per model term: how much the expected fires change, with the 95%
    interval, for a step people can picture (10 percentage points, 10 score points, a
    doubling of the past fire rate)."""
    coefs = results.extra.get("coefficients")
    if coefs is None or coefs.empty or "name" not in coefs.columns:
        return []
    features = results.run.get("profile", {}).get("features", {})
    out = []
    for rec in coefs.to_dict("records"):
        name = str(rec["name"])
        est, lo, hi = (_num(rec.get(c)) for c in ("estimate", "ci_low", "ci_high"))
        if est is None:
            continue
        if name in ("const", "Intercept", "intercept"):
            out.append(f"An area at the service average on every factor: about "
                       f"{1000 * math.exp(est):.2f} dwelling fires per 1,000 households a year.")
            continue
        if name == "year_trend":
            change = 100 * (math.exp(est) - 1)
            text = (f"Across the whole service, about {abs(change):.0f}% "
                    f"{'fewer' if change < 0 else 'more'} dwelling fires each year than the "
                    "year before (the trend the forecast carries on by one year")
            if lo is not None and hi is not None:
                text += (f"; 95% interval {100 * (math.exp(lo) - 1):+.0f}% to "
                         f"{100 * (math.exp(hi) - 1):+.0f}%")
            out.append(text + ").")
            continue
        if name.startswith("year_"):  # one level per fitted year: not a factor of areas
            continue
        if name in ("history", "neighbours_history"):
            step, what = math.log(2.0), (
                "An area whose own past fire rate was twice the service average"
                if name == "history" else "An area whose neighbours' past fire rate was twice "
                "the service average")
        else:
            spec = features.get(name, {}) if isinstance(features, dict) else {}
            label = str(spec.get("label") or name.replace("_", " "))
            step, words = _factor_step(str(spec.get("unit") or "number"))
            what = f"{label}, {words}"

        def pct(b: float, step: float = step) -> float:
            return 100 * (math.exp(b * step) - 1)

        change = pct(est)
        sign = "more" if change >= 0 else "fewer"
        text = f"{what}: {abs(change):.0f}% {sign} fires expected"
        if lo is not None and hi is not None:
            text += f" (95% interval {pct(lo):+.0f}% to {pct(hi):+.0f}%"
            if lo < 0 < hi:
                text += "; could be no effect"
            text += ")"
        out.append(text + ", other factors equal.")
    return out


def model_facts(results: Results) -> pd.DataFrame | None:
    """The model's fit figures as a two-column table with a plain reading of each."""
    model = results.run.get("model")
    if not isinstance(model, dict) or not model:
        return None
    rows: list[tuple[str, str, str]] = []
    if model.get("name"):
        rows.append(("Model", str(model["name"]), ""))
    alpha = _num(model.get("alpha"))
    if alpha is not None:
        p = _num(model.get("overdispersion_p"))
        rows.append(("Dispersion (alpha)", f"{alpha:.3f}",
                     "Areas vary more than chance alone would make them (a Poisson model "
                     "would have 0)" + (f"; test p = {p:.2g}" if p is not None else "") + "."))
    if model.get("fell_back_to_poisson"):
        rows.append(("Fell back to Poisson", "yes", str(model.get("fallback_reason") or "")))
    aic = _num(model.get("aic"))
    if aic is not None:
        rows.append(("AIC", f"{aic:,.1f}", ("For comparing model variants on the same data: "
                                           "lower is better.")))
    dev = _num(model.get("deviance"))
    if dev is not None:
        rows.append(("Deviance", f"{dev:,.1f}", ("How far the fitted counts are from the "
                                                "observed ones, in total.")))
    moran, moran_p = _num(model.get("residual_moran_i")), _num(model.get("residual_moran_p"))
    if moran is not None:
        reading = ("No sign that neighbouring areas share errors the model misses"
                   if moran_p is not None and moran_p >= 0.05 else
                   "Neighbouring areas share some errors: nearby areas may be too high or too "
                   "low together")
        rows.append(("Residual Moran's I", f"{moran:.3f}" + (f" (p = {moran_p:.2g})"
                                                              if moran_p is not None else ""),
                     reading + "."))
    if model.get("n") is not None:
        rows.append(("Areas fitted", f"{int(model['n']):,}", ""))
    years = model.get("training_years")
    if isinstance(years, list) and years:
        rows.append(("Fitted to the fires of", ", ".join(str(y) for y in years),
                     f"forecast for {model.get('target_year', 'the next year')}"))
    return pd.DataFrame(rows, columns=["Figure", "Value", "What it means"])


def _differences(results: Results) -> pd.DataFrame | None:
    pooled = results.run.get("evaluation", {}).get("pooled", {})
    diffs = pooled.get("model_vs_baselines") if isinstance(pooled, dict) else None
    if not isinstance(diffs, dict) or not diffs:
        return None
    rows = []
    for name, by_k in diffs.items():
        if not isinstance(by_k, dict):
            continue
        row: dict[str, Any] = {"Compared with": _name(name)}
        ks = sorted(int(m.group(1)) for key in by_k if (m := _PCT.fullmatch(str(key))))
        for k in ks:
            val = by_k[f"capture_{k}"]
            diff = _num(val.get("difference")) if isinstance(val, dict) else None
            if diff is None:
                continue
            text = f"{100 * diff:+.1f}"
            ci = val.get("ci")
            if isinstance(ci, list) and len(ci) == 2 and None not in ci:
                text += f" ({100 * float(ci[0]):+.1f} to {100 * float(ci[1]):+.1f})"
            row[f"Top {k}% (points)"] = text
        rows.append(row)
    return pd.DataFrame(rows) if rows else None


def render() -> None:
    """Draw the evaluation page."""
    results = state.current_results()
    st.header("How good is this list?")
    st.info(md_escape(scope_note(results, state.selection(results))))
    extra = results.extra
    evaluation = extra.get("evaluation")
    curve = extra.get("evaluation_curve")
    coefficients = extra.get("coefficients")
    comparison = extra.get("model_comparison")
    n_years = _origins(results)
    years = f"{n_years} past years" if n_years else "past years"
    st.write(f"The method was tested the honest way, on {years}: each time it was given only "
             "the fires of the years before, and asked which areas would have the most "
             "dwelling fires in the year that followed. Its list is compared with simpler "
             "lists a service could make without it.")
    if evaluation is None and curve is None and coefficients is None:
        st.info("This results file holds no evaluation. Rebuild it with the evaluation switched "
                "on (`firerisk build` evaluates by default) to see how well the list would "
                "have done in past years.")
        return
    if evaluation is not None:
        sentence = headline(evaluation)
        if sentence:
            st.success(md_escape(sentence))
        reference = reference_sentence(evaluation)
        if reference:
            st.write(md_escape(reference))

        table = summary_table(evaluation)
        if table is not None:
            st.subheader("Share of the following year's fires found, list by list")
            st.caption("Visit the top areas of each list until the given share of households "
                       "is reached: this is the share of the following year's dwelling fires that "
                       "happened in those areas, over all the test years together. 95% "
                       "intervals in brackets. A random order finds the same share of fires as "
                       "of households.")
            st.dataframe(table, hide_index=True, width="stretch", column_config={
                "Times random (top 10%)": st.column_config.TextColumn(
                    help="Share of fires found divided by share of households visited, at 10% "
                         "of households. 1× is what a random order achieves."),
                "Forecast error (lower is better)": st.column_config.TextColumn(
                    help="Mean Poisson deviance per area and year of the list's count "
                         "forecast. Deprivation alone makes no count forecast."),
            })
        with st.expander("How each list is made"):
            for name in evaluation.get("ranking", pd.Series(dtype=str)).astype(str):
                if name in RANKING_HELP:
                    st.markdown(f"- **{md_escape(_name(name))}**: {md_escape(RANKING_HELP[name])}")
        diffs = _differences(results)
        if diffs is not None:
            with st.expander("Is the difference real? (model minus each other list)"):
                st.caption("Percentage points of the following year's fires found, the "
                           "model minus the other list, with 95% intervals from resampling "
                           "areas. An interval "
                           "that stays above 0 means the model did better beyond chance.")
                st.dataframe(diffs, hide_index=True, width="stretch")

    _render_quality_by_group(results)
    _render_calibration(results)

    if curve is not None:
        data = curve_chart_data(curve)
        if data is not None:
            st.subheader("Fires found against households visited")
            st.caption("Each line shows the share of the following year's dwelling fires that "
                       "happened in the top areas of a list, as more households are visited. "
                       "Higher is better; the straight line is a random order.")
            long, spec = curve_chart_spec(data)
            st.vega_lite_chart(long, spec, height=460, width="stretch")

    sentences = factor_sentences(results)
    facts = model_facts(results)
    if sentences or facts is not None:
        st.subheader("What the model takes into account")
        if sentences:
            st.markdown("\n".join(f"- {md_escape(s)}" for s in sentences))
            st.caption("These are associations across areas, not causes: they say where fires "
                       "have been more common, not why.")
        with st.expander("Model details (for analysts)"):
            if facts is not None:
                st.dataframe(facts, hide_index=True, width="stretch")
            if coefficients is not None:
                st.caption("Coefficients on the log scale, with rate ratios (the factor by "
                           "which expected fires change for one unit of the term; shares are "
                           "0 to 1) and 95% intervals.")
                st.dataframe(coefficients.rename(columns={
                    "name": "Term", "estimate": "Estimate", "std_err": "Std. error",
                    "ci_low": "95% low", "ci_high": "95% high", "rate_ratio": "Rate ratio",
                    "rate_ratio_low": "Rate ratio 95% low",
                    "rate_ratio_high": "Rate ratio 95% high"}), hide_index=True,
                    width="stretch")
            if evaluation is not None:
                st.caption("Every backtest measure, as stored in the results file.")
                st.dataframe(evaluation.assign(ranking=evaluation["ranking"].map(_name))
                             if "ranking" in evaluation.columns else evaluation,
                             hide_index=True, width="stretch")
    if comparison is not None:
        with st.expander("Model variants compared (for analysts)"):
            st.dataframe(comparison, hide_index=True, width="stretch")


def _render_quality_by_group(results: Results) -> None:
    """Within-group capture: a station manager ranks only their own areas."""
    found = group_quality(results, state.selection(results))
    if found is None:
        return
    table, label = found
    words = label.replace("_", " ")
    st.subheader(f"Inside each {words}")
    st.caption(md_escape(
        f"A {words} visits its own areas: here each {words}'s areas were ranked on their own, "
        f"and this is the share of its following-year fires found in its top areas holding "
        f"10% of its households, over all the test years. The whole service's figure is "
        f"beside them. Small {words}s have few fires, so their figures move a lot by chance."))
    st.dataframe(table, hide_index=True, width="stretch")


def _render_calibration(results: Results) -> None:
    """Forecast fires against what happened, tenth by tenth of the forecast."""
    table = calibration_table(results)
    if table is None:
        return
    st.subheader("Are the forecast numbers right?")
    sentence = calibration_sentence(results)
    if sentence:
        st.write(md_escape(sentence))
    st.caption("Each test year, areas were put in ten equal groups by the size of their "
               "forecast; this compares the forecast with the fires that happened, per area, "
               "over all the test years.")
    st.dataframe(table, hide_index=True, width="stretch")


if __name__ == "__main__":
    render()
