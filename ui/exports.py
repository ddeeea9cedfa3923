"""The ranked target list for the current filter, as a table and as CSV bytes.

Pure functions of a :class:`~geo.results.Results` (no Streamlit), so they are tested directly
(a download button's bytes cannot be read back in AppTest).
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from geo.results import Results
from ui.bands import AS_PUBLISHED, Banding

__all__ = [
    "BASE_COLUMNS",
    "find_run_value",
    "provenance_summary",
    "targets_csv",
    "targets_table",
]

#: Columns of the target list, in order (the group column, e.g. "Borough", follows "Code").
BASE_COLUMNS = ("Rank", "Area", "Code", "Households", "Expected incidents", "90% range",
                "Chance in top 10%", "Band", "Reasons")

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
        <group>`` when filtered, ``Band uncertain`` and ``Model note`` when the file has them.
        ``Chance in top 10%`` is a percentage (0-100). Columns whose source a public results
        file lacks (expected counts, intervals, chances) are left out.
    """
    t = results.targets
    if group is not None and value is not None:
        if group not in t.columns:
            raise ValueError(f"the target list has no column {group!r}; "
                             f"group columns are {', '.join(results.group_columns) or 'none'}")
        t = t.loc[t[group].astype(str) == str(value)]
    t = t.sort_values("rank", kind="stable")
    reasons = [c for c in ("reason_1", "reason_2", "reason_3") if c in t.columns]
    joined = (t[reasons].fillna("").astype(str)
              .apply(lambda r: "; ".join(x for x in r if x.strip()), axis=1)
              if reasons and len(t) else pd.Series("", index=t.index))
    if banding is None or banding.scheme == AS_PUBLISHED:
        band = t["band"].astype(str)
    else:
        band = banding.label_of().reindex(t["area_id"].astype(str)).to_numpy()
    out = pd.DataFrame({
        "Rank": t["rank"].astype(int).to_numpy(),
        "Area": t["area_name"].astype(str).to_numpy(),
        "Code": t["area_id"].astype(str).to_numpy(),
    })
    groups = [g for g in results.group_columns if g in t.columns]
    for g in groups:
        out[_group_label(g)] = t[g].astype(str).to_numpy()
    if group is not None and value is not None:
        out.insert(1, f"Rank in {_group_label(group).lower()}", np.arange(1, len(t) + 1))
    out["Households"] = t["households"].to_numpy()
    if "expected" in t.columns:  # public output holds no counts or rates
        out["Expected incidents"] = t["expected"].astype(float).round(2).to_numpy()
    if {"pi_low", "pi_high"} <= set(t.columns):
        out["90% range"] = [f"{int(lo)}–{int(hi)}" if pd.notna(lo) and pd.notna(hi) else ""
                            for lo, hi in zip(t["pi_low"], t["pi_high"], strict=True)]
    if "p_top10" in t.columns:
        out["Chance in top 10%"] = (100 * t["p_top10"].astype(float)).round(0).to_numpy()
    out["Band"] = np.asarray(band, dtype=object)
    if "uncertain_band" in t.columns and (banding is None or banding.scheme == AS_PUBLISHED):
        out["Band uncertain"] = np.where(t["uncertain_band"].fillna(False).astype(bool),
                                         "yes", "")
    out["Reasons"] = np.asarray(joined, dtype=object)
    if "model_note" in t.columns and t["model_note"].fillna("").astype(str).str.strip().any():
        out["Model note"] = t["model_note"].fillna("").astype(str).to_numpy()
    return out.reset_index(drop=True)


def provenance_summary(results: Results) -> str:
    """One line naming every input: role, file, publisher, licence, first 12 of its SHA-256."""
    parts = []
    for row in results.provenance.to_dict("records"):
        bits = [str(row.get(k)) for k in ("publisher", "licence") if row.get(k)]
        sha = str(row.get("sha256") or "")[:12]
        if sha:
            bits.append(f"sha256 {sha}")
        parts.append(f"{row.get('role', 'input')}: {row.get('file', '?')} ({', '.join(bits)})")
    return "; ".join(parts) if parts else "no provenance recorded"


def _defuse(cell: Any) -> Any:
    """Stop spreadsheet programs from running text that starts like a formula."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def _comment(text: str) -> str:
    return "# " + " ".join(str(text).split())


def targets_csv(
    results: Results,
    *,
    group: str | None = None,
    value: str | None = None,
    banding: Banding | None = None,
) -> bytes:
    """The target list as UTF-8 CSV (with BOM, for spreadsheets) after ``#`` comment lines.

    The comment lines give the selection, the attribution, the output mode with the
    small-number threshold, the band scheme and a one-line provenance summary. Read it back
    with ``pandas.read_csv(buf, comment="#", encoding="utf-8-sig")``.
    """
    table = targets_table(results, group=group, value=value, banding=banding)
    where = "all areas" if group is None or value is None else f"{group} {value}"
    name = results.run.get("profile", {}).get("name", "")
    t = results.threshold
    mode = results.mode
    scheme = "as published" if banding is None else banding.scheme.replace("_", " ")
    lines = [
        _comment(f"Priority for a home fire safety visit — {name} — {where} "
                 f"({len(table):,} areas), highest priority first"),
        _comment(f"Attribution: {results.attribution()}"),
        _comment(f"Output mode: {mode}. Counts from 1 to {t - 1} are shown as '<{t}' "
                 f"(small-number threshold {t})."),
        _comment(f"Bands: {scheme}. Expected incidents are for the next year; the 90% range "
                 "is where the count is expected to fall 9 years in 10."),
        _comment(f"Inputs: {provenance_summary(results)}"),
    ]
    generated = find_run_value(results, "generated_at")
    if generated:
        lines.append(_comment(f"Results generated {generated} from {results.path.name}"))
    safe = table.apply(lambda col: col.map(_defuse)
                       if col.dtype == object or pd.api.types.is_string_dtype(col) else col)
    buf = io.StringIO()
    buf.write("\n".join(lines) + "\n")
    safe.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8-sig")
