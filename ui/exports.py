"""The ranked target list for the current filter (table, CSV and XLSX), and the data-and-method
tables and texts (provenance register, row accounting, years, suppression rule).

Pure functions of a :class:`~geo.results.Results` (no Streamlit), so they are tested directly
(a download button's bytes cannot be read back in AppTest).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pandas as pd

from firerisk.columns import (
    AREA_ID,
    AREA_NAME,
    BAND,
    BAND_INDEX,
    BAND_INDEX_HIGH,
    BAND_INDEX_LOW,
    EXPECTED,
    HOUSEHOLDS,
    MODEL_NOTE,
    P_TOP10,
    PI_HIGH,
    PI_LOW,
    RANK,
    RANK_HIGH,
    RANK_LOW,
    RISK_PER_1000,
    UNCERTAIN_BAND,
    group_rank_columns,
)
from firerisk.geo.checksum import file_sha256
from firerisk.geo.results import Results
from firerisk.report.sources import mode_statement, provenance_summary
from firerisk.risk.explain import band_range_text, chance_text, place_text
from firerisk.ui.bands import AS_PUBLISHED, Banding
from firerisk.ui.text import in_forecast_year

__all__ = [
    "BASE_COLUMNS",
    "CHANCE",
    "DROP_REASONS",
    "LIKELY_BAND",
    "LIKELY_RANK",
    "RATE",
    "accounting_table",
    "data_summary_text",
    "find_run_value",
    "person_level_data_read",
    "provenance_summary",
    "provenance_table",
    "register_csv",
    "role_name",
    "suppression_rule",
    "targets_csv",
    "targets_table",
    "targets_xlsx",
    "years_summary",
]

#: The figure the list is ordered by (``risk_per_1000``), as its column is headed.
RATE = "Expected fires per 1,000 households"
#: The chance of being among the top 10% of areas (a percentage, 0-100).
CHANCE = "Chance in top 10%"
#: The area's place on the list with its 90% range, in words.
LIKELY_RANK = "Likely rank (9 in 10)"
#: The bands that range of ranks falls in.
LIKELY_BAND = "Likely band (9 in 10)"
#: Columns of the target list, in order (the group column, e.g. "Borough", follows "Code").
BASE_COLUMNS = ("Rank", RATE, "Area", "Code", "Households", "Expected incidents", "90% range",
                CHANCE, "Band", "Reasons")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _group_label(column: str) -> str:
    return column.replace("_", " ").capitalize()


def find_run_value(results: Results, key: str) -> Any:
    """First value stored under *key* in any section of the ``run`` layer (None if absent)."""
    for section in results.run.values():
        if isinstance(section, dict) and key in section:
            return section[key]
    return None


def targets_table(
    results: Results,
    *,
    group: str | None = None,
    value: str | None = None,
    banding: Banding | None = None,
) -> pd.DataFrame:
    """The ranked list of areas for one group value (or every area), highest priority first.

    Parameters
    ----------
    results : Results
        The results file.
    group, value : str, optional
        Group column (for example ``borough``) and the value to keep; ``None`` keeps all.
    banding : Banding, optional
        Bands under another scheme; by default the published bands.

    Returns
    -------
    DataFrame
        Columns :data:`BASE_COLUMNS` with the group column after ``Code``, plus ``Rank in
        <group>`` (after ``Rank``) when filtered, ``Band uncertain`` and ``Model note`` when
        the file has them. :data:`RATE` (the figure the rank follows) comes right after the
        rank. ``Households`` are whole numbers; ``Chance in top 10%`` is a whole percentage
        (0-100). Columns whose source a public results file lacks or leaves empty (rates,
        expected counts, intervals, chances) are left out.
    """
    t = results.targets
    if group is not None and value is not None:
        if group not in t.columns:
            raise ValueError(f"the target list has no column {group!r}; "
                             f"group columns are {', '.join(results.group_columns) or 'none'}")
        t = t.loc[t[group].astype(str) == str(value)]
    t = t.sort_values(RANK, kind="stable")
    reasons = [c for c in ("reason_1", "reason_2", "reason_3") if c in t.columns]
    joined = (t[reasons].fillna("").astype(str)
              .apply(lambda r: "; ".join(x for x in r if x.strip()), axis=1)
              if reasons and len(t) else pd.Series("", index=t.index))
    if banding is None or banding.scheme == AS_PUBLISHED:
        band = t[BAND].astype(str)
    else:
        band = banding.label_of().reindex(t[AREA_ID].astype(str)).to_numpy()
    out = pd.DataFrame({
        "Rank": t[RANK].astype(int).to_numpy(),
        "Area": t[AREA_NAME].astype(str).to_numpy(),
        "Code": t[AREA_ID].astype(str).to_numpy(),
    })
    groups = [g for g in results.group_columns if g in t.columns]
    for g in groups:
        out[_group_label(g)] = t[g].astype(str).to_numpy()
    if group is not None and value is not None:
        out.insert(1, f"Rank in {_group_label(group).lower()}", np.arange(1, len(t) + 1))
    rates = _rates(results, t)
    if rates is not None:
        out.insert(2 if group is not None and value is not None else 1, RATE, rates)
    out["Households"] = _whole(t[HOUSEHOLDS])
    if EXPECTED in t.columns:  # public output holds no counts or rates
        out["Expected incidents"] = t[EXPECTED].astype(float).round(2).to_numpy()
    if {PI_LOW, PI_HIGH} <= set(t.columns):
        out["90% range"] = [f"{int(lo)}–{int(hi)}" if pd.notna(lo) and pd.notna(hi) else ""
                            for lo, hi in zip(t[PI_LOW], t[PI_HIGH], strict=True)]
    if P_TOP10 in t.columns:
        out[CHANCE] = _whole(100 * pd.to_numeric(t[P_TOP10], errors="coerce"))
    published = banding is None or banding.scheme == AS_PUBLISHED
    for name, values in _rank_range_cells(results, t, group, value, published).items():
        out[name] = values
    out["Band"] = np.asarray(band, dtype=object)
    if published and BAND_INDEX_LOW in t.columns:
        out[LIKELY_BAND] = _band_ranges(results, t)
    if UNCERTAIN_BAND in t.columns and (banding is None or banding.scheme == AS_PUBLISHED):
        out["Band uncertain"] = np.where(t[UNCERTAIN_BAND].fillna(False).astype(bool),
                                         "yes", "")
    out["Reasons"] = np.asarray(joined, dtype=object)
    if MODEL_NOTE in t.columns and t[MODEL_NOTE].fillna("").astype(str).str.strip().any():
        out["Model note"] = t[MODEL_NOTE].fillna("").astype(str).to_numpy()
    return out.reset_index(drop=True)


def _rank_range_cells(results: Results, t: pd.DataFrame, group: str | None,
                      value: str | None, published: bool) -> dict[str, list[str]]:
    """The likely rank in words (inside the chosen group when there is one, else in the
    whole service) and, for a group, the chance of its top 10%; empty when the results
    hold no ranges (public output, older files)."""
    out: dict[str, list[str]] = {}
    if group is not None and value is not None:
        rank_col, low_col, high_col, top_col = group_rank_columns(group)
        if {rank_col, low_col, high_col} <= set(t.columns):
            n = len(t)
            out[LIKELY_RANK] = [place_text(r, lo, hi, of=n, where=str(value)) for r, lo, hi in
                                zip(t[rank_col], t[low_col], t[high_col], strict=True)]
        if top_col in t.columns:
            out[f"Chance in {value}'s top 10%"] = [
                chance_text(p) for p in pd.to_numeric(t[top_col], errors="coerce")]
        return out
    if {RANK_LOW, RANK_HIGH} <= set(t.columns):
        n = len(results.targets)
        out[LIKELY_RANK] = [place_text(r, lo, hi, of=n) for r, lo, hi in
                            zip(t[RANK], t[RANK_LOW], t[RANK_HIGH], strict=True)]
    return out


def _band_ranges(results: Results, t: pd.DataFrame) -> list[str]:
    """The published bands the likely rank falls in ("High to Very high")."""
    breaks = results.band_breaks
    labels: dict[int, str] = {}
    if {BAND_INDEX, "label"} <= set(breaks.columns):
        labels = dict(zip(breaks[BAND_INDEX].astype(int), breaks["label"].astype(str),
                          strict=True))

    def label(v: Any) -> str | None:
        return None if pd.isna(v) else labels.get(int(v))

    return [band_range_text(label(lo), label(hi))
            for lo, hi in zip(t[BAND_INDEX_LOW], t[BAND_INDEX_HIGH], strict=True)]


def _whole(values: pd.Series) -> Any:
    """Numbers rounded to whole numbers (nullable integers: a missing value stays empty)."""
    return pd.to_numeric(values, errors="coerce").round(0).astype("Int64").array


def _rates(results: Results, t: pd.DataFrame) -> np.ndarray | None:
    """Expected fires per 1,000 households of the rows of *t* (the targets layer, else the
    areas layer by ``area_id``); None when the file holds no rate (public output)."""
    if RISK_PER_1000 in t.columns:
        rates = pd.to_numeric(t[RISK_PER_1000], errors="coerce")
    elif RISK_PER_1000 in results.areas.columns:
        by_id = pd.Series(pd.to_numeric(results.areas[RISK_PER_1000], errors="coerce")
                          .to_numpy(), index=results.areas[AREA_ID].astype(str).to_numpy())
        by_id = by_id[~by_id.index.duplicated()]
        rates = pd.Series(by_id.reindex(t[AREA_ID].astype(str)).to_numpy(), index=t.index)
    else:
        return None
    if not rates.notna().any():
        return None
    return rates.astype(float).round(2).to_numpy()


def _defused(table: pd.DataFrame) -> pd.DataFrame:
    """*table* with every formula-like text cell defused (:func:`_defuse`)."""
    return table.apply(lambda col: col.map(_defuse)
                       if col.dtype == object or pd.api.types.is_string_dtype(col) else col)


def _csv_bytes(notes: list[str], table: pd.DataFrame) -> bytes:
    """*table* first (its header is line 1), formula-like cells defused and every text cell
    quoted; then an empty line and the *notes*, each a ``# `` line. UTF-8 with a BOM (so
    spreadsheet programs read the accents right).

    A spreadsheet shows the notes under the table, apart from it, so sorting and filtering
    the table leave them alone; ``pandas.read_csv(f, comment="#")`` and a reader that stops
    at the first empty row get exactly the table (text cells are quoted, so a ``#`` inside a
    cell is not taken for a comment).
    """
    buf = io.StringIO()
    _defused(table).to_csv(buf, index=False, lineterminator="\n",
                           quoting=csv.QUOTE_NONNUMERIC)
    buf.write("\n" + "\n".join(notes) + "\n")
    return buf.getvalue().encode("utf-8-sig")


def _defuse(cell: Any) -> Any:
    """Stop spreadsheet programs from running text that starts like a formula."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def _comment(text: str) -> str:
    return "# " + " ".join(str(text).split())


def _list_notes(results: Results, table: pd.DataFrame, *, group: str | None,
                value: str | None, banding: Banding | None) -> list[str]:
    """What travels with the list: the selection, the attribution, the output mode with the
    small-number threshold, what the rank follows, the band scheme with the forecast year,
    a one-line provenance summary and when the results were made (plain sentences)."""
    where = "all areas" if group is None or value is None else f"{group} {value}"
    name = results.run.get("profile", {}).get("name", "")
    t = results.threshold
    scheme = "as published" if banding is None else banding.scheme.replace("_", " ")
    notes = [
        (f"Priority for a home fire safety visit — {name} — {where} ({len(table):,} areas), "
         "highest priority first"),
        f"Attribution: {results.attribution()}",
        (f"Output mode: {results.mode}. Counts from 1 to {t - 1} are shown as '<{t}' "
         f"(small-number threshold {t})."),
        f"Areas are ranked by {RATE.lower()} (the model's estimate "
        f"{in_forecast_year(results, preposition='for')}), highest first."
        if RATE in table.columns else
        f"Areas are ranked by {RATE.lower()} (left out of {results.mode} output).",
        f"Bands: {scheme}. Expected incidents are dwelling fires "
        f"{in_forecast_year(results)}; the 90% range is where the count is expected to fall "
        "9 years in 10." if "Expected incidents" in table.columns else f"Bands: {scheme}.",
        f"Inputs: {provenance_summary(results)}",
    ]
    if LIKELY_RANK in table.columns:
        notes.insert(-1, f"{LIKELY_RANK}: the range that holds the area's rank in 9 of 10 "
                         "simulations of the model's uncertainty (ends rounded outward).")
    generated = find_run_value(results, "generated_at")
    if generated:
        notes.append(f"Results generated {generated} from {results.path.name}")
    return [" ".join(n.split()) for n in notes]


def targets_csv(
    results: Results,
    *,
    group: str | None = None,
    value: str | None = None,
    banding: Banding | None = None,
) -> bytes:
    """The target list as UTF-8 CSV (with BOM, for spreadsheets): the table first, its header
    on line 1, then an empty line and ``#`` note lines (:func:`_list_notes`: selection,
    attribution, output mode, ranking, bands, inputs).

    Households are whole numbers and the chance of being in the top 10% is written with its
    unit (``64%``). Read it back with ``pandas.read_csv(buf, comment="#",
    encoding="utf-8-sig")``.
    """
    table = targets_table(results, group=group, value=value, banding=banding)
    if CHANCE in table.columns:  # "64%", not a bare 64: spreadsheets read it as a percentage
        table[CHANCE] = [f"{int(v)}%" if pd.notna(v) else "" for v in table[CHANCE]]
    notes = _list_notes(results, table, group=group, value=value, banding=banding)
    return _csv_bytes([_comment(n) for n in notes], table)


#: Number formats of the list's columns in the XLSX export (Excel's codes).
_XLSX_FORMATS = {"Rank": "0", RATE: "0.00", "Households": "#,##0",
                 "Expected incidents": "0.00", CHANCE: "0%"}


def _xlsx_list_sheet(book: Any, sheet: Any, table: pd.DataFrame) -> None:
    """The list from cell A1: a bold header row, frozen, with filters; numbers as numbers
    in their formats, text as text (formula-like text defused)."""
    bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top",
                            "bottom": 1})
    formats = {c: book.add_format({"num_format": f}) for c, f in _XLSX_FORMATS.items()}
    for j, column in enumerate(table.columns):
        sheet.write_string(0, j, str(column), bold)
        values = table[column]
        fmt = formats.get(str(column)) or (formats["Rank"] if str(column).startswith("Rank")
                                          else None)
        numeric = pd.api.types.is_numeric_dtype(values)
        for i, cell in enumerate(values, start=1):
            if cell is None or cell is pd.NA or (isinstance(cell, float) and np.isnan(cell)):
                continue
            if numeric:
                number = float(cell) / 100 if column == CHANCE else float(cell)
                sheet.write_number(i, j, number, fmt)
            else:
                sheet.write_string(i, j, str(_defuse(cell)))
        width = max([len(str(column)), *(len(str(v)) for v in values.head(200))])
        sheet.set_column(j, j, min(max(width + 2, 8), 60))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(table), 1), max(len(table.columns) - 1, 0))


def _xlsx_about_sheet(book: Any, sheet: Any, results: Results, notes: list[str]) -> None:
    """Sheet 2: the notes, the output mode and disclosure statement, then every input with
    its publisher, licence, checksum and attribution."""
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 100)
    rows = [("About this list", notes[0]), ("Attribution", results.attribution()),
            ("Output mode", mode_statement(results)),
            ("Small-number rule", suppression_rule(results))]
    disclosure = str(results.run.get("disclosure", {}).get("text") or "").strip()
    if disclosure:
        rows.append(("Disclosure statement", disclosure))
    rows += [("Note", n) for n in notes[3:]]
    for i, (key, text) in enumerate(rows):
        sheet.write_string(i, 0, key, bold)
        sheet.write_string(i, 1, str(_defuse(text)), wrap)
    start = len(rows) + 1
    sheet.write_string(start, 0, "Sources and licences", bold)
    register = provenance_table(results)
    for j, column in enumerate(register.columns):
        sheet.write_string(start + 1, j, str(column), bold)
        for i, cell in enumerate(register[column], start=start + 2):
            if pd.notna(cell):
                sheet.write_string(i, j, str(_defuse(cell)), wrap)


def targets_xlsx(
    results: Results,
    *,
    group: str | None = None,
    value: str | None = None,
    banding: Banding | None = None,
) -> bytes:
    """The target list as an Excel workbook (XlsxWriter).

    Sheet 1, "Priority list": the table of :func:`targets_table` from cell A1, the header in
    row 1 (frozen, with filters), numbers as numbers (the chance of being in the top 10% as a
    percentage), text as text with formula-like cells defused as in the CSV. Sheet 2, "About
    this list": the selection, attribution, output mode, small-number rule and disclosure
    statement, the notes of the CSV, and every input with its publisher, licence, date,
    rows, SHA-256 and attribution.
    """
    import xlsxwriter

    table = targets_table(results, group=group, value=value, banding=banding)
    notes = _list_notes(results, table, group=group, value=value, banding=banding)
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    book.set_properties({"title": notes[0], "comments": results.attribution()})
    _xlsx_list_sheet(book, book.add_worksheet("Priority list"), table)
    _xlsx_about_sheet(book, book.add_worksheet("About this list"), results, notes)
    book.close()
    return buf.getvalue()


# --------------------------------------------------------------------------- data and method


#: Why an incident row was not counted, in plain words (keys are the pipeline's reasons).
DROP_REASONS = {
    "missing coordinates": "No map position (easting/northing missing).",
    "bad date": "Date missing or not a real date.",
    "outside the study period": "Dated before the study start or after its end.",
    "outside every area": "Map position outside every small area of the service.",
    "excluded by filter": "Left out by the profile's incident filter (for example, an "
                          "incident type that is not counted).",
}


def role_name(role: str) -> str:
    """A provenance role in words: ``covariates:imd`` -> ``Area statistics (imd)``."""
    role = str(role)
    fixed = {"areas": "Small areas (boundaries)", "incidents": "Dwelling fires (incidents)",
             "stations": "Fire station lookup"}
    if role in fixed:
        return fixed[role]
    if role.startswith("covariates:"):
        return f"Area statistics ({role.split(':', 1)[1]})"
    return role.replace("_", " ").capitalize()


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value).strip()


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def provenance_table(results: Results) -> pd.DataFrame:
    """The provenance register, one row per input, with readable column names.

    Columns: Input, File, Publisher, Licence or agreement, Date, Rows read, Rows used,
    Rows dropped, SHA-256, Attribution.
    """
    rows = []
    for rec in results.provenance.to_dict("records"):
        licence, agreement = _text(rec.get("licence")), _text(rec.get("agreement"))
        terms = "; ".join(x for x in (licence, f"agreement: {agreement}" if agreement else "")
                          if x) or "not recorded"
        rows.append({
            "Input": role_name(_text(rec.get("role")) or "input"),
            "File": _text(rec.get("file")),
            "Publisher": _text(rec.get("publisher")) or "not recorded",
            "Licence or agreement": terms,
            "Date": _text(rec.get("date")),
            "Rows read": _int(rec.get("rows_read")),
            "Rows used": _int(rec.get("rows_used")),
            "Rows dropped": _int(rec.get("rows_dropped")),
            "SHA-256": _text(rec.get("sha256")),
            "Attribution": _text(rec.get("attribution")),
        })
    table = pd.DataFrame(rows, columns=["Input", "File", "Publisher", "Licence or agreement",
                                        "Date", "Rows read", "Rows used", "Rows dropped",
                                        "SHA-256", "Attribution"])
    for col in ("Rows read", "Rows used", "Rows dropped"):
        table[col] = table[col].astype("Int64")
    return table


def accounting_table(results: Results) -> pd.DataFrame | None:
    """Every incident row accounted for: used, then each drop reason (zeros included), then
    the total read. Columns: What happened, Rows, Share, Example rows. None if not recorded.
    """
    acc = results.run.get("accounting")
    if not isinstance(acc, dict) or "rows_read" not in acc:
        return None
    read = int(acc["rows_read"])
    used = int(acc.get("rows_used", 0))
    dropped = {str(k): int(v) for k, v in dict(acc.get("dropped", {})).items()}
    examples = dict(acc.get("examples", {}))

    def share(n: int) -> str:
        return f"{100 * n / read:.1f}%" if read else ""

    rows = [{"What happened": "Counted in an area and year", "Reason": "used", "Rows": used,
             "Share": share(used), "Example rows": ""}]
    for reason, n in dropped.items():
        eg = [str(v) for v in examples.get(reason, [])][:10]
        rows.append({"What happened": DROP_REASONS.get(reason, reason.capitalize()),
                     "Reason": f"dropped: {reason}", "Rows": n, "Share": share(n),
                     "Example rows": ", ".join(eg)})
    rows.append({"What happened": "Rows read from the file (all of the above)",
                 "Reason": "read", "Rows": read, "Share": share(read), "Example rows": ""})
    return pd.DataFrame(rows)


def years_summary(results: Results) -> list[str]:
    """Plain sentences on the years covered, the partial years and what the model used."""
    years = results.run.get("years", {})
    if not isinstance(years, dict):
        return []
    full = [int(y) for y in years.get("full", [])]
    partial = [int(y) for y in years.get("partial", [])]
    out = []
    if years.get("data_first") and years.get("data_last"):
        out.append(f"The incident data run from {years['data_first']} to {years['data_last']}.")
    if full:
        span = f"{full[0]}–{full[-1]}" if len(full) > 1 else str(full[0])
        out.append(f"Full years: {span} ({len(full)} years).")
    spans = {int(s["year"]): s for s in years.get("spans", []) if isinstance(s, dict)}
    for y in partial:
        s = spans.get(y, {})
        covered = f" (only {s['first']} to {s['last']})" if s.get("first") else ""
        out.append(f"{y} is a partial year{covered}: it is never treated as a full year, so "
                   "the model and the backtest leave it out and its counts are not compared "
                   "with whole years.")
    if years.get("next_year") is not None:
        out.append(f"The list estimates dwelling fires for {years['next_year']}.")
    if years.get("recent"):
        recent = [int(y) for y in years["recent"]]
        out.append(f"“Recent fires” on the map and in the reasons means {recent[0]}–"
                   f"{recent[-1]}.")
    return out


def person_level_data_read(results: Results) -> bool | None:
    """What the disclosure report says about person-level data (None if not recorded)."""
    value = results.run.get("disclosure", {}).get("person_level_data_read")
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def suppression_rule(results: Results) -> str:
    """The small-number rule in plain words, for the mode and threshold in force."""
    t = results.threshold
    if results.mode == "public":
        return ("This is the public version: it holds no counts of fires and no rates at all, "
                "only each area's priority band and rank, so nothing in it can be traced to a "
                "household.")
    if t <= 1:
        return "No threshold is set: every count is shown as it is."
    small = "1" if t == 2 else f"from 1 to {t - 1}"
    return (f"Any count of dwelling fires {small}, for one area or one area in one year, is "
            f"never shown: it appears as “<{t}”. Zeros are shown as 0, because a zero tells "
            "nothing about anyone. Where a hidden number could be worked out by taking the "
            "shown numbers away from a total (for a borough, say), another number is hidden "
            "too and shown as “[c]”. The model's estimates (expected fires, rates and ranges) "
            "are rounded so that they cannot be turned back into the hidden counts.")


def register_csv(results: Results) -> bytes:
    """The provenance register (:func:`provenance_table`) as UTF-8 CSV, the table first, then
    ``#`` note lines naming the results file, the output mode and the attribution (as
    :func:`targets_csv`)."""
    t = results.threshold
    lines = [
        _comment(f"Inputs of the results file {results.path.name} (provenance register)"),
        _comment(f"Output mode: {results.mode}. Counts from 1 to {t - 1} are shown as '<{t}' "
                 f"(small-number threshold {t})."),
        _comment(f"Attribution: {results.attribution()}"),
    ]
    table = provenance_table(results)
    return _csv_bytes(lines, table)


def data_summary_text(results: Results) -> str:
    """A plain-text record for a data protection officer: the results file and its checksum,
    the output mode and suppression rule, the disclosure report, person-level data, the
    incident row accounting, the years, and every input with its licence and SHA-256."""
    profile = results.run.get("profile", {})
    name = str(profile.get("name", "")) if isinstance(profile, dict) else ""
    generated = find_run_value(results, "generated_at")
    out = [f"Data protection summary: {name}".rstrip(": "), ""]
    out.append(f"Results file: {results.path.name}")
    if results.path.exists():
        out.append(f"Results file SHA-256: {file_sha256(results.path)}")
    if generated:
        out.append(f"Generated: {generated}")
    t = results.threshold
    out += ["", f"Output mode: {results.mode}. Small-number threshold: {t}.",
            suppression_rule(results)]
    person = person_level_data_read(results)
    if person is not None:
        out.append("Person-level data read: " + ("YES — check before sharing." if person
                                                  else "none."))
    text = results.run.get("disclosure", {}).get("text")
    if text:
        out += ["", str(text).strip()]
    acc = accounting_table(results)
    if acc is not None:
        out += ["", "Incident rows"]
        out += [f"  {r['Reason']}: {int(r['Rows']):,}" + (
                f" (first rows: {r['Example rows']})" if r["Example rows"] else "")
                for r in acc.to_dict("records")]
    years = years_summary(results)
    if years:
        out += ["", "Years"] + [f"  {y}" for y in years]
    out += ["", "Inputs"]
    for r in provenance_table(results).to_dict("records"):
        out.append(f"  {r['Input']}: {r['File']}")
        out.append(f"    Publisher: {r['Publisher']}")
        out.append(f"    Licence or agreement: {r['Licence or agreement']}; dated "
                   f"{r['Date'] or 'not recorded'}")
        if pd.notna(r["Rows read"]):
            out.append(f"    Rows read {int(r['Rows read']):,}, used {int(r['Rows used']):,}, "
                       f"dropped {int(r['Rows dropped']):,}")
        out.append(f"    SHA-256: {r['SHA-256'] or 'not recorded'}")
        if r["Attribution"]:
            out.append(f"    Attribution: {r['Attribution']}")
    out += ["", "Attribution: " + (results.attribution() or "not recorded")]
    return "\n".join(out) + "\n"
